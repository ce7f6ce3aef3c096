"""POSTs webhooks with aiohttp: a timeout per attempt, redirects never followed; the session is a
guarded one (`mb_shared.url_guard`), whose refusals are reported as `blocked`."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp

from mb_shared.url_guard import AddressNotPublic
from webhook_dispatcher.ports import AttemptResult


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a `Retry-After` header: delay-seconds or an HTTP date (RFC 9110).

    Unparseable values are ignored (None); a date in the past means no wait (0).
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class AiohttpSender:
    def __init__(self, session: aiohttp.ClientSession, timeout_s: float) -> None:
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> AttemptResult:
        """POST `body` exactly as given (the signature covers these bytes)."""
        started = time.monotonic()
        try:
            async with self._session.post(
                url, data=body, headers=headers, timeout=self._timeout, allow_redirects=False
            ) as response:
                excerpt = (await response.content.read(512)).decode(errors="replace")
                return AttemptResult(
                    status_code=response.status,
                    error=None,
                    duration_ms=int((time.monotonic() - started) * 1000),
                    response_excerpt=excerpt,
                    retry_after_s=parse_retry_after(response.headers.get("Retry-After"),
                                                    datetime.now(UTC)),
                    location=response.headers.get("Location"),
                )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            blocked = isinstance(getattr(exc, "os_error", None), AddressNotPublic)
            return AttemptResult(
                status_code=None,
                error=(str(exc.os_error) if blocked else f"{type(exc).__name__}: {exc}")[:500],
                duration_ms=int((time.monotonic() - started) * 1000),
                response_excerpt=None,
                blocked=blocked,
            )
