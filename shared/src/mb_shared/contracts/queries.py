"""Request/reply contracts: how the gateway and the dispatcher ask the owning services."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal
from uuid import UUID

from mb_shared.contracts.base import Message
from mb_shared.contracts.bot import (
    BotError,
    BotParams,
    BotStatus,
    EndReason,
    SpeechToText,
    StatusRecord,
)
from mb_shared.contracts.recording import RecordingArtifacts
from mb_shared.contracts.transcription import TranscriptSegment


class Query(Message):
    SUBJECT: ClassVar[str]


class CreateBot(Query):
    """`params.speech_to_text.api_key` is sealed; `api_key_prefix` names the API key the bot is
    created with (its webhooks carry that key)."""

    SUBJECT = "scheduler.bot.create"

    account_id: int
    params: BotParams
    api_key_prefix: str | None = None


class GetBot(Query):
    SUBJECT = "scheduler.bot.get"

    account_id: int
    bot_id: UUID


class LeaveBot(Query):
    SUBJECT = "scheduler.bot.leave"

    account_id: int
    bot_id: UUID


class ExtraSort(Message):
    field: str
    descending: bool = False


class ListBots(Query):
    """Filters of `GET /bots/bots_with_metadata`; `after` is the decoded cursor."""

    SUBJECT = "scheduler.bot.list"

    account_id: int
    limit: int = 10
    bot_name: str | None = None
    meeting_url: str | None = None
    speaker_name: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    ended_after: datetime | None = None
    filter_by_extra: dict[str, str] = {}
    sort_by_extra: ExtraSort | None = None
    after: list[Any] | None = None


class BotSummary(Message):
    id: int
    bot_id: UUID
    bot_name: str
    meeting_url: str
    created_at: datetime
    ended_at: datetime | None
    duration_s: float
    speakers: list[str]
    extra: dict[str, Any] | None
    status: BotStatus
    content_deleted: bool = False
    """`POST /bots/{uuid}/delete_data` removed its recording and transcript."""
    event_uuid: UUID | None = None
    """The calendar event the bot was scheduled for, if any."""


class BotList(Message):
    ok: Literal[True] = True
    bots: list[BotSummary]
    next_after: list[Any] | None


class UpsertEventBot(Query):
    """calendar-sync's bot for a calendar event, as of the event's `revision`: create it (the
    bot id is calendar-sync's), move it or change its parameters while it has not left for the
    meeting, or cancel it (`params` None). Older revisions are ignored, so that retries and
    redeliveries are harmless. `params.speech_to_text.api_key` is sealed."""

    SUBJECT = "scheduler.bot.upsert_for_event"

    bot_id: UUID
    account_id: int
    event_uuid: UUID
    revision: int
    join_at: datetime
    params: BotParams | None
    api_key_prefix: str | None = None


class GetBotTarget(Query):
    """Where a bot's webhooks go, for the webhook-dispatcher (any account)."""

    SUBJECT = "scheduler.bot.target"

    bot_id: UUID


class BotTarget(Message):
    ok: Literal[True] = True
    bot_id: UUID
    account_id: int
    webhook_url: str | None
    """The bot's own URL; None means the account's."""
    api_key_prefix: str | None
    extra: dict[str, Any] | None = None


class Retranscribe(Query):
    """`POST /bots/retranscribe`: `speech_to_text.api_key` is sealed."""

    SUBJECT = "scheduler.bot.retranscribe"

    account_id: int
    bot_id: UUID
    speech_to_text: SpeechToText
    webhook_url: str | None = None


class GetTranscriptionKey(Query):
    """The provider key of a transcription request (`TranscriptionRequested.event_id`)."""

    SUBJECT = "scheduler.transcription.key"

    request_id: UUID


class GetLiveTranscriptionKey(Query):
    """The provider key of a bot whose audio is transcribed while it records: the key it was
    created with, or once its call has ended, that of its first transcription request."""

    SUBJECT = "scheduler.bot.speech_key"

    bot_id: UUID


class TranscriptionKey(Message):
    ok: Literal[True] = True
    sealed_api_key: str | None


class GetJoinSecrets(Query):
    """The bot-runner that holds a bot (its claim), as it joins: the bot's Zoom secrets, each
    sealed to the runner's one-time key (`recipient_key`, see `mb_shared.secrets`)."""

    SUBJECT = "scheduler.bot.join_secrets"

    bot_id: UUID
    runner_id: str
    recipient_key: str


class JoinSecrets(Message):
    ok: Literal[True] = True
    secrets: dict[str, str] = {}
    """`zoom_obf_token` / `zoom_sdk_pwd` → the value sealed to the recipient."""


class RunnerHeartbeat(Query):
    """A runner is alive and holds these bots; the answer names those it must make leave."""

    SUBJECT = "scheduler.runner.heartbeat"

    runner_id: str
    bot_ids: list[UUID]


class HeartbeatReply(Message):
    ok: Literal[True] = True
    leave: list[UUID] = []


class ClaimBot(Query):
    """A runner with a free slot asks to run a dispatched bot: only one runner ever gets it
    (a dispatch delivered twice, to two runners, joins the meeting once)."""

    SUBJECT = "scheduler.bot.claim"

    bot_id: UUID
    runner_id: str


class ClaimReply(Message):
    ok: Literal[True] = True
    granted: bool
    """False: another runner has it, or it was cancelled or failed meanwhile."""


class GetDeliveryProfile(Query):
    """How to deliver an account's webhooks: its default URL, the API key the documented header
    carries (the one named by `api_key_prefix` if it is still active, else the newest active one)
    and the signing secret, both sealed."""

    SUBJECT = "accounts.delivery_profile"

    account_id: int
    api_key_prefix: str | None = None


class DeliveryProfile(Message):
    ok: Literal[True] = True
    webhook_url: str | None
    sealed_api_key: str | None
    sealed_signing_secret: str


class GetTranscript(Query):
    SUBJECT = "transcriber.transcript.get"

    bot_id: UUID


class RetryWebhook(Query):
    """Send a bot's final event again (`POST /bots/retry_webhook`)."""

    SUBJECT = "webhooks.retry"

    account_id: int
    bot_id: UUID
    webhook_url: str | None = None


class DeleteBotData(Query):
    """`POST /bots/{uuid}/delete_data`: the scheduler deletes the files and asks every service."""

    SUBJECT = "scheduler.bot.delete_data"

    account_id: int
    bot_id: UUID


class PurgeTranscripts(Query):
    SUBJECT = "transcriber.data.purge"

    bot_id: UUID


class PurgeDeliveries(Query):
    SUBJECT = "webhooks.data.purge"

    bot_id: UUID


DeleteStatus = Literal["deleted", "partiallyDeleted", "alreadyDeleted", "noDataFound"]


class DeleteDataReply(Message):
    ok: Literal[True] = True
    status: DeleteStatus


class PurgeReply(Message):
    """`removed`: how many records were deleted (0 when there was nothing)."""

    ok: Literal[True] = True
    removed: int


class OkReply(Message):
    ok: Literal[True] = True


class QueryError(Message):
    """A refusal: `code` is machine-readable, `message` is for humans."""

    ok: Literal[False] = False
    status: int
    code: str
    message: str
    field: str | None = None


class CreateBotReply(Message):
    ok: Literal[True] = True
    bot_id: UUID


class LeaveBotReply(Message):
    ok: Literal[True] = True


class BotView(Message):
    ok: Literal[True] = True
    id: int
    bot_id: UUID
    account_id: int
    params: BotParams
    status: BotStatus
    error: BotError | None
    reason: EndReason | None
    message: str | None
    created_at: datetime
    joined_at: datetime | None
    exited_at: datetime | None
    ended_at: datetime | None
    artifacts: RecordingArtifacts
    duration_s: float
    speakers: list[str]
    history: list[StatusRecord]
    extra: dict[str, Any] | None = None
    transcription_error: str | None = None
    api_key_prefix: str | None = None


class TranscriptReply(Message):
    ok: Literal[True] = True
    bot_id: UUID
    transcript_id: int | None
    provider: str | None
    segments: list[TranscriptSegment]
