"""The in-memory calendar world the Google and Microsoft emulators serve, and their shared plumbing.

:class:`CalendarWorld` owns OAuth clients, users, grants (the refresh tokens a user gave a
client), calendars and events. Tests drive it through a thread-safe control API
(``create_event``, ``move_event``, ``cancel_instance``, ...). Every change takes the next number
of one world-wide change sequence, stamps ``updated`` with the world's clock and is handed to the
listeners: the emulators, which turn it into push notifications. The clock is the real time plus
an offset that :meth:`CalendarWorld.advance` moves, so that token and channel expiry can be
tested without sleeping.

A recurring event keeps an RRULE and per-instance exceptions (moved or cancelled instances),
keyed by the instance's original start. :meth:`CalendarWorld.snapshot` lists what a calendar holds
in a window: lone events, series, or the series expanded into instances; each item carries the
change sequence of its last change, so that the emulators can answer incremental syncs.

:class:`CalendarEmulatorBase` is what both HTTP emulators share: failure knobs (``down``,
``fail_next``), the request log, the access tokens they issue, and the delivery of pushes, one at a
time and only to loopback addresses, with a record of each (:class:`PushLog`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import secrets
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from dateutil.rrule import rrule, rruleset, rrulestr

from provider_emulators.common import EmulatorBase, RequestLog, is_loopback_host, log_middleware

#: Where an event's meeting link lives: the provider's conference field (Google conferenceData /
#: hangoutLink, Microsoft onlineMeeting), the location, or the description (Microsoft: the body).
LINK_PLACES = ("conference", "location", "description")
#: Attendee responses, in Google's words (the Microsoft emulator maps them to Graph's).
RESPONSES = ("needsAction", "accepted", "declined", "tentative")

_UNSET: Any = object()

#: Where a token endpoint leaves the client id it was sent, for the request log.
CLIENT_ID_KEY = web.RequestKey("client_id", str)


def as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone: give aware datetimes")
    return value.astimezone(UTC)


# --------------------------------------------------------------------------------------------
# The world's records
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    client_secret: str


@dataclass(frozen=True)
class User:
    email: str
    name: str
    id: str  # a stable GUID (what Graph calls the user's id)
    time_zone: str


@dataclass(frozen=True)
class Calendar:
    id: str  # a user's primary calendar has the user's email as id
    owner: str  # the owner's email
    name: str
    primary: bool
    time_zone: str


@dataclass
class Grant:
    """What one user granted one client. Its refresh tokens all die when it is revoked."""

    id: str
    client_id: str
    email: str
    scopes: tuple[str, ...]  # empty: any scope
    revoked: bool = False


@dataclass(frozen=True)
class Attendee:
    email: str
    name: str | None = None
    response: str = "needsAction"  # one of RESPONSES
    optional: bool = False


@dataclass
class InstanceException:
    """One instance of a series that differs from its rule: moved, or cancelled."""

    original_start: datetime  # UTC
    start: datetime
    end: datetime
    cancelled: bool
    seq: int
    updated: datetime


@dataclass
class CalendarEvent:
    id: str
    calendar_id: str
    title: str
    start: datetime  # for a series: the first instance
    end: datetime
    time_zone: str
    organizer_email: str
    organizer_name: str | None
    attendees: tuple[Attendee, ...]
    location: str | None
    description: str | None
    meeting_url: str | None
    link_in: str  # one of LINK_PLACES
    passcode: str | None
    rrule: str | None  # "RRULE:..." (more lines, EXDATE for instance, may follow)
    status: str  # "confirmed" | "cancelled"
    deleted: bool
    created: datetime
    updated: datetime
    seq: int
    ical_uid: str
    sequence: int = 0  # iCalendar SEQUENCE: bumped when the time changes
    exceptions: dict[datetime, InstanceException] = field(default_factory=dict)

    @property
    def recurring(self) -> bool:
        return self.rrule is not None

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def rule(self) -> rrule | rruleset:
        assert self.rrule is not None
        local_start = self.start.astimezone(ZoneInfo(self.time_zone))
        return rrulestr(self.rrule, dtstart=local_start, forceset=True)

    def original_starts(self, after: datetime, before: datetime) -> list[datetime]:
        """UTC original starts of the rule's instances overlapping ``(after, before)``."""
        starts = self.rule().between(after - self.duration, before, inc=False)
        return [as_utc(start) for start in starts]

    def is_original_start(self, start: datetime) -> bool:
        start = as_utc(start)
        near = self.rule().between(start - timedelta(seconds=1), start + timedelta(seconds=1))
        return any(as_utc(candidate) == start for candidate in near)


