"""Builds the scheduler from its settings: consumers, queries, lifecycle, background loops."""

from __future__ import annotations

from datetime import timedelta

from faststream import FastStream
from faststream.nats import NatsBroker
from opentelemetry import context, propagate

from mb_shared.contracts import Event
from mb_shared.messaging import publish_event
from mb_shared.service_kit import ServiceKit
from mb_shared.storage import ObjectStore
from scheduler.adapters.repository import SqlBotRepository
from scheduler.deletion_handlers import build_deletion_router
from scheduler.handlers import SERVICE, build_router, consume
from scheduler.service import BotScheduler
from scheduler.settings import SchedulerSettings


def event_publisher(broker: NatsBroker):
    async def publish(event: Event, trace_context: dict[str, str] | None = None) -> None:
        token = context.attach(propagate.extract(trace_context)) if trace_context else None
        try:
            await publish_event(broker, event)
        finally:
            if token is not None:
                context.detach(token)

    return publish


def build_app(settings: SchedulerSettings) -> FastStream:
    kit = ServiceKit(SERVICE, settings)
    repository = SqlBotRepository(kit.database())
    scheduler = BotScheduler(
        repository,
        event_publisher(kit.broker),
        heartbeat_timeout=timedelta(seconds=settings.heartbeat_timeout_s),
        pickup_timeout=timedelta(seconds=settings.pickup_timeout_s),
        dedup_window=timedelta(seconds=settings.dedup_window_s),
    )
    consume(kit, scheduler)
    kit.broker.include_router(build_router(scheduler))
    kit.broker.include_router(build_deletion_router(kit.broker, repository, ObjectStore(settings)))
    kit.every(settings.tick_s, "dispatch", scheduler.dispatch_due)
    kit.every(2.0, "sweep", scheduler.sweep)
    return kit.app
