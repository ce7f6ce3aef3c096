"""The `/meetings` and `/topics` routes, answered by the meetings service: meetings listed and
filtered a page at a time, each with its transcript, summary, participants and recording;
meetings created with a bot, from a file or from a calendar event.

An organisation is an account: `organization_id` is the account id (`GET /meetings/` shows it);
naming another organisation is a 403.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, RootModel, ValidationError

from api_gateway import urls
from api_gateway.accounts import Caller
from api_gateway.bots import _ask
from api_gateway.errors import ApiError, read_json
from api_gateway.keys import CALLER, KEY_RING, SETTINGS, STORE
from api_gateway.responses import Body, DateTime, json_response
from api_gateway.schemas import BLANKS, MEETING_URL_PATTERN, NOT_BLANK_PATTERN
from mb_shared.contracts.bot import BotParams, SpeechToText
from mb_shared.contracts.meetings import (
    CalendarEventSnapshot,
    CreateMeeting,
    GetMeeting,
    GetMeetingTranscript,
    ListMeetings,
    ListTopics,
    MeetingPage,
    MeetingParticipant,
    MeetingTranscript,
    MeetingView,
    TopicList,
)
from mb_shared.meeting_urls import InvalidMeetingUrl, parse_meeting_url
from mb_shared.secrets import KeyRing

routes = web.RouteTableDef()

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 10
MEETING = "/meetings/{meeting_id:[^/]+}"
EMAIL_PATTERN = r"^[^@ \t\n\r\f\v]+@[^@ \t\n\r\f\v]+\.[^@ \t\n\r\f\v]+$"
PARTICIPANT_IDS_PATTERN = r"^ *([1-9][0-9]{0,8} *(, *[1-9][0-9]{0,8} *)*)?$"
"""`participants` of `GET /meetings/`: ids separated by commas (spaces allowed around them)."""
MAX_ID = 2**31 - 1
MAX_SPEAKERS = 100


def _date_time_text(value: Any) -> Any:
    """A date-time is an ISO 8601 string: a number (which pydantic would read as seconds since
    1970) is refused, as the document's `format: date-time` says."""
    if value is not None and not isinstance(value, str | datetime):
        raise ValueError("must be an ISO 8601 date-time string, e.g. 2026-01-01T09:00:00Z")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_date_time_text)]


# Request bodies ------------------------------------------------------------------------------


class CreateMeetingCalendarEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    event_id: Annotated[str, Field(json_schema_extra={"pattern": NOT_BLANK_PATTERN})]
    summary: str | None = None
    organizer_email: str | None = None
    attendees: list[dict[str, Any]] = Field(
        default=[], description="Each with `email`, `display_name`, `response_status`")
    meeting_link: str | None = None
    start_time: IsoDateTime | None = None
    end_time: IsoDateTime | None = None


