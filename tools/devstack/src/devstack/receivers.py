"""Loopback receivers for tests and benchmarks: webhooks as a customer's endpoint sees them."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
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


@dataclass
class AudioConnection:
    """One WebSocket a bot opened to an `AudioReceiver`: its first text frame (the header), the
    text frames after it, and the binary frames with the time (unix s) each arrived."""

    path: str
    opened_at: float
    header: dict[str, Any] | None = None
    texts: list[dict[str, Any]] = field(default_factory=list)
    frames: list[tuple[float, bytes]] = field(default_factory=list)
    closed_at: float | None = None
    close_code: int | None = None

    def pcm(self) -> bytes:
        return b"".join(frame for _, frame in self.frames)


@dataclass
class AudioReceiver:
    """A customer's live-audio WebSocket server (`streaming.output` / `streaming.input`).

    Records every connection (`AudioConnection`) per path. Per path, `speak` is an audio file
    (any format ffmpeg reads) sent to the bot as its microphone once the bot's header arrives: as
    PCM at the header's rate, in frames at real-time pace, `spoken_at` noting when it began;
    `drop_after_s` closes the socket abruptly (no close frame) that many seconds into the
    connection, for its first `drops` connections."""

    connections: list[AudioConnection] = field(default_factory=list)
    speak: dict[str, Path] = field(default_factory=dict)
    spoken_at: dict[str, float] = field(default_factory=dict)
    drop_after_s: dict[str, float] = field(default_factory=dict)
    drops: dict[str, int] = field(default_factory=dict)
    frame_ms: int = 40
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _open: set = field(default_factory=set)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{path:.*}", self._handle)
        return app

    def crash(self) -> None:
        """Drop every open connection without a close frame, as a server that dies does (then
        stop its `BackgroundServer`)."""
        with self._lock:
            transports = list(self._open)
        for transport in transports:
            transport.abort()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        ws = web.WebSocketResponse(max_msg_size=1 << 22)
        await ws.prepare(request)
        connection = AudioConnection(path, time.time())
        transport = request.transport
        with self._lock:
            self.connections.append(connection)
            if transport is not None:
                self._open.add(transport)
            drop = self.drop_after_s.get(path) if self.drops.get(path, 0) > 0 else None
            if drop is not None:
                self.drops[path] -= 1
        tasks: list[asyncio.Task] = []
        if drop is not None:
            tasks.append(asyncio.create_task(self._drop_later(request, drop)))
        try:
            async for message in ws:
                if message.type == web.WSMsgType.BINARY:
                    connection.frames.append((time.time(), message.data))
                elif message.type == web.WSMsgType.TEXT:
                    text = json.loads(message.data)
                    if connection.header is None:
                        connection.header = text
                        if path in self.speak:
                            tasks.append(asyncio.create_task(self._speak(
                                ws, path, self.speak[path], int(text["sample_rate"]))))
                    else:
                        connection.texts.append(text)
        finally:
            for task in tasks:
                task.cancel()
            with self._lock:
                self._open.discard(transport)
            connection.closed_at, connection.close_code = time.time(), ws.close_code
        return ws

    async def _drop_later(self, request: web.Request, delay: float) -> None:
        await asyncio.sleep(delay)
        if request.transport is not None:
            request.transport.abort()

    async def _speak(self, ws: web.WebSocketResponse, path: str, audio: Path, rate: int) -> None:
        decoder = await asyncio.create_subprocess_exec(
            "ffmpeg", "-v", "error", "-nostdin", "-i", str(audio), "-ac", "1", "-ar", str(rate),
            "-f", "s16le", "-", stdout=asyncio.subprocess.PIPE)
        pcm, _ = await decoder.communicate()
        step = rate * self.frame_ms // 1000 * 2
        started = time.monotonic()
        self.spoken_at[path] = time.time()
        for index, at in enumerate(range(0, len(pcm), step)):
            await ws.send_bytes(pcm[at:at + step])
            await asyncio.sleep(max(0.0, started + (index + 1) * self.frame_ms / 1000
                                    - time.monotonic()))

    def on_path(self, path: str) -> list[AudioConnection]:
        with self._lock:
            return [c for c in self.connections if c.path == path]

    def wait_closed(self, path: str, count: int = 1, timeout: float = 240.0) -> list[AudioConnection]:
        """The connections on `path` once `count` of them have closed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.on_path(path)
            if sum(c.closed_at is not None for c in found) >= count:
                return found
            time.sleep(0.2)
        raise AssertionError(f"{count} closed connection(s) on {path} not seen in {timeout} s; "
                             f"got {len(self.on_path(path))} connection(s)")
