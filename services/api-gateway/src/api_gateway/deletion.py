"""`POST /bots/{uuid}/delete_data`: delete a bot's recording, audio, transcripts, screenshots and
logs everywhere, keeping its metadata. 5 requests per minute per API key, then 429."""

from __future__ import annotations

import time
from collections import deque

from aiohttp import web

from api_gateway.accounts import Caller
from api_gateway.bots import _ask, _bot_uuid
from api_gateway.errors import ApiError
from api_gateway.keys import CALLER
from api_gateway.responses import DeleteResponse, json_response
from mb_shared.contracts.queries import DeleteBotData, DeleteDataReply

routes = web.RouteTableDef()

REQUESTS_PER_WINDOW = 5
WINDOW_S = 60.0


class SlidingWindowLimiter:
    """Per key, at most `limit` requests in any `window_s` seconds (per gateway replica)."""

    def __init__(self, limit: int, window_s: float) -> None:
        self._limit = limit
        self._window = window_s
        self._seen: dict[str, deque[float]] = {}

    def retry_after(self, key: str, now: float | None = None) -> float:
        """0 if allowed (and counted), else seconds until the next request is allowed."""
        now = time.monotonic() if now is None else now
        seen = self._seen.setdefault(key, deque())
        while seen and now - seen[0] >= self._window:
            seen.popleft()
        if len(seen) >= self._limit:
            return self._window - (now - seen[0])
        seen.append(now)
        return 0.0


LIMITER = web.AppKey("delete_data_limiter", SlidingWindowLimiter)


@routes.post("/bots/{uuid}/delete_data")
async def delete_data(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    bot_id = _bot_uuid(request.match_info["uuid"], "uuid")  # a malformed request costs no quota
    wait = request.app[LIMITER].retry_after(caller.api_key)
    if wait:
        raise ApiError(429, "TooManyRequests",
                       f"delete_data is limited to {REQUESTS_PER_WINDOW} requests per minute per "
                       "API key; retry later.", retry_after_s=max(1, round(wait + 0.5)))
    reply: DeleteDataReply = await _ask(
        request, DeleteBotData(account_id=caller.account_id, bot_id=bot_id), DeleteDataReply
    )
    return json_response(DeleteResponse(ok=True, status=reply.status))
