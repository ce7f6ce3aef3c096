"""The `/bots` routes: join, leave, meeting data."""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from aiohttp import web
from faststream.nats import NatsBroker
from nats.errors import NoRespondersError
from pydantic import ValidationError

from api_gateway import urls
from api_gateway.accounts import Caller
from api_gateway.errors import ApiError, from_validation_error, read_json
from api_gateway.keys import BROKER, CALLER, KEY_RING, SETTINGS, STORE
from api_gateway.responses import (
    BotData,
    BotDetails,
    BotParamDetails,
    BotWithParams,
    JoinResponse,
    ListRecentBotsResponse,
    Metadata,
    OkResponse,
    RecentBotEntry,
    StatusEntry,
    Transcript,
    Word,
    json_response,
)
from api_gateway.schemas import (
    BLANKS,
    NOT_BLANK_PATTERN,
    JoinRequest,
    SpeechToTextApiParameter,
)
from mb_shared.contracts.bot import (
    ZOOM_SECRETS,
    AutomaticLeave,
    BotParams,
    BotStatus,
    RecordingMode,
    SpeechToText,
    SpeechToTextProvider,
)
from mb_shared.contracts.queries import (
    BotList,
    BotView,
    CreateBot,
    CreateBotReply,
    ExtraSort,
    GetBot,
    GetTranscript,
    LeaveBot,
    LeaveBotReply,
    ListBots,
    QueryError,
    TranscriptReply,
)
from mb_shared.contracts.recording import data_files
from mb_shared.contracts.separate_parts import StoredAudioPart, StoredVideoPart
from mb_shared.meeting_urls import InvalidMeetingUrl, parse_meeting_url
from mb_shared.messaging import ask
from mb_shared.secrets import KeyRing
from mb_shared.storage import ObjectStore

log = logging.getLogger(__name__)
routes = web.RouteTableDef()

FIXED_BOT_PATHS = ("meeting_data", "bots_with_metadata", "retranscribe", "retry_webhook", "webhooks")
"""The fixed `/bots/<name>` paths. `/bots/{uuid}` does not match them, so that another method on
them is a 405 (with `Allow`) rather than a 400 about a malformed bot id."""

BOT = "/bots/{uuid:(?!(?:" + "|".join(FIXED_BOT_PATHS) + ")$)[^/]+}"
"""The path of one bot: any segment but the fixed names (a malformed id is a 400 naming `uuid`)."""


def speech_to_text_params(
    raw: SpeechToTextApiParameter | SpeechToTextProvider | None, key_ring: KeyRing,
) -> SpeechToText | None:
    """The provider and key a transcript is made with, the key sealed at once (a blank key is no
    key: the transcriber then uses the operator's key for that provider, if one is configured)."""
    if raw is None:
        return None
    if not isinstance(raw, SpeechToTextApiParameter):
        raw = SpeechToTextApiParameter(provider=raw)
    return SpeechToText(provider=raw.provider,
                        api_key=key_ring.seal_optional((raw.api_key or "").strip() or None),
                        live_transcript=bool(raw.live_transcript))


def bot_params(body: JoinRequest, settings, key_ring: KeyRing) -> BotParams:
    """A validated request's parameters as the platform keeps them: the meeting URL parsed, the
    bounds and outbound URLs checked (400s naming the field), the provider key sealed."""
    try:
        meeting = parse_meeting_url(body.meeting_url)
    except InvalidMeetingUrl as exc:
        raise ApiError(400, "InvalidMeetingUrl", f"meeting_url: {exc}", field="meeting_url") from None
    except ValueError as exc:  # urlsplit refuses some strings, e.g. an unclosed IPv6 bracket
        raise ApiError(400, "InvalidMeetingUrl", f"meeting_url: not a URL ({exc})",
                       field="meeting_url") from None
    if not re.search(NOT_BLANK_PATTERN, body.bot_name):
        raise ApiError(400, "InvalidBotName", "bot_name: must not be empty", field="bot_name")
    leave = AutomaticLeave()
    if body.automatic_leave is not None:
        for name, minimum in (
            ("waiting_room_timeout", settings.min_waiting_room_timeout_s),
            ("noone_joined_timeout", settings.min_waiting_room_timeout_s),
            ("silence_timeout", settings.min_silence_timeout_s),
        ):
            value = getattr(body.automatic_leave, name)
            if value is None:
                continue
            if not minimum <= value <= settings.max_automatic_leave_s:
                raise ApiError(
                    400,
                    "InvalidAutomaticLeave",
                    f"automatic_leave.{name}: must be between {minimum} and "
                    f"{settings.max_automatic_leave_s} seconds, got {value}",
                    field=f"automatic_leave.{name}",
                )
            setattr(leave, name, value)
    policy = settings.outbound_policy
    bot_image = urls.guarded(str(body.bot_image), "bot_image", policy) if body.bot_image else None
    streaming = body.streaming.model_dump() if body.streaming else None
    for name in ("input", "output"):
        if streaming and streaming[name]:
            urls.socket_url(streaming[name], f"streaming.{name}", policy)
    for name in ("zoom_access_token_url", "zoom_obf_token_url"):
        if getattr(body, name):
            urls.guarded(getattr(body, name), name, policy)
    return BotParams(
        meeting_url=meeting.url,
        platform=meeting.platform,
        bot_name=body.bot_name,
        bot_image=bot_image,
        entry_message=body.entry_message,
        recording_mode=body.recording_mode or RecordingMode.SPEAKER_VIEW,
        speech_to_text=speech_to_text_params(body.speech_to_text, key_ring),
        automatic_leave=leave,
        start_time=body.start_time,
        deduplication_key=body.deduplication_key,
        webhook_url=urls.webhook_url(body.webhook_url, policy),
        extra=body.extra,
        streaming=streaming,
        transcription_custom_parameters=body.transcription_custom_parameters,
        zoom=_zoom_params(body, key_ring),
    )


