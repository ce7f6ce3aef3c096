"""`webhooks.data.purge` (request/reply): delete a bot's deliveries (their payloads carry the
transcript and file links) and every attempt log. Where to deliver is kept, as metadata."""

from __future__ import annotations

from faststream.nats import NatsRouter
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from mb_shared.contracts.queries import PurgeDeliveries, PurgeReply
from mb_shared.database import session_scope
from mb_shared.messaging import answers_errors
from webhook_dispatcher.models import Delivery, DeliveryAttempt


async def purge_deliveries(sessions: async_sessionmaker[AsyncSession], bot_id) -> int:
    """Returns how many deliveries were deleted."""
    async with session_scope(sessions) as session:
        deliveries = select(Delivery.id).where(Delivery.bot_id == bot_id)
        await session.exec(
            delete(DeliveryAttempt).where(col(DeliveryAttempt.delivery_id).in_(deliveries))
        )
        result = await session.exec(delete(Delivery).where(Delivery.bot_id == bot_id))
        return result.rowcount


def build_purge_router(sessions: async_sessionmaker[AsyncSession]) -> NatsRouter:
    router = NatsRouter()

    @router.subscriber(PurgeDeliveries.SUBJECT, queue="webhook-dispatcher")
    @answers_errors
    async def on_purge_deliveries(query: PurgeDeliveries) -> dict:
        removed = await purge_deliveries(sessions, query.bot_id)
        return PurgeReply(removed=removed).model_dump(mode="json")

    return router
