"""Thin handlers. Consumes bot.dispatch (work queue, durable) and bot.leave_requested (every
runner); publishes runner.heartbeat, bot.status_change and recording.uploaded (through the
sessions)."""

from __future__ import annotations

from faststream.nats import NatsRouter
from nats.js.api import DeliverPolicy

from bot_runner.service import Runner
from mb_shared.contracts.bot import BotDispatched, BotLeaveRequested
from mb_shared.messaging import stream
from mb_shared.service_kit import ServiceKit

SERVICE = "bot-runner"


def consume(kit: ServiceKit, runner: Runner) -> None:
    """A runner fetches the next due bot only once it has a free slot: the handler starts the
    session, then returns (and the message is acknowledged) once a slot is free again, since the
    consumer fetches the next dispatch only after the handler returns. A dispatch therefore waits
    in the stream for whichever runner has room, never in a full runner."""

    async def on_bot_dispatch(event: BotDispatched) -> None:
        await runner.start(event)
        await runner.until_free_slot()

    kit.consume(BotDispatched, on_bot_dispatch)


def build_router(runner: Runner) -> NatsRouter:
    router = NatsRouter()

    @router.subscriber(
        BotLeaveRequested.SUBJECT, stream=stream(BotLeaveRequested.STREAM),
        deliver_policy=DeliverPolicy.NEW,
    )
    async def on_bot_leave_requested(event: BotLeaveRequested) -> None:
        runner.request_leave(event.bot_id)

    return router
