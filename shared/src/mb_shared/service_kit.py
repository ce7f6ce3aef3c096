"""The kit every worker service is built with: broker, streams, durable consumers with retries and
dead letters, a database, periodic tasks, and an orderly shutdown.

    kit = ServiceKit("scheduler", settings)
    sessions = kit.database()
    outbox = kit.outbox(OUTBOX, sessions)
    kit.consume(BotStatusChanged, on_bot_status_change)
    kit.every(2.0, "sweep", scheduler.sweep)
    kit.broker.include_router(query_router)
    return kit.app

At start the streams of the catalogue are declared before any consumer exists; periodic tasks
start once the broker consumes. At shutdown the work in hand is finished (`on_stop`), periodic
tasks are cancelled, the broker drains, and what the service opened (engine, HTTP sessions) is
closed in reverse order (`on_close`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from faststream import FastStream
from faststream.nats import NatsRouter
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from mb_shared.consumers import DeadLetters, Handler, RetryPolicy, subscribe
from mb_shared.contracts.base import Event
from mb_shared.database import make_engine, session_factory
from mb_shared.messaging import declare_streams, make_broker, publish_stored
from mb_shared.outbox import Outbox, OutboxRelay
from mb_shared.settings import BaseServiceSettings

log = logging.getLogger(__name__)


async def run_every(seconds: float, name: str, job: Callable[[], Awaitable[object]]) -> None:
    """Run `job` every `seconds` for ever; a failure is logged and the next round goes on."""
    while True:
        try:
            await job()
        except Exception:
            log.exception("%s failed; trying again in %.1f s", name, seconds)
        await asyncio.sleep(seconds)


class ServiceKit:
    def __init__(self, name: str, settings: BaseServiceSettings) -> None:
        self.name = name
        self.settings = settings
        self.broker = make_broker(settings.nats_url, name)
        self.retry = RetryPolicy(tuple(settings.retry_delays_s))
        self.dead_letters = DeadLetters(self.broker, name)
        self.app = FastStream(self.broker)
        self._router = NatsRouter()
        self._periodic: list[tuple[float, str, Callable[[], Awaitable[object]]]] = []
        self._tasks: list[asyncio.Task] = []
        self._closers: list[Callable[[], Awaitable[object]]] = []
        self._stoppers: list[Callable[[], Awaitable[object]]] = []
        self._relay: OutboxRelay | None = None
        self.app.on_startup(self._declare)
        self.app.after_startup(self._start_periodic)
        self.app.on_shutdown(self._stop_periodic)
        self.app.after_shutdown(self._close)

    def consume(self, event_type: type[Event], handler: Handler, *,
                ack_wait_s: float = 30.0) -> None:
        """`handler` becomes this service's durable consumer of `event_type`."""
        subscribe(self._router, service=self.name, event_type=event_type, handler=handler,
                  retry=self.retry, dead_letters=self.dead_letters, ack_wait_s=ack_wait_s)

    def outbox(self, table: Table, sessions: async_sessionmaker[AsyncSession]) -> Outbox:
        """The service's outbox, relayed to JetStream for as long as the service runs."""
        outbox = Outbox(table)

        async def publish(subject: str, payload: dict, message_id: str) -> None:
            await publish_stored(self.broker, subject, payload, message_id)

        self._relay = OutboxRelay(outbox, sessions, publish)
        return outbox

    def every(self, seconds: float, name: str, job: Callable[[], Awaitable[object]]) -> None:
        self._periodic.append((seconds, name, job))

    def on_stop(self, stopper: Callable[[], Awaitable[object]]) -> None:
        """Run first when the service is asked to stop, while its periodic tasks (heartbeats)
        still run and the broker still publishes: finish the work in hand."""
        self._stoppers.append(stopper)

    def on_close(self, closer: Callable[[], Awaitable[object]]) -> None:
        """Run at shutdown once the broker has stopped (last registered, first run)."""
        self._closers.append(closer)

    def database(self, *, pool_size: int = 5) -> async_sessionmaker[AsyncSession]:
        if not self.settings.database_url:
            raise ValueError(f"DATABASE_URL must be set for the {self.name}")
        engine = make_engine(self.settings.database_url, pool_size=pool_size)
        self.on_close(engine.dispose)
        return session_factory(engine)

    async def _declare(self) -> None:
        self.broker.include_router(self._router)
        await declare_streams(self.broker, self.settings.stream_replicas)

    async def _start_periodic(self) -> None:
        if self._relay is not None:
            self._tasks.append(asyncio.create_task(self._relay.run(), name="outbox relay"))
        for seconds, name, job in self._periodic:
            self._tasks.append(asyncio.create_task(run_every(seconds, name, job), name=name))

    async def _stop_periodic(self) -> None:
        for stopper in self._stoppers:
            try:
                await stopper()
            except Exception:
                log.exception("stopping %s failed", stopper)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _close(self) -> None:
        for closer in reversed(self._closers):
            try:
                await closer()
            except Exception:
                log.exception("closing %s failed", closer)