@dataclass(frozen=True)
class Occurrence:
    """One item a calendar lists: a lone event, a whole series, or one instance of a series."""

    event: CalendarEvent  # a private copy, safe to read from any thread
    kind: str  # "single" | "series" | "instance"
    original_start: datetime | None  # UTC, for instances
    start: datetime
    end: datetime
    exception: bool  # an instance moved away from its rule
    cancelled: bool  # the event is cancelled, or this instance is
    deleted: bool  # the event is deleted
    seq: int  # change sequence of the last change that touched this item
    updated: datetime

    @property
    def key(self) -> tuple[str, datetime | None]:
        return (self.event.id, self.original_start)

    @property
    def gone(self) -> bool:
        """Deleted, or a cancelled instance: no longer shown in the calendar."""
        return self.deleted or (self.kind == "instance" and self.cancelled)


@dataclass(frozen=True)
class Change:
    """One change of the world, as handed to the listeners."""

    seq: int
    calendar_id: str
    owner: str  # email of the calendar's owner
    event_id: str
    original_start: datetime | None  # set for a change to one instance of a series
    change_type: str  # "created" | "updated" | "deleted"
    what: str  # created, moved, updated, cancelled, deleted, instance_moved, instance_cancelled
    at: datetime


Listener = Callable[[Change], None]


# --------------------------------------------------------------------------------------------
# The world
# --------------------------------------------------------------------------------------------


