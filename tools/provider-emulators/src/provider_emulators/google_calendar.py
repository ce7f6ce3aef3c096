"""Local emulator of Google's OAuth 2.0 token endpoint and Calendar API v3 (events and push).

Routes (the token endpoint stands for ``https://oauth2.googleapis.com``, the rest for
``https://www.googleapis.com``):

* ``POST /token``: ``grant_type=refresh_token`` with the client's id and secret (form fields or
  HTTP Basic) -> ``{"access_token", "expires_in", "scope", "token_type": "Bearer"}``;
  ``POST /revoke?token=...`` revokes the grant behind a refresh or access token;
* ``GET /calendar/v3/users/me/calendarList``;
* ``GET /calendar/v3/calendars/{calendarId}/events``: ``timeMin``/``timeMax``, ``singleEvents``,
  ``orderBy``, ``showDeleted``, ``maxResults``/``pageToken``, ``syncToken`` (incremental sync:
  410 ``fullSyncRequired`` once the token is invalid), ``updatedMin``, ``timeZone``;
* ``GET /calendar/v3/calendars/{calendarId}/events/{eventId}`` (a series, a lone event, or an
  instance ``{seriesId}_{YYYYMMDDTHHMMSSZ}``);
* ``POST /calendar/v3/calendars/{calendarId}/events/watch`` and ``POST /calendar/v3/channels/stop``.

Pushes: a ``sync`` message when a channel opens, then an ``exists`` message for every change of
the watched calendar: an empty POST with the ``X-Goog-*`` headers, until the channel expires or
is stopped. Only loopback addresses are accepted (plain http is fine there).
"""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

from aiohttp import BasicAuth, web

from provider_emulators.calendar_world import (
    CLIENT_ID_KEY,
    AccessToken,
    Calendar,
    CalendarEmulatorBase,
    CalendarWorld,
    Change,
    Occurrence,
    PushRecord,
)
from provider_emulators.common import is_loopback_host

DEFAULT_SCOPE = "https://www.googleapis.com/auth/calendar.readonly"
#: Query parameters Google refuses together with ``syncToken``.
SYNC_INCOMPATIBLE = (
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
)
#: Full-sync parameters after which Google gives no ``nextSyncToken`` (only the time window may
#: narrow a full sync that is to be followed by incremental ones).
NO_SYNC_TOKEN_WITH = tuple(name for name in SYNC_INCOMPATIBLE if name not in ("timeMin", "timeMax"))
_STATUS_REASONS = {
    400: "badRequest",
    404: "notFound",
    429: "rateLimitExceeded",
    500: "backendError",
    503: "backendError",
}


