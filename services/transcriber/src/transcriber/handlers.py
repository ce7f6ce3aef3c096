"""Thin handlers. Consumes recording.uploaded, transcription.requested (durable) and
transcriber.transcript.get (request/reply); publishes transcription.done."""

from __future__ import annotations

from faststream.nats import NatsRouter

from mb_shared.contracts.queries import GetTranscript, TranscriptReply
from mb_shared.contracts.recording import RecordingUploaded
from mb_shared.contracts.transcription import TranscriptionRequested
from mb_shared.messaging import answers_errors, publish_event
from mb_shared.service_kit import ServiceKit
from transcriber.ports import TranscriptRepository
from transcriber.service import TranscriptionService

SERVICE = "transcriber"


def consume(kit: ServiceKit, service: TranscriptionService) -> None:
    """The transcriber's durable consumers (kept in progress while transcribing)."""

    async def on_recording_uploaded(event: RecordingUploaded) -> None:
        done = await service.transcribe(event)
        if done is not None:
            await publish_event(kit.broker, done)

    async def on_transcription_requested(event: TranscriptionRequested) -> None:
        await publish_event(kit.broker, await service.retranscribe(event))

    kit.consume(RecordingUploaded, on_recording_uploaded)
    kit.consume(TranscriptionRequested, on_transcription_requested)


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
