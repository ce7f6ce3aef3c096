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
from typing import Annotated, Any, Literal
from uuid import UUID

from aiohttp import web
from pydantic import AnyUrl, BaseModel, ConfigDict, Field, ValidationError

from api_gateway.accounts import Caller
from api_gateway.bots import _ask, bot_params
from api_gateway.errors import ApiError, from_validation_error, read_json
from api_gateway.keys import CALLER, KEY_RING, SETTINGS
from api_gateway.responses import (
    Attendee,
    BotParam,
    Calendar,
    CalendarListEntry,
    CreateCalendarResponse,
    Event,
    ListEventResponse,
    ListRawCalendarsResponse,
    ResyncAllCalendarsResponse,
    json_response,
)
from api_gateway.schemas import (
    BLANKS,
    NOT_BLANK_PATTERN,
    JoinRequest,
    Seconds,
    SpeechToTextApiParameter,
)
from mb_shared.contracts.bot import BotParams, RecordingMode, SpeechToTextProvider
from mb_shared.contracts.calendar import (
    CalendarEventList,
    CalendarEventsReply,
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
    ScheduleEventBot,
    UnscheduleEventBot,
    UpdateCalendar,
)
from mb_shared.contracts.queries import OkReply

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

NotBlank = Annotated[str, Field(json_schema_extra={"pattern": NOT_BLANK_PATTERN})]
"""A string with something besides white space (the handler answers a 400 otherwise)."""

FIXED_CALENDAR_PATHS = ("raw", "resync_all")
CALENDAR = "/calendars/{uuid:(?!(?:" + "|".join(FIXED_CALENDAR_PATHS) + ")$)[^/]+}"
PUSH_PATHS = ("/calendar_push/google", "/calendar_push/microsoft")


class OAuthParams(BaseModel):
    """The customer's OAuth client and refresh token; fields it does not know are ignored."""

    model_config = ConfigDict(extra="ignore")

    oauth_client_id: NotBlank
    oauth_client_secret: NotBlank
    oauth_refresh_token: NotBlank
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
        last_updated_at=view.last_updated_at.isoformat(),
        bot_param=BotParam.of(view.bot_param) if view.bot_param else None)


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
    return json_response(ResyncAllCalendarsResponse(
        synced_calendars=reply.synced_calendars,
        errors=[[str(calendar), why] for calendar, why in reply.errors]))


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


class GraphNotification(BaseModel):
    model_config = ConfigDict(extra="allow")

    subscriptionId: str
    clientState: str | None = None
    changeType: str | None = None
    lifecycleEvent: str | None = None


class GraphNotifications(BaseModel):
    """A Microsoft Graph change or lifecycle notification POST."""

    model_config = ConfigDict(extra="allow")

    value: Annotated[list[GraphNotification], Field(min_length=1)]


@routes.post("/calendar_push/microsoft")
async def microsoft_push(request: web.Request) -> web.Response:
    """Microsoft Graph: the validation handshake (echo `validationToken` as text), change
    notifications and lifecycle notifications (a `value` list, each with its `clientState`)."""
    validation = request.query.get("validationToken")
    if validation is not None and not await request.read():  # Graph's handshake has no body
        return web.Response(text=validation, content_type="text/plain")
    if not await request.read():
        raise ApiError(404, "UnknownChannel", "the request names no subscription")
    try:
        body = GraphNotifications.model_validate(await read_json(request))
    except ValidationError as exc:
        raise from_validation_error(exc) from None
    known = 0
    for item in body.value:
        if await _ask_quietly(request, CalendarPush(
                platform=CalendarProvider.MICROSOFT, channel_id=item.subscriptionId,
                token_sha256=_digest(item.clientState or ""),
                state=item.lifecycleEvent or item.changeType or "")):
            known += 1
    if not known:
        raise ApiError(404, "UnknownChannel", "no such subscription")
    return web.Response(status=202)


# Bots for calendar events ---------------------------------------------------------------------

PLACEHOLDER_MEETING = "https://meet.google.com/aaa-aaaa-aaa"
"""Stands for the event's own link while the parameters are checked like `POST /bots/`'s."""

FLAT_NAMES = {
    "automatic_leave.waiting_room_timeout": "waiting_room_timeout",
    "automatic_leave.noone_joined_timeout": "noone_joined_timeout",
    "automatic_leave.silence_timeout": "silence_timeout",
    "automatic_leave": "waiting_room_timeout",
    "streaming.input": "streaming_input",
    "streaming.output": "streaming_output",
    "streaming.audio_frequency": "streaming_audio_frequency",
    "entry_message": "enter_message",
}
"""`POST /bots/`'s nested field names, as the flat `BotParam` of calendar events names them."""


class EventBotParam(BaseModel):
    """The reference's `BotParam2` (flat); fields it does not know are ignored."""

    model_config = ConfigDict(extra="ignore")

    bot_name: NotBlank
    bot_image: AnyUrl | None = None
    deduplication_key: str | None = None
    enter_message: str | None = None
    extra: dict[str, Any] | None = None
    noone_joined_timeout: Seconds | None = None
    recording_mode: RecordingMode | None = None
    silence_timeout: Seconds | None = None
    speech_to_text: SpeechToTextApiParameter | SpeechToTextProvider | None = None
    streaming_audio_frequency: Literal["16khz", "24khz"] | None = None
    streaming_input: str | None = None
    streaming_output: str | None = None
    transcription_custom_parameters: Any = None
    waiting_room_timeout: Seconds | None = None
    webhook_url: str | None = None
    zoom_access_token_url: str | None = None
    zoom_obf_token: str | None = None
    zoom_obf_token_url: str | None = None
    zoom_obf_token_user_id: str | None = None
    zoom_sdk_id: str | None = None
    zoom_sdk_pwd: str | None = None


