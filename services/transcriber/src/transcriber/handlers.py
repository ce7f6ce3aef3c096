"""Thin handlers. Consumes transcription.requested (durable, kept in progress while
transcribing) and recording.piece (durable), and answers transcriber.transcript.get
(request/reply); publishes transcription.done and transcription.live through the outbox."""

from __future__ import annotations

from faststream.nats import NatsRouter

from mb_shared.contracts.queries import GetTranscript, TranscriptReply
from mb_shared.contracts.recording import RecordingPiece
from mb_shared.contracts.transcription import TranscriptionRequested
from mb_shared.messaging import answers_errors
from mb_shared.service_kit import ServiceKit
from transcriber.live import LiveTranscription
from transcriber.ports import TranscriptRepository
from transcriber.service import TranscriptionService

SERVICE = "transcriber"


def consume(kit: ServiceKit, service: TranscriptionService, live: LiveTranscription) -> None:
    async def on_transcription_requested(event: TranscriptionRequested) -> None:
        await service.handle(event)

    kit.consume(TranscriptionRequested, on_transcription_requested)
    kit.consume(RecordingPiece, live.on_piece)
    kit.every(0.25, "live pieces", live.work)


def build_router(repository: TranscriptRepository) -> NatsRouter:
    router = NatsRouter()

    @router.subscriber(GetTranscript.SUBJECT, queue=SERVICE)
    @answers_errors
    async def on_get_transcript(query: GetTranscript) -> dict:
        current = await repository.current(query.bot_id)
        if current is None:
            reply = TranscriptReply(
                bot_id=query.bot_id, transcript_id=None, provider=None, segments=[]
            )
        else:
            transcript_id, provider, segments = current
            reply = TranscriptReply(
                bot_id=query.bot_id,
                transcript_id=transcript_id,
                provider=provider,
                segments=segments,
            )
        return reply.model_dump(mode="json")

    return router
