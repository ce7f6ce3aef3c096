"""Thin handlers. Consumes bot.status_change, bot.completed, bot.failed, transcription.done
(reruns), transcription.live and calendar.synced; answers webhooks.retry; publishes nothing."""

from __future__ import annotations

from faststream.nats import NatsRouter

from mb_shared.contracts.bot import BotCompleted, BotFailed, BotStatusChanged
from mb_shared.contracts.calendar import CalendarSynced
from mb_shared.contracts.queries import RetryWebhook
from mb_shared.contracts.transcription import TranscriptionDone, TranscriptionLive
from mb_shared.messaging import answers_errors
from mb_shared.service_kit import ServiceKit
from webhook_dispatcher.service import Dispatcher

SERVICE = "webhook-dispatcher"


def consume(kit: ServiceKit, dispatcher: Dispatcher) -> None:
    """The dispatcher's durable consumers (retried, then dead letters)."""
    kit.consume(BotStatusChanged, dispatcher.on_status_change)
    kit.consume(BotCompleted, dispatcher.on_completed)
    kit.consume(BotFailed, dispatcher.on_failed)
    kit.consume(TranscriptionDone, dispatcher.on_transcription_done)
    kit.consume(TranscriptionLive, dispatcher.on_live_transcript)
    kit.consume(CalendarSynced, dispatcher.on_calendar_synced)


def build_router(dispatcher: Dispatcher) -> NatsRouter:
    router = NatsRouter()

    @router.subscriber(RetryWebhook.SUBJECT, queue=SERVICE)
    @answers_errors
    async def on_retry_webhook(query: RetryWebhook) -> dict:
        return (await dispatcher.retry(query)).model_dump(mode="json")

    return router
