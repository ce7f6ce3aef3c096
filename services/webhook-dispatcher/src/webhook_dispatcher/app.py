"""Builds the dispatcher from its settings: broker, database, HTTP client, retry loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from faststream import FastStream

from mb_shared.contracts.queries import GetTranscript, QueryError, TranscriptReply
from mb_shared.database import make_engine, session_factory
from mb_shared.messaging import ask, make_broker
from mb_shared.storage import ObjectStore
from mb_shared.url_guard import guarded_session
from webhook_dispatcher.adapters.http_sender import AiohttpSender
from webhook_dispatcher.adapters.repository import SqlDeliveryStore
from webhook_dispatcher.handlers import SERVICE, build_router
from webhook_dispatcher.purge import build_purge_router
from webhook_dispatcher.service import Dispatcher
from webhook_dispatcher.settings import DispatcherSettings

log = logging.getLogger(__name__)


def build_app(settings: DispatcherSettings) -> FastStream:
    if not settings.database_url:
        raise ValueError("DATABASE_URL must be set for the webhook-dispatcher")
    broker = make_broker(settings.nats_url, SERVICE)
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    store = SqlDeliveryStore(sessions)
    state: dict = {}

    async def transcripts(bot_id):
        reply = await ask(broker, GetTranscript(bot_id=bot_id), TranscriptReply, timeout=30.0)
        if isinstance(reply, QueryError):
            raise RuntimeError(f"transcript of {bot_id}: {reply.message}")
        return reply.segments

    class _LazySender:
        async def send(self, url, headers, body):
            return await state["sender"].send(url, headers, body)

    dispatcher = Dispatcher(
        store,
        _LazySender(),
        ObjectStore(settings),
        transcripts,
        retry_schedule_s=settings.retry_schedule_s,
        jitter=settings.jitter,
        retry_after_max_s=settings.retry_after_max_s,
    )
    broker.include_router(build_router(dispatcher))
    broker.include_router(build_purge_router(sessions))
    app = FastStream(broker)

    async def retry_loop() -> None:
        while True:
            try:
                await dispatcher.deliver_due()
            except Exception:
                log.exception("retry loop failed; continuing")
            await asyncio.sleep(settings.poll_s)

    @app.on_startup
    async def open_http() -> None:
        from opentelemetry.instrumentation.aiohttp_client import create_trace_config

        state["session"] = guarded_session(settings.outbound_policy,
                                           trace_configs=[create_trace_config()])
        state["sender"] = AiohttpSender(state["session"], settings.attempt_timeout_s)

    @app.after_startup
    async def start_retries() -> None:
        state["retries"] = asyncio.create_task(retry_loop())

    @app.on_shutdown
    async def close() -> None:
        state["retries"].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await state["retries"]
        await state["session"].close()
        await engine.dispose()

    return app
