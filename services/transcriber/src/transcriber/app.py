"""Builds the transcriber: the model (assembled and verified once), database, object store, broker."""

from __future__ import annotations

from faststream import FastStream

from mb_shared.contracts.bot import SpeechToTextProvider
from mb_shared.service_kit import ServiceKit
from mb_shared.storage import ObjectStore
from transcriber.adapters.repository import SqlTranscriptRepository
from transcriber.handlers import SERVICE, build_router, consume
from transcriber.providers import GladiaRecognizer, HttpPolicy, LocalRecognizer, RunpodRecognizer
from transcriber.purge import build_purge_router
from transcriber.service import TranscriptionService
from transcriber.settings import TranscriberSettings
from transcriber.speech import WhisperSpeechToText
from transcriber.whisper_model import ensure_whisper_model


def build_app(settings: TranscriberSettings) -> FastStream:
    kit = ServiceKit(SERVICE, settings)
    sessions = kit.database()
    repository = SqlTranscriptRepository(sessions)
    model_dir = ensure_whisper_model(settings.model_cache_dir)
    speech = WhisperSpeechToText(
        model_dir, cpu_threads=settings.cpu_threads, language=settings.language
    )
    policy = HttpPolicy(timeout_s=settings.provider_timeout_s, poll_s=settings.provider_poll_s)
    recognizers = {
        SpeechToTextProvider.DEFAULT: LocalRecognizer(speech),
        SpeechToTextProvider.GLADIA: GladiaRecognizer(
            settings.gladia_url, policy, settings.gladia_api_key, settings.language),
        SpeechToTextProvider.RUNPOD: RunpodRecognizer(
            settings.runpod_url, policy, settings.runpod_api_key, settings.runpod_endpoint_id,
            settings.runpod_model, settings.language),
    }
    service = TranscriptionService(recognizers, repository, ObjectStore(settings),
                                   settings.work_dir)
    consume(kit, service)
    kit.broker.include_router(build_router(repository))
    kit.broker.include_router(build_purge_router(sessions))
    return kit.app
