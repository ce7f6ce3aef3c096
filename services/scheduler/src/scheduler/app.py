"""Builds the scheduler from its settings: broker, database, lifecycle, background loops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from faststream import FastStream
from faststream.nats import NatsBroker
from opentelemetry import context, propagate

from mb_shared.contracts import Event
from mb_shared.database import make_engine, session_factory
from mb_shared.messaging import make_broker, publish_event
from mb_shared.storage import ObjectStore
from scheduler.adapters.repository import SqlBotRepository
from scheduler.deletion_handlers import build_deletion_router
from scheduler.handlers import SERVICE, build_router
from scheduler.service import BotScheduler
from scheduler.settings import SchedulerSettings

log = logging.getLogger(__name__)


def event_publisher(broker: NatsBroker):
    async def publish(event: Event, trace_context: dict[str, str] | None = None) -> None:
        token = context.attach(propagate.extract(trace_context)) if trace_context else None
        try:
            await publish_event(broker, event)
        finally:
            if token is not None:
                context.detach(token)

    return publish


async def _every(seconds: float, job, name: str) -> None:
    while True:
        try:
            await job()
        except Exception:
            log.exception("%s failed; retrying", name)
        await asyncio.sleep(seconds)


def build_app(settings: SchedulerSettings) -> FastStream:
    if not settings.database_url:
        raise ValueError("DATABASE_URL must be set for the scheduler")
    broker = make_broker(settings.nats_url, SERVICE)
    engine = make_engine(settings.database_url)
    repository = SqlBotRepository(session_factory(engine))
    scheduler = BotScheduler(
        repository,
        event_publisher(broker),
        heartbeat_timeout=timedelta(seconds=settings.heartbeat_timeout_s),
        pickup_timeout=timedelta(seconds=settings.pickup_timeout_s),
        dedup_window=timedelta(seconds=settings.dedup_window_s),
    )
    broker.include_router(build_router(scheduler))
    broker.include_router(build_deletion_router(broker, repository, ObjectStore(settings)))
    app = FastStream(broker)
    tasks: list[asyncio.Task] = []

    @app.after_startup
    async def start_loops() -> None:
        tasks.append(asyncio.create_task(_every(settings.tick_s, scheduler.dispatch_due, "dispatch")))
        tasks.append(asyncio.create_task(_every(2.0, scheduler.sweep, "sweep")))

    @app.on_shutdown
    async def stop_loops() -> None:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await engine.dispose()

    return app
