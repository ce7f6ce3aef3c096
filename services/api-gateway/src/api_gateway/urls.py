"""Customer URLs the gateway takes and the platform will call later (webhook URLs, `bot_image`,
streaming sockets, Zoom token URLs): their shape, and the platform's SSRF guard
(`mb_shared.url_guard`) at request time. Every refusal is a 400 naming the field:
`InvalidWebhookUrl` for a webhook URL of the wrong shape, `UnsafeUrl` for what the guard refuses.
The services that call these URLs check the addresses again when they connect."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from api_gateway.errors import ApiError
from api_gateway.schemas import WEBHOOK_URL_PATTERN
from mb_shared.url_guard import OutboundPolicy, UnsafeUrl, check_socket_url, check_url

HTTP = ("http", "https")


def guarded(url: str, field: str, policy: OutboundPolicy, schemes: tuple[str, ...] = HTTP) -> str:
    """`url` if the SSRF guard lets it through, else a 400 `UnsafeUrl` naming `field`."""
    try:
        return check_url(url, policy=policy, schemes=schemes)
    except UnsafeUrl as exc:
        raise ApiError(400, "UnsafeUrl", f"{field}: {exc}", field=field) from None


def socket_url(url: str, field: str, policy: OutboundPolicy) -> str:
    """A streaming WebSocket URL (`wss://`; `ws://` to 127.0.0.1 in development only), else a
    400 `UnsafeUrl` naming `field`."""
    try:
        return check_socket_url(url, policy=policy)
    except UnsafeUrl as exc:
        raise ApiError(400, "UnsafeUrl", f"{field}: {exc}", field=field) from None


def webhook_url_shape(raw: Any, field: str = "webhook_url") -> str | None:
    """An optional absolute http(s) URL (`WEBHOOK_URL_PATTERN`, trimmed), None when absent or
    empty; anything else is a 400 `InvalidWebhookUrl` naming `field`."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, str) and re.fullmatch(WEBHOOK_URL_PATTERN, raw.strip()):
        try:
            parts = urlsplit(raw.strip())
            if parts.scheme.lower() in HTTP and parts.hostname:
                return raw.strip()
        except ValueError:  # e.g. an unclosed IPv6 bracket
            pass
    raise ApiError(400, "InvalidWebhookUrl", f"{field}: must be an absolute http(s) URL",
                   field=field)


def webhook_url(raw: Any, policy: OutboundPolicy, field: str = "webhook_url") -> str | None:
    """An optional webhook URL of the right shape that the SSRF guard lets through."""
    url = webhook_url_shape(raw, field)
    return None if url is None else guarded(url, field, policy)
