"""Contracts of the bot aggregate: its parameters, lifecycle and events."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from mb_shared.contracts.base import Event, Message
from mb_shared.contracts.separate_parts import StoredAudioPart, StoredVideoPart


class Platform(StrEnum):
    GOOGLE_MEET = "google_meet"
    MICROSOFT_TEAMS = "microsoft_teams"
    ZOOM = "zoom"


class RecordingMode(StrEnum):
    SPEAKER_VIEW = "speaker_view"
    GALLERY_VIEW = "gallery_view"
    AUDIO_ONLY = "audio_only"


class SpeechToTextProvider(StrEnum):
    DEFAULT = "Default"
    GLADIA = "Gladia"
    RUNPOD = "Runpod"


class SpeechToText(Message):
    """The provider a transcript is made with. `api_key` is only ever a sealed value (see
    `mb_shared.secrets`), between the gateway and the scheduler; events carry none."""

    provider: SpeechToTextProvider = SpeechToTextProvider.DEFAULT
    api_key: str | None = None
    live_transcript: bool = False
    """Deliver what is said during the call (`bot.live_transcript` webhooks)."""


class BotStatus(StrEnum):
    """A bot's lifecycle. The first five after `queued` are the documented webhook codes."""

    QUEUED = "queued"
    JOINING_CALL = "joining_call"
    IN_WAITING_ROOM = "in_waiting_room"
    IN_CALL_NOT_RECORDING = "in_call_not_recording"
    IN_CALL_RECORDING = "in_call_recording"
    CALL_ENDED = "call_ended"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in (BotStatus.COMPLETED, BotStatus.FAILED)

    @property
    def is_with_runner(self) -> bool:
        """A runner holds the bot and must keep sending heartbeats."""
        return self in _WITH_RUNNER


_WITH_RUNNER = frozenset(
    {
        BotStatus.JOINING_CALL,
        BotStatus.IN_WAITING_ROOM,
        BotStatus.IN_CALL_NOT_RECORDING,
        BotStatus.IN_CALL_RECORDING,
        BotStatus.CALL_ENDED,
    }
)

WEBHOOK_STATUS_CODES = frozenset(
    {
        BotStatus.JOINING_CALL,
        BotStatus.IN_WAITING_ROOM,
        BotStatus.IN_CALL_NOT_RECORDING,
        BotStatus.IN_CALL_RECORDING,
        BotStatus.CALL_ENDED,
    }
)

LEGAL_TRANSITIONS: dict[BotStatus, frozenset[BotStatus]] = {
    BotStatus.QUEUED: frozenset({BotStatus.JOINING_CALL, BotStatus.FAILED}),
    BotStatus.JOINING_CALL: frozenset(
        {
            BotStatus.IN_WAITING_ROOM,
            BotStatus.IN_CALL_NOT_RECORDING,
            BotStatus.CALL_ENDED,
            BotStatus.FAILED,
        }
    ),
    BotStatus.IN_WAITING_ROOM: frozenset(
        {BotStatus.IN_CALL_NOT_RECORDING, BotStatus.CALL_ENDED, BotStatus.FAILED}
    ),
    BotStatus.IN_CALL_NOT_RECORDING: frozenset(
        {BotStatus.IN_CALL_RECORDING, BotStatus.CALL_ENDED, BotStatus.FAILED}
    ),
    BotStatus.IN_CALL_RECORDING: frozenset({BotStatus.CALL_ENDED, BotStatus.FAILED}),
    BotStatus.CALL_ENDED: frozenset({BotStatus.COMPLETED, BotStatus.FAILED}),
    BotStatus.COMPLETED: frozenset(),
    BotStatus.FAILED: frozenset(),
}


def is_legal_transition(current: BotStatus, new: BotStatus) -> bool:
    return new in LEGAL_TRANSITIONS[current]


class BotError(StrEnum):
    """The documented `failed` webhook errors."""

    CANNOT_JOIN_MEETING = "CannotJoinMeeting"
    TIMEOUT_WAITING_TO_START = "TimeoutWaitingToStart"
    BOT_NOT_ACCEPTED = "BotNotAccepted"
    INTERNAL_ERROR = "InternalError"
    INVALID_MEETING_URL = "InvalidMeetingUrl"


class EndReason(StrEnum):
    """Why a bot's visit ended, finer than the webhook error."""

    INVALID_URL = "invalid_url"
    MEETING_NOT_FOUND = "meeting_not_found"
    SIGN_IN_REQUIRED = "sign_in_required"
    PASSCODE_REQUIRED = "passcode_required"
    BOT_WALL = "bot_wall"
    DENIED = "denied"
    WAITING_ROOM_TIMEOUT = "waiting_room_timeout"
    NO_ONE_JOINED = "no_one_joined"
    EVERYONE_LEFT = "everyone_left"
    SILENCE_TIMEOUT = "silence_timeout"
    REMOVED = "removed"
    MEETING_ENDED = "meeting_ended"
    LEFT_ON_REQUEST = "left_on_request"
    RUNNER_LOST = "runner_lost"
    BROWSER_CRASHED = "browser_crashed"
    CANCELLED = "cancelled"
    INTERNAL_ERROR = "internal_error"


class AutomaticLeave(Message):
    waiting_room_timeout: int = 600
    noone_joined_timeout: int = 600
    silence_timeout: int = 600


