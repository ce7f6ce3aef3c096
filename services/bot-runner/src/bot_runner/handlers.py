"""Thin handlers. Consumes bot.dispatch (work queue) and bot.leave_requested (every runner);
publishes runner.heartbeat, bot.status_change and recording.uploaded (through the sessions)."""

from __future__ import annotations

from faststream import AckPolicy
from faststream.nats import NatsRouter, PullSub
from faststream.nats.annotations import NatsMessage
from nats.js.api import ConsumerConfig, DeliverPolicy

from bot_runner.service import Runner
from mb_shared.contracts.bot import BotDispatched, BotLeaveRequested
from mb_shared.messaging import DISPATCH_STREAM, EVENTS_STREAM

SERVICE = "bot-runner"


def build_router(runner: Runner) -> NatsRouter:
    router = NatsRouter()

    @router.subscriber(
        BotDispatched.SUBJECT,
        stream=DISPATCH_STREAM,
        durable=SERVICE,
        pull_sub=PullSub(batch_size=1, timeout=5.0),
        config=ConsumerConfig(ack_wait=60, max_deliver=3),
        ack_policy=AckPolicy.NACK_ON_ERROR,
    )
    async def on_bot_dispatch(event: BotDispatched, message: NatsMessage) -> None:
        """Waits for a free slot (telling JetStream the message is in progress, so that it is
        not redelivered elsewhere), starts the session, then lets the message be acknowledged."""
        while not await runner.start(event, wait_s=20.0):
            await message.in_progress()

    @router.subscriber(
        BotLeaveRequested.SUBJECT, stream=EVENTS_STREAM, deliver_policy=DeliverPolicy.NEW
    )
    async def on_bot_leave_requested(event: BotLeaveRequested) -> None:
        runner.request_leave(event.bot_id)

    return router
