"""Response bodies of the REST surface, as pydantic models.

The handlers build their bodies through these models (`json_response`), and the OpenAPI document
served at `/openapi.json` takes its response schemas from the same models, so the two cannot drift.
Names follow the reference OpenAPI document (Meeting BaaS API v1) where it has one.

Dates are strings (`format: date-time`) produced by `datetime.isoformat()` on aware datetimes,
as every date this gateway answers.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, RootModel

from mb_shared.contracts.bot import (
    BotError,
    BotStatus,
    EndReason,
    RecordingMode,
    SpeechToTextProvider,
)
from mb_shared.contracts.separate_parts import SeparateAudioPart, SeparateVideoPart

DateTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Extra = Annotated[dict[str, Any], Field(description="Custom data object")]


class Body(BaseModel):
    """A response body: every field is always present (nullable ones as `null`), no other key."""

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


def json_response(body: BaseModel, *, status: int = 200,
                  headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body.model_dump(mode="json"), status=status, headers=headers)


# Errors ------------------------------------------------------------------------------------------


class FieldError(Body):
    field: str = Field(description="Dotted path of the offending field, or `body`")
    message: str


class ErrorBody(BaseModel):
    """Every error: a machine-readable `code`, a `message` for humans naming the field, the
    `field` when one is at fault, and for validation errors (422) every problem in `errors`."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(examples=["InvalidMeetingUrl"])
    message: str
    field: str | None = Field(default=None, description="Absent when no single field is at fault")
    errors: list[FieldError] | None = Field(default=None,
                                            description="Every validation problem (422 only)")

    def response(self, status: int, headers: dict[str, str] | None = None) -> web.Response:
        return web.json_response(self.model_dump(mode="json", exclude_none=True), status=status,
                                 headers=headers)


# Simple answers ----------------------------------------------------------------------------------


class OkResponse(Body):
    """The reference's `LeaveResponse`."""

    ok: bool


class Health(Body):
    ok: bool


class JoinResponse(Body):
    bot_id: UUID


DeleteStatus = Literal["deleted", "partiallyDeleted", "alreadyDeleted", "noDataFound"]


class DeleteResponse(Body):
    ok: bool = Field(description="Whether the request was processed successfully")
    status: DeleteStatus = Field(description="The detailed status of the deletion operation")


# Meeting data ------------------------------------------------------------------------------------


class Word(Body):
    id: int
    bot_id: int
    start_time: float
    end_time: float
    text: str
    user_id: int | None


class Transcript(Body):
    id: int
    bot_id: int
    speaker: str
    start_time: float
    end_time: float | None
    lang: str | None
    user_id: int | None
    words: list[Word]


class BotWithParams(Body):
    """A bot in the reference's `BotWithParams` shape."""

    id: int
    uuid: UUID
    account_id: int
    bot_param_id: int
    bot_name: str
    bot_image: str | None
    meeting_url: str
    created_at: DateTime
    bot_joined_at: DateTime | None
    bot_exited_at: DateTime | None
    ended_at: DateTime | None
    is_stopped: bool
    errors: str | None
    diarization_v2: bool
    reserved: bool
    event_id: int | None
    scheduled_bot_id: int | None
    session_id: str | None
    mp4_s3_path: str
    deduplication_key: str | None
    enter_message: str | None
    extra: Extra
    recording_mode: RecordingMode | None
    speech_to_text_provider: SpeechToTextProvider | None
    speech_to_text_api_key: None = Field(description="Never returned")
    streaming_input: str | None
    streaming_output: str | None
    streaming_audio_frequency: Literal["16khz", "24khz"] | None
    transcription_custom_parameters: Extra
    waiting_room_timeout: int | None
    noone_joined_timeout: int | None
    silence_timeout: int | None
    webhook_url: str
    zoom_access_token_url: str | None
    zoom_obf_token: None = Field(description="Never returned")
    zoom_obf_token_url: str | None
    zoom_obf_token_user_id: str | None
    zoom_sdk_id: str | None
    zoom_sdk_pwd: None = Field(description="Never returned")


