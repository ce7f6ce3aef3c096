"""Models of the `/bots` answers (Meeting BaaS API v1): the bot sent, its details and status
history, its meeting data, the listing of bots, deletions and screenshots. Enumerations the
server may grow (statuses, providers, recording modes) are plain strings here."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from meetingbots.models._base import ApiModel, Extra, Timestamp


class JoinResponse(ApiModel):
    bot_id: UUID


class OkResponse(ApiModel):
    """`leave` and `retry_webhook`: the reference's `LeaveResponse`."""

    ok: bool


class DeleteResponse(ApiModel):
    ok: bool
    status: str
    """`deleted`, `partiallyDeleted`, `alreadyDeleted` or `noDataFound`."""


class Word(ApiModel):
    id: int
    bot_id: int
    start_time: float
    end_time: float
    text: str
    user_id: int | None


class Transcript(ApiModel):
    id: int
    bot_id: int
    speaker: str
    start_time: float
    end_time: float | None
    lang: str | None
    user_id: int | None
    words: list[Word]


class BotWithParams(ApiModel):
    id: int
    uuid: UUID
    account_id: int
    bot_param_id: int
    bot_name: str
    bot_image: str | None
    meeting_url: str
    created_at: Timestamp
    bot_joined_at: Timestamp | None
    bot_exited_at: Timestamp | None
    ended_at: Timestamp | None
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
    recording_mode: str | None
    speech_to_text_provider: str | None
    speech_to_text_api_key: str | None
    streaming_input: str | None
    streaming_output: str | None
    streaming_audio_frequency: str | None
    transcription_custom_parameters: Extra
    waiting_room_timeout: int | None
    noone_joined_timeout: int | None
    silence_timeout: int | None
    webhook_url: str
    zoom_access_token_url: str | None
    zoom_obf_token: str | None
    zoom_obf_token_url: str | None
    zoom_obf_token_user_id: str | None
    zoom_sdk_id: str | None
    zoom_sdk_pwd: str | None


class BotData(ApiModel):
    bot: BotWithParams
    transcripts: list[Transcript]
    event_uuid: UUID | None


class TimelineParticipant(ApiModel):
    """A participant as `meeting_participants_file` lists them."""

    id: int
    name: str | None = None
    is_host: bool | None = None
    platform: str | None = None
    extra_data: Any = None


class EventTimestamp(ApiModel):
    absolute: str
    """ISO 8601, UTC."""
    relative: float
    """Seconds from the start of the recording."""


class SeparateAudioPart(ApiModel):
    """One participant's voice (FLAC, 16 kHz mono)."""

    id: str
    participant: TimelineParticipant
    start_timestamp: EventTimestamp
    duration: float
    download_url: str


class SeparateVideoPart(SeparateAudioPart):
    """One stretch of a webcam or a screenshare (WebM); `type` says which."""

    type: str


class Metadata(ApiModel):
    """`meeting_data`: file URLs are presigned for one hour, `""` where there is no file."""

    bot_data: BotData
    duration: int
    mp4: str
    audio: str
    speaker_diarization_file: str
    speaker_timeline_file: str
    meeting_participants_file: str
    speaker_diarization_file_network: str
    participant_events_file: str
    transcript_provider_data_file: str
    transcript_file: str
    separate_audio_parts: list[SeparateAudioPart]
    separate_video_parts: list[SeparateVideoPart]


class StatusEntry(ApiModel):
    code: str
    created_at: Timestamp
    error: str | None
    reason: str | None
    message: str | None


class BotParam(ApiModel):
    """A bot's parameters as the API shows them, flat; secrets are always None."""

    bot_image: str | None
    bot_name: str
    deduplication_key: str | None
    enter_message: str | None
    extra: Extra
    noone_joined_timeout: int | None
    recording_mode: str | None
    speech_to_text_api_key: str | None
    speech_to_text_provider: str | None
    streaming_audio_frequency: str | None
    streaming_input: str | None
    streaming_output: str | None
    transcription_custom_parameters: Extra
    waiting_room_timeout: int | None
    webhook_url: str
    zoom_access_token_url: str | None
    zoom_obf_token: str | None
    zoom_obf_token_url: str | None
    zoom_obf_token_user_id: str | None
    zoom_sdk_id: str | None
    zoom_sdk_pwd: str | None


class BotParamDetails(BotParam):
    meeting_url: str
    start_time: int | None
    """When the bot was asked to join (Unix seconds), None for at once."""
    silence_timeout: int | None
    event_uuid: UUID | None


class BotDetails(ApiModel):
    """`get`: the bot, its parameters, its current status and its status history."""

    bot: BotWithParams
    duration: int
    status: StatusEntry | None
    status_history: list[StatusEntry]
    params: BotParamDetails
    transcription_error: str | None


class RecentBotEntry(ApiModel):
    id: UUID
    uuid: UUID
    name: str
    bot_name: str
    content_deleted: bool
    event_uuid: UUID | None
    meeting_url: str
    created_at: Timestamp
    ended_at: Timestamp | None
    duration: int | None
    speakers: list[str]
    extra: Extra
    session_id: str | None
    access_count: int | None
    last_accessed_at: Timestamp | None


class ListRecentBotsResponse(ApiModel):
    """A page of bots, newest first; pass `next_cursor` as `cursor` for the next (None on the
    last page)."""

    bots: list[RecentBotEntry]
    recent_bots: list[RecentBotEntry]
    next_cursor: str | None
    last_updated: Timestamp


class Screenshot(ApiModel):
    """The reference's `ScreenshotWrapper`: when it was taken, and the PNG (presigned URL)."""

    date: Timestamp
    url: str
