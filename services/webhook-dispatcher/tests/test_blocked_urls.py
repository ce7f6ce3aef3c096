"""Webhook URLs the SSRF guard refuses when connecting: the delivery ends as failed at once, with
the reason in the attempt's `error`, and is never retried. The real `AiohttpSender` over a
guarded session; the only server is on 127.0.0.1, and refused addresses are never connected."""

from __future__ import annotations

import socket

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from mb_shared.url_guard import OutboundPolicy, guarded_session
from webhook_dispatcher.adapters.http_sender import AiohttpSender
from webhook_dispatcher.ports import AttemptResult


class OneNameResolver(AbstractResolver):
    """`hooks.example.test` is 10.0.0.7; no other name exists (no DNS is asked)."""

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        if host != "hooks.example.test":
            raise OSError(f"{host}: no such name here")
        return [{"hostname": host, "host": "10.0.0.7", "port": port, "family": socket.AF_INET,
                 "proto": 0, "flags": 0}]

    async def close(self) -> None:
        pass


@pytest.fixture
async def endpoint():
    received: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(request.path)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{tail:.*}", hook)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", received
    await runner.cleanup()


def test_a_blocked_attempt_is_never_retryable():
    blocked = AttemptResult(status_code=None, error="x", duration_ms=0, response_excerpt=None,
                            blocked=True)
    network = AttemptResult(status_code=None, error="x", duration_ms=0, response_excerpt=None)
    assert not blocked.retryable and network.retryable


@pytest.mark.parametrize(("policy", "url", "reason"), [
    (OutboundPolicy(), "{base}/hook?token=s3cr3t", "127.0.0.1 is not a public address"),
    (OutboundPolicy(allow_loopback=True), "http://hooks.example.test/hook?token=s3cr3t",
     "hooks.example.test resolves to 10.0.0.7, which is not a public address"),
])
async def test_a_url_refused_at_connect_fails_the_delivery_without_retries(
        endpoint, harness, policy, url, reason):
    base, received = endpoint
    async with guarded_session(policy, connector_kwargs={"resolver": OneNameResolver()}) as session:
        h = harness(AiohttpSender(session, timeout_s=2.0), schedule=[0, 0, 0, 0])
        webhook_id = await h.status(await h.bot(url=url.format(base=base)))
        for _ in range(3):
            await h.dispatcher.deliver_due()
    delivery = h.store.of(webhook_id)
    assert delivery.state == "failed" and delivery.next_attempt_at is None
    (attempt,) = h.store.attempts_of(webhook_id)
    assert attempt.status_code is None
    assert reason in attempt.error and "not retried" in attempt.error
    assert "s3cr3t" not in attempt.error
    assert received == []


async def test_a_loopback_endpoint_is_reached_with_the_development_setting(endpoint, harness):
    base, received = endpoint
    async with guarded_session(OutboundPolicy(allow_loopback=True)) as session:
        h = harness(AiohttpSender(session, timeout_s=2.0), schedule=[0, 0, 0, 0])
        webhook_id = await h.status(await h.bot(url=f"{base}/hook"))
        await h.dispatcher.deliver_due()
    assert h.store.of(webhook_id).state == "delivered"
    assert received == ["/hook"]