class BotData(Body):
    bot: BotWithParams
    transcripts: list[Transcript]
    event_uuid: UUID | None = Field(
        description="UUID of the calendar event (if this bot was created from an event)")


class Metadata(Body):
    """`GET /bots/meeting_data`. File URLs are presigned for one hour, `""` where there is no
    file."""

    bot_data: BotData
    duration: int = Field(description="Duration of the recording in seconds")
    mp4: str
    audio: str
    speaker_diarization_file: str = Field(
        description="When each speaker started and stopped speaking, as the reference API "
        "describes this file: a JSON array of `{name, id, timestamp, isSpeaking}` (`id` the "
        "participant's id of `meeting_participants_file`, `timestamp` unix milliseconds), in "
        "order of time.")
    speaker_timeline_file: str = Field(
        description="The speaker timeline as the recording download schemas' Speaker Timeline: "
        "`{participant, start_timestamp, end_timestamp}` per turn, `relative` in seconds of the "
        "recording.")
    meeting_participants_file: str = Field(
        description="The meeting's participants as the recording download schemas' Participant "
        "list: `id` (stable within the meeting: two people with one name are two participants, a "
        "rejoin keeps its id), `name`, `is_host` (null where the page does not show it), "
        "`platform`, `extra_data`. The bot itself is not listed.")
    speaker_diarization_file_network: str
    participant_events_file: str = Field(
        description="What the participants did, as the recording download schemas' Participant "
        "Event list, in order of time: `join`, `leave`, `update` (renamed; `participant` as they "
        "were before), `speech_on`, `speech_off`, `webcam_on`, `webcam_off`, `screenshare_on`, "
        "`screenshare_off` (a camera or screenshare on when its owner leaves goes off then), "
        "`chat_message` (`data`: `text` as sent, `to`: "
        "`everyone` or `only_bot`), each with `timestamp.absolute` (ISO 8601) and "
        "`timestamp.relative` (seconds of the recording). Participants already in the call when "
        "the bot arrived join when it first saw them.")
    transcript_provider_data_file: str = Field(
        description="The raw answers of the speech-to-text provider the current transcript was "
        "made from, as the recording download schemas' Transcript Provider Data: `parts`, each "
        "with `source_audio.offset` (seconds of the recording where the audio it was given "
        "starts), `type` and `data`: `http_response` (`url` without its query string, "
        "`status_code`, `body`) for Gladia and Runpod, `local_model` (the model's output for a "
        "window: `payload` with its segments and words) for `Default`. Empty without a "
        "transcript.")
    transcript_file: str = Field(
        description="The current transcript as the recording download schemas' Transcript: per "
        "segment, `participant` (`id` of `meeting_participants_file`, `name`; id 0 and no name "
        "for speech no one was shown speaking) and `words` with relative times. Empty without "
        "a transcript.")
    separate_audio_parts: list[SeparateAudioPart] = Field(
        description="Each participant's own voice, as the recording download schemas' "
        "Participant Separate Audio Parts: one FLAC (16 kHz mono) per participant heard, from "
        "their first words (`start_timestamp`, `relative` in seconds of the recording) for "
        "`duration` seconds, silent while they do not speak. Only where the platform plays "
        "voices apart (Google Meet); Teams and Zoom play the meeting as one mixed stream, and "
        "the list is empty.")
    separate_video_parts: list[SeparateVideoPart] = Field(
        description="Each webcam and screenshare on its own, as the recording download schemas' "
        "Participant Separate Video Parts: one WebM (VP8, no sound) per stretch that a "
        "participant's webcam or screenshare (`type`) was on, from `start_timestamp` for "
        "`duration` seconds; a stream the page replaced while on starts a new part. Only where "
        "the page plays each video on an element of its own (Google Meet, Teams); Zoom paints "
        "every video on canvases it does not hand out, and the list is empty there. Empty for "
        "an `audio_only` bot.")


# GET /bots/{uuid} --------------------------------------------------------------------------------


class StatusEntry(Body):
    code: BotStatus
    created_at: DateTime
    error: BotError | None
    reason: EndReason | None
    message: str | None


