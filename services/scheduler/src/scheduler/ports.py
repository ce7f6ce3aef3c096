"""Ports the scheduler's logic depends on."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from mb_shared.contracts import Event
from mb_shared.contracts.queries import ListBots
from scheduler.models import Bot


class LockedBot(Protocol):
    """A bot loaded under its row lock; changes are committed when the block exits."""

    bot: Bot

    def record_status(self, at: datetime) -> None: ...


class BotRepository(Protocol):
    async def add(self, bot: Bot, at: datetime, dedup_window: timedelta) -> Bot | None:
        """Insert the bot unless the account sent a bot with the same deduplication key to the same
        meeting within the window (and it has not failed); then return that one instead."""
    async def get(self, bot_id: UUID) -> Bot | None: ...
    def locked(self, bot_id: UUID) -> AbstractAsyncContextManager[LockedBot | None]: ...
    async def list(self, query: ListBots) -> tuple[list[Bot], list | None]: ...
    async def history(self, bot: Bot) -> list[tuple[str, datetime, str | None, str | None, str | None]]: ...
    async def claim_due(self, now: datetime, limit: int) -> Sequence[Bot]: ...
    async def touch(self, bot_ids: Sequence[UUID], runner_id: str, at: datetime) -> None: ...
    async def silent_since(self, before: datetime) -> Sequence[UUID]: ...
    async def unclaimed_since(self, before: datetime) -> Sequence[UUID]: ...


class EventPublisher(Protocol):
    async def __call__(self, event: Event, trace_context: dict[str, str] | None = None) -> None: ...
