"""Loopback receivers for tests and benchmarks: webhooks as a customer's endpoint sees them."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


class BackgroundServer:
    """An aiohttp app on 127.0.0.1 in its own thread and loop."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    async def _start(self) -> None:
        self._runner = web.AppRunner(self._app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class ReceivedWebhook:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    received_at: float
    raw: bytes = b""


@dataclass
class WebhookReceiver:
    """Records every POST; `responses` and `delays` script failures and slowness per path (a
    response is a status, or a status and the headers to answer with, e.g. `Retry-After` or
    `Location`; a delay keyed `<path>#<event>` applies to that event only)."""

    received: list[ReceivedWebhook] = field(default_factory=list)
    responses: dict[str, list[int | tuple[int, dict[str, str]]]] = field(default_factory=dict)
    delays: dict[str, list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{path:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        body = json.loads(raw)
        path = "/" + request.match_info["path"]
        with self._lock:
            self.received.append(
                ReceivedWebhook(path, dict(request.headers), body, time.time(), raw)
            )
            scripted = self.responses.get(path)
            answer = scripted.pop(0) if scripted else 200
            status, headers = answer if isinstance(answer, tuple) else (answer, {})
            slow = self.delays.get(f"{path}#{body.get('event')}") or self.delays.get(path)
            delay = slow.pop(0) if slow else 0.0
        if delay:
            await asyncio.sleep(delay)
        return web.json_response({"ok": status < 300}, status=status, headers=headers)

    def for_bot(self, bot_id: str) -> list[ReceivedWebhook]:
        with self._lock:
            return [w for w in self.received if w.body.get("data", {}).get("bot_id") == bot_id]

    def wait_final(self, bot_id: str, timeout: float = 240.0) -> ReceivedWebhook:
        return self.wait_for(bot_id, lambda w: w.body["event"] in ("complete", "failed"), timeout)

    def wait_for(self, bot_id: str, predicate: Callable[[ReceivedWebhook], bool],
                 timeout: float = 240.0) -> ReceivedWebhook:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for hook in self.for_bot(bot_id):
                if predicate(hook):
                    return hook
            time.sleep(0.2)
        events = [(w.body["event"], w.body["data"].get("status")) for w in self.for_bot(bot_id)]
        raise AssertionError(f"no matching webhook for {bot_id} within {timeout} s; got {events}")

    def on_path(self, path: str) -> list[ReceivedWebhook]:
        with self._lock:
            return [w for w in self.received if w.path == path]

    def wait_on_path(self, path: str, predicate: Callable[[ReceivedWebhook], bool],
                     timeout: float = 60.0) -> ReceivedWebhook:
        """The first webhook POSTed to `path` that `predicate` accepts (calendar events, which
        belong to no bot)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for hook in self.on_path(path):
                if predicate(hook):
                    return hook
            time.sleep(0.2)
        got = [w.body.get("event") for w in self.on_path(path)]
        raise AssertionError(f"no matching webhook on {path} within {timeout} s; got {got}")

    def status_codes(self, bot_id: str) -> list[str]:
        return [
            w.body["data"]["status"]["code"]
            for w in self.for_bot(bot_id)
            if w.body["event"] == "bot.status_change"
        ]
