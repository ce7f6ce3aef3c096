"""Builds the transcriber: the model (assembled and verified once), database, object store, broker."""

from __future__ import annotations

import os
from uuid import UUID

from faststream import FastStream

from mb_shared.contracts.bot import SpeechToTextProvider
from mb_shared.contracts.queries import (
    GetLiveTranscriptionKey,
    GetTranscriptionKey,
    QueryError,
    TranscriptionKey,
)
from mb_shared.messaging import ask
from mb_shared.service_kit import ServiceKit
from mb_shared.storage import ObjectStore
from transcriber.adapters.repository import SqlTranscriptRepository
from transcriber.handlers import SERVICE, build_router, consume
from transcriber.live import LiveTranscription
from transcriber.models import OUTBOX
from transcriber.providers import (
    GladiaRecognizer,
    HttpPolicy,
    LocalRecognizer,
    Recognizer,
    RunpodRecognizer,
)
from transcriber.purge import build_purge_router
from transcriber.service import TranscriptionService
from transcriber.settings import TranscriberSettings
from transcriber.speech import WhisperSpeechToText
from transcriber.whisper_model import ensure_whisper_model

LIVE_PROVIDER_TIMEOUT_S = 120.0


def yield_cpu_to_calls(niceness: int) -> None:
    """Lower this thread's CPU priority to `niceness`; the threads it starts afterwards (the
    model's, the workers that run it) inherit it."""
    if os.getpriority(os.PRIO_PROCESS, 0) < niceness:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)


def build_app(settings: TranscriberSettings) -> FastStream:
    kit = ServiceKit(SERVICE, settings)
    sessions = kit.database()
    outbox = kit.outbox(OUTBOX, sessions)
    repository = SqlTranscriptRepository(sessions, outbox)
    key_ring = settings.key_ring() if settings.secret_keys else None

    async def opened_key(query: GetTranscriptionKey | GetLiveTranscriptionKey) -> str | None:
        """The key `query` asks the scheduler for (sealed), opened here."""
        reply = await ask(kit.broker, query, TranscriptionKey, timeout=10.0)
        if isinstance(reply, QueryError):
            raise RuntimeError(f"the scheduler did not give the key: {reply.message}")
        if reply.sealed_api_key is None:
            return None
        if key_ring is None:
            raise RuntimeError("MB_SECRET_KEYS is not set: the provider key cannot be opened")
        return key_ring.open(reply.sealed_api_key)

    async def provider_keys(request_id: UUID) -> str | None:
        return await opened_key(GetTranscriptionKey(request_id=request_id))

    async def live_keys(bot_id: UUID) -> str | None:
        return await opened_key(GetLiveTranscriptionKey(bot_id=bot_id))

    yield_cpu_to_calls(settings.niceness)
    model_dir = ensure_whisper_model(settings.model_cache_dir)
    speech = WhisperSpeechToText(
        model_dir, cpu_threads=settings.cpu_threads, language=settings.language
    )
    local = LocalRecognizer(speech)

    def recognizers(timeout_s: float) -> dict[str, Recognizer]:
        policy = HttpPolicy(timeout_s=timeout_s, poll_s=settings.provider_poll_s)
        return {
            SpeechToTextProvider.DEFAULT: local,
            SpeechToTextProvider.GLADIA: GladiaRecognizer(
                settings.gladia_url, policy, settings.gladia_api_key, settings.language),
            SpeechToTextProvider.RUNPOD: RunpodRecognizer(
                settings.runpod_url, policy, settings.runpod_api_key,
                settings.runpod_endpoint_id, settings.runpod_model, settings.language),
        }

    files = ObjectStore(settings)
    # A run of pieces a provider keeps too long is given up (the final transcript is then made
    # from the file): the pieces of every other bot wait behind it.
    live = LiveTranscription(
        sessions, outbox, recognizers(min(settings.provider_timeout_s, LIVE_PROVIDER_TIMEOUT_S)),
        live_keys, files, settings.work_dir)
    service = TranscriptionService(recognizers(settings.provider_timeout_s), repository, files,
                                   settings.work_dir, provider_keys, live)
    consume(kit, service, live)
    kit.broker.include_router(build_router(repository))
    kit.broker.include_router(build_purge_router(sessions))
    return kit.app