ZOOM_SECRETS = ("zoom_obf_token", "zoom_sdk_pwd")
"""`POST /bots/` fields that are secrets: sealed at the gateway, never on the bus in an event."""


class BotParams(Message):
    """What the caller asked for, normalised by the gateway."""

    meeting_url: str
    platform: Platform
    bot_name: str
    bot_image: str | None = None
    entry_message: str | None = None
    recording_mode: RecordingMode = RecordingMode.SPEAKER_VIEW
    speech_to_text: SpeechToText | None = None
    automatic_leave: AutomaticLeave = Field(default_factory=AutomaticLeave)
    start_time: int | None = None
    deduplication_key: str | None = None
    webhook_url: str | None = None
    extra: dict[str, Any] | None = None
    streaming: dict[str, Any] | None = None
    transcription_custom_parameters: Any = None
    zoom: dict[str, Any] | None = None
    event_uuid: UUID | None = None
    """The calendar event the bot was scheduled for (by calendar-sync), if any."""
    meeting_title: str | None = None
    """The title of the meeting the bot goes to, when known: the calendar event's, or the one
    given to `POST /meetings/`."""
    language: str | None = None
    """The language spoken in the meeting (ISO 639-1), when known: a meeting's topic sets it. The
    bot's transcripts, live and final, are made in it (else in the transcriber's own)."""

    def without_secrets(self) -> BotParams:
        """The parameters as events carry them: no provider key and no Zoom secret, sealed or
        not (the scheduler keeps them; see `join_secrets`)."""
        update: dict[str, Any] = {}
        if self.speech_to_text is not None and self.speech_to_text.api_key is not None:
            update["speech_to_text"] = self.speech_to_text.model_copy(update={"api_key": None})
        if self.join_secrets():
            update["zoom"] = {k: v for k, v in (self.zoom or {}).items()
                              if k not in ZOOM_SECRETS} or None
        return self.model_copy(update=update) if update else self

    def join_secrets(self) -> dict[str, str]:
        """The customer's Zoom secrets (sealed from the gateway on), which the bot-runner gets
        only when it joins (`GetJoinSecrets`)."""
        zoom = self.zoom or {}
        return {k: str(zoom[k]) for k in ZOOM_SECRETS if zoom.get(k)}


class BotRequested(Event):
    """The scheduler created a bot (published on creation, before dispatch). Where its webhooks
    go and how they are signed belong to the account, and are looked up when delivering."""

    SUBJECT = "bot.requested"
    STREAM = "EVENTS"
    SCHEMA_VERSION = 2

    bot_id: UUID
    account_id: int
    params: BotParams
    schema_version: int = 2


class BotDispatched(Event):
    """A bot is due: one bot-runner takes it from the work queue."""

    SUBJECT = "bot.dispatch"
    STREAM = "DISPATCH"

    bot_id: UUID
    account_id: int
    params: BotParams


class BotStatusChanged(Event):
    """A runner reports where its bot is. `failed` carries the error and reason."""

    SUBJECT = "bot.status_change"
    STREAM = "EVENTS"

    bot_id: UUID
    status: BotStatus
    error: BotError | None = None
    reason: EndReason | None = None
    message: str | None = None
    runner_id: str | None = None


class BotNoted(Event):
    """A runner notes what happened to its bot without a change of status (a live audio socket
    interrupted or back): an entry of the bot's status history, under its current status."""

    SUBJECT = "bot.noted"
    STREAM = "EVENTS"

    bot_id: UUID
    message: str
    runner_id: str | None = None


class BotLeaveRequested(Event):
    """The user asked the bot to leave (`DELETE /bots/{uuid}`). Runners hear it at once; one that
    missed it is told again in the answer to its next heartbeat."""

    SUBJECT = "bot.leave_requested"
    STREAM = "EVENTS"

    bot_id: UUID


class BotCompleted(Event):
    """The bot's data is ready: recording stored, transcript (if asked) stored."""

    SUBJECT = "bot.completed"
    STREAM = "EVENTS"

    bot_id: UUID
    account_id: int
    mp4_key: str | None
    audio_key: str | None
    speakers: list[str]
    has_transcript: bool
    duration_s: float
    reason: EndReason | None = None
    extra: dict[str, Any] | None = None
    transcription_error: str | None = None
    """Why the transcript asked for could not be made (e.g. the provider refused the key)."""
    event_uuid: UUID | None = None
    data_files: dict[str, str | None] = {}
    """The meeting's data files besides the recording, by the `complete` webhook field that
    carries each one's download URL (`meeting_participants_file`, `participant_events_file`):
    object keys, None where the bot made no such file."""
    separate_audio_parts: list[StoredAudioPart] = []
    separate_video_parts: list[StoredVideoPart] = []


class BotFailed(Event):
    """The bot ended without data to deliver, or its runner vanished."""

    SUBJECT = "bot.failed"
    STREAM = "EVENTS"

    bot_id: UUID
    account_id: int
    error: BotError
    reason: EndReason
    message: str
    extra: dict[str, Any] | None = None
    event_uuid: UUID | None = None


class StatusRecord(Message):
    status: BotStatus
    at: str
    error: BotError | None = None
    reason: EndReason | None = None
    message: str | None = None


ArtifactKind = Literal["mp4", "audio", "speaker_timeline", "participants", "screenshot"]
