"""Local emulator of the Microsoft identity platform token endpoint and Microsoft Graph calendars.

Routes (``/{tenant}/oauth2/v2.0/token`` stands for ``https://login.microsoftonline.com``, the
``/v1.0`` ones for ``https://graph.microsoft.com/v1.0``):

* ``POST /{tenant}/oauth2/v2.0/token``: ``grant_type=refresh_token`` with ``client_id``,
  ``client_secret``, ``refresh_token`` and ``scope`` -> ``{"token_type", "scope", "expires_in",
  "ext_expires_in", "access_token", "refresh_token"}`` (a new refresh token each time; the old
  one stays valid). Errors carry an ``AADSTS`` code, ``error_codes``, ``trace_id`` and so on;
* ``GET /v1.0/me``, ``GET /v1.0/me/calendars``, ``GET /v1.0/me/calendar``;
* ``GET /v1.0/me/calendarView/delta`` and ``GET /v1.0/me/calendars/{id}/calendarView/delta``:
  ``startDateTime``/``endDateTime``, ``Prefer: odata.maxpagesize=N``, ``@odata.nextLink`` pages
  and a final ``@odata.deltaLink``; following it gives only what changed, removed items as
  ``{"id", "@removed": {"reason": "deleted"}}``; an invalid token answers 410
  ``SyncStateNotFound`` with a ``Location`` to start again;
* ``GET /v1.0/me/events/{id}`` (and ``/instances`` of a series);
* ``POST /v1.0/subscriptions`` (after the ``validationToken`` handshake with the notification
  and lifecycle URLs), ``GET``, ``PATCH`` (renewal), ``DELETE`` ``/v1.0/subscriptions/{id}``,
  ``POST /v1.0/subscriptions/{id}/reauthorize``.

Change notifications are POSTed to ``notificationUrl`` for each change of the subscribed
calendar; lifecycle notifications are sent on demand (:meth:`MicrosoftGraphEmulator.send_lifecycle`).
Only loopback addresses are accepted (plain http is fine there).
"""

from __future__ import annotations

import base64
import concurrent.futures
import hashlib
import html
import secrets
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from aiohttp import web

from provider_emulators.calendar_world import (
    CLIENT_ID_KEY,
    AccessToken,
    Calendar,
    CalendarEmulatorBase,
    CalendarWorld,
    Change,
    Occurrence,
    PushRecord,
    User,
    as_utc,
)

DEFAULT_SCOPES = ("offline_access", "Calendars.Read", "User.Read")
OIDC_SCOPES = {"openid", "profile", "email", "offline_access"}
GRAPH_PREFIX = "https://graph.microsoft.com/"
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")
CHANGE_TYPES = ("created", "updated", "deleted")
_RESPONSES = {
    "needsAction": "none",
    "accepted": "accepted",
    "declined": "declined",
    "tentative": "tentativelyAccepted",
}
_DAYS = {
    "MO": "monday",
    "TU": "tuesday",
    "WE": "wednesday",
    "TH": "thursday",
    "FR": "friday",
    "SA": "saturday",
    "SU": "sunday",
}
_INDEXES = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}


# --------------------------------------------------------------------------------------------
# Ids and formats
# --------------------------------------------------------------------------------------------


def _opaque(text: str) -> str:
    return "AAMkA" + base64.urlsafe_b64encode(text.encode()).decode()