class CreateMeetingRequest(BaseModel):
    """A meeting: with a bot for `bot_meeting_url` (now, or at `bot_join_at`), imported from
    `file_url`, or a record of a calendar event; never both a URL and a file."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "organization_id": 1, "title": "Weekly sync",
        "bot_meeting_url": "https://meet.google.com/abc-defg-hij",
        "participants": ["alice@example.org"]}]})

    organization_id: int = Field(strict=True, description="Your account id (`organization_id` of your "
                                 "meetings); must be > 0")
    title: Annotated[str, Field(json_schema_extra={"pattern": NOT_BLANK_PATTERN})]
    start_time: IsoDateTime | None = Field(default=None, description="ISO 8601")
    user_token: str | None = Field(
        default=None, description="Accepted for compatibility; meetings belong to the "
        "organisation, not to a user")
    topic_id: int | None = Field(default=None, strict=True, description="From `GET /topics/`: the "
                                 "meeting's language and context")
    participants: list[Annotated[str, Field(json_schema_extra={"pattern": EMAIL_PATTERN})]] = (
        Field(default=[], description="Participants' email addresses"))
    bot_meeting_url: str | None = Field(
        default=None, description="A Google Meet, Teams or Zoom URL for a bot to join",
        json_schema_extra={"pattern": MEETING_URL_PATTERN})
    file_url: str | None = Field(
        default=None, description="A public http(s) URL of an audio or video file to import; "
        "stored sealed (a signature in it stays secret), shown as `location` without its query")
    bot_join_at: IsoDateTime | None = Field(
        default=None, description="When the bot joins (ISO 8601, in the future); now when "
        "absent")
    bot_name: str | None = Field(default=None, description="The bot's name in the meeting")
    speaker_count: int | None = Field(default=None, strict=True, ge=1, le=MAX_SPEAKERS,
                                      description="Expected speakers")
    calendar_event: CreateMeetingCalendarEvent | None = None


# Response bodies -----------------------------------------------------------------------------


class MeetingHost(Body):
    id: int
    name: str | None
    email: str | None


class Participant(MeetingHost):
    pass


class CalendarEvent(Body):
    event_id: str
    summary: str | None
    organizer_email: str | None
    attendees: list[dict[str, Any]]
    meeting_link: str | None
    start_time: DateTime | None
    end_time: DateTime | None


class MeetingListItem(Body):
    id: int
    organization_id: int
    title: str
    status: str
    start_time: DateTime | None
    end_time: DateTime | None
    created_at: DateTime
    summary_complete: bool
    from_calendar: bool
    participant_count: int
    duration_seconds: float | None
    language: str | None
    bot_id: Annotated[str, Field(json_schema_extra={"format": "uuid"})] | None = Field(
        description="The bot that joined (see `/bots/{uuid}`), if any")


class MeetingDetail(MeetingListItem):
    location: str | None = Field(description="Where it took place: the meeting's URL, or the "
                                 "imported file's without user, query or fragment")
    host: MeetingHost | None
    keywords: list[str]
    num_cluster: int | None = Field(description="Distinct speakers in the transcript")
    topic_id: int | None
    calendar_event: CalendarEvent | None
    error: str | None = Field(description="Why the meeting failed, or has no summary")


class MeetingListResponse(Body):
    count: int
    next: str | None
    previous: str | None
    results: list[MeetingListItem]


class TranscriptSegment(Body):
    speaker: str
    text: str
    start_time: float = Field(description="Seconds from the start of the recording")
    end_time: float


class TranscriptResponse(Body):
    meeting_id: int
    title: str
    total_segments: int
    transcripts: list[TranscriptSegment]


class SummaryResponse(Body):
    meeting_id: int
    title: str
    summary: str | None = Field(description="Markdown; null until `summary_complete`")
    notes: str | None = Field(description="Markdown")
    keywords: list[str]
    summary_complete: bool


class ParticipantsResponse(Body):
    meeting_id: int
    title: str
    total_participants: int
    participants: list[Participant]


class RecordingResponse(Body):
    meeting_id: int
    title: str
    recording_url: str | None = Field(description="Presigned for one hour; null until recorded")
    duration: float | None = Field(description="Seconds")
    format: str | None


class TopicResponse(Body):
    id: int
    name: str
    alias: str
    language: str = Field(description="ISO 639-1: what the meeting is transcribed and "
                          "summarised in")


class TopicListResponse(RootModel[list[TopicResponse]]):
    pass


# Handlers ------------------------------------------------------------------------------------


def _at(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _item_fields(view: MeetingView) -> dict[str, Any]:
    return dict(id=view.id, organization_id=view.organization_id, title=view.title,
                status=view.status, start_time=_at(view.start_time),
                end_time=_at(view.end_time), created_at=view.created_at.isoformat(),
                summary_complete=view.summary_complete, from_calendar=view.from_calendar,
                participant_count=len(view.participants), duration_seconds=view.duration_s,
                language=view.language, bot_id=str(view.bot_id) if view.bot_id else None)


def _person(person: MeetingParticipant) -> dict[str, Any]:
    return dict(id=person.id, name=person.name, email=person.email)


def _detail(view: MeetingView) -> MeetingDetail:
    event = view.calendar_event
    return MeetingDetail(
        **_item_fields(view), location=view.location,
        host=MeetingHost(**_person(view.host)) if view.host else None,
        keywords=view.keywords, num_cluster=view.num_cluster, topic_id=view.topic_id,
        calendar_event=CalendarEvent(
            event_id=event.event_id, summary=event.summary,
            organizer_email=event.organizer_email, attendees=event.attendees,
            meeting_link=event.meeting_link, start_time=_at(event.start_time),
            end_time=_at(event.end_time)) if event else None,
        error=view.error)


def _organization(caller: Caller, raw: Any, *, required: bool) -> None:
    """`organization_id` names the caller's account, else a 400 (not a whole number > 0) or a
    403 (another organisation)."""
    if raw is None:
        if required:
            raise ApiError(400, "InvalidParameter", "organization_id: is required",
                           field="organization_id")
        return
    try:
        value = int(raw)
    except (TypeError, ValueError):
        value = 0
    if isinstance(raw, bool) or value < 1 or (
            isinstance(raw, str) and not (raw.isascii() and raw.isdigit())):
        raise ApiError(400, "InvalidParameter",
                       "organization_id: must be a whole number greater than 0",
                       field="organization_id")
    if value != caller.account_id:
        raise ApiError(403, "Forbidden", f"organization_id: this API key has no access to "
                       f"organization {value}", field="organization_id")


def _meeting_id(request: web.Request) -> int:
    raw = request.match_info["meeting_id"]
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_ID:
        raise ApiError(400, "InvalidParameter", f"meeting_id: {raw!r} is not a meeting id",
                       field="meeting_id")
    return int(raw)


def _boolean(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    if raw == "true":
        return True
    if raw == "false":
        return False
    raise ApiError(400, "InvalidParameter", f"{name}: must be true or false", field=name)


def _day(request: web.Request, name: str) -> date | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, "InvalidParameter", f"{name}: not a date (YYYY-MM-DD)",
                       field=name) from None


def _whole(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ApiError(400, "InvalidParameter",
                       f"{name}: must be a whole number from {low} to {high}", field=name)
    return int(raw)


def _participant_ids(request: web.Request) -> list[int]:
    raw = request.query.get("participants")
    if raw is None:
        return []
    if not re.match(PARTICIPANT_IDS_PATTERN, raw):
        raise ApiError(400, "InvalidParameter", "participants: must be participant ids "
                       "separated by commas, e.g. 3,7", field="participants")
    return [int(part) for part in raw.split(",") if part.strip(" ")]


@routes.get("/meetings/")
@routes.get("/meetings")
async def list_meetings(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    _organization(caller, request.query.get("organization_id"), required=False)
    page = _whole(request, "page", 1, 1, MAX_ID)
    size = _whole(request, "size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    title = request.query.get("title")
    query = ListMeetings(
        account_id=caller.account_id, title=title.strip(BLANKS) if title else None,
        participant_ids=_participant_ids(request),
        created_after=_day(request, "created_after"),
        created_before=_day(request, "created_before"),
        summary_complete=_boolean(request, "summary_complete"),
        from_calendar=_boolean(request, "from_calendar"),
        offset=(page - 1) * size, limit=size)
    reply: MeetingPage = await _ask(request, query, MeetingPage)

    def link(to_page: int) -> str:
        return str(request.url.update_query({"page": str(to_page), "size": str(size)}))

    return json_response(MeetingListResponse(
        count=reply.count,
        next=link(page + 1) if page * size < reply.count else None,
        previous=link(page - 1) if page > 1 else None,
        results=[MeetingListItem(**_item_fields(view)) for view in reply.meetings]))


def _create_command(caller: Caller, body: CreateMeetingRequest, settings, key_ring: KeyRing
                    ) -> CreateMeeting:
    _organization(caller, body.organization_id, required=True)
    title = body.title.strip(BLANKS)
    if not title:
        raise ApiError(400, "InvalidParameter", "title: must not be empty", field="title")
    if body.bot_meeting_url and body.file_url:
        raise ApiError(400, "InvalidParameter", "file_url: give bot_meeting_url or file_url, "
                       "not both", field="file_url")
    for n, email in enumerate(body.participants):
        if not re.match(EMAIL_PATTERN, email):
            raise ApiError(400, "InvalidParameter", f"participants[{n}]: {email!r} is not an "
                           "email address", field=f"participants[{n}]")
    join_at = _aware(body.bot_join_at)
    if join_at is not None:
        if not body.bot_meeting_url:
            raise ApiError(400, "InvalidParameter", "bot_join_at: needs a bot_meeting_url",
                           field="bot_join_at")
        if join_at <= datetime.now(UTC):
            raise ApiError(400, "InvalidParameter", "bot_join_at: must be in the future",
                           field="bot_join_at")
    bot = None
    if body.bot_meeting_url:
        try:
            meeting = parse_meeting_url(body.bot_meeting_url)
        except (InvalidMeetingUrl, ValueError) as exc:
            raise ApiError(400, "InvalidMeetingUrl", f"bot_meeting_url: {exc}",
                           field="bot_meeting_url") from None
        name = (body.bot_name or "").strip(BLANKS) or settings.meeting_bot_name
        bot = BotParams(meeting_url=meeting.url, platform=meeting.platform, bot_name=name,
                        speech_to_text=SpeechToText(), meeting_title=title)
    file_url = None
    if body.file_url is not None:
        file_url = key_ring.seal(urls.guarded(body.file_url.strip(BLANKS), "file_url",
                                              settings.outbound_policy))
    event = None
    if body.calendar_event is not None:
        given = body.calendar_event
        if not given.event_id.strip(BLANKS):
            raise ApiError(400, "InvalidParameter", "calendar_event.event_id: must not be "
                           "empty", field="calendar_event.event_id")
        event = CalendarEventSnapshot(
            event_id=given.event_id.strip(BLANKS), summary=given.summary,
            organizer_email=given.organizer_email, attendees=given.attendees,
            meeting_link=given.meeting_link, start_time=_aware(given.start_time),
            end_time=_aware(given.end_time))
    return CreateMeeting(
        account_id=caller.account_id, title=title, start_time=_aware(body.start_time),
        topic_id=body.topic_id, participants=body.participants,
        bot=bot, bot_join_at=join_at, file_url=file_url, speaker_count=body.speaker_count,
        calendar_event=event)


def _aware(value: datetime | None) -> datetime | None:
    """A date-time without a time zone is taken as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _invalid(exc: ValidationError) -> ApiError:
    """A body that does not fit is a 400 naming the first field, as the meetings API says."""
    first = exc.errors(include_url=False)[0]
    field = ".".join(str(p) for p in first["loc"]) or "body"
    return ApiError(400, "InvalidParameter", f"{field}: {first['msg']}", field=field)


