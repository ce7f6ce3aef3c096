"""`AiohttpSender` against a real HTTP endpoint on 127.0.0.1, driven by the dispatcher."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime

import aiohttp
import pytest
from aiohttp import web
from standardwebhooks.webhooks import Webhook

from mb_shared.contracts.bot import BotStatus
from webhook_dispatcher.adapters.http_sender import AiohttpSender

SECRET = "whsec_" + base64.b64encode(b"an-http-test-secret-1234").decode()


class Endpoint:
    """A customer's endpoint: each path answers from its script, then 200."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.scripts: dict[str, list[web.StreamResponse | float]] = {}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append((request.path, dict(request.headers), body))
        script = self.scripts.get(request.path)
        answer = script.pop(0) if script else web.Response(status=200, text="ok")
        if isinstance(answer, float):  # hang longer than the sender's timeout
            await asyncio.sleep(answer)
            return web.Response(status=200)
        return answer

    def to(self, path: str) -> list[tuple[str, dict[str, str], bytes]]:
        return [r for r in self.requests if r[0] == path]


@pytest.fixture
async def endpoint():
    ep = Endpoint()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", ep.handle)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    ep.base = f"http://{host}:{port}"
    yield ep
    await runner.cleanup()


class RealClock:
    def __call__(self) -> datetime:
        return datetime.now(UTC)


async def test_real_http_signed_retried_redirects_not_followed_and_410(endpoint, harness):
    async with aiohttp.ClientSession() as session:
        # an immediate retry schedule and the real clock: `Webhook.verify` checks timestamps
        h = harness(AiohttpSender(session, timeout_s=0.3), schedule=[0, 0, 0, 0], clock=RealClock())
        url = endpoint.base + "/hook"

        # 1. complete: 503, then a hang past the timeout, then 200; same id, fresh URLs each time
        endpoint.scripts["/hook"] = [web.Response(status=503), 1.0]
        bot = await h.bot(url=url, secret=SECRET)
        webhook_id = await h.complete(bot)
        for _ in range(3):
            await h.dispatcher.deliver_due()
        assert h.store.of(webhook_id).state == "delivered"
        posts = endpoint.to("/hook")
        assert len(posts) == 3
        attempts = h.store.attempts_of(webhook_id)
        assert [a.status_code for a in attempts] == [503, None, 200]
        assert attempts[1].error.startswith("TimeoutError") or "Timeout" in attempts[1].error
        mp4s = set()
        for _, headers, body in posts:
            assert headers["webhook-id"] == str(webhook_id)
            assert headers["x-meeting-baas-api-key"] == "mb_key"
            payload = Webhook(SECRET).verify(body, headers)
            assert payload["event"] == "complete"
            mp4s.add(payload["data"]["mp4"])
        assert len(mp4s) == 3, "each attempt carries freshly signed URLs"

        # 2. a redirect is not followed and not retried
        endpoint.scripts["/moved"] = [web.Response(status=307, headers={"Location": "/elsewhere"})]
        moved_bot = await h.bot(url=endpoint.base + "/moved", secret=SECRET)
        moved = await h.status(moved_bot)
        await h.dispatcher.deliver_due()
        assert h.store.of(moved).state == "failed"
        (attempt,) = h.store.attempts_of(moved)
        assert attempt.status_code == 307 and "/elsewhere" in attempt.error
        assert "not followed" in attempt.error
        assert len(endpoint.to("/moved")) == 1 and endpoint.to("/elsewhere") == []

        # 3. 429 with Retry-After: the next attempt waits for it
        endpoint.scripts["/busy"] = [web.Response(status=429, headers={"Retry-After": "90"})]
        busy = await h.status(await h.bot(url=endpoint.base + "/busy", secret=SECRET))
        delivery = h.store.of(busy)
        assert delivery.state == "pending"
        (attempt,) = h.store.attempts_of(busy)
        wait = (delivery.next_attempt_at - attempt.started_at).total_seconds()
        assert 90 <= wait < 92

        # 4. 410 Gone: failed, and the bot's next event to that URL is never sent
        endpoint.scripts["/gone"] = [web.Response(status=410)]
        gone_bot = await h.bot(url=endpoint.base + "/gone", secret=SECRET)
        first = await h.status(gone_bot)
        second = await h.status(gone_bot, BotStatus.IN_CALL_RECORDING)
        await h.dispatcher.deliver_due()
        assert h.store.of(first).state == "failed"
        assert h.store.of(second).state == "endpoint_gone"
        assert len(endpoint.to("/gone")) == 1
        assert json.loads(endpoint.to("/gone")[0][2])["data"]["status"]["code"] == "joining_call"