class EventBotPatch(EventBotParam):
    """The reference's `BotParam3`: every field optional; those given replace the bot's."""

    bot_name: NotBlank | None = None  # type: ignore[assignment]


def _renamed(exc: ApiError) -> ApiError:
    field = FLAT_NAMES.get(exc.field or "", exc.field)
    if field != exc.field and exc.field:
        exc.message = exc.message.replace(exc.field, field, 1)
        exc.field = field
    return exc


def _event_bot_params(request: web.Request, body: EventBotParam) -> BotParams:
    """The flat parameters checked exactly as `POST /bots/` checks its own (a 400 naming the
    flat field), the event's link standing in for `meeting_url`."""
    leave = {name: getattr(body, name) for name in
             ("waiting_room_timeout", "noone_joined_timeout", "silence_timeout")
             if getattr(body, name) is not None}
    streaming = {"input": body.streaming_input, "output": body.streaming_output,
                 "audio_frequency": body.streaming_audio_frequency}
    joined = {
        "meeting_url": PLACEHOLDER_MEETING, "bot_name": body.bot_name,
        "bot_image": str(body.bot_image) if body.bot_image else None,
        "deduplication_key": body.deduplication_key,
        "entry_message": body.enter_message, "extra": body.extra,
        "recording_mode": body.recording_mode, "speech_to_text": body.speech_to_text,
        "transcription_custom_parameters": body.transcription_custom_parameters,
        "webhook_url": body.webhook_url,
        "automatic_leave": leave or None,
        "streaming": streaming if any(streaming.values()) else None,
        **{k: getattr(body, k) for k in EventBotParam.model_fields if k.startswith("zoom_")},
    }
    try:
        join = JoinRequest.model_validate(joined)
    except ValidationError as exc:
        raise _renamed(from_validation_error(exc)) from None
    try:
        return bot_params(join, request.app[SETTINGS], request.app[KEY_RING])
    except ApiError as exc:
        raise _renamed(exc) from None


def _patched(stored: dict[str, Any], patch: EventBotPatch) -> EventBotParam:
    """The bot's flat parameters with the patch's fields put over them."""
    flat = BotParam.of(stored).model_dump(mode="json")
    current = {k: v for k, v in flat.items() if k in EventBotParam.model_fields}
    current["silence_timeout"] = (stored.get("automatic_leave") or {}).get("silence_timeout")
    provider = flat.get("speech_to_text_provider")
    current["speech_to_text"] = {"provider": provider} if provider else None
    current["zoom_sdk_pwd"] = current["zoom_obf_token"] = None
    given = patch.model_dump(exclude_unset=True)
    try:
        return EventBotParam.model_validate({**current, **given})
    except ValidationError as exc:
        raise from_validation_error(exc) from None


def _all_occurrences(request: web.Request) -> bool:
    raw = request.query.get("all_occurrences", "false")
    if raw not in ("true", "false"):
        raise ApiError(400, "InvalidParameter", "all_occurrences: must be true or false",
                       field="all_occurrences")
    return raw == "true"


async def _events_reply(request: web.Request, query) -> web.Response:
    reply: CalendarEventsReply = await _ask(request, query, CalendarEventsReply)
    return web.json_response([_event(e).model_dump(mode="json") for e in reply.events])


@routes.post("/calendar_events/{uuid}/bot")
async def schedule_record_event(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    event_uuid = _uuid(request.match_info["uuid"], "uuid")
    every = _all_occurrences(request)
    try:
        body = EventBotParam.model_validate(await read_json(request))
    except ValidationError as exc:
        raise from_validation_error(exc) from None
    params = _event_bot_params(request, body)
    return await _events_reply(request, ScheduleEventBot(
        account_id=caller.account_id, event_uuid=event_uuid, all_occurrences=every,
        params=params, api_key_prefix=caller.api_key_prefix))


@routes.patch("/calendar_events/{uuid}/bot")
async def patch_bot(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    event_uuid = _uuid(request.match_info["uuid"], "uuid")
    every = _all_occurrences(request)
    try:
        patch = EventBotPatch.model_validate(await read_json(request))
    except ValidationError as exc:
        raise from_validation_error(exc) from None
    view: CalendarEventView = await _ask(request, GetCalendarEvent(
        account_id=caller.account_id, event_uuid=event_uuid), CalendarEventView)
    if view.bot_param is None:
        raise ApiError(409, "NoBotScheduled",
                       "uuid: no bot is scheduled for this event; schedule one with POST",
                       field="uuid")
    params = _event_bot_params(request, _patched(view.bot_param, patch))
    return await _events_reply(request, ScheduleEventBot(
        account_id=caller.account_id, event_uuid=event_uuid, all_occurrences=every,
        params=params, api_key_prefix=caller.api_key_prefix, keep_secrets=True))


@routes.delete("/calendar_events/{uuid}/bot")
async def unschedule_record_event(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    event_uuid = _uuid(request.match_info["uuid"], "uuid")
    return await _events_reply(request, UnscheduleEventBot(
        account_id=caller.account_id, event_uuid=event_uuid,
        all_occurrences=_all_occurrences(request)))
