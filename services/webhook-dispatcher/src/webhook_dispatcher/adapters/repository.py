"""SQLModel store of targets, deliveries and attempts."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mb_shared.database import session_scope
from webhook_dispatcher.models import BotTarget, Delivery, DeliveryAttempt, GoneEndpoint
from webhook_dispatcher.ports import AttemptResult


class SqlDeliveryStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def save_target(self, target: BotTarget) -> BotTarget:
        async with session_scope(self._sessions) as session:
            await session.exec(
                insert(BotTarget).values(**target.model_dump())
                .on_conflict_do_nothing(index_elements=["bot_id"])
            )
        return await self.target(target.bot_id)

    async def target(self, bot_id: UUID) -> BotTarget | None:
        async with self._sessions() as session:
            return await session.get(BotTarget, bot_id)

    async def mark_final(self, bot_id: UUID, at: datetime) -> None:
        async with session_scope(self._sessions) as session:
            await session.exec(
                update(BotTarget)
                .where(col(BotTarget.bot_id) == bot_id)
                .values(final_at=func.least(func.coalesce(BotTarget.final_at, at), at))
            )

    @contextlib.asynccontextmanager
    async def bot_lock(self, bot_id: UUID) -> AsyncIterator[bool]:
        """A transaction-scoped advisory lock on the bot, held on its own connection for as long
        as the block runs; a replica that dies lets it go with its connection."""
        async with self._sessions() as session, session.begin():
            mine = await session.scalar(
                text("SELECT pg_try_advisory_xact_lock(hashtextextended(:key, 0))"),
                {"key": f"webhook-delivery:{bot_id}"},
            )
            yield bool(mine)

    async def defer(self, delivery: Delivery, until: datetime, error: str) -> None:
        async with session_scope(self._sessions) as session:
            await session.exec(
                update(Delivery).where(col(Delivery.id) == delivery.id)
                .values(next_attempt_at=until, last_error=error,
                        deferrals=Delivery.deferrals + 1)
            )

    async def save_payload(self, delivery: Delivery, payload: dict[str, Any]) -> None:
        async with session_scope(self._sessions) as session:
            await session.exec(
                update(Delivery).where(col(Delivery.id) == delivery.id)
                .values(payload=payload, needs_transcript=False)
            )

    async def enqueue(self, delivery: Delivery) -> bool:
        """Insert once per webhook id; False if this event was already enqueued."""
        values = delivery.model_dump(exclude={"id"})
        async with session_scope(self._sessions) as session:
            inserted = await session.exec(
                insert(Delivery)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["webhook_id"])
                .returning(Delivery.id)
            )
            return inserted.scalar_one_or_none() is not None

    async def next_pending(self, bot_id: UUID) -> Delivery | None:
        async with self._sessions() as session:
            return (
                await session.exec(
                    select(Delivery)
                    .where(Delivery.bot_id == bot_id, Delivery.state == "pending")
                    .order_by(col(Delivery.occurred_at), col(Delivery.id))
                    .limit(1)
                )
            ).first()

    async def bots_due(self, now: datetime) -> list[UUID]:
        async with self._sessions() as session:
            rows = await session.exec(
                select(Delivery.bot_id)
                .where(Delivery.state == "pending", col(Delivery.next_attempt_at) <= now)
                .distinct()
            )
            return list(rows)

    async def record_attempt(self, delivery: Delivery, result: AttemptResult, started_at: datetime,
                             state: str, next_attempt_at: datetime | None) -> None:
        async with session_scope(self._sessions) as session:
            number = delivery.attempts + 1
            session.add(
                DeliveryAttempt(
                    delivery_id=delivery.id,
                    number=number,
                    started_at=started_at,
                    duration_ms=result.duration_ms,
                    status_code=result.status_code,
                    error=result.error,
                    response_excerpt=result.response_excerpt,
                )
            )
            await session.exec(
                update(Delivery)
                .where(col(Delivery.id) == delivery.id)
                .values(
                    attempts=number,
                    state=state,
                    next_attempt_at=next_attempt_at,
                    delivered_at=started_at if state == "delivered" else None,
                    last_error=result.error,
                )
            )

    async def final_delivery(self, bot_id: UUID) -> Delivery | None:
        async with self._sessions() as session:
            return (
                await session.exec(
                    select(Delivery)
                    .where(Delivery.bot_id == bot_id,
                           col(Delivery.event).in_(("complete", "failed")))
                    .order_by(col(Delivery.id).desc())
                    .limit(1)
                )
            ).first()

    async def restart(self, delivery: Delivery, url: str, at: datetime) -> None:
        async with session_scope(self._sessions) as session:
            await session.exec(
                update(Delivery)
                .where(col(Delivery.id) == delivery.id)
                .values(state="pending", url=url, attempts=0, next_attempt_at=at,
                        delivered_at=None)
            )

    async def endpoint_gone(self, account_id: int, url: str) -> bool:
        async with self._sessions() as session:
            return await session.get(GoneEndpoint, (account_id, url)) is not None

    async def close_endpoint(self, account_id: int, url: str, webhook_id: UUID,
                             at: datetime) -> int:
        async with session_scope(self._sessions) as session:
            await session.exec(
                insert(GoneEndpoint)
                .values(account_id=account_id, url=url, gone_at=at, webhook_id=webhook_id)
                .on_conflict_do_nothing(index_elements=["account_id", "url"])
            )
            closed = await session.exec(
                update(Delivery)
                .where(
                    col(Delivery.account_id) == account_id,
                    col(Delivery.url) == url,
                    col(Delivery.state) == "pending",
                )
                .values(state="endpoint_gone", next_attempt_at=None)
            )
            return closed.rowcount