class CalendarWorld:
    """Clients, users, grants, calendars and events, shared by both calendar emulators.

    Every public method is thread-safe: tests call them from their own thread while the
    emulators read the world from theirs. Events are returned as private copies.

    ``recurrence_horizon`` bounds the expansion of a series that has no end when a query has no
    upper bound of its own (from the world's current time).
    """

    def __init__(
        self,
        *,
        tenant_id: str | None = None,
        recurrence_horizon: timedelta = timedelta(days=366),
    ) -> None:
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.recurrence_horizon = recurrence_horizon
        self._lock = threading.RLock()
        self._offset = timedelta(0)
        self._seq = 0
        self.clients: dict[str, OAuthClient] = {}
        self.users: dict[str, User] = {}  # by lower-case email
        self.calendars: dict[str, Calendar] = {}
        self._events: dict[str, CalendarEvent] = {}
        self._grants: dict[str, Grant] = {}
        self._refresh_tokens: dict[str, str] = {}  # token -> grant id
        self._listeners: list[Listener] = []

    # -- clock ---------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The world's time: the real time, moved on by :meth:`advance`."""
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, by: float | timedelta) -> datetime:
        """Move the world's clock forward (seconds or a timedelta); returns the new time."""
        delta = by if isinstance(by, timedelta) else timedelta(seconds=by)
        with self._lock:
            self._offset += delta
            return datetime.now(UTC) + self._offset

    @property
    def seq(self) -> int:
        """The number of the last change."""
        with self._lock:
            return self._seq

    # -- listeners -----------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(change)`` after every change; returns a function that removes it."""
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove

    def _emit(self, changes: list[Change]) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for change in changes:
            for listener in listeners:
                listener(change)

    # -- clients, users, calendars -------------------------------------------------------------

    def create_client(
        self, client_id: str | None = None, client_secret: str | None = None
    ) -> OAuthClient:
        client = OAuthClient(
            client_id=client_id or f"{secrets.token_hex(6)}.apps.test",
            client_secret=client_secret or secrets.token_urlsafe(24),
        )
        with self._lock:
            self.clients[client.client_id] = client
        return client

    def create_user(self, email: str, name: str | None = None, *, time_zone: str = "UTC") -> User:
        """A user and their primary calendar (whose id is the email)."""
        ZoneInfo(time_zone)  # fails early on an unknown zone
        user = User(
            email=email,
            name=name or email.split("@")[0].replace(".", " ").title(),
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"mailto:{email.lower()}")),
            time_zone=time_zone,
        )
        with self._lock:
            if email.lower() in self.users:
                raise ValueError(f"user {email} exists")
            self.users[email.lower()] = user
            self.calendars[email] = Calendar(
                id=email, owner=email, name=email, primary=True, time_zone=time_zone
            )
        return user

    def create_calendar(self, owner: str, name: str, *, time_zone: str | None = None) -> Calendar:
        """A secondary calendar of ``owner``."""
        with self._lock:
            user = self.user(owner)
            calendar = Calendar(
                id=f"{uuid.uuid4().hex}@group.calendar.test",
                owner=user.email,
                name=name,
                primary=False,
                time_zone=time_zone or user.time_zone,
            )
            self.calendars[calendar.id] = calendar
        return calendar

    def user(self, email: str) -> User:
        with self._lock:
            try:
                return self.users[email.lower()]
            except KeyError:
                raise KeyError(f"no user {email}") from None

    def calendars_of(self, email: str) -> list[Calendar]:
        """The user's calendars, primary first."""
        with self._lock:
            owned = [c for c in self.calendars.values() if c.owner.lower() == email.lower()]
        return sorted(owned, key=lambda c: (not c.primary, c.name))

    def primary_calendar(self, email: str) -> Calendar:
        return self.calendars_of(email)[0]

    def _calendar(self, calendar: str) -> Calendar:
        """A calendar by id, or a user's primary calendar by the user's email."""
        found = self.calendars.get(calendar)
        if found is None and calendar.lower() in self.users:
            found = self.primary_calendar(calendar)
        if found is None:
            raise KeyError(f"no calendar {calendar}")
        return found

    # -- grants and refresh tokens -------------------------------------------------------------

    def issue_refresh_token(
        self, client_id: str, email: str, *, scopes: Iterable[str] = (), prefix: str = ""
    ) -> str:
        """A refresh token for what ``email`` granted ``client_id`` (a new grant each call)."""
        with self._lock:
            if client_id not in self.clients:
                raise KeyError(f"no client {client_id}")
            user = self.user(email)
            grant = Grant(
                id=uuid.uuid4().hex, client_id=client_id, email=user.email, scopes=tuple(scopes)
            )
            self._grants[grant.id] = grant
            return self._new_refresh_token(grant, prefix)

    def _new_refresh_token(self, grant: Grant, prefix: str) -> str:
        token = prefix + secrets.token_urlsafe(48)
        self._refresh_tokens[token] = grant.id
        return token

    def rotate_refresh_token(self, token: str, *, prefix: str = "") -> str:
        """Another refresh token of the same grant (the old one stays valid)."""
        with self._lock:
            grant = self._grants[self._refresh_tokens[token]]
            return self._new_refresh_token(grant, prefix)

    def grant_of(self, refresh_token: str) -> Grant | None:
        """The grant behind a refresh token (a copy; check ``revoked``), or None if unknown."""
        with self._lock:
            grant_id = self._refresh_tokens.get(refresh_token)
            return replace(self._grants[grant_id]) if grant_id else None

    def grant(self, grant_id: str) -> Grant:
        with self._lock:
            return replace(self._grants[grant_id])

    def revoke_refresh_token(self, token: str) -> None:
        """The user withdraws the access: the grant behind ``token`` and all its tokens die,
        with the access tokens given for them."""
        with self._lock:
            self._grants[self._refresh_tokens[token]].revoked = True

    def revoke_grant(self, client_id: str, email: str) -> int:
        """Revoke everything ``email`` granted ``client_id``; returns how many grants died."""
        with self._lock:
            grants = [
                g
                for g in self._grants.values()
                if g.client_id == client_id and g.email.lower() == email.lower() and not g.revoked
            ]
            for grant in grants:
                grant.revoked = True
            return len(grants)

    # -- events: control API -------------------------------------------------------------------

    def create_event(
        self,
        calendar: str,
        title: str,
        start: datetime,
        end: datetime,
        *,
        attendees: Iterable[Attendee | str] = (),
        organizer: str | None = None,
        organizer_name: str | None = None,
        location: str | None = None,
        description: str | None = None,
        meeting_url: str | None = None,
        link_in: str = "conference",
        passcode: str | None = None,
        rrule: str | None = None,
        time_zone: str | None = None,
        event_id: str | None = None,
    ) -> str:
        """Create an event in ``calendar`` (a calendar id, or a user's email for their primary
        calendar); returns its id. ``rrule`` ("FREQ=WEEKLY;COUNT=10", with or without the
        ``RRULE:`` prefix) makes it a series whose first instance is ``start``-``end``, expanded
        in ``time_zone`` (default: the calendar's)."""
        start, end = as_utc(start), as_utc(end)
        if end <= start:
            raise ValueError("end must be after start")
        if link_in not in LINK_PLACES:
            raise ValueError(f"link_in must be one of {LINK_PLACES}")
        with self._lock:
            cal = self._calendar(calendar)
            now = self.now()
            event = CalendarEvent(
                id=event_id or uuid.uuid4().hex,
                calendar_id=cal.id,
                title=title,
                start=start,
                end=end,
                time_zone=time_zone or cal.time_zone,
                organizer_email=organizer or cal.owner,
                organizer_name=organizer_name,
                attendees=_attendees(attendees),
                location=location,
                description=description,
                meeting_url=meeting_url,
                link_in=link_in,
                passcode=passcode,
                rrule=_normalise_rrule(rrule),
                status="confirmed",
                deleted=False,
                created=now,
                updated=now,
                seq=0,
                ical_uid="",
            )
            event.ical_uid = f"{event.id}@calendar.test"
            ZoneInfo(event.time_zone)
            if event.recurring:
                event.rule()  # fails early on a bad rule
            if event.id in self._events:
                raise ValueError(f"event {event.id} exists")
            self._events[event.id] = event
            change = self._touch(event, "created", "created")
        self._emit([change])
        return event.id

    def move_event(self, event_id: str, new_start: datetime, new_end: datetime) -> None:
        """New times for a lone event, or for a whole series (its first instance; exceptions
        whose original start is no longer an instance are dropped)."""
        new_start, new_end = as_utc(new_start), as_utc(new_end)
        if new_end <= new_start:
            raise ValueError("end must be after start")
        with self._lock:
            event = self._live_event(event_id)
            event.start, event.end = new_start, new_end
            event.sequence += 1
            if event.recurring:
                event.exceptions = {
                    k: v for k, v in event.exceptions.items() if event.is_original_start(k)
                }
            change = self._touch(event, "updated", "moved")
        self._emit([change])

    def update_event(
        self,
        event_id: str,
        *,
        title: str = _UNSET,
        meeting_url: str | None = _UNSET,
        link_in: str = _UNSET,
        passcode: str | None = _UNSET,
        attendees: Iterable[Attendee | str] = _UNSET,
        location: str | None = _UNSET,
        description: str | None = _UNSET,
        rrule: str | None = _UNSET,
    ) -> None:
        """Change what is given (title, link, attendees, ...) of an event or a whole series."""
        if link_in is not _UNSET and link_in not in LINK_PLACES:
            raise ValueError(f"link_in must be one of {LINK_PLACES}")
        with self._lock:
            event = self._live_event(event_id)
            if title is not _UNSET:
                event.title = title
            if meeting_url is not _UNSET:
                event.meeting_url = meeting_url
            if link_in is not _UNSET:
                event.link_in = link_in
            if passcode is not _UNSET:
                event.passcode = passcode
            if attendees is not _UNSET:
                event.attendees = _attendees(attendees)
            if location is not _UNSET:
                event.location = location
            if description is not _UNSET:
                event.description = description
            if rrule is not _UNSET:
                event.rrule = _normalise_rrule(rrule)
                if event.recurring:
                    event.rule()
                    event.exceptions = {
                        k: v for k, v in event.exceptions.items() if event.is_original_start(k)
                    }
                else:
                    event.exceptions = {}
            change = self._touch(event, "updated", "updated")
        self._emit([change])

    def set_response(self, event_id: str, email: str, response: str) -> None:
        """An attendee answers (one of RESPONSES)."""
        if response not in RESPONSES:
            raise ValueError(f"response must be one of {RESPONSES}")
        with self._lock:
            event = self._live_event(event_id)
            if not any(a.email.lower() == email.lower() for a in event.attendees):
                raise KeyError(f"{email} is not an attendee of {event_id}")
            event.attendees = tuple(
                replace(a, response=response) if a.email.lower() == email.lower() else a
                for a in event.attendees
            )
            change = self._touch(event, "updated", "updated")
        self._emit([change])

    def cancel_event(self, event_id: str) -> None:
        """The meeting is cancelled: status "cancelled", details kept (Google shows it as
        cancelled; Graph as ``isCancelled``)."""
        with self._lock:
            event = self._live_event(event_id)
            event.status = "cancelled"
            change = self._touch(event, "updated", "cancelled")
        self._emit([change])

    def delete_event(self, event_id: str) -> None:
        """The event is deleted from its calendar."""
        with self._lock:
            event = self._live_event(event_id)
            event.deleted = True
            change = self._touch(event, "deleted", "deleted")
        self._emit([change])

    def move_instance(
        self, event_id: str, original_start: datetime, new_start: datetime, new_end: datetime
    ) -> None:
        """Move one instance of a series (it becomes an exception)."""
        new_start, new_end = as_utc(new_start), as_utc(new_end)
        if new_end <= new_start:
            raise ValueError("end must be after start")
        with self._lock:
            event, key = self._instance_of(event_id, original_start)
            self._seq += 1
            now = self.now()
            previous = event.exceptions.get(key)
            event.exceptions[key] = InstanceException(
                original_start=key,
                start=new_start,
                end=new_end,
                cancelled=previous.cancelled if previous else False,
                seq=self._seq,
                updated=now,
            )
            change = self._instance_change(event, key, "updated", "instance_moved", now)
        self._emit([change])

    def cancel_instance(self, event_id: str, original_start: datetime) -> None:
        """Cancel one instance of a series; the others stay."""
        with self._lock:
            event, key = self._instance_of(event_id, original_start)
            self._seq += 1
            now = self.now()
            previous = event.exceptions.get(key)
            event.exceptions[key] = InstanceException(
                original_start=key,
                start=previous.start if previous else key,
                end=previous.end if previous else key + event.duration,
                cancelled=True,
                seq=self._seq,
                updated=now,
            )
            change = self._instance_change(event, key, "deleted", "instance_cancelled", now)
        self._emit([change])

    # -- events: reading -----------------------------------------------------------------------

    def get_event(self, event_id: str) -> CalendarEvent:
        """A copy of the event (deleted ones included)."""
        with self._lock:
            try:
                return copy.deepcopy(self._events[event_id])
            except KeyError:
                raise KeyError(f"no event {event_id}") from None

    def events(self, calendar: str | None = None) -> list[CalendarEvent]:
        """Copies of all events (of one calendar, if given), deleted ones included."""
        with self._lock:
            cal_id = self._calendar(calendar).id if calendar else None
            return [
                copy.deepcopy(e)
                for e in self._events.values()
                if cal_id is None or e.calendar_id == cal_id
            ]

    def instances(
        self, event_id: str, time_min: datetime | None = None, time_max: datetime | None = None
    ) -> list[Occurrence]:
        """The instances of a series (cancelled ones included), in start order."""
        with self._lock:
            event = copy.deepcopy(self._events[event_id])
            if not event.recurring:
                raise ValueError(f"{event_id} is not a recurring event")
            lo, hi = self._range(event, time_min, time_max)
            found = self._expand(event, lo, hi)
        return sorted(found, key=lambda o: o.start)

    def occurrence(
        self, event_id: str, original_start: datetime | None = None
    ) -> Occurrence | None:
        """A lone event or a series (``original_start`` None), or one instance of a series;
        None if there is no such thing. Deleted events are returned (``deleted`` set)."""
        with self._lock:
            stored = self._events.get(event_id)
            if stored is None:
                return None
            event = copy.deepcopy(stored)
        if original_start is None:
            return self._whole(event)
        if not event.recurring:
            return None
        key = as_utc(original_start)
        if key not in event.exceptions and not event.is_original_start(key):
            return None
        return self._instance(event, key)

    def snapshot(
        self,
        calendar_id: str,
        *,
        time_min: datetime | None = None,
        time_max: datetime | None = None,
        expand: bool = True,
        bound_single_events: bool = True,
    ) -> tuple[int, list[Occurrence]]:
        """Everything ``calendar_id`` holds overlapping ``(time_min, time_max)`` (an item
        overlaps when it ends after ``time_min`` and starts before ``time_max``), with the
        change sequence it was read at. Deleted and cancelled items are included: callers
        filter. ``expand``: series as their instances, else as one item plus their exceptions
        (moved or cancelled instances). ``bound_single_events=False``: lone events and series
        whatever their time (the window then only bounds the expansion of series)."""
        with self._lock:
            seq = self._seq
            events = [
                copy.deepcopy(e) for e in self._events.values() if e.calendar_id == calendar_id
            ]
        items: list[Occurrence] = []
        for event in events:
            if not event.recurring:
                if not bound_single_events or _overlaps(event.start, event.end, time_min, time_max):
                    items.append(self._whole(event))
                continue
            lo, hi = self._range(event, time_min, time_max)
            instances = self._expand(event, lo, hi)
            if expand:
                items.extend(instances)
                continue
            if not bound_single_events or instances or (time_min is None and time_max is None):
                items.append(self._whole(event))
            items.extend(i for i in instances if i.original_start in event.exceptions)
        items.sort(key=lambda o: (o.start, o.event.id, o.original_start or o.start))
        return seq, items

    # -- internals -----------------------------------------------------------------------------

    def _live_event(self, event_id: str) -> CalendarEvent:
        event = self._events.get(event_id)
        if event is None:
            raise KeyError(f"no event {event_id}")
        if event.deleted:
            raise ValueError(f"event {event_id} is deleted")
        return event

    def _instance_of(
        self, event_id: str, original_start: datetime
    ) -> tuple[CalendarEvent, datetime]:
        event = self._live_event(event_id)
        if not event.recurring:
            raise ValueError(f"{event_id} is not a recurring event")
        key = as_utc(original_start)
        if key not in event.exceptions and not event.is_original_start(key):
            raise ValueError(f"{original_start.isoformat()} is not an instance of {event_id}")
        return event, key

    def _owner(self, calendar_id: str) -> str:
        return self.calendars[calendar_id].owner

    def _touch(self, event: CalendarEvent, change_type: str, what: str) -> Change:
        self._seq += 1
        now = self.now()
        event.seq, event.updated = self._seq, now
        return Change(
            seq=self._seq,
            calendar_id=event.calendar_id,
            owner=self._owner(event.calendar_id),
            event_id=event.id,
            original_start=None,
            change_type=change_type,
            what=what,
            at=now,
        )

    def _instance_change(
        self, event: CalendarEvent, key: datetime, change_type: str, what: str, now: datetime
    ) -> Change:
        return Change(
            seq=self._seq,
            calendar_id=event.calendar_id,
            owner=self._owner(event.calendar_id),
            event_id=event.id,
            original_start=key,
            change_type=change_type,
            what=what,
            at=now,
        )

    def _range(
        self, event: CalendarEvent, time_min: datetime | None, time_max: datetime | None
    ) -> tuple[datetime, datetime]:
        lo = time_min if time_min is not None else event.start - timedelta(seconds=1)
        hi = time_max if time_max is not None else self.now() + self.recurrence_horizon
        return lo, hi

    def _whole(self, event: CalendarEvent) -> Occurrence:
        return Occurrence(
            event=event,
            kind="series" if event.recurring else "single",
            original_start=None,
            start=event.start,
            end=event.end,
            exception=False,
            cancelled=event.status == "cancelled",
            deleted=event.deleted,
            seq=event.seq,
            updated=event.updated,
        )

    def _instance(self, event: CalendarEvent, key: datetime) -> Occurrence:
        exc = event.exceptions.get(key)
        start = exc.start if exc else key
        end = exc.end if exc else key + event.duration
        return Occurrence(
            event=event,
            kind="instance",
            original_start=key,
            start=start,
            end=end,
            exception=exc is not None and (start, end) != (key, key + event.duration),
            cancelled=event.status == "cancelled" or (exc is not None and exc.cancelled),
            deleted=event.deleted,
            seq=max(event.seq, exc.seq if exc else 0),
            updated=max(event.updated, exc.updated) if exc else event.updated,
        )

    def _expand(self, event: CalendarEvent, lo: datetime, hi: datetime) -> list[Occurrence]:
        keys = set(event.original_starts(lo, hi)) | set(event.exceptions)
        found = (self._instance(event, key) for key in keys)
        return [o for o in found if _overlaps(o.start, o.end, lo, hi)]


