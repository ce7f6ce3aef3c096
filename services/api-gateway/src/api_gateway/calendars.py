"""The `/calendars` and `/calendar_events` routes, answered by calendar-sync; and the endpoints the
calendar providers push their notifications to (`/calendar_push/google`, `/calendar_push/
microsoft`), authenticated by the channel token they carry rather than an API key.

OAuth client secrets and refresh tokens are sealed here, before they leave the gateway."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
from datetime import datetime
from uuid import UUID

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api_gateway.accounts import Caller
from api_gateway.bots import _ask
from api_gateway.errors import ApiError, from_validation_error, read_json
from api_gateway.keys import CALLER, KEY_RING, SETTINGS
from api_gateway.responses import (
    Attendee,
    Calendar,
    CalendarListEntry,
    CreateCalendarResponse,
    Event,
    ListEventResponse,
    ListRawCalendarsResponse,
    ResyncAllCalendarsResponse,
    json_response,
)
from api_gateway.schemas import BLANKS
from mb_shared.contracts.calendar import (
    CalendarEventList,
    CalendarEventView,
    CalendarList,
    CalendarProvider,
    CalendarPush,
    CalendarView,
    CreateCalendar,
    DeleteCalendar,
    GetCalendar,
    GetCalendarEvent,
    ListCalendarEvents,
    ListCalendars,
    ListRawCalendars,
    OAuthCredentials,
    RawCalendarList,
    ResyncCalendars,
    ResyncReply,
    UpdateCalendar,
)
from mb_shared.contracts.queries import OkReply

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

FIXED_CALENDAR_PATHS = ("raw", "resync_all")
CALENDAR = "/calendars/{uuid:(?!(?:" + "|".join(FIXED_CALENDAR_PATHS) + ")$)[^/]+}"
PUSH_PATHS = ("/calendar_push/google", "/calendar_push/microsoft")


class OAuthParams(BaseModel):
    """The customer's OAuth client and refresh token; fields it does not know are ignored."""

    model_config = ConfigDict(extra="ignore")

    oauth_client_id: str
    oauth_client_secret: str
    oauth_refresh_token: str
    platform: CalendarProvider


class ListRawCalendarsParams(OAuthParams):
    pass


class UpdateCalendarParams(OAuthParams):
    pass


class CreateCalendarParams(OAuthParams):
    raw_calendar_id: str | None = Field(
        default=None, description="The provider's calendar to connect (from `POST /calendars/"
        "raw`); the account's primary calendar when absent")


async def _oauth_body(request: web.Request, model: type[OAuthParams]) -> OAuthParams:
    try:
        body = model.model_validate(await read_json(request))
    except ValidationError as exc:
        raise from_validation_error(exc) from None
    for name in ("oauth_client_id", "oauth_client_secret", "oauth_refresh_token"):
        if not getattr(body, name).strip(BLANKS):
            raise ApiError(400, "InvalidOAuthCredentials", f"{name}: must not be empty",
                           field=name)
    return body


def _credentials(request: web.Request, body: OAuthParams) -> OAuthCredentials:
    ring = request.app[KEY_RING]
    return OAuthCredentials(platform=body.platform, client_id=body.oauth_client_id.strip(BLANKS),
                            sealed_client_secret=ring.seal(body.oauth_client_secret.strip(BLANKS)),
                            sealed_refresh_token=ring.seal(body.oauth_refresh_token.strip(BLANKS)))


