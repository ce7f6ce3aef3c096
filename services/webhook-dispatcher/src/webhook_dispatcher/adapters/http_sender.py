"""POSTs webhooks with aiohttp: a timeout per attempt, redirects never followed."""

from __future__ import annotations

import time

import aiohttp

from webhook_dispatcher.ports import AttemptResult


class AiohttpSender:
    def __init__(self, session: aiohttp.ClientSession, timeout_s: float) -> None:
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> AttemptResult:
        started = time.monotonic()
        try:
            async with self._session.post(
                url, data=body, headers=headers, timeout=self._timeout, allow_redirects=False
            ) as response:
                excerpt = (await response.content.read(512)).decode(errors="replace")
                retry_after = response.headers.get("Retry-After")
                return AttemptResult(
                    status_code=response.status,
                    error=None,
                    duration_ms=int((time.monotonic() - started) * 1000),
                    response_excerpt=excerpt,
                    retry_after_s=float(retry_after) if retry_after and retry_after.isdigit() else None,
                )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            return AttemptResult(
                status_code=None,
                error=f"{type(exc).__name__}: {exc}"[:500],
                duration_ms=int((time.monotonic() - started) * 1000),
                response_excerpt=None,
            )