def rfc3339_ms(value: datetime) -> str:
    """UTC with milliseconds, as Google writes ``created`` and ``updated``."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def local_rfc3339(value: datetime, zone: str) -> str:
    text = value.astimezone(ZoneInfo(zone)).isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def instance_suffix(original_start: datetime) -> str:
    return original_start.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def google_id(occurrence: Occurrence) -> str:
    """A series or lone event keeps its id; an instance is ``{seriesId}_{originalStartUTC}``."""
    if occurrence.original_start is None:
        return occurrence.event.id
    return f"{occurrence.event.id}_{instance_suffix(occurrence.original_start)}"


def parse_google_id(event_id: str) -> tuple[str, datetime | None]:
    base, sep, suffix = event_id.rpartition("_")
    if sep and base:
        try:
            when = datetime.strptime(suffix, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            return event_id, None
        return base, when
    return event_id, None


def conference_data(url: str, passcode: str | None) -> dict[str, Any]:
    """Google's ``conferenceData`` for a meeting link (Meet natively, others as add-ons)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    label = url.split("://", 1)[-1]
    path_id = parts.path.strip("/").split("/")[-1]
    if host.endswith("meet.google.com"):
        solution = {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"}
    elif "zoom." in host:
        solution = {"key": {"type": "addOn"}, "name": "Zoom Meeting"}
    elif "teams." in host:
        solution = {"key": {"type": "addOn"}, "name": "Microsoft Teams Meeting"}
    else:
        solution = {"key": {"type": "addOn"}, "name": "Video call"}
    entry: dict[str, Any] = {"entryPointType": "video", "uri": url, "label": label}
    if passcode:
        entry["passcode"] = passcode
    data: dict[str, Any] = {"entryPoints": [entry], "conferenceSolution": solution}
    if path_id:
        data["conferenceId"] = path_id
    return data


@dataclass
class Channel:
    """A notification channel opened by ``events.watch``."""

    id: str
    resource_id: str
    resource_uri: str
    calendar_id: str
    address: str
    token: str | None
    expiration: datetime
    client_id: str
    email: str
    params: dict[str, str] = field(default_factory=dict)
    messages: int = 0  # the last X-Goog-Message-Number used
    stopped: bool = False

    def expiration_ms(self) -> int:
        return int(self.expiration.timestamp() * 1000)


@dataclass(frozen=True)
class SyncState:
    """What a sync token stands for."""

    calendar_id: str
    seq: int
    single_events: bool
    time_min: datetime | None  # the full sync's window, which bounds recurring expansions
    time_max: datetime | None
    known: frozenset[tuple[str, datetime | None]]
    generation: int


@dataclass
class PageState:
    calendar_id: str
    sync_token: str | None
    items: list[dict[str, Any]]
    page_size: int
    next_sync: SyncState | None


class GoogleError(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


class GoogleCalendarEmulator(CalendarEmulatorBase):
    """Google OAuth token endpoint and Calendar API v3 over a :class:`CalendarWorld`.

    Knobs beyond :class:`CalendarEmulatorBase`'s: ``channel_default_ttl`` and
    ``channel_max_ttl`` (seconds), ``expire_sync_tokens()``, ``expire_access_tokens()``,
    ``push_state(calendar_id, state)``. Records beyond ``requests``/``pushes``: ``channels``
    (id -> :class:`Channel`, open ones) and ``stopped_channels`` (ids, in order).
    """

    access_token_prefix = "ya29."
    refresh_token_prefix = "1//0"

    def __init__(
        self,
        world: CalendarWorld,
        *,
        access_token_ttl: int = 3599,
        channel_default_ttl: int = 604800,
        channel_max_ttl: int = 2592000,
        push_timeout: float = 5.0,
    ) -> None:
        super().__init__(world, access_token_ttl=access_token_ttl, push_timeout=push_timeout)
        self.channel_default_ttl = channel_default_ttl
        self.channel_max_ttl = channel_max_ttl
        self.channels: dict[str, Channel] = {}
        self.stopped_channels: list[str] = []
        self._sync_tokens: dict[str, SyncState] = {}
        self._pages: dict[str, PageState] = {}
        self._generation = 0
        self._state_lock = threading.Lock()

    def issue_refresh_token(self, client_id: str, email: str, *, scopes: Iterable[str] = ()) -> str:
        """Convenience: a Google-looking refresh token from the world."""
        return self.world.issue_refresh_token(
            client_id,
            email,
            scopes=tuple(scopes) or (DEFAULT_SCOPE,),
            prefix=self.refresh_token_prefix,
        )

    # -- knobs ---------------------------------------------------------------------------------

    def expire_sync_tokens(self) -> None:
        """Knob: every sync token issued so far answers 410 ``fullSyncRequired``."""
        with self._state_lock:
            self._generation += 1

    def push_state(self, calendar_id: str, state: str = "not_exists") -> Any:
        """Knob: push ``state`` on every open channel of ``calendar_id``; returns a flush future."""
        loop = self._loop
        if loop is None:
            raise RuntimeError("the emulator is not running")
        loop.call_soon_threadsafe(self._push_calendar, calendar_id, state)
        return self.flush()

    # -- plumbing ------------------------------------------------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        app.middlewares.append(self._errors)
        app.router.add_post("/token", self._token)
        app.router.add_post("/revoke", self._revoke)
        base = "/calendar/v3"
        app.router.add_get(base + "/users/me/calendarList", self._calendar_list)
        app.router.add_get(base + "/calendars/{calendarId}/events", self._list_events)
        app.router.add_post(base + "/calendars/{calendarId}/events/watch", self._watch)
        app.router.add_get(base + "/calendars/{calendarId}/events/{eventId}", self._get_event)
        app.router.add_post(base + "/channels/stop", self._stop)

    @staticmethod
    def error(
        status: int,
        reason: str,
        message: str,
        *,
        domain: str = "global",
        headers: dict[str, str] | None = None,
        **extra: str,
    ) -> web.Response:
        """An error in the Calendar API's shape."""
        item = {"domain": domain, "reason": reason, "message": message, **extra}
        body = {"error": {"errors": [item], "code": status, "message": message}}
        return web.json_response(body, status=status, headers=headers)

    @staticmethod
    def oauth_error(status: int, error: str, description: str) -> web.Response:
        return web.json_response({"error": error, "error_description": description}, status=status)

    def _failure(self, request: web.Request, status: int) -> web.Response:
        if request.path in ("/token", "/revoke"):
            if status == 503:
                return self.oauth_error(503, "temporarily_unavailable", "Service unavailable")
            return self.oauth_error(status, "internal_failure", "Internal error")
        messages = {
            429: "Rate Limit Exceeded",
            500: "Internal Error",
            503: "The service is currently unavailable.",
        }
        reason = _STATUS_REASONS.get(status, "backendError")
        return self.error(status, reason, messages.get(status, "Backend Error"))

    def _authenticate(self, request: web.Request) -> AccessToken:
        found = self.check_access_token(request)
        if isinstance(found, AccessToken):
            return found
        realm = 'Bearer realm="https://accounts.google.com/"'
        if found == "missing":
            raise GoogleError(
                self.error(
                    401,
                    "required",
                    "Login Required.",
                    headers={"WWW-Authenticate": realm},
                    location="Authorization",
                    locationType="header",
                )
            )
        raise GoogleError(
            self.error(
                401,
                "authError",
                "Invalid Credentials",
                headers={"WWW-Authenticate": realm + ', error="invalid_token"'},
                location="Authorization",
                locationType="header",
            )
        )

    def _calendar_for(self, token: AccessToken, calendar_id: str) -> Calendar:
        if calendar_id == "primary":
            return self.world.primary_calendar(token.email)
        for calendar in self.world.calendars_of(token.email):
            if calendar.id.lower() == calendar_id.lower():
                return calendar
        raise GoogleError(self.error(404, "notFound", "Not Found"))

    @staticmethod
    def _origin(request: web.Request) -> str:
        return f"{request.scheme}://{request.host}"

    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)
        except GoogleError as exc:
            return exc.response

    # -- OAuth ---------------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if request.headers.get("Authorization", "").lower().startswith("basic "):
            try:
                basic = BasicAuth.decode(request.headers["Authorization"])
                client_id, client_secret = basic.login, basic.password
            except ValueError:
                return self.oauth_error(401, "invalid_client", "Unauthorized")
        if isinstance(client_id, str):
            request[CLIENT_ID_KEY] = client_id
        grant_type = form.get("grant_type")
        if grant_type != "refresh_token":
            return self.oauth_error(
                400, "unsupported_grant_type", f"Invalid grant_type: {grant_type or ''}"
            )
        if not client_id:
            return self.oauth_error(
                400, "invalid_request", "Could not determine client ID from request."
            )
        client = self.world.clients.get(str(client_id))
        if client is None:
            return self.oauth_error(401, "invalid_client", "The OAuth client was not found.")
        if client_secret != client.client_secret:
            return self.oauth_error(401, "invalid_client", "Unauthorized")
        refresh_token = form.get("refresh_token")
        if not isinstance(refresh_token, str) or not refresh_token:
            return self.oauth_error(
                400, "invalid_request", "Missing required parameter: refresh_token"
            )
        grant = self.world.grant_of(refresh_token)
        if grant is None:
            return self.oauth_error(400, "invalid_grant", "Bad Request")
        if grant.revoked or grant.client_id != client.client_id:
            return self.oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        scopes = grant.scopes or (DEFAULT_SCOPE,)
        requested = str(form.get("scope") or "").split()
        if requested:
            if not set(requested) <= set(scopes):
                return self.oauth_error(400, "invalid_scope", "Bad Request")
            scopes = tuple(requested)
        token = self.issue_access_token(grant, scopes)
        return web.json_response(
            {
                "access_token": token,
                "expires_in": self.access_token_ttl,
                "scope": " ".join(scopes),
                "token_type": "Bearer",
            }
        )

    async def _revoke(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        token = request.query.get("token") or form.get("token")
        if not isinstance(token, str) or not token:
            return self.oauth_error(400, "invalid_request", "Missing required parameter: token")
        grant = self.world.grant_of(token)
        if grant is None:
            with self._lock:
                access = self._access_tokens.get(token)
            grant = self.world.grant(access.grant_id) if access else None
        if grant is None or grant.revoked:
            return self.oauth_error(400, "invalid_token", "Token expired or revoked")
        self.world.revoke_grant(grant.client_id, grant.email)
        return web.json_response({})

    # -- calendar list -------------------------------------------------------------------------

    async def _calendar_list(self, request: web.Request) -> web.StreamResponse:
        token = self._authenticate(request)
        items = []
        for calendar in self.world.calendars_of(token.email):
            entry: dict[str, Any] = {
                "kind": "calendar#calendarListEntry",
                "etag": f'"{_digits(calendar.id)}"',
                "id": calendar.id,
                "summary": calendar.name,
                "timeZone": calendar.time_zone,
                "colorId": "14",
                "backgroundColor": "#9fe1e7",
                "foregroundColor": "#000000",
                "selected": True,
                "accessRole": "owner",
                "defaultReminders": [],
                "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
            }
            if calendar.primary:
                entry["primary"] = True
            items.append(entry)
        return web.json_response(
            {"kind": "calendar#calendarList", "etag": f'"{self.world.seq}"', "items": items}
        )

    # -- events --------------------------------------------------------------------------------

    async def _get_event(self, request: web.Request) -> web.StreamResponse:
        token = self._authenticate(request)
        calendar = self._calendar_for(token, request.match_info["calendarId"])
        event_id, original_start = parse_google_id(request.match_info["eventId"])
        occurrence = self.world.occurrence(event_id, original_start)
        if occurrence is None and original_start is not None:
            occurrence = self.world.occurrence(request.match_info["eventId"])
        if occurrence is None or occurrence.event.calendar_id != calendar.id:
            return self.error(404, "notFound", "Not Found")
        zone = self._zone(request)
        return web.json_response(self.event_resource(occurrence, calendar, zone))

    def _zone(self, request: web.Request) -> str | None:
        zone = request.query.get("timeZone")
        if zone is None:
            return None
        try:
            ZoneInfo(zone)
        except (ValueError, KeyError):
            raise GoogleError(self.error(400, "invalid", f"Invalid time zone: {zone}")) from None
        return zone

    async def _list_events(self, request: web.Request) -> web.StreamResponse:
        token = self._authenticate(request)
        calendar = self._calendar_for(token, request.match_info["calendarId"])
        query = request.query
        page_size = self._max_results(query.get("maxResults"))
        page_token = query.get("pageToken")
        if page_token:
            with self._state_lock:
                page = self._pages.pop(page_token, None)
            if (
                page is None
                or page.calendar_id != calendar.id
                or page.sync_token != query.get("syncToken")
            ):
                return self.error(400, "invalid", "Invalid page token value.")
            return self._page(calendar, page)

        zone = self._zone(request)
        sync_token = query.get("syncToken")
        if sync_token:
            items, next_sync = self._incremental(calendar, sync_token, query, zone)
        else:
            items, next_sync = self._full(calendar, query, zone)
        page = PageState(calendar.id, sync_token, items, page_size, next_sync)
        return self._page(calendar, page)

    def _page(self, calendar: Calendar, page: PageState) -> web.Response:
        body: dict[str, Any] = {
            "kind": "calendar#events",
            "etag": f'"{self.world.seq}"',
            "summary": calendar.name,
            "updated": rfc3339_ms(self.world.now()),
            "timeZone": calendar.time_zone,
            "accessRole": "owner",
            "defaultReminders": [],
        }
        body["items"] = page.items[: page.page_size]
        rest = page.items[page.page_size :]
        if rest:
            token = "Ej" + secrets.token_urlsafe(24)
            with self._state_lock:
                self._pages[token] = PageState(
                    page.calendar_id, page.sync_token, rest, page.page_size, page.next_sync
                )
            body["nextPageToken"] = token
        elif page.next_sync is not None:
            token = "CP" + secrets.token_urlsafe(24)
            with self._state_lock:
                self._sync_tokens[token] = page.next_sync
            body["nextSyncToken"] = token
        return web.json_response(body)

    def _max_results(self, raw: str | None) -> int:
        if raw is None:
            return 250
        try:
            value = int(raw)
        except ValueError:
            raise GoogleError(
                self.error(400, "invalid", f"Invalid value '{raw}'. Values must match '[0-9]+'.")
            ) from None
        if value < 1:
            raise GoogleError(self.error(400, "invalid", f"Invalid value '{raw}'."))
        return min(value, 2500)

    def _bool(self, query: Any, name: str, default: bool = False) -> bool:
        raw = query.get(name)
        if raw is None:
            return default
        if raw.lower() in ("true", "1"):
            return True
        if raw.lower() in ("false", "0"):
            return False
        raise GoogleError(self.error(400, "invalid", f"Invalid boolean value: '{raw}'."))

    def _time(self, query: Any, name: str) -> datetime | None:
        raw = query.get(name)
        if raw is None:
            return None
        try:
            # an unencoded "+" of the offset arrives as a space
            value = datetime.fromisoformat(raw.replace(" ", "+"))
        except ValueError:
            value = None
        if value is None or value.tzinfo is None:
            raise GoogleError(self.error(400, "badRequest", "Bad Request"))
        return value.astimezone(UTC)

    def _full(
        self, calendar: Calendar, query: Any, zone: str | None
    ) -> tuple[list[dict[str, Any]], SyncState | None]:
        single_events = self._bool(query, "singleEvents")
        show_deleted = self._bool(query, "showDeleted")
        time_min, time_max = self._time(query, "timeMin"), self._time(query, "timeMax")
        updated_min = self._time(query, "updatedMin")
        if time_min is not None and time_max is not None and time_min >= time_max:
            raise GoogleError(
                self.error(400, "timeRangeEmpty", "The specified time range is empty.")
            )
        order_by = query.get("orderBy")
        if order_by not in (None, "startTime", "updated"):
            raise GoogleError(self.error(400, "invalid", f"Invalid value '{order_by}'."))
        if order_by == "startTime" and not single_events:
            raise GoogleError(
                self.error(
                    400,
                    "badRequest",
                    "The requested ordering is not available for the particular query.",
                )
            )
        seq, occurrences = self.world.snapshot(
            calendar.id, time_min=time_min, time_max=time_max, expand=single_events
        )
        chosen: list[Occurrence] = []
        for occ in occurrences:
            if updated_min is not None:
                if occ.updated >= updated_min:
                    chosen.append(occ)  # deleted entries included, as Google does
                continue
            if occ.kind == "instance" and not single_events:
                # the exceptions of a series: moved ones, and cancelled ones even without
                # showDeleted (what Google documents for singleEvents=false)
                if show_deleted or not occ.deleted:
                    chosen.append(occ)
                continue
            if show_deleted or not (occ.cancelled or occ.deleted):
                chosen.append(occ)
        if order_by == "updated":
            chosen.sort(key=lambda o: (o.updated, o.seq))
        items = [self.event_resource(o, calendar, zone) for o in chosen]
        next_sync = None
        # No sync token when the query narrows the set other than by time (as Google does).
        if not any(query.get(name) for name in NO_SYNC_TOKEN_WITH):
            known = frozenset(o.key for o in occurrences if not o.deleted)
            with self._state_lock:
                generation = self._generation
            next_sync = SyncState(
                calendar.id, seq, single_events, time_min, time_max, known, generation
            )
        return items, next_sync

    def _incremental(
        self, calendar: Calendar, sync_token: str, query: Any, zone: str | None
    ) -> tuple[list[dict[str, Any]], SyncState]:
        for name in SYNC_INCOMPATIBLE:
            if name in query:
                raise GoogleError(
                    self.error(
                        400, "invalid", f"The parameter {name} cannot be used with syncToken."
                    )
                )
        if not self._bool(query, "showDeleted", default=True):
            raise GoogleError(
                self.error(400, "invalid", "showDeleted cannot be false with syncToken.")
            )
        with self._state_lock:
            state = self._sync_tokens.get(sync_token)
            generation = self._generation
        if state is None or state.generation != generation or state.calendar_id != calendar.id:
            raise GoogleError(
                self.error(
                    410,
                    "fullSyncRequired",
                    "Sync token is no longer valid, a full sync is required.",
                    domain="calendar",
                )
            )
        single_events = self._bool(query, "singleEvents", default=state.single_events)
        seq, occurrences = self.world.snapshot(
            calendar.id,
            time_min=state.time_min,
            time_max=state.time_max,
            expand=single_events,
            bound_single_events=False,
        )
        changed = [o for o in occurrences if o.seq > state.seq]
        items = [self.event_resource(o, calendar, zone) for o in changed]
        present = {o.key for o in occurrences}
        for event_id, original_start in sorted(
            state.known - present, key=lambda k: (k[0], k[1] or datetime.min.replace(tzinfo=UTC))
        ):
            items.append(self._vanished(event_id, original_start))
        known = frozenset(o.key for o in occurrences if not o.deleted)
        next_sync = SyncState(
            calendar.id, seq, single_events, state.time_min, state.time_max, known, generation
        )
        return items, next_sync

    def _vanished(self, event_id: str, original_start: datetime | None) -> dict[str, Any]:
        """An instance that no longer exists (its series changed): a bare cancelled entry."""
        item: dict[str, Any] = {"kind": "calendar#event", "etag": f'"{self.world.seq}"'}
        if original_start is None:
            return {**item, "id": event_id, "status": "cancelled"}
        zone = self.world.get_event(event_id).time_zone
        return {
            **item,
            "id": f"{event_id}_{instance_suffix(original_start)}",
            "status": "cancelled",
            "recurringEventId": event_id,
            "originalStartTime": {
                "dateTime": local_rfc3339(original_start, zone),
                "timeZone": zone,
            },
        }

    def event_resource(
        self, occ: Occurrence, calendar: Calendar, zone: str | None = None
    ) -> dict[str, Any]:
        """An Occurrence as Google's Event resource."""
        event = occ.event
        event_zone = event.time_zone
        shown_zone = zone or event_zone
        event_id = google_id(occ)
        etag = f'"{int(occ.updated.timestamp() * 1000)}{occ.seq:06d}"'
        base: dict[str, Any] = {"kind": "calendar#event", "etag": etag, "id": event_id}
        instance_cancelled = (
            occ.original_start is not None
            and occ.original_start in event.exceptions
            and event.exceptions[occ.original_start].cancelled
        )
        if occ.original_start is not None:
            original = {
                "recurringEventId": event.id,
                "originalStartTime": {
                    "dateTime": local_rfc3339(occ.original_start, shown_zone),
                    "timeZone": event_zone,
                },
            }
        else:
            original = {}
        if occ.deleted or instance_cancelled:
            return {**base, "status": "cancelled", **original}
        owner = calendar.owner.lower()
        organizer: dict[str, Any] = {"email": event.organizer_email}
        if event.organizer_name:
            organizer["displayName"] = event.organizer_name
        if event.organizer_email.lower() == owner:
            organizer["self"] = True
        eid = base64.urlsafe_b64encode(f"{event_id} {calendar.id}".encode()).decode().rstrip("=")
        body: dict[str, Any] = {
            **base,
            "status": "cancelled" if occ.cancelled else "confirmed",
            "htmlLink": f"https://www.google.com/calendar/event?eid={eid}",
            "created": rfc3339_ms(event.created),
            "updated": rfc3339_ms(occ.updated),
            "summary": event.title,
        }
        description = event.description
        location = event.location
        if event.meeting_url and event.link_in == "description":
            joined = f"Join: {event.meeting_url}"
            description = f"{description}\n\n{joined}" if description else joined
        if event.meeting_url and event.link_in == "location":
            location = event.meeting_url
        if description:
            body["description"] = description
        if location:
            body["location"] = location
        body["creator"] = dict(organizer)
        body["organizer"] = organizer
        body["start"] = {"dateTime": local_rfc3339(occ.start, shown_zone), "timeZone": event_zone}
        body["end"] = {"dateTime": local_rfc3339(occ.end, shown_zone), "timeZone": event_zone}
        if occ.kind == "series" and event.rrule:
            body["recurrence"] = event.rrule.split("\n")
        body.update(original)
        body["iCalUID"] = event.ical_uid
        body["sequence"] = event.sequence
        if event.attendees:
            attendees = []
            for attendee in event.attendees:
                item: dict[str, Any] = {"email": attendee.email}
                if attendee.name:
                    item["displayName"] = attendee.name
                if attendee.email.lower() == event.organizer_email.lower():
                    item["organizer"] = True
                if attendee.email.lower() == owner:
                    item["self"] = True
                if attendee.optional:
                    item["optional"] = True
                item["responseStatus"] = attendee.response
                attendees.append(item)
            body["attendees"] = attendees
        if event.meeting_url and event.link_in == "conference":
            data = conference_data(event.meeting_url, event.passcode)
            if data["conferenceSolution"]["key"]["type"] == "hangoutsMeet":
                body["hangoutLink"] = event.meeting_url
            body["conferenceData"] = data
        body["reminders"] = {"useDefault": True}
        body["eventType"] = "default"
        return body

    # -- push notifications --------------------------------------------------------------------

    async def _watch(self, request: web.Request) -> web.StreamResponse:
        token = self._authenticate(request)
        calendar_param = request.match_info["calendarId"]
        calendar = self._calendar_for(token, calendar_param)
        try:
            body = await request.json()
        except ValueError:
            return self.error(400, "parseError", "Parse Error")
        if not isinstance(body, dict):
            return self.error(400, "parseError", "Parse Error")
        channel_id, address = body.get("id"), body.get("address")
        if not isinstance(channel_id, str) or not channel_id:
            return self.error(400, "required", "Required")
        if body.get("type") not in ("web_hook", "webhook"):
            return self.error(400, "invalid", f"Invalid value for: type ({body.get('type')})")
        if not isinstance(address, str) or not address:
            return self.error(400, "required", "Required")
        parts = urlsplit(address)
        if parts.scheme not in ("http", "https") or not is_loopback_host(parts.hostname):
            return self.error(
                400,
                "push.webhookUrlUnauthorized",
                f"Unauthorized WebHook callback channel: {address}",
                domain="push",
            )
        now = self.world.now()
        params = body.get("params") if isinstance(body.get("params"), dict) else {}
        ttl: float = self.channel_default_ttl
        try:
            if "ttl" in params:
                ttl = float(params["ttl"])
            if body.get("expiration") is not None:
                ttl = int(body["expiration"]) / 1000 - now.timestamp()
        except (TypeError, ValueError):
            return self.error(400, "invalid", "Invalid channel expiration.")
        if ttl <= 0:
            return self.error(400, "invalid", "The channel expiration is in the past.")
        ttl = min(ttl, self.channel_max_ttl)
        with self._lock:
            existing = self.channels.get(channel_id)
            if existing is not None and not self._expired(existing):
                return self.error(400, "channelIdNotUnique", "Channel id not unique")
            resource_id = (
                base64.urlsafe_b64encode(hashlib.sha1(calendar.id.encode()).digest())
                .decode()
                .rstrip("=")
            )
            extra = {k: v for k, v in request.query.items() if k != "alt"}
            resource_uri = (
                f"{self._origin(request)}/calendar/v3/calendars/"
                f"{quote(calendar_param, safe='@')}/events?{urlencode({'alt': 'json', **extra})}"
            )
            channel = Channel(
                id=channel_id,
                resource_id=resource_id,
                resource_uri=resource_uri,
                calendar_id=calendar.id,
                address=address,
                token=body.get("token") if isinstance(body.get("token"), str) else None,
                expiration=now + timedelta(seconds=ttl),
                client_id=token.client_id,
                email=token.email,
                params={str(k): str(v) for k, v in params.items()},
            )
            self.channels[channel_id] = channel
            self._queue_push(channel, "sync")
        answer: dict[str, Any] = {
            "kind": "api#channel",
            "id": channel.id,
            "resourceId": channel.resource_id,
            "resourceUri": channel.resource_uri,
            "expiration": str(channel.expiration_ms()),
        }
        if channel.token is not None:
            answer["token"] = channel.token
        return web.json_response(answer)

    async def _stop(self, request: web.Request) -> web.StreamResponse:
        token = self._authenticate(request)
        try:
            body = await request.json()
        except ValueError:
            return self.error(400, "parseError", "Parse Error")
        if not isinstance(body, dict) or not body.get("id") or not body.get("resourceId"):
            return self.error(400, "required", "Required")
        with self._lock:
            channel = self.channels.get(str(body["id"]))
            if (
                channel is None
                or channel.resource_id != body["resourceId"]
                or channel.client_id != token.client_id
                or self._expired(channel)
            ):
                return self.error(
                    404,
                    "notFound",
                    f"Channel '{body['id']}' not found for project '{token.client_id}'",
                )
            channel.stopped = True
            del self.channels[channel.id]
            self.stopped_channels.append(channel.id)
        return web.Response(status=204)

    def _expired(self, channel: Channel) -> bool:
        return channel.stopped or self.world.now() >= channel.expiration

    def _on_change(self, change: Change) -> None:
        self._push_calendar(change.calendar_id, "exists")

    def _push_calendar(self, calendar_id: str, state: str) -> None:
        with self._lock:
            for channel in list(self.channels.values()):
                if channel.calendar_id != calendar_id:
                    continue
                if self._expired(channel):
                    del self.channels[channel.id]  # expired: Google sends nothing more
                    continue
                self._queue_push(channel, state)

    def _queue_push(self, channel: Channel, state: str) -> None:
        """Number the message now (so numbers follow the changes) and queue its delivery."""
        channel.messages += 1
        number = channel.messages

        async def deliver() -> PushRecord | None:
            if self._expired(channel):
                return None
            headers = {
                "X-Goog-Channel-ID": channel.id,
                "X-Goog-Channel-Expiration": format_datetime(channel.expiration, usegmt=True),
                "X-Goog-Resource-ID": channel.resource_id,
                "X-Goog-Resource-URI": channel.resource_uri,
                "X-Goog-Resource-State": state,
                "X-Goog-Message-Number": str(number),
            }
            if channel.token is not None:
                headers["X-Goog-Channel-Token"] = channel.token
            return await self.post(
                channel.address, kind=state, target=channel.id, headers=headers, body=b""
            )

        self._enqueue(deliver, concurrent.futures.Future())


def _digits(text: str) -> int:
    return int(hashlib.sha1(text.encode()).hexdigest()[:12], 16)
