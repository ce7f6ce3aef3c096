"""Ports the scheduler's logic depends on."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from mb_shared.contracts import Event
from mb_shared.contracts.queries import ListBots
from scheduler.models import Bot, TranscriptionRequest


class LockedBot(Protocol):
    """A bot loaded under its row lock; its changes, and the events they cause, are committed
    together when the block exits."""

    bot: Bot

    def record_status(self, at: datetime) -> None: ...
    async def record_note(self, at: datetime, message: str) -> None: ...
    def emit(self, *events: Event) -> None: ...
    def request_transcription(self, request: TranscriptionRequest) -> None: ...
    async def close_transcription_request(self, request_id: UUID, at: datetime) -> None: ...


class BotRepository(Protocol):
    async def add(self, bot: Bot, at: datetime, dedup_window: timedelta,
                  events: list[Event]) -> Bot | None:
        """Insert the bot and stage `events`, unless the account sent a bot with the same
        deduplication key to the same meeting within the window (and it has not failed); then
        return that one instead."""
    async def get(self, bot_id: UUID) -> Bot | None: ...
    def locked(self, bot_id: UUID) -> AbstractAsyncContextManager[LockedBot | None]: ...
    async def list(self, query: ListBots) -> tuple[list[Bot], list | None]: ...
    async def history(self, bot: Bot) -> list[tuple[str, datetime, str | None, str | None, str | None]]: ...
    async def claim_due(self, now: datetime, limit: int,
                        dispatch: Callable[[Bot], Event]) -> Sequence[Bot]:
        """Mark due bots dispatched and stage `dispatch(bot)` for each, in one transaction;
        rows are locked (`SKIP LOCKED`) so that replicas never claim a bot twice."""
    async def touch(self, bot_ids: Sequence[UUID], runner_id: str, at: datetime) -> list[UUID]: ...
    async def transcription_key(self, request_id: UUID) -> str | None: ...
    async def live_transcription_key(self, bot_id: UUID) -> str | None:
        """The bot's sealed provider key, or once it went to its first transcription request
        (at the call's end), that request's while it is open."""
    async def silent_since(self, before: datetime) -> Sequence[UUID]:
        """Bots held by a runner not heard since `before`."""
    async def unlisted_since(self, before: datetime) -> Sequence[UUID]:
        """Bots held by a runner that is heard but stopped listing them before `before`."""
    async def unclaimed_since(self, before: datetime) -> Sequence[UUID]: ...