class BotParam(Body):
    """The reference's flat `BotParam`: a bot's parameters as the API shows them. Secrets are
    never shown again: `speech_to_text_api_key`, `zoom_obf_token` and `zoom_sdk_pwd` are null."""

    bot_image: str | None
    bot_name: str
    deduplication_key: str | None
    enter_message: str | None
    extra: Extra
    noone_joined_timeout: int | None
    recording_mode: RecordingMode | None
    speech_to_text_api_key: None
    speech_to_text_provider: SpeechToTextProvider | None
    streaming_audio_frequency: Literal["16khz", "24khz"] | None
    streaming_input: str | None
    streaming_output: str | None
    transcription_custom_parameters: Extra
    waiting_room_timeout: int | None
    webhook_url: str = Field(description="The bot's own webhook URL, or \"\" for the account's")
    zoom_access_token_url: str | None
    zoom_obf_token: None
    zoom_obf_token_url: str | None
    zoom_obf_token_user_id: str | None
    zoom_sdk_id: str | None
    zoom_sdk_pwd: None

    @classmethod
    def of(cls, params: dict[str, Any]) -> BotParam:
        """From the stored parameters (`BotParams` as JSON)."""
        leave = params.get("automatic_leave") or {}
        streaming = params.get("streaming") or {}
        zoom = params.get("zoom") or {}
        stt = params.get("speech_to_text") or {}
        custom = params.get("transcription_custom_parameters")
        return cls.model_validate({
            "bot_image": params.get("bot_image"), "bot_name": params["bot_name"],
            "deduplication_key": params.get("deduplication_key"),
            "enter_message": params.get("entry_message"), "extra": params.get("extra") or {},
            "noone_joined_timeout": leave.get("noone_joined_timeout"),
            "recording_mode": params.get("recording_mode"),
            "speech_to_text_api_key": None, "speech_to_text_provider": stt.get("provider"),
            "streaming_audio_frequency": streaming.get("audio_frequency"),
            "streaming_input": streaming.get("input"),
            "streaming_output": streaming.get("output"),
            "transcription_custom_parameters": custom if isinstance(custom, dict) else {},
            "waiting_room_timeout": leave.get("waiting_room_timeout"),
            "webhook_url": params.get("webhook_url") or "",
            "zoom_access_token_url": zoom.get("zoom_access_token_url"), "zoom_obf_token": None,
            "zoom_obf_token_url": zoom.get("zoom_obf_token_url"),
            "zoom_obf_token_user_id": zoom.get("zoom_obf_token_user_id"),
            "zoom_sdk_id": zoom.get("zoom_sdk_id"), "zoom_sdk_pwd": None,
        })


class BotParamDetails(BotParam):
    """`BotParam` with what the bot was sent to, when, and from which calendar event."""

    meeting_url: str
    start_time: int | None = Field(description="When the bot was asked to join (Unix seconds), "
                                   "or null for at once")
    silence_timeout: int | None
    event_uuid: UUID | None = Field(description="The calendar event the bot was scheduled for")

    @classmethod
    def of(cls, params: dict[str, Any]) -> BotParamDetails:
        flat = BotParam.of(params).model_dump()
        return cls.model_validate({
            **flat, "meeting_url": params["meeting_url"], "start_time": params.get("start_time"),
            "silence_timeout": (params.get("automatic_leave") or {}).get("silence_timeout"),
            "event_uuid": params.get("event_uuid"),
        })


class BotDetails(Body):
    """`GET /bots/{uuid}`: the bot, its parameters (without secrets), its status and history."""

    bot: BotWithParams
    duration: int
    status: StatusEntry | None
    status_history: list[StatusEntry]
    params: BotParamDetails
    transcription_error: str | None = Field(
        description="Why the transcript asked for could not be made (null when it was, or when "
        "none was asked for)")


# Listing -----------------------------------------------------------------------------------------


