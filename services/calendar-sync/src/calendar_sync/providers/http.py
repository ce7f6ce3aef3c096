"""One HTTP exchange with a provider: connection failures, timeouts, 429 and 5xx become
`ProviderUnavailable`; anything else is handed back with its JSON body."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from calendar_sync.providers.base import ProviderUnavailable


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any

    def field(self, *path: str) -> Any:
        value = self.body
        for name in path:
            value = value.get(name) if isinstance(value, dict) else None
        return value


async def exchange(session: aiohttp.ClientSession, method: str, url: str, *, provider: str,
                   timeout_s: float, **kwargs: Any) -> Answer:
    try:
        async with session.request(method, url, timeout=aiohttp.ClientTimeout(total=timeout_s),
                                   allow_redirects=False, **kwargs) as response:
            text = await response.text()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ProviderUnavailable(f"{provider} could not be reached ({type(exc).__name__})") from None
    if status == 429 or status >= 500:
        raise ProviderUnavailable(f"{provider} answered HTTP {status}; retrying later")
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = text
    return Answer(status, body)
