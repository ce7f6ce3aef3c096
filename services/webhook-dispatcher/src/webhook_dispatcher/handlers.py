"""Thin handlers. Consumes bot.requested, bot.status_change, bot.completed, bot.failed and
transcription.done (reruns); answers webhooks.retry; publishes nothing."""

from __future__ import annotations

from faststream.nats import NatsRouter

from mb_shared.contracts.bot import BotCompleted, BotFailed, BotRequested, BotStatusChanged
from mb_shared.contracts.queries import RetryWebhook
from mb_shared.contracts.transcription import TranscriptionDone
from mb_shared.messaging import answers_errors, durable_consumer
from webhook_dispatcher.service import Dispatcher

SERVICE = "webhook-dispatcher"


def build_router(dispatcher: Dispatcher) -> NatsRouter:
    router = NatsRouter()

    @router.subscriber(BotRequested.SUBJECT, **durable_consumer(SERVICE, "requested"))
    async def on_bot_requested(event: BotRequested) -> None:
        await dispatcher.on_bot_requested(event)

    @router.subscriber(BotStatusChanged.SUBJECT, **durable_consumer(SERVICE, "status"))
    async def on_bot_status_change(event: BotStatusChanged) -> None:
        await dispatcher.on_status_change(event)

    @router.subscriber(BotCompleted.SUBJECT, **durable_consumer(SERVICE, "completed"))
    async def on_bot_completed(event: BotCompleted) -> None:
        await dispatcher.on_completed(event)

    @router.subscriber(BotFailed.SUBJECT, **durable_consumer(SERVICE, "failed"))
    async def on_bot_failed(event: BotFailed) -> None:
        await dispatcher.on_failed(event)

    @router.subscriber(TranscriptionDone.SUBJECT, **durable_consumer(SERVICE, "transcription"))
    async def on_transcription_done(event: TranscriptionDone) -> None:
        await dispatcher.on_transcription_done(event)

    @router.subscriber(RetryWebhook.SUBJECT, queue=SERVICE)
    @answers_errors
    async def on_retry_webhook(query: RetryWebhook) -> dict:
        return (await dispatcher.retry(query)).model_dump(mode="json")

    return router
