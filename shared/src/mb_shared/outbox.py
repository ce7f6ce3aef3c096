"""The transactional outbox: a service's events are written in the same transaction as the state
change that caused them, and a relay publishes them to JetStream afterwards.

Each service that emits events has an `outbox` table in its own database (`outbox_table(metadata)`
in its models). `Outbox.put(session, events)` stages rows inside the caller's transaction, with
the trace context of the moment; when that transaction commits, the relay is woken. The relay
publishes rows in id order, each with its event id as `Nats-Msg-Id` (the stream drops a copy within
its duplicate window, and consumers are idempotent beyond it), and deletes them once the stream
has acknowledged them. A crash anywhere in between publishes a row again, never loses one.

Replicas of a service share one table: a transaction-scoped advisory lock lets one relay at a time
publish, so one service's events leave in the order they were committed.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    MetaData,
    String,
    Table,
    Uuid,
    delete,
    event,
    func,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mb_shared.contracts.base import Event
from mb_shared.contracts.catalogue import stream_of

log = logging.getLogger(__name__)

Publish = Callable[[str, dict[str, Any], str], Awaitable[None]]
"""`(subject, payload, message id)`: publish on the subject's stream (within the trace context
the relay has attached), wait for the stream's acknowledgement, raise on failure."""

_RELAY_LOCK = zlib.crc32(b"mb_shared.outbox.relay")


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(always=True), primary_key=True),
        Column("event_id", Uuid, nullable=False, unique=True),
        Column("subject", String, nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("trace_context", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )


class Outbox:
    """Stages events in the caller's transaction and wakes the relay when it commits."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self._committed = asyncio.Event()

    async def put(self, session: AsyncSession, events: Iterable[Event],
                  trace_context: dict[str, str] | None = None) -> None:
        """Stage `events` (published in this order); `trace_context` defaults to the current
        span's, so the trace goes on from here once the relay publishes."""
        if trace_context is None:
            trace_context = {}
            propagate.inject(trace_context)
        now = datetime.now(UTC)
        rows = []
        for item in events:
            stream_of(item)  # an event no stream holds is refused here, not by the relay
            rows.append({"event_id": item.event_id, "subject": item.SUBJECT,
                         "payload": item.model_dump(mode="json"),
                         "trace_context": trace_context, "created_at": now})
        if not rows:
            return
        await session.execute(insert(self.table), rows)
        sync_session = session.sync_session
        if not event.contains(sync_session, "after_commit", self._on_commit):
            event.listen(sync_session, "after_commit", self._on_commit, once=True)

    def _on_commit(self, _session) -> None:
        self._committed.set()

    async def committed(self, timeout: float) -> None:
        """Wait until a transaction that staged events commits (or `timeout`)."""
        try:
            await asyncio.wait_for(self._committed.wait(), timeout)
        except TimeoutError:
            pass
        self._committed.clear()


class OutboxRelay:
    def __init__(self, outbox: Outbox, sessions: async_sessionmaker[AsyncSession],
                 publish: Publish, *, batch: int = 100, poll_s: float = 0.5,
                 max_backoff_s: float = 5.0) -> None:
        self._outbox = outbox
        self._table = outbox.table
        self._sessions = sessions
        self._publish = publish
        self._batch = batch
        self._poll_s = poll_s
        self._max_backoff_s = max_backoff_s

    async def run(self) -> None:
        """Relay for ever: at once after a commit, else every `poll_s` (rows of other replicas,
        rows left by a crash); after a failure, again with a growing delay."""
        backoff = 0.0
        while True:
            try:
                relayed = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                backoff = min(self._max_backoff_s, max(0.2, backoff * 2))
                log.warning("outbox relay: %s: %s; again in %.1f s", type(exc).__name__, exc,
                            backoff)
                await asyncio.sleep(backoff)
                continue
            backoff = 0.0
            if relayed < self._batch:
                await self._outbox.committed(self._poll_s)

    async def relay_once(self) -> int:
        """Publish one batch in id order; returns how many rows left the outbox."""
        table = self._table
        published: list[int] = []
        failure: BaseException | None = None
        async with self._sessions() as session, session.begin():
            if not await session.scalar(select(func.pg_try_advisory_xact_lock(_RELAY_LOCK))):
                return 0
            rows = (await session.execute(
                select(table.c.id, table.c.event_id, table.c.subject, table.c.payload,
                       table.c.trace_context).order_by(table.c.id).limit(self._batch)
            )).all()
            for row in rows:
                try:
                    await self._publish_row(row)
                except Exception as exc:
                    failure = exc
                    break
                published.append(row.id)
            if published:
                await session.execute(delete(table).where(table.c.id.in_(published)))
        if failure is not None:
            raise failure
        return len(published)

    async def _publish_row(self, row) -> None:
        token = otel_context.attach(propagate.extract(row.trace_context or {}))
        try:
            await self._publish(row.subject, row.payload, str(row.event_id))
        finally:
            otel_context.detach(token)

    async def pending(self) -> int:
        async with self._sessions() as session:
            return await session.scalar(select(func.count()).select_from(self._table))
