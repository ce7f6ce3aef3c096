"""Calendars: connecting them, syncing their events, push channels, and answering the gateway.

A sync runs in one transaction under an advisory lock on the calendar: the events it changes,
its new cursor and the `calendar.synced` event it causes commit together (the outbox), or not at
all. A calendar is due when `next_sync_at` has come: a connection, a push or a resync sets it to
now; a sync that succeeds sets it a period ahead (or now again if a push came meanwhile); one that
fails sets it after a growing delay. A refused refresh token stops the calendar's syncs
(`refresh_failed`, with the provider's reason) until new credentials are given; its events stay.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import case, delete, func, text, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from calendar_sync.event_bots import (
    EventBots,
    ask_again,
    follow,
    series_rules,
    shown_params,
)
from calendar_sync.meeting_links import meeting_link
from calendar_sync.models import ACTIVE, REFRESH_FAILED, Calendar, CalendarEvent, PushChannel
from calendar_sync.providers.base import (
    CalendarApi,
    Changes,
    Channel,
    CredentialsRefused,
    OAuthClient,
    ProviderError,
    ProviderUnavailable,
    SyncStateLost,
)
from mb_shared.contracts.calendar import (
    Attendee,
    CalendarEventList,
    CalendarEventsReply,
    CalendarEventView,
    CalendarList,
    CalendarProvider,
    CalendarPush,
    CalendarSynced,
    CalendarView,
    CreateCalendar,
    DeleteCalendar,
    GetCalendar,
    GetCalendarEvent,
    ListCalendarEvents,
    ListCalendars,
    ListRawCalendars,
    OAuthCredentials,
    RawCalendar,
    RawCalendarList,
    ResyncCalendars,
    ResyncReply,
    ScheduleEventBot,
    UnscheduleEventBot,
    UpdateCalendar,
)
from mb_shared.contracts.queries import OkReply, QueryError
from mb_shared.database import session_scope
from mb_shared.outbox import Outbox
from mb_shared.secrets import KeyRing, SecretError

log = logging.getLogger(__name__)

PAST_MARGIN = timedelta(days=1)
"""How far back a full sync lists (meetings under way, and yesterday's)."""
ROLL_AFTER = timedelta(days=1)
"""A full sync again once the window's end has moved on by this much."""
MAX_BACKOFF_S = 900.0


def _now() -> datetime:
    return datetime.now(UTC)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SyncPace:
    window_days: int = 30
    periodic_s: float = 900.0
    channel_ttl_s: float = 7 * 86_400.0
    channel_renew_margin_s: float = 86_400.0


class SyncFailed(Exception):
    """A sync that did not happen; `str()` says why (kept in `last_sync_error`)."""


def _refused(exc: CredentialsRefused) -> QueryError:
    return QueryError(status=400, code="InvalidOAuthCredentials", message=f"{exc.field}: {exc}",
                      field=exc.field)


def _unavailable(exc: ProviderError) -> QueryError:
    status = 503 if isinstance(exc, ProviderUnavailable) else 502
    return QueryError(status=status, code="ProviderUnavailable" if status == 503
                      else "ProviderError", message=str(exc))


def _not_found(calendar_uuid: UUID) -> QueryError:
    return QueryError(status=404, code="CalendarNotFound",
                      message=f"uuid: no calendar {calendar_uuid}", field="uuid")


class CalendarService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], outbox: Outbox,
                 providers: dict[CalendarProvider, CalendarApi], key_ring: KeyRing, *,
                 pace: SyncPace = SyncPace(), push_url: str | None = None,
                 bots: EventBots | None = None,
                 clock: Callable[[], datetime] = _now) -> None:
        self._sessions = sessions
        self.bots = bots
        self._outbox = outbox
        self._providers = providers
        self._keys = key_ring
        self._pace = pace
        self._push_url = push_url.rstrip("/") if push_url else None
        self._clock = clock
        self.wake = asyncio.Event()
        """Set when a calendar became due (a push, a resync): the sync loop goes round at once."""

    # --- credentials ------------------------------------------------------------------------

    def _client(self, credentials: OAuthCredentials) -> OAuthClient:
        return OAuthClient(client_id=credentials.client_id,
                           client_secret=self._keys.open(credentials.sealed_client_secret),
                           refresh_token=self._keys.open(credentials.sealed_refresh_token))

    def _stored_client(self, calendar: Calendar) -> OAuthClient:
        return OAuthClient(client_id=calendar.client_id,
                           client_secret=self._keys.open(calendar.sealed_client_secret),
                           refresh_token=self._keys.open(calendar.sealed_refresh_token))

    async def _token(self, calendar: Calendar) -> str:
        return await self._providers[CalendarProvider(calendar.platform)].access_token(
            self._stored_client(calendar))

    # --- the gateway's queries ---------------------------------------------------------------

    async def raw_calendars(self, query: ListRawCalendars) -> RawCalendarList | QueryError:
        provider = self._providers[query.credentials.platform]
        try:
            token = await provider.access_token(self._client(query.credentials))
            found = await provider.calendars(token)
        except CredentialsRefused as exc:
            return _refused(exc)
        except ProviderError as exc:
            return _unavailable(exc)
        return RawCalendarList(calendars=[RawCalendar(id=c.id, email=c.email,
                                                      is_primary=c.is_primary) for c in found])

    async def create(self, query: CreateCalendar) -> CalendarView | QueryError:
        """Check the credentials with the provider, store them sealed, sync the window."""
        provider = self._providers[query.credentials.platform]
        try:
            token = await provider.access_token(self._client(query.credentials))
            found = await provider.calendars(token)
        except CredentialsRefused as exc:
            return _refused(exc)
        except ProviderError as exc:
            return _unavailable(exc)
        wanted = [c for c in found if (c.id == query.raw_calendar_id if query.raw_calendar_id
                                       else c.is_primary)]
        if not wanted:
            which = (f"no calendar {query.raw_calendar_id!r} on this account"
                     if query.raw_calendar_id else "the account has no primary calendar")
            return QueryError(status=400, code="CalendarNotFoundAtProvider",
                              message=f"raw_calendar_id: {which}", field="raw_calendar_id")
        chosen = wanted[0]
        now = self._clock()
        calendar = Calendar(
            uuid=uuid.uuid4(), account_id=query.account_id,
            platform=query.credentials.platform.value, provider_calendar_id=chosen.id,
            name=chosen.name, email=chosen.email, client_id=query.credentials.client_id,
            sealed_client_secret=query.credentials.sealed_client_secret,
            sealed_refresh_token=query.credentials.sealed_refresh_token,
            window_days=self._pace.window_days, sync_requested_at=now, next_sync_at=now,
            created_at=now,
        )
        async with session_scope(self._sessions) as session:
            taken = (await session.exec(select(Calendar.uuid).where(
                Calendar.account_id == query.account_id,
                Calendar.platform == calendar.platform,
                Calendar.provider_calendar_id == chosen.id))).first()
            if taken is not None:
                return QueryError(
                    status=409, code="CalendarAlreadyConnected",
                    message=f"raw_calendar_id: calendar {chosen.id!r} is already connected as "
                            f"{taken}; update its credentials with PATCH /calendars/{taken}",
                    field="raw_calendar_id")
            session.add(calendar)
        await self._sync_now(calendar.uuid)
        return await self._view(calendar.uuid, query.account_id)

    async def _sync_now(self, calendar_uuid: UUID) -> None:
        """Sync at once; a failure is kept on the calendar and retried by the loop."""
        try:
            await self.sync(calendar_uuid)
        except SyncFailed as exc:
            log.warning("calendar %s: sync failed, retried later: %s", calendar_uuid, exc)
        await self.tend_channels(calendar_uuid)

    async def update(self, query: UpdateCalendar) -> CalendarView | QueryError:
        """New credentials (checked first), then a full sync."""
        provider = self._providers[query.credentials.platform]
        try:
            await provider.access_token(self._client(query.credentials))
        except CredentialsRefused as exc:
            return _refused(exc)
        except ProviderError as exc:
            return _unavailable(exc)
        async with session_scope(self._sessions) as session:
            await self._lock(session, query.calendar_uuid, wait=True)
            calendar = await session.get(Calendar, query.calendar_uuid)
            if calendar is None or calendar.account_id != query.account_id:
                return _not_found(query.calendar_uuid)
            if calendar.platform != query.credentials.platform.value:
                return QueryError(status=400, code="PlatformMismatch",
                                  message=f"platform: the calendar is on {calendar.platform}",
                                  field="platform")
            now = self._clock()
            calendar.client_id = query.credentials.client_id
            calendar.sealed_client_secret = query.credentials.sealed_client_secret
            calendar.sealed_refresh_token = query.credentials.sealed_refresh_token
            calendar.status, calendar.status_message = ACTIVE, None
            calendar.full_sync_wanted = True
            calendar.sync_failures = 0
            calendar.sync_requested_at = calendar.next_sync_at = now
        await self._sync_now(query.calendar_uuid)
        return await self._view(query.calendar_uuid, query.account_id)

    async def get(self, query: GetCalendar) -> CalendarView | QueryError:
        return await self._view(query.calendar_uuid, query.account_id)

    async def list(self, query: ListCalendars) -> CalendarList:
        async with self._sessions() as session:
            rows = (await session.exec(select(Calendar).where(
                Calendar.account_id == query.account_id).order_by(Calendar.created_at))).all()
        return CalendarList(calendars=[_calendar_view(c) for c in rows])

    async def delete(self, query: DeleteCalendar) -> OkReply | QueryError:
        """Stop its push channels (best effort), forget it and its events."""
        async with self._sessions() as session:
            calendar = await session.get(Calendar, query.calendar_uuid)
            channels = (await session.exec(select(PushChannel).where(
                PushChannel.calendar_uuid == query.calendar_uuid))).all()
        if calendar is None or calendar.account_id != query.account_id:
            return _not_found(query.calendar_uuid)
        refused = await self._cancel_bots(calendar.uuid)
        if refused is not None:
            return refused
        if channels and calendar.status == ACTIVE:
            try:
                token = await self._token(calendar)
                for channel in channels:
                    await self._providers[CalendarProvider(calendar.platform)].stop(
                        token, Channel(channel.channel_id, channel.resource_id,
                                       channel.expires_at))
            except (ProviderError, SecretError) as exc:
                log.warning("calendar %s: channels not stopped at the provider (%s); they "
                            "expire by themselves", calendar.uuid, exc)
        async with session_scope(self._sessions) as session:
            await self._lock(session, calendar.uuid, wait=True)
            await session.exec(delete(CalendarEvent).where(
                col(CalendarEvent.calendar_uuid) == calendar.uuid))
            await session.exec(delete(PushChannel).where(
                col(PushChannel.calendar_uuid) == calendar.uuid))
            await session.exec(delete(Calendar).where(col(Calendar.uuid) == calendar.uuid))
        return OkReply()

    async def _cancel_bots(self, calendar_uuid: UUID) -> QueryError | None:
        """Cancel the bots handed over for the calendar's events (before forgetting them)."""
        if self.bots is None:
            return None
        async with session_scope(self._sessions) as session:
            events = (await session.exec(select(CalendarEvent).where(
                CalendarEvent.calendar_uuid == calendar_uuid,
                col(CalendarEvent.bot_id).is_not(None), ~col(CalendarEvent.bot_cancelled),
            ).with_for_update())).all()
            for event in events:
                event.bot_param = None
                follow(event)
        try:
            while await self.bots.hand_over_due():
                pass
        except Exception as exc:  # the scheduler did not answer: keep everything, say so
            return QueryError(status=503, code="ServiceUnavailable",
                              message=f"the calendar's bots could not be cancelled ({exc}); "
                                      "retry in a few seconds")
        async with self._sessions() as session:
            pending = (await session.exec(select(CalendarEvent.uuid).where(
                CalendarEvent.calendar_uuid == calendar_uuid,
                col(CalendarEvent.bot_id).is_not(None),
                col(CalendarEvent.bot_revision) > col(CalendarEvent.bot_synced_revision),
            ))).first()
        if pending is not None:
            return QueryError(status=503, code="ServiceUnavailable",
                              message="the calendar's bots could not be cancelled yet; retry "
                                      "in a few seconds")
        return None

    async def schedule_bot(self, query: ScheduleEventBot) -> CalendarEventsReply | QueryError:
        assert self.bots is not None
        done = await self.bots.schedule(query)
        if isinstance(done, QueryError):
            return done
        self.wake.set()
        return CalendarEventsReply(events=[_event_view(e) for e in done])

    async def unschedule_bot(self, query: UnscheduleEventBot) -> CalendarEventsReply | QueryError:
        assert self.bots is not None
        done = await self.bots.unschedule(query)
        if isinstance(done, QueryError):
            return done
        self.wake.set()
        return CalendarEventsReply(events=[_event_view(e) for e in done])

    async def resync_all(self, query: ResyncCalendars) -> ResyncReply:
        """A full sync of each calendar of the account now (`days` becomes its window)."""
        async with session_scope(self._sessions) as session:
            rows = (await session.exec(select(Calendar).where(
                Calendar.account_id == query.account_id).order_by(Calendar.created_at))).all()
            for calendar in rows:
                calendar.full_sync_wanted = True
                if query.days is not None:
                    calendar.window_days = query.days
        synced, errors = [], []
        for calendar in rows:
            if calendar.status != ACTIVE:
                errors.append((calendar.uuid, calendar.status_message or calendar.status))
                continue
            try:
                await self.sync(calendar.uuid, wait=True)
            except SyncFailed as exc:
                errors.append((calendar.uuid, str(exc)))
            else:
                synced.append(calendar.uuid)
        return ResyncReply(synced_calendars=synced, errors=errors)

    async def push(self, query: CalendarPush) -> OkReply | QueryError:
        """A provider's notification on one of our channels: the calendar is due now."""
        async with session_scope(self._sessions) as session:
            channel = await session.get(PushChannel, query.channel_id)
            if channel is None or not secrets.compare_digest(channel.token_sha256,
                                                             query.token_sha256):
                return QueryError(status=404, code="UnknownChannel",
                                  message="no such push channel")
            now = self._clock()
            if query.state == "sync":
                return OkReply()  # Google's first message on a new channel
            if query.state == "reauthorizationRequired":
                channel.expires_at = now  # renewed by the next round of tend_channels
            elif query.state == "subscriptionRemoved":
                await session.delete(channel)
            values: dict[str, Any] = {"sync_requested_at": now, "next_sync_at": now}
            if query.state == "missed":
                values["full_sync_wanted"] = True
            await session.exec(update(Calendar).where(
                col(Calendar.uuid) == channel.calendar_uuid).values(**values))
        self.wake.set()
        return OkReply()

    async def get_event(self, query: GetCalendarEvent) -> CalendarEventView | QueryError:
        async with self._sessions() as session:
            event = await session.get(CalendarEvent, query.event_uuid)
        if event is None or event.account_id != query.account_id:
            return QueryError(status=404, code="EventNotFound",
                              message=f"uuid: no calendar event {query.event_uuid}", field="uuid")
        return _event_view(event)

    async def list_events(self, query: ListCalendarEvents) -> CalendarEventList | QueryError:
        async with self._sessions() as session:
            calendar = await session.get(Calendar, query.calendar_uuid)
            if calendar is None or calendar.account_id != query.account_id:
                return QueryError(status=404, code="CalendarNotFound",
                                  message=f"calendar_id: no calendar {query.calendar_uuid}",
                                  field="calendar_id")
            statement = select(CalendarEvent).where(
                CalendarEvent.calendar_uuid == query.calendar_uuid)
            now = self._clock()
            if query.status == "upcoming":
                statement = statement.where(CalendarEvent.start_time >= now)
            elif query.status == "past":
                statement = statement.where(CalendarEvent.start_time < now)
            if query.start_date_gte is not None:
                statement = statement.where(CalendarEvent.start_time >= query.start_date_gte)
            if query.start_date_lte is not None:
                statement = statement.where(CalendarEvent.start_time <= query.start_date_lte)
            if query.updated_at_gte is not None:
                statement = statement.where(CalendarEvent.last_updated_at >= query.updated_at_gte)
            if query.organizer_email:
                statement = statement.where(func.lower(CalendarEvent.organizer_email)
                                            == query.organizer_email.lower())
            if query.attendee_email:
                statement = statement.where(text(
                    "EXISTS (SELECT 1 FROM jsonb_array_elements(calendar_events.attendees) a "
                    "WHERE lower(a->>'email') = :attendee)").bindparams(
                        attendee=query.attendee_email.lower()))
            if query.after is not None:
                at, last = query.after
                statement = statement.where(
                    (col(CalendarEvent.start_time) > at)
                    | ((col(CalendarEvent.start_time) == at) & (col(CalendarEvent.uuid) > last)))
            statement = statement.order_by(col(CalendarEvent.start_time),
                                           col(CalendarEvent.uuid)).limit(query.limit + 1)
            rows = (await session.exec(statement)).all()
        page, more = rows[:query.limit], len(rows) > query.limit
        return CalendarEventList(
            events=[_event_view(e) for e in page],
            next_after=(page[-1].start_time, page[-1].uuid) if more else None)

    async def _view(self, calendar_uuid: UUID, account_id: int) -> CalendarView | QueryError:
        async with self._sessions() as session:
            calendar = await session.get(Calendar, calendar_uuid)
        if calendar is None or calendar.account_id != account_id:
            return _not_found(calendar_uuid)
        return _calendar_view(calendar)

    # --- syncing ------------------------------------------------------------------------------

    @staticmethod
    async def _lock(session: AsyncSession, calendar_uuid: UUID, *, wait: bool = False) -> bool:
        """The calendar's transaction-scoped advisory lock (syncs, credential changes, deletion
        take turns; replicas included)."""
        function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
        got = await session.scalar(text(f"SELECT {function}(hashtextextended(:key, 0))"),
                                   params={"key": f"calendar-sync:{calendar_uuid}"})
        return True if wait else bool(got)

    async def sync_due(self, limit: int = 10) -> int:
        """Sync the calendars whose time has come; the number synced."""
        async with self._sessions() as session:
            due = (await session.exec(
                select(Calendar.uuid).where(Calendar.status == ACTIVE,
                                            Calendar.next_sync_at <= self._clock())
                .order_by(col(Calendar.next_sync_at)).limit(limit))).all()
        done = 0
        for calendar_uuid in due:
            try:
                if await self.sync(calendar_uuid) is not None:
                    done += 1
            except SyncFailed as exc:
                log.warning("calendar %s: sync failed, retried later: %s", calendar_uuid, exc)
        return done

    async def sync(self, calendar_uuid: UUID, *, wait: bool = False) -> list[UUID] | None:
        """Bring the calendar's events up to date; the events that changed (None when another
        sync of it was under way and `wait` is false, or it is not syncable). Raises
        `SyncFailed`."""
        failure: SyncFailed | None = None
        async with session_scope(self._sessions) as session:
            if not await self._lock(session, calendar_uuid, wait=wait):
                return None
            calendar = await session.get(Calendar, calendar_uuid)
            if calendar is None or calendar.status != ACTIVE:
                return None
            started = self._clock()
            try:
                affected = await self._sync_locked(session, calendar, started)
            except CredentialsRefused as exc:
                calendar.status, calendar.status_message = REFRESH_FAILED, str(exc)[:1000]
                calendar.last_sync_error = str(exc)[:1000]
                failure = SyncFailed(str(exc))
                log.warning("calendar %s: %s; no more syncs until new credentials are given",
                            calendar.uuid, exc)
            except (ProviderError, SecretError) as exc:
                calendar.sync_failures += 1
                delay = min(MAX_BACKOFF_S, 2.0 ** calendar.sync_failures)
                calendar.next_sync_at = started + timedelta(seconds=delay)
                calendar.last_sync_error = str(exc)[:1000]
                failure = SyncFailed(str(exc))
            else:
                return affected
        raise failure

    async def _sync_locked(self, session: AsyncSession, calendar: Calendar,
                           started: datetime) -> list[UUID]:
        provider = self._providers[CalendarProvider(calendar.platform)]
        window = (started - PAST_MARGIN, started + timedelta(days=calendar.window_days))
        cursor = calendar.sync_cursor
        if (calendar.full_sync_wanted or cursor is None or calendar.cursor_window_end is None
                or calendar.cursor_window_end < window[1] - ROLL_AFTER):
            cursor = None
        token = await self._token(calendar)
        try:
            changes = await provider.changes(token, calendar.provider_calendar_id, window, cursor)
        except SyncStateLost:
            log.info("calendar %s: the provider dropped our sync state; listing it again",
                     calendar.uuid)
            changes = await provider.changes(token, calendar.provider_calendar_id, window, None)
        affected = await self._apply(session, calendar, changes, window, started)
        calendar.sync_cursor = changes.cursor
        if changes.full:
            calendar.cursor_window_end = window[1]
            calendar.full_sync_wanted = False
        calendar.sync_failures = 0
        calendar.last_sync_error = None
        calendar.last_synced_at = self._clock()
        again = col(Calendar.sync_requested_at) > started
        await session.exec(update(Calendar).where(col(Calendar.uuid) == calendar.uuid).values(
            next_sync_at=case((again, self._clock()),
                              else_=started + timedelta(seconds=self._pace.periodic_s)),
            sync_requested_at=case((again, col(Calendar.sync_requested_at)), else_=None),
        ))
        if affected:
            await self._outbox.put(session, [CalendarSynced(
                calendar_uuid=calendar.uuid, account_id=calendar.account_id,
                last_updated_ts=started, affected_event_uuids=affected)])
            log.info("calendar %s: %d event(s) changed", calendar.uuid, len(affected))
        return affected

    async def _apply(self, session: AsyncSession, calendar: Calendar, changes: Changes,
                     window: tuple[datetime, datetime], now: datetime) -> list[UUID]:
        known = {e.provider_event_id: e for e in (await session.exec(
            select(CalendarEvent).where(CalendarEvent.calendar_uuid == calendar.uuid))).all()}
        rules = await series_rules(session, calendar.uuid)
        affected: list[UUID] = []
        seen: set[str] = set()
        for found in changes.events:
            seen.add(found.id)
            event = known.get(found.id)
            in_window = found.end >= window[0] and found.start <= window[1]
            if event is None and (found.cancelled or not in_window):
                continue
            values = {
                "name": found.name, "start_time": found.start, "end_time": found.end,
                "meeting_url": meeting_link(found.link_sources), "attendees": found.attendees,
                "organizer_email": found.organizer_email, "is_organizer": found.is_organizer,
                "is_recurring": found.recurring_event_id is not None,
                "recurring_event_id": found.recurring_event_id, "deleted": found.cancelled,
                "raw": found.raw,
            }
            if event is None:
                event = CalendarEvent(uuid=uuid.uuid4(), calendar_uuid=calendar.uuid,
                                      account_id=calendar.account_id, provider_event_id=found.id,
                                      last_updated_at=now, **values)
                rule = rules.get(found.recurring_event_id or "")
                if rule is not None:
                    event.bot_param, event.bot_api_key_prefix = rule.bot_param, rule.api_key_prefix
                session.add(event)
                known[found.id] = event
                affected.append(event.uuid)
            elif any(getattr(event, name) != value for name, value in values.items()):
                moved = any(getattr(event, name) != values[name]
                            for name in ("start_time", "end_time", "meeting_url", "deleted"))
                restored = event.deleted and not found.cancelled
                for name, value in values.items():
                    setattr(event, name, value)
                event.last_updated_at = now
                affected.append(event.uuid)
                if restored:
                    ask_again(event)
                if moved:
                    follow(event)
        gone = set(changes.removed)
        if changes.full:
            gone |= {pid for pid, e in known.items()
                     if pid not in seen and window[0] <= e.end_time and e.start_time <= window[1]}
        for provider_id in gone:
            event = known.get(provider_id)
            if event is not None and not event.deleted:
                event.deleted = True
                event.last_updated_at = now
                affected.append(event.uuid)
                follow(event)
        return affected

    # --- push channels --------------------------------------------------------------------

    def _address(self, platform: CalendarProvider) -> str | None:
        if self._push_url is None:
            return None
        return f"{self._push_url}/calendar_push/{platform.value.lower()}"

    async def tend_channels(self, only: UUID | None = None) -> None:
        """Give every active calendar a push channel that lasts beyond the renewal margin:
        Microsoft's are extended, Google's replaced (the old one stopped)."""
        if self._push_url is None:
            return
        now = self._clock()
        horizon = now + timedelta(seconds=self._pace.channel_renew_margin_s)
        async with self._sessions() as session:
            statement = select(Calendar).where(Calendar.status == ACTIVE)
            if only is not None:
                statement = statement.where(Calendar.uuid == only)
            calendars = (await session.exec(statement)).all()
        for calendar in calendars:
            try:
                await self._tend(calendar, horizon, now)
            except (ProviderError, SecretError) as exc:
                log.warning("calendar %s: push channel not renewed (%s); retried, and the "
                            "periodic sync goes on meanwhile", calendar.uuid, exc)

    async def _tend(self, calendar: Calendar, horizon: datetime, now: datetime) -> None:
        """One replica at a time per calendar (an advisory lock held while it asks the
        provider), so that replicas never open two channels for one calendar."""
        async with self._sessions() as session, session.begin():
            mine = await session.scalar(
                text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 0))"),
                params={"key": f"calendar-channels:{calendar.uuid}"})
            if not mine:
                return
            current = list((await session.exec(select(PushChannel).where(
                PushChannel.calendar_uuid == calendar.uuid))).all())
            if any(c.expires_at > horizon for c in current):
                return
            await self._renew_or_replace(calendar, current, now)

    async def _renew_or_replace(self, calendar: Calendar, current: list[PushChannel],
                                now: datetime) -> None:
        platform = CalendarProvider(calendar.platform)
        provider = self._providers[platform]
        token = await self._token(calendar)
        until = now + timedelta(seconds=self._pace.channel_ttl_s)
        for old in current:
            renewed = await provider.renew(
                token, Channel(old.channel_id, old.resource_id, old.expires_at), until)
            if renewed is not None:
                async with session_scope(self._sessions) as session:
                    await session.exec(update(PushChannel).where(
                        col(PushChannel.channel_id) == old.channel_id).values(
                            expires_at=renewed.expires_at))
                return
        channel_token = secrets.token_urlsafe(32)
        address = self._address(platform)
        assert address is not None
        channel = await provider.watch(token, calendar.provider_calendar_id, address,
                                       str(uuid.uuid4()), channel_token, until)
        async with session_scope(self._sessions) as session:
            if await session.get(Calendar, calendar.uuid) is None:
                await provider.stop(token, channel)  # deleted meanwhile
                return
            session.add(PushChannel(channel_id=channel.id, calendar_uuid=calendar.uuid,
                                    token_sha256=token_digest(channel_token),
                                    resource_id=channel.resource_id,
                                    expires_at=channel.expires_at, created_at=now))
        for old in current:
            try:
                await provider.stop(token, Channel(old.channel_id, old.resource_id,
                                                   old.expires_at))
            except ProviderError:
                pass
            async with session_scope(self._sessions) as session:
                await session.exec(delete(PushChannel).where(
                    col(PushChannel.channel_id) == old.channel_id))


def _calendar_view(calendar: Calendar) -> CalendarView:
    return CalendarView(
        uuid=calendar.uuid, account_id=calendar.account_id,
        platform=CalendarProvider(calendar.platform), provider_calendar_id=calendar.provider_calendar_id,
        name=calendar.name, email=calendar.email, resource_id=None, status=calendar.status,
        status_message=calendar.status_message, last_synced_at=calendar.last_synced_at)


def _event_view(event: CalendarEvent) -> CalendarEventView:
    return CalendarEventView(
        uuid=event.uuid, calendar_uuid=event.calendar_uuid,
        provider_event_id=event.provider_event_id, name=event.name,
        start_time=event.start_time, end_time=event.end_time, meeting_url=event.meeting_url,
        attendees=[Attendee(**a) for a in event.attendees],
        organizer_email=event.organizer_email, is_organizer=event.is_organizer,
        is_recurring=event.is_recurring, recurring_event_id=event.recurring_event_id,
        deleted=event.deleted, raw=event.raw, last_updated_at=event.last_updated_at,
        bot_param=shown_params(event.bot_param))
