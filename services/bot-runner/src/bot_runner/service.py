"""The runner: a bounded number of concurrent bot sessions, each in its own thread and browser."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from uuid import UUID

from bot_runner.session import BotSession, SessionConfig, SessionEffects
from mb_shared.contracts.bot import BotDispatched

log = logging.getLogger(__name__)


Claim = Callable[[BotDispatched], Awaitable[bool]]
"""Ask the scheduler for the bot: True when this runner is the one to run it."""


class Runner:
    def __init__(self, config: SessionConfig, max_concurrent: int,
                 effects_for: Callable[[BotDispatched], SessionEffects], claim: Claim) -> None:
        self._config = config
        self._claim = claim
        self._slots = asyncio.Semaphore(max_concurrent)
        self._effects_for = effects_for
        self._sessions: dict[UUID, BotSession] = {}
        self._tasks: set[asyncio.Task] = set()

    @property
    def bot_ids(self) -> list[UUID]:
        return list(self._sessions)

    async def start(self, dispatch: BotDispatched) -> None:
        """Start the bot's session once a slot is free and the scheduler gave this runner the
        bot (a dispatch delivered twice, here or to another runner, is run once)."""
        if dispatch.bot_id in self._sessions:
            return
        await self._slots.acquire()
        try:
            mine = dispatch.bot_id not in self._sessions and await self._claim(dispatch)
        except BaseException:
            self._slots.release()
            raise
        if not mine:
            self._slots.release()
            log.info("bot %s is not this runner's to run", dispatch.bot_id,
                     extra={"bot_id": dispatch.bot_id})
            return
        session = BotSession(dispatch, self._config, self._effects_for(dispatch))
        self._sessions[dispatch.bot_id] = session
        task = asyncio.create_task(self._run(session))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def until_free_slot(self) -> None:
        """Return once this runner could start another bot. The dispatch consumer waits for this
        before it fetches the next dispatch, so that a full runner never holds a bot that an
        idle runner could take."""
        await self._slots.acquire()
        self._slots.release()

    async def _run(self, session: BotSession) -> None:
        try:
            await asyncio.to_thread(session.run)
        finally:
            self._sessions.pop(session.dispatch.bot_id, None)
            self._slots.release()

    def request_leave(self, bot_id: UUID) -> None:
        session = self._sessions.get(bot_id)
        if session is not None:
            session.leave_requested.set()

    async def shutdown(self) -> None:
        """Ask every bot to leave and wait for their data to be delivered."""
        for session in self._sessions.values():
            session.leave_requested.set()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