class RecentBotEntry(Body):
    """A bot as `list-bots-with-metadata` shows it: `id` is the bot's UUID (the reference marks it
    legacy and "serialized as a UUID string"), `uuid` the same, `name` and `bot_name` its name."""

    id: UUID = Field(description="The bot's UUID (legacy name of `uuid`)")
    uuid: UUID
    name: str
    bot_name: str
    content_deleted: bool = Field(description="Its recording and transcript were deleted "
                                  "(`POST /bots/{uuid}/delete_data`)")
    event_uuid: UUID | None = Field(description="The calendar event the bot was scheduled for")
    meeting_url: str
    created_at: DateTime
    ended_at: DateTime | None
    duration: int | None
    speakers: list[str]
    extra: Extra
    session_id: str | None
    access_count: int | None
    last_accessed_at: DateTime | None


class ListRecentBotsResponse(Body):
    """Newest first. `recent_bots` repeats `bots` for older clients; pass `next_cursor` as
    `cursor` for the next page (null on the last one)."""

    bots: list[RecentBotEntry]
    recent_bots: list[RecentBotEntry]
    next_cursor: str | None
    last_updated: DateTime


# Screenshots -------------------------------------------------------------------------------------


class ScreenshotWrapper(Body):
    date: DateTime
    url: str


class ScreenshotsList(RootModel[list[ScreenshotWrapper]]):
    pass


# Accounts ----------------------------------------------------------------------------------------


class GetWebhookUrlResponse(Body):
    webhook_url: str | None


class WebhookSecretResponse(Body):
    secret: str = Field(description="A Standard Webhooks secret (`whsec_` and base64)")


class ApiKeyView(Body):
    prefix: str
    created_at: DateTime
    revoked_at: DateTime | None
    active: bool


class ApiKeyList(Body):
    api_keys: list[ApiKeyView]


class ApiKeyResponse(ApiKeyView):
    """A new key: `api_key` is shown this once."""

    api_key: str


# Calendars ---------------------------------------------------------------------------------------


class Calendar(Body):
    uuid: UUID
    name: str
    email: str
    google_id: str = Field(description="The calendar's id at its provider (Google or Microsoft)")
    resource_id: str | None


class CreateCalendarResponse(Body):
    calendar: Calendar


class CalendarListEntry(Body):
    id: str
    email: str
    is_primary: bool


class ListRawCalendarsResponse(Body):
    calendars: list[CalendarListEntry]


class ResyncAllCalendarsResponse(Body):
    synced_calendars: list[UUID] = Field(
        description="Calendars synced with their provider")
    errors: list[Annotated[list[str], Field(min_length=2, max_length=2)]] = Field(
        description="Calendars that could not be synced: each a pair of the calendar's UUID "
        "and the reason")


class Attendee(Body):
    email: str
    name: str | None


class Event(Body):
    uuid: UUID
    calendar_uuid: UUID
    google_id: str = Field(description="The event's id at its provider (Google or Microsoft)")
    name: str
    start_time: DateTime = Field(description="In UTC")
    end_time: DateTime = Field(description="In UTC")
    meeting_url: str = Field(description="The Meet, Teams or Zoom link found in the event, or "
                             "\"\" when it has none")
    attendees: list[Attendee]
    is_organizer: bool
    is_recurring: bool
    recurring_event_id: str | None
    deleted: bool
    raw: Extra = Field(description="The event as the provider described it")
    last_updated_at: DateTime
    bot_param: BotParam | None = Field(description="The bot scheduled for this event, if any")


class ListEventResponse(Body):
    data: list[Event]
    next: str | None = Field(description="The URL of the next page (100 events a page), or "
                             "null on the last one")


class ZoomOAuthConnectionResponse(Body):
    """A stored Zoom OAuth connection; its tokens are never shown."""

    uuid: UUID
    zoom_user_id: str = Field(description="Use it as `zoom_obf_token_user_id` of a bot")
    zoom_account_id: str | None
    scopes: str | None
    state: str = Field(description="`connected`, or `refresh_failed`: the user must authorize "
                       "the app again")
    connection_failure_data: dict[str, Any] | None = Field(
        description="Why the refresh failed (only with `refresh_failed`)")
    created_at: DateTime
    updated_at: DateTime