def _overlaps(
    start: datetime, end: datetime, time_min: datetime | None, time_max: datetime | None
) -> bool:
    return (time_min is None or end > time_min) and (time_max is None or start < time_max)


def _attendees(items: Iterable[Attendee | str]) -> tuple[Attendee, ...]:
    result = tuple(item if isinstance(item, Attendee) else Attendee(email=item) for item in items)
    for attendee in result:
        if attendee.response not in RESPONSES:
            raise ValueError(f"response must be one of {RESPONSES}")
    return result


def _normalise_rrule(text: str | None) -> str | None:
    if text is None:
        return None
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None
    if ":" not in lines[0].split(";")[0]:
        lines[0] = "RRULE:" + lines[0]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Pushes: what the emulators sent, and how it was answered
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushRecord:
    """One request an emulator sent to a client's endpoint (test record, not provider API)."""

    kind: str  # Google: sync | exists | not_exists; Graph: validation | change | lifecycle
    target: str  # Google channel id, or Graph subscription id ("" for a validation)
    url: str
    headers: dict[str, str]
    body: Any  # JSON body, text, or b"" (Google sends none)
    status: int | None  # the response status; None if nothing was answered or it was not sent
    response_text: str | None
    error: str | None  # why it failed or was not sent
    at: float  # time.time() when it was sent
    sent: bool = True  # False when refused (not loopback) or suppressed (push_enabled false)
    response_content_type: str | None = None