def _zoom_params(body: JoinRequest, key_ring: KeyRing) -> dict[str, Any] | None:
    """The `zoom_*` fields given, the secrets among them sealed."""
    zoom = {k: v for k, v in body.model_dump().items() if k.startswith("zoom_") and v is not None}
    for name in ZOOM_SECRETS:
        if zoom.get(name):
            zoom[name] = key_ring.seal(str(zoom[name]))
    return zoom or None


async def _ask(request: web.Request, query, reply_type, *, timeout_s: float | None = None):
    """The owning service's answer; `timeout_s` for the few queries that call a provider and
    may take longer than the usual request timeout."""
    broker: NatsBroker = request.app[BROKER]
    try:
        reply = await ask(broker, query, reply_type,
                          timeout=timeout_s or request.app[SETTINGS].request_timeout_s)
    except (TimeoutError, NoRespondersError):
        raise ApiError(503, "ServiceUnavailable",
                       "The platform could not answer right now; retry in a few seconds.",
                       retry_after_s=5) from None
    if isinstance(reply, QueryError):
        raise ApiError(reply.status, reply.code, reply.message, field=reply.field)
    return reply


def _bot_uuid(raw: str, field: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise ApiError(400, "InvalidBotId", f"{field}: {raw!r} is not a UUID", field=field) from None


@routes.post("/bots/")
@routes.post("/bots")
async def join(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    try:
        body = JoinRequest.model_validate(await read_json(request))
    except ValidationError as exc:
        raise from_validation_error(exc) from None
    params = bot_params(body, request.app[SETTINGS], request.app[KEY_RING])
    reply: CreateBotReply = await _ask(
        request,
        CreateBot(account_id=caller.account_id, params=params,
                  api_key_prefix=caller.api_key_prefix),
        CreateBotReply,
    )
    return json_response(JoinResponse(bot_id=reply.bot_id))


@routes.delete(BOT)
async def leave(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    bot_id = _bot_uuid(request.match_info["uuid"], "uuid")
    await _ask(request, LeaveBot(account_id=caller.account_id, bot_id=bot_id), LeaveBotReply)
    return json_response(OkResponse(ok=True))


def _iso(value) -> str | None:
    return value.isoformat() if value else None


def bot_with_params(bot: BotView) -> BotWithParams:
    """A bot in the reference's `BotWithParams` shape."""
    p = bot.params
    stt = p.speech_to_text
    streaming = p.streaming or {}
    zoom = p.zoom or {}
    custom = p.transcription_custom_parameters  # an object in the reference's answer
    frequency = streaming.get("audio_frequency")
    errors = None
    if bot.status == BotStatus.FAILED:
        errors = f"{bot.error}: {bot.message}" if bot.message else str(bot.error)
    return BotWithParams(**{
        "id": bot.id,
        "uuid": bot.bot_id,
        "account_id": bot.account_id,
        "bot_param_id": bot.id,
        "bot_name": p.bot_name,
        "bot_image": p.bot_image,
        "meeting_url": p.meeting_url,
        "created_at": _iso(bot.created_at),
        "bot_joined_at": _iso(bot.joined_at),
        "bot_exited_at": _iso(bot.exited_at),
        "ended_at": _iso(bot.ended_at),
        "is_stopped": bot.status.is_terminal,
        "errors": errors,
        "diarization_v2": False,
        "reserved": False,
        "event_id": None,
        "scheduled_bot_id": None,
        "session_id": None,
        "mp4_s3_path": bot.artifacts.recording or "",
        "deduplication_key": p.deduplication_key,
        "enter_message": p.entry_message,
        "extra": p.extra or {},
        "recording_mode": p.recording_mode,
        "speech_to_text_provider": stt.provider if stt else None,
        "speech_to_text_api_key": None,
        "streaming_input": streaming.get("input"),
        "streaming_output": streaming.get("output"),
        "streaming_audio_frequency": frequency if frequency in ("16khz", "24khz") else None,
        "transcription_custom_parameters": custom if isinstance(custom, dict) else {},
        "waiting_room_timeout": p.automatic_leave.waiting_room_timeout,
        "noone_joined_timeout": p.automatic_leave.noone_joined_timeout,
        "silence_timeout": p.automatic_leave.silence_timeout,
        "webhook_url": p.webhook_url or "",
        "zoom_access_token_url": zoom.get("zoom_access_token_url"),
        "zoom_obf_token": None,
        "zoom_obf_token_url": zoom.get("zoom_obf_token_url"),
        "zoom_obf_token_user_id": zoom.get("zoom_obf_token_user_id"),
        "zoom_sdk_id": zoom.get("zoom_sdk_id"),
        "zoom_sdk_pwd": None,
    })


def reference_transcripts(bot: BotView, reply: TranscriptReply) -> list[Transcript]:
    """Transcript segments in the reference's `Transcript` shape."""
    return [
        Transcript(
            id=segment.id,
            bot_id=bot.id,
            speaker=segment.speaker,
            start_time=segment.start_time,
            end_time=segment.end_time,
            lang=segment.lang,
            user_id=None,
            words=[
                Word(
                    id=word.id,
                    bot_id=bot.id,
                    start_time=word.start,
                    end_time=word.end,
                    text=word.word,
                    user_id=None,
                )
                for word in segment.words
            ],
        )
        for segment in reply.segments
    ]


@routes.get("/bots/meeting_data")
async def meeting_data(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    raw = request.query.get("bot_id")
    if not raw:
        raise ApiError(400, "MissingParameter", "bot_id: this query parameter is required", field="bot_id")
    bot_id = _bot_uuid(raw, "bot_id")
    include = request.query.get("include_transcripts", "true")
    if include not in ("true", "false"):
        raise ApiError(400, "InvalidParameter", "include_transcripts: must be true or false",
                       field="include_transcripts")
    bot: BotView = await _ask(request, GetBot(account_id=caller.account_id, bot_id=bot_id), BotView)
    transcripts: list[Transcript] = []
    if include == "true":
        reply: TranscriptReply = await _ask(request, GetTranscript(bot_id=bot_id), TranscriptReply)
        transcripts = reference_transcripts(bot, reply)
    store = request.app[STORE]
    files = bot.artifacts
    return json_response(
        Metadata(
            bot_data=BotData(bot=bot_with_params(bot), transcripts=transcripts,
                             event_uuid=bot.params.event_uuid),
            duration=round(bot.duration_s),
            mp4=await store.presigned_url_if_exists(files.recording),
            audio=await store.presigned_url_if_exists(files.audio),
            speaker_diarization_file_network="",
            **{field: await store.presigned_url_if_exists(key)
               for field, key in data_files(files).items()},
            separate_audio_parts=await _downloadable(store, files.separate_audio),
            separate_video_parts=await _downloadable(store, files.separate_video),
        )
    )


async def _downloadable(store: ObjectStore, parts: Sequence[StoredAudioPart | StoredVideoPart],
                        ) -> list[Any]:
    """The parts still in the object store, each with a download URL signed now."""
    return [part.with_url(url) for part in parts
            if (url := await store.presigned_url_if_exists(part.key))]


def _query_datetime(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    text = raw.strip().upper().replace("Z", "+00:00")
    # RFC 3339 allows a leap second, which Python's datetime does not hold: take :59
    text = re.sub(r"^(\d{4}-\d\d-\d\d.\d\d:\d\d):60", r"\1:59", text)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(400, "InvalidParameter",
                       f"{name}: {raw!r} is not an ISO-8601 date-time", field=name) from None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # within a day of year 1 or 9999 with an offset: the nearest end
        return (datetime.min if value.year == 1 else datetime.max).replace(tzinfo=UTC)


def _filters(raw: str | None) -> dict[str, str]:
    filters: dict[str, str] = {}
    for condition in (raw or "").split(","):
        if not condition.strip(BLANKS):
            continue
        field, sep, value = condition.partition(":")
        if not sep or not field.strip(BLANKS):
            raise ApiError(400, "InvalidParameter",
                           f"filter_by_extra: {condition!r} is not field:value",
                           field="filter_by_extra")
        filters[field.strip(BLANKS)] = value
    return filters


def _sort(raw: str | None) -> ExtraSort | None:
    if not raw:
        return None
    field, _, direction = raw.partition(":")
    direction = direction.strip(BLANKS)
    if not field.strip(BLANKS) or direction.lower() not in ("", "asc", "desc"):
        raise ApiError(400, "InvalidParameter",
                       f"sort_by_extra: {raw!r} is not field, field:asc or field:desc",
                       field="sort_by_extra")
    return ExtraSort(field=field.strip(BLANKS), descending=direction.lower() == "desc")


def encode_cursor(after: list | None) -> str | None:
    if after is None:
        return None
    return base64.urlsafe_b64encode(json.dumps(after).encode()).decode()


def _cursor_shape_ok(after: object) -> bool:
    """A cursor this API issues: `[created_at, id]`, or `[missing, extra value, created_at, id]`
    when sorting by a field of `extra` (see the scheduler's listing)."""
    if not isinstance(after, list) or len(after) not in (2, 4):
        return False
    *head, created_at, bot_id = after
    if head and not (type(head[0]) is int and head[0] in (0, 1) and isinstance(head[1], str)):
        return False
    if type(bot_id) is not int or not 0 <= bot_id < 2**63 or not isinstance(created_at, str):
        return False
    try:
        moment = datetime.fromisoformat(created_at)
        moment.astimezone(UTC)  # within a day of year 1 or 9999, an offset overflows
    except (ValueError, OverflowError):
        return False
    return moment.tzinfo is not None


def decode_cursor(raw: str | None) -> list | None:
    if not raw:
        return None
    try:
        after = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except (ValueError, UnicodeDecodeError, RecursionError):
        after = None
    if not _cursor_shape_ok(after):
        raise ApiError(400, "InvalidCursor", "cursor: not a cursor this API returned",
                       field="cursor")
    return after


@routes.get("/bots/bots_with_metadata")
async def bots_with_metadata(request: web.Request) -> web.Response:
    """Newest first; filters of the reference, `speaker_name` included; keyset cursor."""
    caller: Caller = request[CALLER]
    raw_limit = request.query.get("limit", "10")
    limit = int(raw_limit) if re.fullmatch(r"-?[0-9]{1,9}", raw_limit) else 0
    if not 1 <= limit <= 50:
        raise ApiError(400, "InvalidParameter", "limit: must be an integer from 1 to 50",
                       field="limit")
    query = ListBots(
        account_id=caller.account_id,
        limit=limit,
        bot_name=request.query.get("bot_name") or None,
        meeting_url=request.query.get("meeting_url") or None,
        speaker_name=request.query.get("speaker_name") or None,
        created_after=_query_datetime(request, "created_after"),
        created_before=_query_datetime(request, "created_before"),
        ended_after=_query_datetime(request, "ended_after"),
        filter_by_extra=_filters(request.query.get("filter_by_extra")),
        sort_by_extra=_sort(request.query.get("sort_by_extra")),
        after=decode_cursor(request.query.get("cursor")),
    )
    page: BotList = await _ask(request, query, BotList)
    bots = [
        RecentBotEntry(
            id=b.bot_id,
            uuid=b.bot_id,
            name=b.bot_name,
            bot_name=b.bot_name,
            content_deleted=b.content_deleted,
            event_uuid=b.event_uuid,
            meeting_url=b.meeting_url,
            created_at=b.created_at.isoformat(),
            ended_at=_iso(b.ended_at),
            duration=round(b.duration_s) if b.ended_at else None,
            speakers=b.speakers,
            extra=b.extra or {},
            session_id=None,
            access_count=None,
            last_accessed_at=None,
        )
        for b in page.bots
    ]
    return json_response(
        ListRecentBotsResponse(
            bots=bots,
            recent_bots=bots,
            next_cursor=encode_cursor(page.next_after),
            last_updated=datetime.now(UTC).isoformat(),
        )
    )


@routes.get(BOT)
async def get_bot(request: web.Request) -> web.Response:
    """The bot, its parameters, its current status and its status history (registered last so
    that `/bots/meeting_data` and the other fixed paths win)."""
    caller: Caller = request[CALLER]
    bot_id = _bot_uuid(request.match_info["uuid"], "uuid")
    bot: BotView = await _ask(request, GetBot(account_id=caller.account_id, bot_id=bot_id), BotView)
    history = [
        StatusEntry(code=h.status, created_at=h.at, error=h.error, reason=h.reason,
                    message=h.message)
        for h in bot.history
    ]
    return json_response(
        BotDetails(
            bot=bot_with_params(bot),
            duration=round(bot.duration_s),
            status=history[-1] if history else None,
            status_history=history,
            params=BotParamDetails.of(bot.params.model_dump(mode="json")),
            transcription_error=bot.transcription_error,
        )
    )
