"""A small Chrome DevTools Protocol client running on its own thread.

Selenium's driver is not thread-safe, so the recorder never touches it after
``start()``: it opens its own DevTools websocket to the page target (Chrome
accepts several clients per target) and runs it on a private asyncio loop in a
daemon thread. Event handlers run on that loop thread and must be quick.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
import urllib.request
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

EventHandler = Callable[[dict[str, Any]], None]


class CdpError(RuntimeError):
    pass


class CdpConnection:
    """One websocket to one DevTools target (a page), usable from any thread."""

    def __init__(self, ws_url: str) -> None:
        self.ws_url = ws_url
        self._handlers: dict[str, list[EventHandler]] = {}
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name="cdp-loop", daemon=True)
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task | None = None
        self.closed = threading.Event()
        self.error: BaseException | None = None

    # ----------------------------------------------------------------- life
    def open(self, timeout: float = 10.0) -> None:
        self._thread.start()
        self._submit(self._connect()).result(timeout)

    def close(self, timeout: float = 5.0) -> None:
        if not self._thread.is_alive():
            return
        try:
            self._submit(self._disconnect()).result(timeout)
        except Exception:
            log.debug("cdp: error while closing", exc_info=True)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._loop.close()

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def _submit(self, coro) -> Future:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _connect(self) -> None:
        self._session = aiohttp.ClientSession()
        self._ws = await self._session.ws_connect(
            self.ws_url, max_msg_size=0, heartbeat=None, autoping=True
        )
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _disconnect(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 2)
            except (TimeoutError, asyncio.CancelledError):
                self._reader.cancel()
        if self._session is not None:
            await self._session.close()

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for msg in self._ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    if msg.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE):
                        break
                    continue
                data = json.loads(msg.data)
                if "id" in data:
                    fut = self._pending.pop(data["id"], None)
                    if fut is not None and not fut.done():
                        if "error" in data:
                            fut.set_exception(CdpError(f"{data['error']}"))
                        else:
                            fut.set_result(data.get("result", {}))
                    continue
                for handler in self._handlers.get(data.get("method", ""), ()):
                    try:
                        handler(data.get("params", {}))
                    except Exception:
                        log.exception("cdp: handler for %s failed", data.get("method"))
        except Exception as exc:  # noqa: BLE001
            self.error = exc
        finally:
            self.closed.set()
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(CdpError("DevTools connection closed"))
            self._pending.clear()

    # ------------------------------------------------------------------ API
    def on(self, method: str, handler: EventHandler) -> None:
        """Register an event handler (called on the loop thread)."""
        self._handlers.setdefault(method, []).append(handler)

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a command from the loop thread and await its result."""
        if self._ws is None or self.closed.is_set():
            raise CdpError("DevTools connection closed")
        msg_id = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = fut
        await self._ws.send_str(json.dumps({"id": msg_id, "method": method, "params": params or {}}))
        return await fut

    def send_nowait(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Fire-and-forget from the loop thread (e.g. acks)."""
        task = self._loop.create_task(self.send(method, params))
        task.add_done_callback(_ignore_result)

    def call(self, method: str, params: dict[str, Any] | None = None, timeout: float = 30.0):
        """Send a command from any other thread and wait for its result."""
        return self._submit(asyncio.wait_for(self.send(method, params), timeout)).result(timeout + 1)

    def evaluate(self, expression: str, *, timeout: float = 30.0) -> Any:
        """Runtime.evaluate (awaiting promises) from another thread; returns the value."""
        return self._submit(self.aevaluate(expression, timeout=timeout)).result(timeout + 1)

    async def aevaluate(self, expression: str, *, timeout: float = 30.0) -> Any:
        """Runtime.evaluate from the loop thread."""
        res = await asyncio.wait_for(
            self.send(
                "Runtime.evaluate",
                {"expression": expression, "awaitPromise": True, "returnByValue": True},
            ),
            timeout,
        )
        if "exceptionDetails" in res:
            det = res["exceptionDetails"]
            text = det.get("exception", {}).get("description") or det.get("text")
            raise CdpError(f"page script failed: {text}")
        return res.get("result", {}).get("value")

    def spawn(self, coro) -> Future:
        """Run a coroutine on the loop thread (from any thread)."""
        return self._submit(coro)


def _ignore_result(task: asyncio.Task) -> None:
    if not task.cancelled():
        task.exception()


def page_ws_url(driver) -> str:
    """The DevTools WebSocket of the page a Selenium Chromium driver is on (its own client)."""
    caps = driver.capabilities
    addr = (caps.get("goog:chromeOptions") or {}).get("debuggerAddress")
    if not addr:
        raise CdpError("driver has no goog:chromeOptions.debuggerAddress (not Chromium?)")
    host, _, port = addr.rpartition(":")
    if host in ("localhost", ""):
        host = "127.0.0.1"
    handle = driver.current_window_handle
    with urllib.request.urlopen(f"http://{host}:{port}/json/list", timeout=10) as resp:
        targets = json.load(resp)
    pages = [t for t in targets if t.get("type") == "page"]
    match = [t for t in pages if t.get("id") == handle] or pages
    if not match:
        raise CdpError("no page target found on the DevTools endpoint")
    url = match[0]["webSocketDebuggerUrl"]
    path = url.split("/devtools/", 1)[1]
    return f"ws://{host}:{port}/devtools/{path}"
