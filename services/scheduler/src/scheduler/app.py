"""Builds the scheduler from its settings: consumers, queries, outbox, lifecycle, background loops."""

from __future__ import annotations

from datetime import timedelta

from faststream import FastStream

from mb_shared.service_kit import ServiceKit
from mb_shared.storage import ObjectStore
from scheduler.adapters.repository import SqlBotRepository
from scheduler.deletion_handlers import build_deletion_router
from scheduler.handlers import SERVICE, build_router, consume
from scheduler.models import OUTBOX
from scheduler.service import BotScheduler
from scheduler.settings import SchedulerSettings


def build_app(settings: SchedulerSettings) -> FastStream:
    kit = ServiceKit(SERVICE, settings)
    sessions = kit.database()
    repository = SqlBotRepository(sessions, kit.outbox(OUTBOX, sessions))
    scheduler = BotScheduler(
        repository,
        heartbeat_timeout=timedelta(seconds=settings.heartbeat_timeout_s),
        pickup_timeout=timedelta(seconds=settings.pickup_timeout_s),
        dedup_window=timedelta(seconds=settings.dedup_window_s),
        abandoned_timeout=timedelta(seconds=settings.abandoned_timeout_s),
    )
    consume(kit, scheduler)
    kit.broker.include_router(build_router(scheduler, settings.key_ring()))
    kit.broker.include_router(build_deletion_router(kit.broker, repository, ObjectStore(settings)))
    kit.every(settings.tick_s, "dispatch", scheduler.dispatch_due)
    kit.every(2.0, "sweep", scheduler.sweep)
    return kit.app
