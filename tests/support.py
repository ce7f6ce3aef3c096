"""Test-side helpers: a webhook receiver, an OTLP trace collector, and a small API client."""

from __future__ import annotations

import asyncio
import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable

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


@dataclass
class WebhookReceiver:
    """Records every POST; `responses` lets a test script failures per path."""

    received: list[ReceivedWebhook] = field(default_factory=list)
    responses: dict[str, list[int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{path:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        path = "/" + request.match_info["path"]
        with self._lock:
            self.received.append(ReceivedWebhook(path, dict(request.headers), body, time.time()))
            scripted = self.responses.get(path)
            status = scripted.pop(0) if scripted else 200
        return web.json_response({"ok": status < 300}, status=status)

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

    def status_codes(self, bot_id: str) -> list[str]:
        return [
            w.body["data"]["status"]["code"]
            for w in self.for_bot(bot_id)
            if w.body["event"] == "bot.status_change"
        ]


@dataclass
class TraceCollector:
    """An OTLP/HTTP receiver keeping (trace_id, service, span name) of every span."""

    spans: list[tuple[str, str, str]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/traces", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.read())
        for resource_spans in message.resource_spans:
            service = next(
                (a.value.string_value for a in resource_spans.resource.attributes
                 if a.key == "service.name"),
                "?",
            )
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    self.spans.append((span.trace_id.hex(), service, span.name))
        return web.Response(status=200)

    def spans_of(self, trace_id: str) -> list[tuple[str, str]]:
        return [(service, name) for tid, service, name in self.spans if tid == trace_id]

    def services_in(self, trace_id: str) -> set[str]:
        return {service for tid, service, _ in self.spans if tid == trace_id}


@dataclass
class ApiResponse:
    status: int
    body: Any
    headers: dict[str, str]


class Api:
    """The REST surface as a client sees it."""

    def __init__(self, base_url: str, api_key: str | None) -> None:
        self.base_url = base_url
        self.api_key = api_key

    def request(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
                headers: dict[str, str] | None = None, api_key: str | None = "default") -> ApiResponse:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        key = self.api_key if api_key == "default" else api_key
        if key is not None:
            all_headers["x-meeting-baas-api-key"] = key
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return ApiResponse(response.status, json.loads(response.read() or b"null"),
                                   dict(response.headers))
        except urllib.error.HTTPError as error:
            return ApiResponse(error.code, json.loads(error.read() or b"null"), dict(error.headers))

    def join(self, **body: Any) -> ApiResponse:
        return self.request("POST", "/bots/", body)


def ffprobe(url_or_path: str) -> dict[str, Any]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", url_or_path],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def decodes(url_or_path: str) -> bool:
    result = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", url_or_path, "-f", "null", "-"],
        capture_output=True, text=True, timeout=300,
    )
    return result.returncode == 0 and not result.stderr.strip()