def _unopaque(value: str) -> str | None:
    if not value.startswith("AAMkA"):
        return None
    try:
        return base64.urlsafe_b64decode(value[5:].encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def event_graph_id(event_id: str, original_start: datetime | None = None) -> str:
    """Graph's opaque id of a lone event or series, or of one instance of a series."""
    if original_start is None:
        return _opaque(f"event/{event_id}")
    return _opaque(f"event/{event_id}/{as_utc(original_start):%Y%m%dT%H%M%SZ}")


def parse_event_graph_id(value: str) -> tuple[str, datetime | None] | None:
    text = _unopaque(value)
    if text is None or not text.startswith("event/"):
        return None
    parts = text.split("/")
    if len(parts) == 2:
        return parts[1], None
    try:
        when = datetime.strptime(parts[2], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except (ValueError, IndexError):
        return None
    return parts[1], when


def calendar_graph_id(calendar_id: str) -> str:
    return _opaque(f"calendar/{calendar_id}")


def graph_local(value: datetime, zone: str = "UTC") -> str:
    """``2030-01-07T08:00:00.0000000`` in ``zone`` (Graph's dateTimeTimeZone.dateTime)."""
    local = value.astimezone(ZoneInfo(zone))
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond:06d}0"


def graph_stamp(value: datetime) -> str:
    """UTC with seven fractional digits and ``Z``, as Graph writes timestamps."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond:06d}0Z"


def _etag(seq: int, salt: str) -> str:
    digest = hashlib.sha1(f"{salt}/{seq}".encode()).digest()[:12]
    return base64.b64encode(digest).decode()


def patterned_recurrence(rrule_text: str, start: datetime, zone: str) -> dict[str, Any]:
    """Graph's patternedRecurrence for the RRULE of a series (the common FREQ forms)."""
    line = next(li for li in rrule_text.splitlines() if li.upper().startswith("RRULE:"))
    parts = dict(p.split("=", 1) for p in line.split(":", 1)[1].split(";") if "=" in p)
    parts = {k.upper(): v for k, v in parts.items()}
    local = start.astimezone(ZoneInfo(zone))
    weekday = list(_DAYS.values())[local.weekday()]
    byday = [d for d in parts.get("BYDAY", "").split(",") if d]
    pattern: dict[str, Any] = {
        "type": "daily",
        "interval": int(parts.get("INTERVAL", "1")),
        "month": 0,
        "dayOfMonth": 0,
        "daysOfWeek": [],
        "firstDayOfWeek": _DAYS.get(parts.get("WKST", "SU"), "sunday"),
        "index": "first",
    }
    freq = parts.get("FREQ", "DAILY").upper()
    ordinal = None
    if byday and byday[0][:-2]:
        ordinal = int(byday[0][:-2])
    days = [_DAYS[d[-2:]] for d in byday] or [weekday]
    if freq == "WEEKLY":
        pattern.update(type="weekly", daysOfWeek=days)
    elif freq == "MONTHLY" and ordinal is not None:
        pattern.update(
            type="relativeMonthly", daysOfWeek=days, index=_INDEXES.get(ordinal, "first")
        )
    elif freq == "MONTHLY":
        pattern.update(type="absoluteMonthly", dayOfMonth=int(parts.get("BYMONTHDAY", local.day)))
    elif freq == "YEARLY" and ordinal is not None:
        pattern.update(
            type="relativeYearly",
            daysOfWeek=days,
            index=_INDEXES.get(ordinal, "first"),
            month=int(parts.get("BYMONTH", local.month)),
        )
    elif freq == "YEARLY":
        pattern.update(
            type="absoluteYearly",
            month=int(parts.get("BYMONTH", local.month)),
            dayOfMonth=int(parts.get("BYMONTHDAY", local.day)),
        )
    end = {"type": "noEnd", "endDate": "0001-01-01", "numberOfOccurrences": 0}
    if "COUNT" in parts:
        end = {
            "type": "numbered",
            "endDate": "0001-01-01",
            "numberOfOccurrences": int(parts["COUNT"]),
        }
    elif "UNTIL" in parts:
        raw = parts["UNTIL"]
        until = datetime.strptime(raw[:8], "%Y%m%d").date()
        if raw.endswith("Z") and len(raw) > 8:
            moment = datetime.strptime(raw, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            until = moment.astimezone(ZoneInfo(zone)).date()
        end = {"type": "endDate", "endDate": until.isoformat(), "numberOfOccurrences": 0}
    return {
        "pattern": pattern,
        "range": {**end, "startDate": local.date().isoformat(), "recurrenceTimeZone": zone},
    }


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------


@dataclass
class Subscription:
    id: str
    resource: str
    change_types: tuple[str, ...]
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expiration: datetime
    application_id: str
    creator_id: str
    email: str
    calendar_id: str
    latest_tls: str
    needs_reauthorization: bool = False


@dataclass(frozen=True)
class DeltaState:
    """What a ``$deltatoken`` stands for: the window, and what the client holds."""

    calendar_id: str
    email: str
    window: tuple[datetime, datetime]
    seq: int
    known: frozenset[tuple[str, datetime | None]]
    generation: int
    path: str  # the delta function's path, for the links
    start_param: str
    end_param: str


@dataclass
class DeltaPage:
    values: list[dict[str, Any]]
    final: DeltaState
    generation: int


class GraphError(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


class MicrosoftGraphEmulator(CalendarEmulatorBase):
    """Microsoft identity platform token endpoint and Graph calendars over a CalendarWorld.

    Knobs beyond :class:`CalendarEmulatorBase`'s: ``require_scope`` (the token endpoint
    refuses a refresh without ``scope``, as documented), ``max_subscription_minutes`` (4230,
    Outlook events), ``validation_timeout`` (10 s), ``default_page_size`` (delta pages without
    ``Prefer: odata.maxpagesize``), ``pause_on_reauthorization`` (no change notifications for a
    subscription between ``reauthorizationRequired`` and its renewal or reauthorization);
    ``invalidate_delta_tokens()``, ``expire_access_tokens()``, ``send_lifecycle(id, event)``.
    Records beyond ``requests``/``pushes``: ``subscriptions`` (id -> :class:`Subscription`),
    ``deleted_subscriptions`` (ids, in order).
    """

    access_token_prefix = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9."
    refresh_token_prefix = "0.AX"

    def __init__(
        self,
        world: CalendarWorld,
        *,
        access_token_ttl: int = 3599,
        require_scope: bool = True,
        max_subscription_minutes: int = 4230,
        validation_timeout: float = 10.0,
        default_page_size: int = 10,
        push_timeout: float = 3.0,
    ) -> None:
        super().__init__(world, access_token_ttl=access_token_ttl, push_timeout=push_timeout)
        self.require_scope = require_scope
        self.max_subscription_minutes = max_subscription_minutes
        self.validation_timeout = validation_timeout
        self.default_page_size = default_page_size
        self.pause_on_reauthorization = True
        self.subscriptions: dict[str, Subscription] = {}
        self.deleted_subscriptions: list[str] = []
        self._delta_tokens: dict[str, DeltaState] = {}
        self._skip_tokens: dict[str, DeltaPage] = {}
        self._generation = 0
        self._state_lock = threading.Lock()

    def issue_refresh_token(self, client_id: str, email: str, *, scopes: Iterable[str] = ()) -> str:
        """Convenience: a Microsoft-looking refresh token from the world."""
        return self.world.issue_refresh_token(
            client_id,
            email,
            scopes=tuple(scopes) or DEFAULT_SCOPES,
            prefix=self.refresh_token_prefix,
        )

    # -- knobs ---------------------------------------------------------------------------------

    def invalidate_delta_tokens(self) -> None:
        """Knob: every delta and skip token issued so far answers 410 (sync state not found)."""
        with self._state_lock:
            self._generation += 1

    def send_lifecycle(
        self, subscription_id: str, lifecycle_event: str
    ) -> concurrent.futures.Future[PushRecord | None]:
        """POST a lifecycle notification to the subscription's ``lifecycleNotificationUrl``.

        ``reauthorizationRequired`` pauses its change notifications (``pause_on_reauthorization``)
        until a renewal or ``/reauthorize``; ``subscriptionRemoved`` removes the subscription;
        ``missed`` only notifies. The future holds the push record (None when the subscription
        has no lifecycle URL: Graph then sends nothing). Thread-safe.
        """
        if lifecycle_event not in LIFECYCLE_EVENTS:
            raise ValueError(f"lifecycle_event must be one of {LIFECYCLE_EVENTS}")
        with self._lock:
            subscription = self.subscriptions.get(subscription_id)
            if subscription is None:
                raise KeyError(f"no subscription {subscription_id}")
            if lifecycle_event == "reauthorizationRequired":
                subscription.needs_reauthorization = True
            elif lifecycle_event == "subscriptionRemoved":
                del self.subscriptions[subscription_id]
        item: dict[str, Any] = {
            "subscriptionId": subscription.id,
            "subscriptionExpirationDateTime": graph_stamp(subscription.expiration),
            "tenantId": self.world.tenant_id,
            "clientState": subscription.client_state,
            "lifecycleEvent": lifecycle_event,
        }
        url = subscription.lifecycle_url

        async def deliver() -> PushRecord | None:
            if url is None:
                return None
            return await self.post(
                url,
                kind="lifecycle",
                target=subscription.id,
                headers={},
                json_body={"value": [item]},
            )

        return self.submit(deliver)

    # -- plumbing ------------------------------------------------------------------------------

    def _add_routes(self, app: web.Application) -> None:
        app.middlewares.append(self._errors)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        app.router.add_get("/v1.0/me", self._me)
        app.router.add_get("/v1.0/me/calendars", self._calendars)
        app.router.add_get("/v1.0/me/calendar", self._default_calendar)
        app.router.add_get("/v1.0/me/calendarView/delta", self._delta)
        app.router.add_get("/v1.0/me/calendars/{calendarId}/calendarView/delta", self._delta)
        app.router.add_get("/v1.0/me/events/{eventId}", self._get_event)
        app.router.add_get("/v1.0/me/events/{eventId}/instances", self._instances)
        app.router.add_post("/v1.0/subscriptions", self._create_subscription)
        app.router.add_get("/v1.0/subscriptions", self._list_subscriptions)
        app.router.add_get("/v1.0/subscriptions/{id}", self._get_subscription)
        app.router.add_patch("/v1.0/subscriptions/{id}", self._renew_subscription)
        app.router.add_delete("/v1.0/subscriptions/{id}", self._delete_subscription)
        app.router.add_post("/v1.0/subscriptions/{id}/reauthorize", self._reauthorize)

    @web.middleware
    async def _errors(self, request: web.Request, handler: Any) -> web.StreamResponse:
        try:
            return await handler(request)
        except GraphError as exc:
            return exc.response

    def error(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None
    ) -> web.Response:
        """An error in Graph's shape."""
        request_id = str(uuid.uuid4())
        inner = {
            "date": self.world.now().strftime("%Y-%m-%dT%H:%M:%S"),
            "request-id": request_id,
            "client-request-id": request_id,
        }
        body = {"error": {"code": code, "message": message, "innerError": inner}}
        return web.json_response(body, status=status, headers=headers)

    def aad_error(
        self, request: web.Request, status: int, error: str, code: int, message: str
    ) -> web.Response:
        """A token endpoint error, with the AADSTS code in front of the description."""
        trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
        stamp = self.world.now().strftime("%Y-%m-%d %H:%M:%SZ")
        description = (
            f"AADSTS{code}: {message}\r\nTrace ID: {trace}\r\n"
            f"Correlation ID: {correlation}\r\nTimestamp: {stamp}"
        )
        body = {
            "error": error,
            "error_description": description,
            "error_codes": [code],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"{self._origin(request)}/error?code={code}",
        }
        return web.json_response(body, status=status)

    def _failure(self, request: web.Request, status: int) -> web.Response:
        if "/oauth2/" in request.path:
            if status == 500:
                return self.aad_error(request, 500, "server_error", 90100, "Internal error.")
            return self.aad_error(
                request, status, "temporarily_unavailable", 90033, "A transient error occurred."
            )
        if status == 429:
            return self.error(
                429,
                "TooManyRequests",
                "Application is over its MailboxConcurrency limit.",
                headers={"Retry-After": "1"},
            )
        if status == 503:
            return self.error(
                503,
                "serviceNotAvailable",
                "The service is temporarily unavailable.",
                headers={"Retry-After": "1"},
            )
        return self.error(status, "generalException", "An unspecified error has occurred.")

    @staticmethod
    def _origin(request: web.Request) -> str:
        return f"{request.scheme}://{request.host}"

    def _authenticate(self, request: web.Request) -> tuple[AccessToken, User]:
        found = self.check_access_token(request)
        if isinstance(found, AccessToken):
            return found, self.world.user(found.email)
        messages = {
            "missing": "Access token is empty.",
            "expired": "Lifetime validation failed, the token is expired.",
            "revoked": "Access token validation failure. The grant was revoked.",
        }
        challenge = (
            'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/'
            'oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"'
        )
        raise GraphError(
            self.error(
                401,
                "InvalidAuthenticationToken",
                messages.get(found, "Access token validation failure."),
                headers={"WWW-Authenticate": challenge},
            )
        )

    # -- token endpoint ------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.StreamResponse:
        tenant = request.match_info["tenant"]
        form = await request.post()

        def field(name: str) -> str | None:
            value = form.get(name)
            return value if isinstance(value, str) and value else None

        client_id = field("client_id")
        if client_id:
            request[CLIENT_ID_KEY] = client_id
        known_tenants = {"common", "organizations", "consumers", self.world.tenant_id}
        if tenant not in known_tenants and "." not in tenant:
            return self.aad_error(
                request, 400, "invalid_request", 90002, f"Tenant '{tenant}' not found."
            )
        grant_type = field("grant_type")
        if grant_type is None:
            return self._missing(request, "grant_type")
        if grant_type != "refresh_token":
            return self.aad_error(
                request,
                400,
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
            )
        if client_id is None:
            return self._missing(request, "client_id")
        client = self.world.clients.get(client_id)
        if client is None:
            return self.aad_error(
                request,
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{tenant}'.",
            )
        secret = field("client_secret")
        if secret is None:
            return self.aad_error(
                request,
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' "
                "or 'client_secret'.",
            )
        if secret != client.client_secret:
            return self.aad_error(
                request,
                401,
                "invalid_client",
                7000215,
                f"Invalid client secret provided. Ensure the secret being sent in the request "
                f"is the client secret value, not the client secret ID, for a secret added to "
                f"app '{client_id}'.",
            )
        refresh_token = field("refresh_token")
        if refresh_token is None:
            return self._missing(request, "refresh_token")
        scope = field("scope")
        if scope is None and self.require_scope:
            return self._missing(request, "scope")
        grant = self.world.grant_of(refresh_token)
        if grant is None or grant.client_id != client_id:
            return self.aad_error(
                request, 400, "invalid_grant", 70000, "The provided grant is invalid or malformed."
            )
        if grant.revoked:
            return self.aad_error(
                request,
                400,
                "invalid_grant",
                50173,
                "The provided grant has expired due to it being revoked, a fresh auth token is "
                "needed.",
            )
        requested = (scope or " ".join(grant.scopes or DEFAULT_SCOPES)).split()
        granted = {s.lower() for s in grant.scopes}
        plain = [s[len(GRAPH_PREFIX) :] if s.startswith(GRAPH_PREFIX) else s for s in requested]
        if ".default" in plain:  # every scope the user consented to
            plain = [s for s in plain if s != ".default"] + list(grant.scopes or DEFAULT_SCOPES)
            plain = list(dict.fromkeys(plain))
        missing = [s for s in plain if s.lower() not in OIDC_SCOPES and s.lower() not in granted]
        if grant.scopes and missing:
            return self.aad_error(
                request,
                400,
                "invalid_grant",
                65001,
                f"The user or administrator has not consented to use the application with ID "
                f"'{client_id}'. Send an interactive authorization request for this user and "
                f"resource.",
            )
        scopes = tuple(s for s in plain if s.lower() != "offline_access")
        token = self.issue_access_token(grant, scopes)
        return web.json_response(
            {
                "token_type": "Bearer",
                "scope": " ".join(scopes),
                "expires_in": self.access_token_ttl,
                "ext_expires_in": self.access_token_ttl,
                "access_token": token,
                "refresh_token": self.world.rotate_refresh_token(
                    refresh_token, prefix=self.refresh_token_prefix
                ),
            }
        )

    def _missing(self, request: web.Request, name: str) -> web.Response:
        return self.aad_error(
            request,
            400,
            "invalid_request",
            900144,
            f"The request body must contain the following parameter: '{name}'.",
        )

    # -- me, calendars -------------------------------------------------------------------------

    async def _me(self, request: web.Request) -> web.StreamResponse:
        _, user = self._authenticate(request)
        given, _, surname = user.name.partition(" ")
        return web.json_response(
            {
                "@odata.context": f"{self._origin(request)}/v1.0/$metadata#users/$entity",
                "businessPhones": [],
                "displayName": user.name,
                "givenName": given,
                "jobTitle": None,
                "mail": user.email,
                "mobilePhone": None,
                "officeLocation": None,
                "preferredLanguage": "en-US",
                "surname": surname or None,
                "userPrincipalName": user.email,
                "id": user.id,
            }
        )

    def calendar_resource(self, calendar: Calendar, user: User) -> dict[str, Any]:
        return {
            "id": calendar_graph_id(calendar.id),
            "name": "Calendar" if calendar.primary else calendar.name,
            "color": "auto",
            "hexColor": "",
            "isDefaultCalendar": calendar.primary,
            "changeKey": _etag(0, calendar.id),
            "canShare": True,
            "canViewPrivateItems": True,
            "canEdit": True,
            "allowedOnlineMeetingProviders": ["teamsForBusiness"],
            "defaultOnlineMeetingProvider": "teamsForBusiness",
            "isTallyingResponses": True,
            "isRemovable": not calendar.primary,
            "owner": {"name": user.name, "address": user.email},
        }

    async def _calendars(self, request: web.Request) -> web.StreamResponse:
        _, user = self._authenticate(request)
        calendars = [self.calendar_resource(c, user) for c in self.world.calendars_of(user.email)]
        context = f"{self._origin(request)}/v1.0/$metadata#users('{user.id}')/calendars"
        return web.json_response({"@odata.context": context, "value": calendars})

    async def _default_calendar(self, request: web.Request) -> web.StreamResponse:
        _, user = self._authenticate(request)
        body = self.calendar_resource(self.world.primary_calendar(user.email), user)
        context = f"{self._origin(request)}/v1.0/$metadata#users('{user.id}')/calendars/$entity"
        return web.json_response({"@odata.context": context, **body})

    def _calendar_for(self, user: User, graph_calendar_id: str | None) -> Calendar:
        if graph_calendar_id is None:
            return self.world.primary_calendar(user.email)
        text = _unopaque(graph_calendar_id) or ""
        for calendar in self.world.calendars_of(user.email):
            if text == f"calendar/{calendar.id}":
                return calendar
        raise GraphError(
            self.error(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        )

    # -- events --------------------------------------------------------------------------------

    def _prefer(self, request: web.Request) -> dict[str, str]:
        prefs: dict[str, str] = {}
        for header in request.headers.getall("Prefer", []):
            for part in header.split(","):
                name, _, value = part.strip().partition("=")
                if name:
                    prefs[name.strip().lower()] = value.strip().strip('"')
        return prefs

    def _zone(self, request: web.Request) -> str:
        zone = self._prefer(request).get("outlook.timezone")
        if not zone:
            return "UTC"
        try:
            ZoneInfo(zone)
        except (ValueError, KeyError):
            return "UTC"
        return zone

    def event_resource(self, occ: Occurrence, user: User, zone: str = "UTC") -> dict[str, Any]:
        """An Occurrence as Graph's event resource."""
        event = occ.event
        gid = event_graph_id(event.id, occ.original_start)
        is_organizer = event.organizer_email.lower() == user.email.lower()
        if occ.kind == "single":
            kind = "singleInstance"
        elif occ.kind == "series":
            kind = "seriesMaster"
        else:
            kind = "exception" if occ.exception else "occurrence"
        own = next((a for a in event.attendees if a.email.lower() == user.email.lower()), None)
        response = "organizer" if is_organizer else _RESPONSES[own.response] if own else "none"
        description = event.description or ""
        location = event.location
        url = event.meeting_url
        if url and event.link_in == "description":
            description = f"{description}\n\nJoin: {url}" if description else f"Join: {url}"
        if url and event.link_in == "location":
            location = url
        online = bool(url) and event.link_in == "conference"
        lines = [html.escape(line) for line in description.splitlines()]
        body_html = f"<html><body>{'<br>'.join(lines)}</body></html>" if description else ""
        place: dict[str, Any] = {
            "displayName": location or "",
            "locationType": "default",
            "uniqueIdType": "unknown",
        }
        suffix = f"/{occ.original_start:%Y%m%dT%H%M%SZ}" if occ.original_start else ""
        change_key = _etag(occ.seq, gid)
        resource: dict[str, Any] = {
            "@odata.type": "#microsoft.graph.event",
            "@odata.etag": f'W/"{change_key}"',
            "id": gid,
            "createdDateTime": graph_stamp(event.created),
            "lastModifiedDateTime": graph_stamp(occ.updated),
            "changeKey": change_key,
            "categories": [],
            "transactionId": None,
            "originalStartTimeZone": event.time_zone,
            "originalEndTimeZone": event.time_zone,
            "iCalUId": hashlib.sha1((event.ical_uid + suffix).encode()).hexdigest().upper(),
            "uid": event.ical_uid,
            "reminderMinutesBeforeStart": 15,
            "isReminderOn": True,
            "hasAttachments": False,
            "subject": event.title,
            "bodyPreview": description[:255],
            "importance": "normal",
            "sensitivity": "normal",
            "isAllDay": False,
            "isCancelled": occ.cancelled,
            "isOrganizer": is_organizer,
            "responseRequested": True,
            "seriesMasterId": event_graph_id(event.id) if occ.kind == "instance" else None,
            "showAs": "busy",
            "type": kind,
            "webLink": (
                f"https://outlook.office365.com/owa/?itemid={quote(gid, safe='')}"
                "&exvsurl=1&path=/calendar/item"
            ),
            "onlineMeetingUrl": None,
            "isOnlineMeeting": online,
            "onlineMeetingProvider": (
                ("teamsForBusiness" if "teams." in (url or "") else "unknown")
                if online
                else "unknown"
            ),
            "allowNewTimeProposals": True,
            "isDraft": False,
            "hideAttendees": False,
            "responseStatus": {"response": response, "time": "0001-01-01T00:00:00Z"},
            "body": {"contentType": "html", "content": body_html},
            "start": {"dateTime": graph_local(occ.start, zone), "timeZone": zone},
            "end": {"dateTime": graph_local(occ.end, zone), "timeZone": zone},
            "location": place,
            "locations": [place] if location else [],
            "recurrence": (
                patterned_recurrence(event.rrule, event.start, event.time_zone)
                if occ.kind == "series" and event.rrule
                else None
            ),
            "attendees": [
                {
                    "type": "optional" if a.optional else "required",
                    "status": {"response": _RESPONSES[a.response], "time": "0001-01-01T00:00:00Z"},
                    "emailAddress": {"name": a.name or a.email, "address": a.email},
                }
                for a in event.attendees
            ],
            "organizer": {
                "emailAddress": {
                    "name": event.organizer_name or event.organizer_email,
                    "address": event.organizer_email,
                }
            },
            "onlineMeeting": {"joinUrl": url} if online else None,
        }
        if occ.original_start is not None:
            resource["originalStart"] = graph_stamp(occ.original_start).replace(".0000000Z", "Z")
        return resource

    @staticmethod
    def _removed(key: tuple[str, datetime | None]) -> dict[str, Any]:
        return {
            "@odata.type": "#microsoft.graph.event",
            "id": event_graph_id(*key),
            "@removed": {"reason": "deleted"},
        }

    async def _get_event(self, request: web.Request) -> web.StreamResponse:
        _, user = self._authenticate(request)
        occurrence = self._occurrence_or_404(user, request.match_info["eventId"])
        context = f"{self._origin(request)}/v1.0/$metadata#users('{user.id}')/events/$entity"
        body = self.event_resource(occurrence, user, self._zone(request))
        return web.json_response({"@odata.context": context, **body})

    def _occurrence_or_404(self, user: User, graph_id: str) -> Occurrence:
        parsed = parse_event_graph_id(graph_id)
        occurrence = self.world.occurrence(*parsed) if parsed else None
        owned = {c.id for c in self.world.calendars_of(user.email)}
        if occurrence is None or occurrence.gone or occurrence.event.calendar_id not in owned:
            raise GraphError(
                self.error(
                    404, "ErrorItemNotFound", "The specified object was not found in the store."
                )
            )
        return occurrence

    async def _instances(self, request: web.Request) -> web.StreamResponse:
        _, user = self._authenticate(request)
        series = self._occurrence_or_404(user, request.match_info["eventId"])
        start, end, _, _ = self._window(request)
        zone = self._zone(request)
        values = [
            self.event_resource(o, user, zone)
            for o in (
                self.world.instances(series.event.id, start, end) if series.kind == "series" else []
            )
            if not o.gone
        ]
        context = f"{self._origin(request)}/v1.0/$metadata#Collection(event)"
        return web.json_response({"@odata.context": context, "value": values})

    def _window(self, request: web.Request) -> tuple[datetime, datetime, str, str]:
        query = {k.lower(): (k, v) for k, v in request.query.items()}
        if "startdatetime" not in query or "enddatetime" not in query:
            raise GraphError(
                self.error(
                    400,
                    "ErrorInvalidParameter",
                    "This request requires a time window specified by the query string "
                    "parameters StartDateTime and EndDateTime.",
                )
            )
        zone = ZoneInfo(self._zone(request))
        bounds = []
        for name in ("startdatetime", "enddatetime"):
            raw = query[name][1]
            try:
                # an unencoded "+" of the offset arrives as a space
                value = datetime.fromisoformat(raw.replace(" ", "+"))
            except ValueError:
                raise GraphError(
                    self.error(400, "ErrorInvalidParameter", f"The value '{raw}' is not valid.")
                ) from None
            bounds.append(as_utc(value if value.tzinfo else value.replace(tzinfo=zone)))
        if bounds[1] <= bounds[0]:
            raise GraphError(
                self.error(400, "ErrorInvalidParameter", "The end is not after the start.")
            )
        return bounds[0], bounds[1], query["startdatetime"][1], query["enddatetime"][1]

    async def _delta(self, request: web.Request) -> web.StreamResponse:
        _, user = self._authenticate(request)
        prefs = self._prefer(request)
        try:
            page_size = int(prefs.get("odata.maxpagesize", self.default_page_size))
        except ValueError:
            page_size = self.default_page_size
        page_size = max(page_size, 1)
        skip = request.query.get("$skiptoken")
        delta = request.query.get("$deltatoken")
        with self._state_lock:
            generation = self._generation
        zone = self._zone(request)
        if skip is not None:
            with self._state_lock:
                page = self._skip_tokens.pop(skip, None)
            if page is None or page.generation != generation:
                return self._resync(request, page.final if page else None)
            return self._delta_page(request, page, page_size, prefs)
        if delta is not None:
            with self._state_lock:
                state = self._delta_tokens.get(delta)
            if state is None or state.generation != generation or state.email != user.email:
                return self._resync(request, state)
            values, final = self._changes(user, state, zone)
        else:
            calendar = self._calendar_for(user, request.match_info.get("calendarId"))
            start, end, start_raw, end_raw = self._window(request)
            seq, items = self.world.snapshot(calendar.id, time_min=start, time_max=end)
            shown = [o for o in items if not o.gone]
            values = [self.event_resource(o, user, zone) for o in shown]
            final = DeltaState(
                calendar_id=calendar.id,
                email=user.email,
                window=(start, end),
                seq=seq,
                known=frozenset(o.key for o in shown),
                generation=generation,
                path=request.path,
                start_param=start_raw,
                end_param=end_raw,
            )
        return self._delta_page(request, DeltaPage(values, final, generation), page_size, prefs)

    def _changes(
        self, user: User, state: DeltaState, zone: str
    ) -> tuple[list[dict[str, Any]], DeltaState]:
        start, end = state.window
        seq, items = self.world.snapshot(
            state.calendar_id, time_min=start, time_max=end, bound_single_events=False
        )

        def inside(o: Occurrence) -> bool:
            return o.end > start and o.start < end

        shown = [o for o in items if inside(o) and not o.gone]
        shown_keys = {o.key for o in shown}
        values = [
            self.event_resource(o, user, zone)
            for o in shown
            if o.key not in state.known or o.seq > state.seq
        ]
        removed = set(state.known - shown_keys)
        # Graph also reports, as removed, events changed outside the window.
        removed |= {
            o.key for o in items if not inside(o) and o.seq > state.seq and o.key not in state.known
        }
        removed -= shown_keys
        values.extend(
            self._removed(k)
            for k in sorted(removed, key=lambda k: (k[0], k[1] or datetime.min.replace(tzinfo=UTC)))
        )
        final = DeltaState(
            calendar_id=state.calendar_id,
            email=state.email,
            window=state.window,
            seq=seq,
            known=frozenset(shown_keys),
            generation=state.generation,
            path=state.path,
            start_param=state.start_param,
            end_param=state.end_param,
        )
        return values, final

    def _delta_page(
        self, request: web.Request, page: DeltaPage, page_size: int, prefs: dict[str, str]
    ) -> web.Response:
        origin = self._origin(request)
        body: dict[str, Any] = {"@odata.context": f"{origin}/v1.0/$metadata#Collection(event)"}
        rest = page.values[page_size:]
        if rest:
            token = "R0usmc" + secrets.token_urlsafe(24)
            with self._state_lock:
                self._skip_tokens[token] = DeltaPage(rest, page.final, page.generation)
            body["@odata.nextLink"] = f"{origin}{page.final.path}?$skiptoken={token}"
        else:
            token = "R0usmc" + secrets.token_urlsafe(24)
            with self._state_lock:
                self._delta_tokens[token] = page.final
            body["@odata.deltaLink"] = f"{origin}{page.final.path}?$deltatoken={token}"
        body["value"] = page.values[:page_size]
        headers = {}
        if "odata.maxpagesize" in prefs:
            headers["Preference-Applied"] = f"odata.maxpagesize={page_size}"
        return web.json_response(body, headers=headers)

    def _resync(self, request: web.Request, state: DeltaState | None) -> web.Response:
        headers = {}
        if state is not None:
            query = urlencode({"startDateTime": state.start_param, "endDateTime": state.end_param})
            headers["Location"] = f"{self._origin(request)}{state.path}?{query}"
        return self.error(
            410,
            "SyncStateNotFound",
            "The sync state generation is not found. The delta token is expired and data must "
            "be synchronized again.",
            headers=headers,
        )

    # -- subscriptions -------------------------------------------------------------------------

    def subscription_resource(self, request: web.Request, sub: Subscription) -> dict[str, Any]:
        return {
            "@odata.context": f"{self._origin(request)}/v1.0/$metadata#subscriptions/$entity",
            "id": sub.id,
            "resource": sub.resource,
            "applicationId": sub.application_id,
            "changeType": ",".join(sub.change_types),
            "clientState": sub.client_state,
            "notificationUrl": sub.notification_url,
            "notificationQueryOptions": None,
            "lifecycleNotificationUrl": sub.lifecycle_url,
            "expirationDateTime": graph_stamp(sub.expiration),
            "creatorId": sub.creator_id,
            "includeResourceData": False,
            "latestSupportedTlsVersion": sub.latest_tls,
            "encryptionCertificate": None,
            "encryptionCertificateId": None,
            "notificationUrlAppId": None,
        }

    def _bad(self, message: str) -> GraphError:
        return GraphError(self.error(400, "InvalidRequest", message))

    def _resource_calendar(self, user: User, resource: str) -> Calendar:
        parts = [p for p in resource.strip().strip("/").split("/") if p]
        lowered = [p.lower() for p in parts]
        if lowered[:1] == ["me"]:
            rest, rest_raw = lowered[1:], parts[1:]
        elif lowered[:1] == ["users"] and len(parts) >= 2:
            if parts[1].lower() not in (user.id.lower(), user.email.lower()):
                raise GraphError(self.error(403, "ExtensionError", "Access is denied."))
            rest, rest_raw = lowered[2:], parts[2:]
        else:
            raise self._bad(f"Resource '{resource}' is not supported.")
        if rest in (["events"], ["calendar", "events"]):
            return self.world.primary_calendar(user.email)
        if len(rest) == 3 and rest[0] == "calendars" and rest[2] == "events":
            return self._calendar_for(user, rest_raw[1])
        raise self._bad(f"Resource '{resource}' is not supported.")

    def _expiration(self, raw: Any) -> datetime:
        if not isinstance(raw, str):
            raise self._bad("expirationDateTime is required.")
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise self._bad(f"Invalid expirationDateTime '{raw}'.") from None
        value = as_utc(value if value.tzinfo else value.replace(tzinfo=UTC))
        now = self.world.now()
        if value <= now:
            raise self._bad("Subscription expiration must be in the future.")
        if value > now + timedelta(minutes=self.max_subscription_minutes):
            raise self._bad(
                f"Subscription expiration can only be {self.max_subscription_minutes} minutes "
                "in the future."
            )
        # Graph moves an expiration under 45 minutes away to 45 minutes from now.
        return max(value, now + timedelta(minutes=45))

    async def _validate_endpoint(self, url: str) -> str | None:
        """The ``validationToken`` handshake; returns why it failed, or None."""
        token = f"Validation: emulated reachability check {uuid.uuid4()}"
        parts = urlsplit(url)
        query = urlencode(
            [*parse_qsl(parts.query, keep_blank_values=True), ("validationToken", token)]
        )
        target = urlunsplit(parts._replace(query=query))
        record = await self.post(
            target,
            kind="validation",
            target="",
            headers={"Content-Type": "text/plain; charset=utf-8"},
            body=b"",
            timeout=self.validation_timeout,
            force=True,
        )
        failed = "Subscription validation request failed."
        if not record.sent:
            return f"{failed} {record.error}"
        if record.error == "timed out":
            return "Subscription validation request timed out."
        if record.error is not None:
            return f"{failed} {record.error}"
        if record.status != 200:
            return f"{failed} Notification endpoint must respond with 200 OK to validation request."
        content_type = (record.response_content_type or "").lower()
        if not content_type.startswith("text/plain") or record.response_text != token:
            return f"{failed} Response must exactly match validationToken query parameter."
        return None

    async def _create_subscription(self, request: web.Request) -> web.StreamResponse:
        token, user = self._authenticate(request)
        try:
            body = await request.json()
        except ValueError:
            raise self._bad("Invalid JSON body.") from None
        if not isinstance(body, dict):
            raise self._bad("Invalid JSON body.")
        for name in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise self._bad(f"{name} is required.")
        change_types = tuple(t.strip() for t in body["changeType"].split(",") if t.strip())
        if not change_types or any(t not in CHANGE_TYPES for t in change_types):
            raise self._bad(f"Invalid changeType '{body['changeType']}'.")
        calendar = self._resource_calendar(user, body["resource"])
        expiration = self._expiration(body["expirationDateTime"])
        client_state = body.get("clientState")
        if client_state is not None and (
            not isinstance(client_state, str) or len(client_state) > 128
        ):
            raise self._bad("clientState must be a string of at most 128 characters.")
        lifecycle_url = body.get("lifecycleNotificationUrl")
        if lifecycle_url is not None and not isinstance(lifecycle_url, str):
            raise self._bad("lifecycleNotificationUrl must be a URL.")
        for url in (body["notificationUrl"], lifecycle_url):
            if url is not None:
                problem = await self._validate_endpoint(url)
                if problem is not None:
                    raise self._bad(problem)
        sub = Subscription(
            id=str(uuid.uuid4()),
            resource=body["resource"],
            change_types=change_types,
            notification_url=body["notificationUrl"],
            lifecycle_url=lifecycle_url,
            client_state=client_state,
            expiration=expiration,
            application_id=token.client_id,
            creator_id=user.id,
            email=user.email,
            calendar_id=calendar.id,
            latest_tls=str(body.get("latestSupportedTlsVersion") or "v1_2"),
        )
        with self._lock:
            self.subscriptions[sub.id] = sub
        return web.json_response(self.subscription_resource(request, sub), status=201)

    def _subscription_or_404(self, token: AccessToken, sub_id: str) -> Subscription:
        with self._lock:
            sub = self.subscriptions.get(sub_id)
            if sub is not None and self.world.now() >= sub.expiration:
                del self.subscriptions[sub_id]  # Graph deletes expired subscriptions
                sub = None
        if sub is None or sub.application_id != token.client_id:
            raise GraphError(
                self.error(404, "ResourceNotFound", f"The object '{sub_id}' was not found.")
            )
        return sub

    async def _list_subscriptions(self, request: web.Request) -> web.StreamResponse:
        token, _ = self._authenticate(request)
        with self._lock:
            subs = [s for s in self.subscriptions.values() if s.application_id == token.client_id]
        values = []
        for sub in subs:
            resource = self.subscription_resource(request, sub)
            resource.pop("@odata.context")
            values.append(resource)
        context = f"{self._origin(request)}/v1.0/$metadata#subscriptions"
        return web.json_response({"@odata.context": context, "value": values})

    async def _get_subscription(self, request: web.Request) -> web.StreamResponse:
        token, _ = self._authenticate(request)
        sub = self._subscription_or_404(token, request.match_info["id"])
        return web.json_response(self.subscription_resource(request, sub))

    async def _renew_subscription(self, request: web.Request) -> web.StreamResponse:
        token, _ = self._authenticate(request)
        sub = self._subscription_or_404(token, request.match_info["id"])
        try:
            body = await request.json()
        except ValueError:
            raise self._bad("Invalid JSON body.") from None
        if not isinstance(body, dict):
            raise self._bad("Invalid JSON body.")
        expiration = self._expiration(body.get("expirationDateTime"))
        with self._lock:
            sub.expiration = expiration
            sub.needs_reauthorization = False  # renewing also reauthorizes
        return web.json_response(self.subscription_resource(request, sub))

    async def _delete_subscription(self, request: web.Request) -> web.StreamResponse:
        token, _ = self._authenticate(request)
        sub = self._subscription_or_404(token, request.match_info["id"])
        with self._lock:
            self.subscriptions.pop(sub.id, None)
            self.deleted_subscriptions.append(sub.id)
        return web.Response(status=204)

    async def _reauthorize(self, request: web.Request) -> web.StreamResponse:
        token, _ = self._authenticate(request)
        sub = self._subscription_or_404(token, request.match_info["id"])
        with self._lock:
            sub.needs_reauthorization = False
        return web.Response(status=204)

    # -- change notifications ------------------------------------------------------------------

    def _on_change(self, change: Change) -> None:
        now = self.world.now()
        with self._lock:
            for sub in list(self.subscriptions.values()):
                if sub.calendar_id != change.calendar_id:
                    continue
                if now >= sub.expiration:
                    del self.subscriptions[sub.id]
                    continue
                if change.change_type not in sub.change_types:
                    continue
                if sub.needs_reauthorization and self.pause_on_reauthorization:
                    continue
                self._queue_notification(sub, change)

    def _queue_notification(self, sub: Subscription, change: Change) -> None:
        user = self.world.user(sub.email)
        graph_id = event_graph_id(change.event_id, change.original_start)
        resource = f"Users/{user.id}/Events/{graph_id}"
        item: dict[str, Any] = {
            "subscriptionId": sub.id,
            "subscriptionExpirationDateTime": graph_stamp(sub.expiration),
            "changeType": change.change_type,
            "resource": resource,
            "resourceData": {
                "@odata.type": "#Microsoft.Graph.Event",
                "@odata.id": resource,
                "@odata.etag": f'W/"{_etag(change.seq, graph_id)}"',
                "id": graph_id,
            },
        }
        if sub.client_state is not None:
            item["clientState"] = sub.client_state
        item["tenantId"] = self.world.tenant_id
        url = sub.notification_url

        async def deliver() -> PushRecord:
            return await self.post(
                url, kind="change", target=sub.id, headers={}, json_body={"value": [item]}
            )

        self._enqueue(deliver, concurrent.futures.Future())