@routes.post("/meetings/")
@routes.post("/meetings")
async def create_meeting(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    try:
        body = CreateMeetingRequest.model_validate(await read_json(request))
    except ValidationError as exc:
        raise _invalid(exc) from None
    command = _create_command(caller, body, request.app[SETTINGS], request.app[KEY_RING])
    view: MeetingView = await _ask(request, command, MeetingView)
    return json_response(_detail(view), status=201)


async def _view(request: web.Request) -> MeetingView:
    caller: Caller = request[CALLER]
    return await _ask(request, GetMeeting(account_id=caller.account_id,
                                          meeting_id=_meeting_id(request)), MeetingView)


@routes.get(MEETING)
async def get_meeting(request: web.Request) -> web.Response:
    return json_response(_detail(await _view(request)))


@routes.get(MEETING + "/transcript")
async def get_transcript(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    reply: MeetingTranscript = await _ask(
        request, GetMeetingTranscript(account_id=caller.account_id,
                                      meeting_id=_meeting_id(request)), MeetingTranscript)
    return json_response(TranscriptResponse(
        meeting_id=reply.meeting_id, title=reply.title, total_segments=len(reply.lines),
        transcripts=[TranscriptSegment(speaker=line.speaker, text=line.text,
                                       start_time=line.start_time, end_time=line.end_time)
                     for line in reply.lines]))


@routes.get(MEETING + "/summary")
async def get_summary(request: web.Request) -> web.Response:
    view = await _view(request)
    return json_response(SummaryResponse(
        meeting_id=view.id, title=view.title, summary=view.summary, notes=view.notes,
        keywords=view.keywords, summary_complete=view.summary_complete))


@routes.get(MEETING + "/participants")
async def get_participants(request: web.Request) -> web.Response:
    view = await _view(request)
    return json_response(ParticipantsResponse(
        meeting_id=view.id, title=view.title, total_participants=len(view.participants),
        participants=[Participant(**_person(p)) for p in view.participants]))


@routes.get(MEETING + "/recording")
async def get_recording(request: web.Request) -> web.Response:
    view = await _view(request)
    url = await request.app[STORE].presigned_url_if_exists(view.recording_key) or None
    return json_response(RecordingResponse(
        meeting_id=view.id, title=view.title, recording_url=url,
        duration=view.duration_s if url else None, format=view.recording_format if url else None))


@routes.get("/topics/")
@routes.get("/topics")
async def list_topics(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    _organization(caller, request.query.get("organization_id"), required=False)
    reply: TopicList = await _ask(request, ListTopics(account_id=caller.account_id), TopicList)
    return json_response(TopicListResponse([
        TopicResponse(id=t.id, name=t.name, alias=t.alias, language=t.language)
        for t in reply.topics]))
