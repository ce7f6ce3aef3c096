"""What a resource is: a group of operations, each described once as a `Request` and handed to
the client's transport, which answers it (sync) or gives an awaitable of the answer (async)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from meetingbots.transport import Request, Transport


class Resource:
    def __init__(self, transport: Transport) -> None:
        self._send: Callable[[Request[Any]], Any] = transport.send
