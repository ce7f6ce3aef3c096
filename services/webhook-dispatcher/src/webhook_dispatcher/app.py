"""Builds the dispatcher from its settings: consumers, database, lookups, HTTP client, retry loop."""

from __future__ import annotations

from faststream import FastStream

from mb_shared.service_kit import ServiceKit
from mb_shared.storage import ObjectStore
from mb_shared.url_guard import guarded_session
from webhook_dispatcher.adapters.http_sender import AiohttpSender
from webhook_dispatcher.adapters.lookups import BusLookups
from webhook_dispatcher.adapters.repository import SqlDeliveryStore
from webhook_dispatcher.handlers import SERVICE, build_router, consume
from webhook_dispatcher.purge import build_purge_router
from webhook_dispatcher.service import Dispatcher
from webhook_dispatcher.settings import DispatcherSettings


def build_app(settings: DispatcherSettings) -> FastStream:
    kit = ServiceKit(SERVICE, settings)
    sessions = kit.database(pool_size=12)
    state: dict = {}

    class _LazySender:
        async def send(self, url, headers, body):
            return await state["sender"].send(url, headers, body)

    dispatcher = Dispatcher(
        SqlDeliveryStore(sessions),
        _LazySender(),
        ObjectStore(settings),
        BusLookups(kit.broker),
        settings.key_ring(),
        retry_schedule_s=settings.retry_schedule_s,
        jitter=settings.jitter,
        retry_after_max_s=settings.retry_after_max_s,
    )
    consume(kit, dispatcher)
    kit.broker.include_router(build_router(dispatcher))
    kit.broker.include_router(build_purge_router(sessions))

    @kit.app.on_startup
    async def open_http() -> None:
        from opentelemetry.instrumentation.aiohttp_client import create_trace_config

        session = guarded_session(settings.outbound_policy,
                                  trace_configs=[create_trace_config()])
        state["sender"] = AiohttpSender(session, settings.attempt_timeout_s)
        kit.on_close(session.close)

    kit.every(settings.poll_s, "retry loop", dispatcher.deliver_due)
    kit.on_stop(dispatcher.settle)
    return kit.app
