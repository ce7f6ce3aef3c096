"""Deleting a bot's data everywhere it is held, keeping its metadata.

The scheduler deletes the bot's files from the object store and forgets their keys and the
speakers' names, then asks the transcriber, the webhook-dispatcher and the meetings service to
purge what they hold.
The answer says what happened: `deleted`, `partiallyDeleted` (a service did not confirm; asking
again finishes the job), `alreadyDeleted`, or `noDataFound`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from uuid import UUID

from mb_shared.contracts.bot import BotStatus
from mb_shared.contracts.queries import DeleteDataReply, QueryError
from scheduler.ports import BotRepository

log = logging.getLogger(__name__)

Purge = Callable[[UUID], Awaitable[int]]


class DataDeletion:
    def __init__(self, bots: BotRepository, delete_files: Purge, purges: dict[str, Purge]) -> None:
        self._bots = bots
        self._delete_files = delete_files
        self._purges = purges

    async def delete(self, account_id: int, bot_id: UUID) -> DeleteDataReply | QueryError:
        async with self._bots.locked(bot_id) as unit:
            if unit is None or unit.bot.account_id != account_id:
                return QueryError(status=404, code="BotNotFound", message=f"No bot {bot_id}")
            bot = unit.bot
            if BotStatus(bot.status).is_with_runner:
                return QueryError(
                    status=409, code="BotInCall",
                    message="The bot is still in the meeting or uploading; make it leave "
                            "(DELETE /bots/{uuid}) and wait for its final webhook first.",
                )
            already = bot.data_deleted_at is not None
            bot.artifacts = {}
            bot.speakers = []
            bot.data_deleted_at = bot.data_deleted_at or datetime.now(UTC)
        removed, failures = 0, []
        for name, purge in {"object store": self._delete_files, **self._purges}.items():
            try:
                removed += await purge(bot_id)
            except Exception:
                log.exception("purging %s failed", name, extra={"bot_id": bot_id})
                failures.append(name)
        if failures:
            return DeleteDataReply(status="partiallyDeleted")
        if removed:
            return DeleteDataReply(status="deleted")
        return DeleteDataReply(status="alreadyDeleted" if already else "noDataFound")
