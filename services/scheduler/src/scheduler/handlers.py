"""Thin handlers: validate the message, call the lifecycle, reply.

Consumes: bot.status_change, bot.noted, recording.uploaded, transcription.done,
meeting.bot_requested (durable); answers
scheduler.bot.create/get/target/leave/list/retranscribe/claim/upsert_for_event/speech_key,
scheduler.transcription.key and scheduler.runner.heartbeat (request/reply).
Publishes (through the outbox): bot.requested, bot.dispatch, bot.leave_requested,
transcription.requested, bot.completed, bot.failed.
"""

from __future__ import annotations

from faststream.nats import NatsRouter
from opentelemetry import propagate

from mb_shared.contracts.bot import BotNoted, BotStatusChanged
from mb_shared.contracts.meetings import MeetingBotRequested
from mb_shared.contracts.queries import (
    ClaimBot,
    ClaimReply,
    CreateBot,
    CreateBotReply,
    GetBot,
    GetBotTarget,
    GetJoinSecrets,
    GetLiveTranscriptionKey,
    GetTranscriptionKey,
    HeartbeatReply,
    JoinSecrets,
    LeaveBot,
    LeaveBotReply,
    ListBots,
    OkReply,
    QueryError,
    Retranscribe,
    RunnerHeartbeat,
    TranscriptionKey,
    UpsertEventBot,
)
from mb_shared.contracts.recording import RecordingUploaded
from mb_shared.contracts.transcription import TranscriptionDone
from mb_shared.messaging import answers_errors
from mb_shared.secrets import KeyRing, SecretError, seal_for
from mb_shared.service_kit import ServiceKit
from scheduler.service import BotScheduler

SERVICE = "scheduler"


def consume(kit: ServiceKit, scheduler: BotScheduler) -> None:
    """The scheduler's durable consumers (retried, then dead letters)."""
    kit.consume(BotStatusChanged, scheduler.on_status_change)
    kit.consume(BotNoted, scheduler.on_note)
    kit.consume(RecordingUploaded, scheduler.on_recording_uploaded)
    kit.consume(TranscriptionDone, scheduler.on_transcription_done)
    kit.consume(MeetingBotRequested, scheduler.on_meeting_bot_requested)


def build_router(scheduler: BotScheduler, key_ring: KeyRing) -> NatsRouter:
    router = NatsRouter()

    @router.subscriber(CreateBot.SUBJECT, queue=SERVICE)
    @answers_errors
    async def on_create_bot(command: CreateBot) -> dict:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        created = await scheduler.create(command, carrier)
        if isinstance(created, QueryError):
            return created.model_dump(mode="json")
        return CreateBotReply(bot_id=created.bot_id).model_dump(mode="json")

    @router.subscriber(UpsertEventBot.SUBJECT, queue=SERVICE)
    @answers_errors
    async def on_upsert_event_bot(command: UpsertEventBot) -> dict:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        refusal = await scheduler.upsert_for_event(command, carrier)
        return (refusal or OkReply()).model_dump(mode="json")

    @router.subscriber(GetBot.SUBJECT, queue=SERVICE)
    @answers_errors
    async def on_get_bot(query: GetBot) -> dict:
        return (await scheduler.view(query.account_id, query.bot_id)).model_dump(mode="json")

    @router.subscriber(ListBots.SUBJECT, queue=SERVICE)
    @answers_errors
    async def on_list_bots(query: ListBots) -> dict:
        try:
            return (await scheduler.list(query)).model_dump(mode="json")
        except ValueError as exc:
            return QueryError(status=400, code="InvalidCursor", message=f"cursor: {exc}",
                              field="cursor").model_dump(mode="json")

    @router.subscriber(LeaveBot.SUBJECT, queue=SERVICE)
    @answers_errors
    async def on_leave_bot(command: LeaveBot) -> dict:
        refusal = await scheduler.leave(command.account_id, command.bot_id)
        return (refusal or LeaveBotReply()).model_dump(mode="json")

    @router.subscriber(GetBotTarget.SUBJECT, queue=SERVICE)
    @answers_errors
    async def on_get_bot_target(query: GetBotTarget) -> dict:
        return (await scheduler.target(query.bot_id)).model_dump(mode="json")

    @router.subscriber(ClaimBot.SUBJECT, queue=SERVICE)
    @answers_errors
    async def on_claim_bot(query: ClaimBot) -> dict:
        granted = await scheduler.claim(query.bot_id, query.runner_id)
        return ClaimReply(granted=granted).model_dump(mode="json")

    @router.subscriber(Retranscribe.SUBJECT, queue=SERVICE)
    @answers_errors
    async def on_retranscribe(command: Retranscribe) -> dict:
        refusal = await scheduler.retranscribe(command)
        return (refusal or OkReply()).model_dump(mode="json")

    @router.subscriber(GetJoinSecrets.SUBJECT, queue=SERVICE)
    @answers_errors
    async def on_get_join_secrets(query: GetJoinSecrets) -> dict:
        """Each secret opened here and sealed to the runner's one-time key."""
        stored = await scheduler.join_secrets(query.bot_id, query.runner_id)
        if isinstance(stored, QueryError):
            return stored.model_dump(mode="json")
        try:
            secrets = {name: seal_for(query.recipient_key, key_ring.open(sealed))
                       for name, sealed in stored.items()}
        except SecretError as exc:
            return QueryError(status=400, code="BadRecipientKey", message=str(exc),
                              field="recipient_key").model_dump(mode="json")
        return JoinSecrets(secrets=secrets).model_dump(mode="json")

    @router.subscriber(GetTranscriptionKey.SUBJECT, queue=SERVICE)
    @answers_errors
    async def on_get_transcription_key(query: GetTranscriptionKey) -> dict:
        sealed = await scheduler.transcription_key(query.request_id)
        return TranscriptionKey(sealed_api_key=sealed).model_dump(mode="json")

    @router.subscriber(GetLiveTranscriptionKey.SUBJECT, queue=SERVICE)
    @answers_errors
    async def on_get_live_transcription_key(query: GetLiveTranscriptionKey) -> dict:
        sealed = await scheduler.live_transcription_key(query.bot_id)
        return TranscriptionKey(sealed_api_key=sealed).model_dump(mode="json")

    @router.subscriber(RunnerHeartbeat.SUBJECT, queue=SERVICE)
    @answers_errors
    async def on_runner_heartbeat(beat: RunnerHeartbeat) -> dict:
        leave = await scheduler.on_heartbeat(beat.runner_id, beat.bot_ids)
        return HeartbeatReply(leave=leave).model_dump(mode="json")

    return router
