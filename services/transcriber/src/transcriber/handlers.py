"""Thin handlers. Consumes recording.uploaded, transcription.requested and
transcriber.transcript.get; publishes transcription.done."""

from __future__ import annotations

from faststream.nats import NatsBroker, NatsRouter

from mb_shared.contracts.queries import GetTranscript, TranscriptReply
from mb_shared.contracts.recording import RecordingUploaded
from mb_shared.contracts.transcription import TranscriptionRequested
from mb_shared.messaging import answers_errors, durable_consumer, publish_event
from transcriber.ports import TranscriptRepository
from transcriber.service import TranscriptionService

SERVICE = "transcriber"


def build_router(
    broker: NatsBroker, service: TranscriptionService, repository: TranscriptRepository
) -> NatsRouter:
    router = NatsRouter()

    @router.subscriber(
        RecordingUploaded.SUBJECT, **durable_consumer(SERVICE, "recording", ack_wait_s=3600.0)
    )
    async def on_recording_uploaded(event: RecordingUploaded) -> None:
        done = await service.transcribe(event)
        if done is not None:
            await publish_event(broker, done)

    @router.subscriber(
        TranscriptionRequested.SUBJECT,
        **durable_consumer(SERVICE, "retranscription", ack_wait_s=3600.0),
    )
    async def on_transcription_requested(event: TranscriptionRequested) -> None:
        await publish_event(broker, await service.retranscribe(event))

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