class PushLog:
    """Thread-safe list of :class:`PushRecord`; :meth:`wait_for` blocks until enough arrive."""

    def __init__(self) -> None:
        self._items: list[PushRecord] = []
        self._cond = threading.Condition()

    def append(self, item: PushRecord) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def all(self) -> list[PushRecord]:
        with self._cond:
            return list(self._items)

    def matching(self, kind: str | None = None, target: str | None = None) -> list[PushRecord]:
        return [
            p
            for p in self.all()
            if (kind is None or p.kind == kind) and (target is None or p.target == target)
        ]

    def wait_for(
        self, count: int, *, kind: str | None = None, timeout: float = 10.0
    ) -> list[PushRecord]:
        """Block (synchronous callers only) until ``count`` records of ``kind`` exist."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [p for p in self._items if kind is None or p.kind == kind]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(found)} of {count} pushes after {timeout} s")
                self._cond.wait(left)

    def clear(self) -> None:
        with self._cond:
            self._items.clear()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


# --------------------------------------------------------------------------------------------
# What both calendar emulators share
# --------------------------------------------------------------------------------------------


@dataclass
class AccessToken:
    token: str
    grant_id: str
    client_id: str
    email: str
    scopes: tuple[str, ...]
    expires_at: datetime
    expired: bool = False  # forced by expire_access_tokens()


Job = Callable[[], Awaitable[Any]]


class CalendarEmulatorBase(EmulatorBase):
    """HTTP plumbing of the Google and Microsoft calendar emulators.

    It subclasses :class:`~provider_emulators.common.EmulatorBase` only so that
    :class:`~provider_emulators.common.BackgroundEmulator` serves it (it asks for ``app()``);
    it has no speech model and no job queue, so the base initialiser is not called.

    Test knobs (plain attributes, changeable while the server runs):

    * ``down``: every request is answered 503 in the provider's error shape;
    * ``fail_next``: the next N requests are answered ``fail_status`` (500, 503 or 429);
    * ``push_enabled``: when false, no push or notification is sent (each is recorded with
      ``sent=False``); Graph's validation handshake still happens;
    * ``push_timeout``: seconds the emulator waits for a push to be answered;
    * ``access_token_ttl``: lifetime (seconds) of the access tokens it issues.

    Records: ``requests`` (a :class:`~provider_emulators.common.RequestLog`; ``api_key`` is the
    bearer token, or the client id on the token endpoint) and ``pushes`` (a :class:`PushLog`).
    """

    refresh_token_prefix = ""
    access_token_prefix = ""

    def __init__(
        self,
        world: CalendarWorld,
        *,
        access_token_ttl: int,
        push_timeout: float = 5.0,
    ) -> None:
        self.world = world
        self.down = False
        self.fail_next = 0
        self.fail_status = 503
        self.push_enabled = True
        self.push_timeout = push_timeout
        self.access_token_ttl = access_token_ttl
        self.requests = RequestLog()
        self.pushes = PushLog()
        self._lock = threading.RLock()
        self._access_tokens: dict[str, AccessToken] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: aiohttp.ClientSession | None = None
        self._jobs: asyncio.Queue[tuple[Job, concurrent.futures.Future[Any]]] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._unlisten: Callable[[], None] | None = None
        self._closing = False

    # -- hooks for subclasses ------------------------------------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def _failure(self, request: web.Request, status: int) -> web.Response:
        """The answer to a request failed on purpose (``down``, ``fail_next``)."""
        raise NotImplementedError

    def _on_change(self, change: Change) -> None:
        """Called in the emulator's event loop for every change of the world."""
        raise NotImplementedError

    # -- application ---------------------------------------------------------------------------

    def app(self) -> web.Application:
        """A fresh aiohttp application serving this emulator (its state lives on ``self``)."""
        app = web.Application(middlewares=[log_middleware(self.requests, self._key_of)])
        app.middlewares.append(self._guard)
        self._add_routes(app)
        app.on_startup.append(self._on_startup)
        app.on_cleanup.append(self._on_cleanup)
        return app

    def _key_of(self, request: web.Request) -> str | None:
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        return request.get(CLIENT_ID_KEY)

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.down:
            return self._failure(request, 503)
        with self._lock:
            failing = self.fail_next > 0
            if failing:
                self.fail_next -= 1
        if failing:
            return self._failure(request, self.fail_status)
        return await handler(request)

    async def _on_startup(self, app: web.Application) -> None:
        self._closing = False
        self._loop = asyncio.get_running_loop()
        self._session = aiohttp.ClientSession()
        self._jobs = asyncio.Queue()
        self._worker = self._loop.create_task(self._work())
        self._unlisten = self.world.add_listener(self._listen)

    async def _on_cleanup(self, app: web.Application) -> None:
        self._closing = True
        if self._unlisten is not None:
            self._unlisten()
            self._unlisten = None
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
        if self._session is not None:
            await self._session.close()
        self._loop = None

    def _listen(self, change: Change) -> None:
        """World listener: runs in whatever thread made the change; hops to our loop."""
        loop = self._loop
        if loop is None or self._closing:
            return
        try:
            loop.call_soon_threadsafe(self._on_change, change)
        except RuntimeError:  # the loop closed meanwhile
            pass

    # -- deliveries ----------------------------------------------------------------------------

    def submit(self, job: Job) -> concurrent.futures.Future[Any]:
        """Queue ``job`` (an async callable) behind the pushes already queued; thread-safe.

        Pushes go out one at a time, in order. The returned future holds the job's result.
        """
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        loop = self._loop
        if loop is None:
            future.set_exception(RuntimeError("the emulator is not running"))
            return future
        loop.call_soon_threadsafe(self._enqueue, job, future)
        return future

    def _enqueue(self, job: Job, future: concurrent.futures.Future[Any]) -> None:
        assert self._jobs is not None
        self._jobs.put_nowait((job, future))

    def flush(self) -> concurrent.futures.Future[Any]:
        """A future done once every change made so far has been pushed (or found unpushable).

        From async tests: ``await asyncio.wrap_future(emulator.flush())``; from synchronous
        code: ``emulator.flush().result(10)``.
        """
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        loop = self._loop
        if loop is None:
            future.set_result(None)
            return future

        async def nothing() -> None:
            return None

        # A change made before this call has already queued its _on_change callback, which
        # runs (and queues its pushes) before this one.
        loop.call_soon_threadsafe(self._enqueue, nothing, future)
        return future

    async def _work(self) -> None:
        assert self._jobs is not None
        while True:
            job, future = await self._jobs.get()
            try:
                result = await job()
            except asyncio.CancelledError:
                future.cancel()
                raise
            except Exception as exc:  # a bug in the emulator must not stop deliveries
                if not future.done():
                    future.set_exception(exc)
            else:
                if not future.done():
                    future.set_result(result)

    async def post(
        self,
        url: str,
        *,
        kind: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes | str | None = None,
        json_body: Any = None,
        timeout: float | None = None,
        force: bool = False,
    ) -> PushRecord:
        """POST to a client's endpoint, if it is on loopback; records and returns the outcome.

        ``force``: send even when ``push_enabled`` is false (Graph's validation handshake).
        """
        payload: Any = json_body if json_body is not None else (body or b"")
        sent_headers = dict(headers)
        if json_body is not None:
            sent_headers.setdefault("Content-Type", "application/json; charset=utf-8")
        at = time.time()
        parts = urlsplit(url)
        refusal = None
        if parts.scheme not in ("http", "https"):
            refusal = f"unsupported URL scheme {parts.scheme!r}"
        elif not is_loopback_host(parts.hostname):
            refusal = f"refused: {parts.hostname!r} is not a loopback address"
        elif not (self.push_enabled or force):
            refusal = "suppressed: push_enabled is false"
        if refusal is not None:
            record = PushRecord(
                kind, target, url, sent_headers, payload, None, None, refusal, at, sent=False
            )
            self.pushes.append(record)
            return record
        status: int | None = None
        text: str | None = None
        error: str | None = None
        content_type: str | None = None
        try:
            async with self.session.post(
                url,
                headers=sent_headers,
                data=None if json_body is not None else (body or b""),
                json=json_body,
                timeout=aiohttp.ClientTimeout(total=timeout or self.push_timeout),
                allow_redirects=False,
            ) as response:
                status = response.status
                content_type = response.headers.get("Content-Type")
                text = await response.text(errors="replace")
        except TimeoutError:
            error = "timed out"
        except aiohttp.ClientError as exc:
            error = f"{type(exc).__name__}: {exc}"
        record = PushRecord(
            kind,
            target,
            url,
            sent_headers,
            payload,
            status,
            text,
            error,
            at,
            response_content_type=content_type,
        )
        self.pushes.append(record)
        return record

    # -- access tokens -------------------------------------------------------------------------

    def issue_access_token(self, grant: Grant, scopes: tuple[str, ...] | None = None) -> str:
        token = self.access_token_prefix + secrets.token_urlsafe(48)
        with self._lock:
            self._access_tokens[token] = AccessToken(
                token=token,
                grant_id=grant.id,
                client_id=grant.client_id,
                email=grant.email,
                scopes=grant.scopes if scopes is None else scopes,
                expires_at=self.world.now() + timedelta(seconds=self.access_token_ttl),
            )
        return token

    def expire_access_tokens(self) -> None:
        """Knob: every access token issued so far is expired from now on."""
        with self._lock:
            for token in self._access_tokens.values():
                token.expired = True

    def check_access_token(self, request: web.Request) -> AccessToken | str:
        """The caller's valid access token, or why there is none: "missing", "malformed",
        "unknown", "expired" or "revoked"."""
        header = request.headers.get("Authorization")
        if not header:
            return "missing"
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return "malformed"
        with self._lock:
            token = self._access_tokens.get(value.strip())
        if token is None:
            return "unknown"
        if token.expired or self.world.now() >= token.expires_at:
            return "expired"
        if self.world.grant(token.grant_id).revoked:
            return "revoked"
        return token
