"""`POST /bots/{uuid}/delete_data`: delete a bot's recording, audio, transcripts, screenshots and
logs everywhere, keeping its metadata. 5 requests per minute per API key, then 429, counted in
the database so that every replica of the gateway shares the limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from api_gateway.accounts import Caller
from api_gateway.bots import _ask, _bot_uuid
from api_gateway.errors import ApiError
from api_gateway.keys import CALLER
from api_gateway.models import RateLimitHit
from api_gateway.responses import DeleteResponse, json_response
from mb_shared.contracts.queries import DeleteBotData, DeleteDataReply
from mb_shared.database import session_scope

routes = web.RouteTableDef()

REQUESTS_PER_WINDOW = 5
WINDOW_S = 60.0


class SharedRateLimiter:
    """Per key, at most `limit` requests in any `window_s` seconds, across replicas: the hits
    live in the database and one key's are counted under its advisory lock."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], limit: int,
                 window_s: float) -> None:
        self._sessions = sessions
        self._limit = limit
        self._window = timedelta(seconds=window_s)

    async def retry_after(self, key: str) -> float:
        """0 if allowed (and counted), else seconds until the next request is allowed."""
        now = datetime.now(UTC)
        async with session_scope(self._sessions) as session:
            await session.exec(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                               params={"key": f"rate-limit:{key}"})
            await session.exec(delete(RateLimitHit).where(
                RateLimitHit.key == key, RateLimitHit.at <= now - self._window))
            count, oldest = (await session.exec(
                select(func.count(), func.min(RateLimitHit.at)).where(RateLimitHit.key == key)
            )).one()
            if count >= self._limit:
                return (oldest + self._window - now).total_seconds()
            session.add(RateLimitHit(key=key, at=now))
        return 0.0


LIMITER = web.AppKey("delete_data_limiter", SharedRateLimiter)


@routes.post("/bots/{uuid}/delete_data")
async def delete_data(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    bot_id = _bot_uuid(request.match_info["uuid"], "uuid")  # a malformed request costs no quota
    wait = await request.app[LIMITER].retry_after(f"delete_data:{caller.api_key_id}")
    if wait:
        raise ApiError(429, "TooManyRequests",
                       f"delete_data is limited to {REQUESTS_PER_WINDOW} requests per minute per "
                       "API key; retry later.", retry_after_s=max(1, round(wait + 0.5)))
    reply: DeleteDataReply = await _ask(
        request, DeleteBotData(account_id=caller.account_id, bot_id=bot_id), DeleteDataReply
    )
    return json_response(DeleteResponse(ok=True, status=reply.status))
