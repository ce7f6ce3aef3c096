"""SQLModel repository of bots, their status history and transcription requests. Events a change
causes are staged in the outbox in the same transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import func, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mb_shared.contracts.base import Event
from mb_shared.contracts.bot import BotStatus
from mb_shared.contracts.queries import ListBots
from mb_shared.database import session_scope
from mb_shared.outbox import Outbox
from mb_shared.secrets import KeyRing, count_sealed
from scheduler.adapters.listing import cursor_of, list_statement, sort_columns
from scheduler.models import Bot, BotStatusHistory, Runner, TranscriptionRequest

_WITH_RUNNER = [s.value for s in BotStatus if s.is_with_runner]


def _held_by_runner():
    """Bots a runner holds: in the call or on their way, or claimed and not yet joining."""
    return col(Bot.status).in_(_WITH_RUNNER) | (
        (Bot.status == BotStatus.QUEUED) & col(Bot.runner_id).is_not(None))


@dataclass
class _LockedBot:
    session: AsyncSession
    bot: Bot
    events: list[Event] = field(default_factory=list)

    def emit(self, *events: Event) -> None:
        self.events.extend(events)

    def request_transcription(self, request: TranscriptionRequest) -> None:
        self.session.add(request)

    async def close_transcription_request(self, request_id: UUID, at: datetime) -> None:
        await self.session.exec(
            update(TranscriptionRequest)
            .where(col(TranscriptionRequest.id) == request_id)
            .values(sealed_api_key=None, done_at=at)
        )

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


    async def record_note(self, at: datetime, message: str) -> None:
        """A history entry under the current status; the same note delivered again is kept once."""
        bot = self.bot
        seen = (await self.session.exec(select(BotStatusHistory.id).where(
            BotStatusHistory.bot_pk == bot.id, BotStatusHistory.at == at,
            BotStatusHistory.message == message).limit(1))).first()
        if seen is None:
            self.session.add(BotStatusHistory(bot_pk=bot.id, status=bot.status, at=at,
                                              message=message))


class SqlBotRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], outbox: Outbox) -> None:
        self._sessions = sessions
        self._outbox = outbox

    async def add(self, bot: Bot, at: datetime, dedup_window: timedelta,
                  events: list[Event]) -> Bot | None:
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
            await self._outbox.put(session, events)
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
            if bot is None:
                yield None
                return
            unit = _LockedBot(session, bot)
            yield unit
            await self._outbox.put(session, unit.events)

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

    async def claim_due(self, now: datetime, limit: int,
                        dispatch: Callable[[Bot], Event]) -> Sequence[Bot]:
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
                await self._outbox.put(session, [dispatch(bot)], bot.trace_context)
        return bots

    async def touch(self, bot_ids: Sequence[UUID], runner_id: str, at: datetime) -> list[UUID]:
        """Note that the runner is alive and holds these bots; those it must make leave: asked
        to, or already ended here (failed while the runner was out of reach)."""
        async with session_scope(self._sessions) as session:
            await session.exec(
                insert(Runner).values(runner_id=runner_id, last_seen_at=at)
                .on_conflict_do_update(index_elements=["runner_id"],
                                       set_={"last_seen_at": at})
            )
            if not bot_ids:
                return []
            await session.exec(
                update(Bot)
                .where(col(Bot.bot_id).in_(list(bot_ids)),
                       col(Bot.status).in_(_WITH_RUNNER)
                       | ((Bot.status == BotStatus.QUEUED) & (Bot.runner_id == runner_id)))
                .values(last_seen_at=at, runner_id=runner_id)
            )
            leave = await session.exec(
                select(Bot.bot_id).where(
                    col(Bot.bot_id).in_(list(bot_ids)),
                    col(Bot.leave_requested_at).is_not(None)
                    | col(Bot.status).in_([BotStatus.COMPLETED, BotStatus.FAILED]),
                )
            )
            return list(leave)

    async def transcription_key(self, request_id: UUID) -> str | None:
        async with self._sessions() as session:
            request = await session.get(TranscriptionRequest, request_id)
            return request.sealed_api_key if request is not None else None

    async def live_transcription_key(self, bot_id: UUID) -> str | None:
        async with self._sessions() as session:
            bot = (await session.exec(select(Bot).where(Bot.bot_id == bot_id))).first()
            if bot is None or bot.speech_api_key is not None:
                return bot.speech_api_key if bot is not None else None
            return (await session.exec(
                select(TranscriptionRequest.sealed_api_key)
                .where(TranscriptionRequest.bot_pk == bot.id,
                       TranscriptionRequest.rerun == False,  # noqa: E712
                       col(TranscriptionRequest.done_at).is_(None)))).first()

    async def silent_since(self, before: datetime) -> Sequence[UUID]:
        """Bots held by a runner not heard since `before` (a bot its runner no longer lists,
        while the runner is heard, is on its way out: its last events are still coming)."""
        async with self._sessions() as session:
            return (
                await session.exec(
                    select(Bot.bot_id)
                    .join(Runner, col(Runner.runner_id) == col(Bot.runner_id), isouter=True)
                    .where(
                        _held_by_runner(),
                        func.coalesce(Runner.last_seen_at, Bot.last_seen_at) < before,
                        ~(
                            (Bot.status == BotStatus.CALL_ENDED)
                            & (Bot.recording_uploaded == True)  # noqa: E712
                        ),
                    )
                )
            ).all()

    async def unlisted_since(self, before: datetime) -> Sequence[UUID]:
        """Bots a runner still heard stopped listing before `before`, whose end never came."""
        async with self._sessions() as session:
            return (
                await session.exec(
                    select(Bot.bot_id)
                    .join(Runner, col(Runner.runner_id) == col(Bot.runner_id))
                    .where(_held_by_runner(), col(Bot.last_seen_at) < before,
                           Runner.last_seen_at >= before)
                )
            ).all()

    async def unclaimed_since(self, before: datetime) -> Sequence[UUID]:
        async with self._sessions() as session:
            return (
                await session.exec(
                    select(Bot.bot_id).where(
                        Bot.status == BotStatus.QUEUED,
                        col(Bot.dispatched_at) < before,
                        col(Bot.runner_id).is_(None),
                    )
                )
            ).all()


async def reseal_secrets(sessions: async_sessionmaker[AsyncSession], key_ring: KeyRing) -> int:
    """Seal every stored provider key and Zoom secret again with the ring's newest key
    (`rotate-secrets`)."""
    count = 0
    async with session_scope(sessions) as session:
        bots = await session.exec(
            select(Bot).where(col(Bot.speech_api_key).is_not(None)
                              | col(Bot.join_secrets).is_not(None)).with_for_update())
        for bot in bots.all():
            if bot.speech_api_key is not None:
                bot.speech_api_key = key_ring.reseal(bot.speech_api_key)
                count += 1
            if bot.join_secrets:
                bot.join_secrets = key_ring.reseal_within(bot.join_secrets)
                count += count_sealed(bot.join_secrets)
            session.add(bot)
        requests = await session.exec(
            select(TranscriptionRequest)
            .where(col(TranscriptionRequest.sealed_api_key).is_not(None)).with_for_update())
        for request in requests.all():
            request.sealed_api_key = key_ring.reseal(request.sealed_api_key)
            session.add(request)
            count += 1
    return count