def _uuid(raw: str, field: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise ApiError(400, "InvalidUuid", f"{field}: {raw!r} is not a UUID", field=field) from None


def _calendar(view: CalendarView) -> Calendar:
    return Calendar(uuid=view.uuid, name=view.name, email=view.email,
                    google_id=view.provider_calendar_id, resource_id=view.resource_id)


def _event(view: CalendarEventView) -> Event:
    return Event(
        uuid=view.uuid, calendar_uuid=view.calendar_uuid, google_id=view.provider_event_id,
        name=view.name, start_time=view.start_time.isoformat(),
        end_time=view.end_time.isoformat(), meeting_url=view.meeting_url,
        attendees=[Attendee(email=a.email, name=a.name) for a in view.attendees],
        is_organizer=view.is_organizer, is_recurring=view.is_recurring,
        recurring_event_id=view.recurring_event_id, deleted=view.deleted, raw=view.raw,
        last_updated_at=view.last_updated_at.isoformat(), bot_param=view.bot_param)


def _slow(request: web.Request) -> float:
    return request.app[SETTINGS].calendar_timeout_s


@routes.post("/calendars/raw")
async def list_raw_calendars(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    body = await _oauth_body(request, ListRawCalendarsParams)
    reply: RawCalendarList = await _ask(
        request, ListRawCalendars(account_id=caller.account_id,
                                  credentials=_credentials(request, body)),
        RawCalendarList, timeout_s=_slow(request))
    return json_response(ListRawCalendarsResponse(calendars=[
        CalendarListEntry(id=c.id, email=c.email, is_primary=c.is_primary)
        for c in reply.calendars]))


@routes.get("/calendars/")
@routes.get("/calendars")
async def list_calendars(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    reply: CalendarList = await _ask(request, ListCalendars(account_id=caller.account_id),
                                     CalendarList)
    return web.json_response([_calendar(c).model_dump(mode="json") for c in reply.calendars])


@routes.post("/calendars/")
@routes.post("/calendars")
async def create_calendar(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    body = await _oauth_body(request, CreateCalendarParams)
    assert isinstance(body, CreateCalendarParams)
    raw_id = (body.raw_calendar_id or "").strip(BLANKS) or None
    view: CalendarView = await _ask(
        request, CreateCalendar(account_id=caller.account_id,
                                credentials=_credentials(request, body), raw_calendar_id=raw_id),
        CalendarView, timeout_s=_slow(request))
    return json_response(CreateCalendarResponse(calendar=_calendar(view)))


@routes.post("/calendars/resync_all")
async def resync_all_calendars(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    days = None
    raw = request.query.get("days")
    if raw is not None:
        try:
            days = int(raw)
        except ValueError:
            days = 0
        if not 1 <= days <= 365:
            raise ApiError(400, "InvalidParameter", "days: must be a whole number from 1 to 365",
                           field="days")
    reply: ResyncReply = await _ask(request, ResyncCalendars(account_id=caller.account_id,
                                                             days=days),
                                    ResyncReply, timeout_s=_slow(request))
    return json_response(ResyncAllCalendarsResponse(synced_calendars=reply.synced_calendars,
                                                    errors=reply.errors))


@routes.get(CALENDAR)
async def get_calendar(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    calendar_uuid = _uuid(request.match_info["uuid"], "uuid")
    view: CalendarView = await _ask(request, GetCalendar(account_id=caller.account_id,
                                                         calendar_uuid=calendar_uuid),
                                    CalendarView)
    return json_response(_calendar(view))


@routes.patch(CALENDAR)
async def update_calendar(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    calendar_uuid = _uuid(request.match_info["uuid"], "uuid")
    body = await _oauth_body(request, UpdateCalendarParams)
    view: CalendarView = await _ask(
        request, UpdateCalendar(account_id=caller.account_id, calendar_uuid=calendar_uuid,
                                credentials=_credentials(request, body)),
        CalendarView, timeout_s=_slow(request))
    return json_response(CreateCalendarResponse(calendar=_calendar(view)))


@routes.delete(CALENDAR)
async def delete_calendar(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    calendar_uuid = _uuid(request.match_info["uuid"], "uuid")
    await _ask(request, DeleteCalendar(account_id=caller.account_id,
                                       calendar_uuid=calendar_uuid),
               OkReply, timeout_s=_slow(request))
    return web.Response(status=200)


def _date_param(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise ApiError(400, "InvalidParameter",
                       f"{name}: not an ISO-8601 date-time with a time zone, e.g. "
                       "2026-01-01T00:00:00Z", field=name)
    return at


def _cursor(raw: str | None) -> tuple[datetime, UUID] | None:
    if raw is None:
        return None
    try:
        at, last = json.loads(base64.urlsafe_b64decode(raw.encode() + b"=="))
        return datetime.fromisoformat(at), UUID(last)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ApiError(400, "InvalidCursor", "cursor: not a cursor this API gave",
                       field="cursor") from None


def _next_cursor(after: tuple[datetime, UUID]) -> str:
    raw = json.dumps([after[0].isoformat(), str(after[1])]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@routes.get("/calendar_events/")
@routes.get("/calendar_events")
async def list_events(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    raw_calendar = request.query.get("calendar_id")
    if not raw_calendar:
        raise ApiError(400, "MissingParameter", "calendar_id: this query parameter is required",
                       field="calendar_id")
    status = request.query.get("status", "upcoming")
    if status not in ("upcoming", "past", "all"):
        raise ApiError(400, "InvalidParameter", "status: must be upcoming, past or all",
                       field="status")
    query = ListCalendarEvents(
        account_id=caller.account_id, calendar_uuid=_uuid(raw_calendar, "calendar_id"),
        attendee_email=request.query.get("attendee_email") or None,
        organizer_email=request.query.get("organizer_email") or None,
        start_date_gte=_date_param(request, "start_date_gte"),
        start_date_lte=_date_param(request, "start_date_lte"),
        updated_at_gte=_date_param(request, "updated_at_gte"),
        status=status, after=_cursor(request.query.get("cursor")))
    reply: CalendarEventList = await _ask(request, query, CalendarEventList)
    following = None
    if reply.next_after is not None:
        following = str(request.url.update_query({"cursor": _next_cursor(reply.next_after)}))
    return json_response(ListEventResponse(data=[_event(e) for e in reply.events],
                                           next=following))


@routes.get("/calendar_events/{uuid}")
async def get_event(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    event_uuid = _uuid(request.match_info["uuid"], "uuid")
    view: CalendarEventView = await _ask(request, GetCalendarEvent(account_id=caller.account_id,
                                                                   event_uuid=event_uuid),
                                         CalendarEventView)
    return json_response(_event(view))


# Provider pushes ------------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _ask_quietly(request: web.Request, push: CalendarPush) -> bool:
    """True when calendar-sync knows the channel and its token."""
    try:
        await _ask(request, push, OkReply)
    except ApiError as exc:
        if exc.status == 404:
            return False
        raise
    return True


@routes.post("/calendar_push/google")
async def google_push(request: web.Request) -> web.Response:
    """A Google Calendar watch channel's notification: the headers say it all, the body is
    empty."""
    channel = request.headers.get("X-Goog-Channel-ID", "")
    token = request.headers.get("X-Goog-Channel-Token", "")
    state = request.headers.get("X-Goog-Resource-State", "")
    if not channel or not await _ask_quietly(request, CalendarPush(
            platform=CalendarProvider.GOOGLE, channel_id=channel, token_sha256=_digest(token),
            state=state)):
        raise ApiError(404, "UnknownChannel", "no such push channel")
    return web.Response(status=200)


@routes.post("/calendar_push/microsoft")
async def microsoft_push(request: web.Request) -> web.Response:
    """Microsoft Graph: the validation handshake (echo `validationToken` as text), change
    notifications and lifecycle notifications (a `value` list, each with its `clientState`)."""
    validation = request.query.get("validationToken")
    if validation is not None:
        return web.Response(text=validation, content_type="text/plain")
    body = await read_json(request)
    notifications = body.get("value") if isinstance(body, dict) else None
    if not isinstance(notifications, list) or not notifications:
        raise ApiError(400, "InvalidNotification", "value: a list of notifications is required",
                       field="value")
    known = 0
    for item in notifications:
        if not isinstance(item, dict) or not item.get("subscriptionId"):
            continue
        state = item.get("lifecycleEvent") or item.get("changeType") or ""
        if await _ask_quietly(request, CalendarPush(
                platform=CalendarProvider.MICROSOFT, channel_id=str(item["subscriptionId"]),
                token_sha256=_digest(str(item.get("clientState") or "")), state=str(state))):
            known += 1
    if not known:
        raise ApiError(404, "UnknownChannel", "no such subscription")
    return web.Response(status=202)
