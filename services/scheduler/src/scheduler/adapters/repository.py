"""SQLModel repository of bots and their status history."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import func, text, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mb_shared.contracts.bot import BotStatus
from mb_shared.contracts.queries import ListBots
from mb_shared.database import session_scope
from scheduler.adapters.listing import cursor_of, list_statement, sort_columns
from scheduler.models import Bot, BotStatusHistory

_WITH_RUNNER = [s.value for s in BotStatus if s.is_with_runner]


@dataclass
class _LockedBot:
    session: AsyncSession
    bot: Bot

    def record_status(self, at: datetime) -> None:
        bot = self.bot
        failed = bot.status == BotStatus.FAILED
        self.session.add(
            BotStatusHistory(
                bot_pk=bot.id,
                status=bot.status,
                at=at,
                error=bot.error if failed else None,
                reason=bot.reason if failed or bot.status == BotStatus.CALL_ENDED else None,
                message=bot.message if failed else None,
            )
        )


class SqlBotRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def add(self, bot: Bot, at: datetime, dedup_window: timedelta) -> Bot | None:
        url = bot.params["meeting_url"]
        key = bot.params.get("deduplication_key") or ""
        async with session_scope(self._sessions) as session:
            await session.exec(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))").bindparams(
                    k=f"{bot.account_id}|{url}"
                )
            )
            duplicate = (
                await session.exec(
                    select(Bot).where(
                        Bot.account_id == bot.account_id,
                        Bot.params["meeting_url"].astext == url,
                        func.coalesce(Bot.params["deduplication_key"].astext, "") == key,
                        Bot.created_at > at - dedup_window,
                        Bot.status != BotStatus.FAILED,
                    ).limit(1)
                )
            ).first()
            if duplicate is not None:
                return duplicate
            session.add(bot)
            await session.flush()
            session.add(BotStatusHistory(bot_pk=bot.id, status=bot.status, at=at))
        return None

    async def get(self, bot_id: UUID) -> Bot | None:
        async with self._sessions() as session:
            return (await session.exec(select(Bot).where(Bot.bot_id == bot_id))).first()

    @asynccontextmanager
    async def locked(self, bot_id: UUID) -> AsyncIterator[_LockedBot | None]:
        """Load the bot FOR UPDATE: handlers of one bot's events take turns, never overwrite."""
        async with session_scope(self._sessions) as session:
            bot = (
                await session.exec(select(Bot).where(Bot.bot_id == bot_id).with_for_update())
            ).first()
            yield _LockedBot(session, bot) if bot is not None else None

    async def list(self, query: ListBots) -> tuple[list[Bot], list | None]:
        keys = sort_columns(query)
        async with self._sessions() as session:
            rows = (await session.execute(list_statement(query, keys))).all()
        page = rows[: query.limit]
        more = len(rows) > query.limit
        return [row[0] for row in page], (cursor_of(tuple(page[-1][1:])) if more else None)

    async def history(self, bot: Bot):
        async with self._sessions() as session:
            rows = await session.exec(
                select(BotStatusHistory)
                .where(BotStatusHistory.bot_pk == bot.id)
                .order_by(col(BotStatusHistory.id))
            )
            return [(r.status, r.at, r.error, r.reason, r.message) for r in rows]

    async def claim_due(self, now: datetime, limit: int) -> Sequence[Bot]:
        async with session_scope(self._sessions) as session:
            bots = (
                await session.exec(
                    select(Bot)
                    .where(
                        Bot.status == BotStatus.QUEUED,
                        col(Bot.dispatched_at).is_(None),
                        Bot.due_at <= now,
                    )
                    .order_by(col(Bot.due_at))
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            for bot in bots:
                bot.dispatched_at = now
                session.add(bot)
        return bots

    async def touch(self, bot_ids: Sequence[UUID], runner_id: str, at: datetime) -> None:
        async with session_scope(self._sessions) as session:
            await session.exec(
                update(Bot)
                .where(col(Bot.bot_id).in_(list(bot_ids)), col(Bot.status).in_(_WITH_RUNNER))
                .values(last_seen_at=at, runner_id=runner_id)
            )

    async def silent_since(self, before: datetime) -> Sequence[UUID]:
        async with self._sessions() as session:
            return (
                await session.exec(
                    select(Bot.bot_id).where(
                        col(Bot.status).in_(_WITH_RUNNER),
                        col(Bot.last_seen_at) < before,
                        ~(
                            (Bot.status == BotStatus.CALL_ENDED)
                            & (Bot.recording_uploaded == True)  # noqa: E712
                        ),
                    )
                )
            ).all()

    async def unclaimed_since(self, before: datetime) -> Sequence[UUID]:
        async with self._sessions() as session:
            return (
                await session.exec(
                    select(Bot.bot_id).where(
                        Bot.status == BotStatus.QUEUED,
                        col(Bot.dispatched_at) < before,
                    )
                )
            ).all()
