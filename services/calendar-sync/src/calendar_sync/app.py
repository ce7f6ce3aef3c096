"""Builds calendar-sync from its settings: providers, database, outbox, queries, sync loops."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import aiohttp
from faststream import FastStream

from calendar_sync.event_bots import EventBots
from calendar_sync.handlers import SERVICE, build_router
from calendar_sync.models import OUTBOX
from calendar_sync.providers.google import GoogleCalendar
from calendar_sync.providers.microsoft import MicrosoftGraph
from calendar_sync.providers.zoom import ZoomOAuth
from calendar_sync.service import CalendarService, SyncPace
from calendar_sync.settings import CalendarSyncSettings
from calendar_sync.zoom_connections import ZoomConnections
from mb_shared.contracts.calendar import CalendarProvider
from mb_shared.contracts.queries import OkReply, QueryError, UpsertEventBot
from mb_shared.messaging import ask
from mb_shared.service_kit import ServiceKit


def build_app(settings: CalendarSyncSettings) -> FastStream:
    kit = ServiceKit(SERVICE, settings)
    sessions = kit.database()
    providers: dict = {}

    async def upsert(command: UpsertEventBot) -> None:
        reply = await ask(kit.broker, command, OkReply, timeout=settings.scheduler_timeout_s)
        if isinstance(reply, QueryError):
            raise RuntimeError(f"the scheduler refused: {reply.code}: {reply.message}")

    bots = EventBots(sessions, upsert, lead=timedelta(seconds=settings.bot_lead_s),
                     join_ahead=timedelta(seconds=settings.join_ahead_s))
    service = CalendarService(
        sessions, kit.outbox(OUTBOX, sessions), providers, settings.key_ring(),
        pace=SyncPace(window_days=settings.window_days, periodic_s=settings.periodic_sync_s,
                      channel_ttl_s=settings.channel_ttl_s,
                      channel_renew_margin_s=settings.channel_renew_margin_s),
        push_url=settings.push_url,
        bots=bots,
    )
    zoom_holder: dict = {}

    class _LazyZoom:
        def __getattr__(self, name):
            return getattr(zoom_holder["zoom"], name)

    zoom = ZoomConnections(sessions, _LazyZoom(), settings.key_ring())  # type: ignore[arg-type]
    kit.broker.include_router(build_router(service, zoom))

    @kit.app.on_startup
    async def open_http() -> None:
        from opentelemetry.instrumentation.aiohttp_client import create_trace_config

        session = aiohttp.ClientSession(trace_configs=[create_trace_config()])
        kit.on_close(session.close)
        timeout = settings.provider_timeout_s
        providers[CalendarProvider.GOOGLE] = GoogleCalendar(
            session, token_url=settings.google_token_url, api_url=settings.google_api_url,
            timeout_s=timeout)
        providers[CalendarProvider.MICROSOFT] = MicrosoftGraph(
            session, login_url=settings.microsoft_login_url, tenant=settings.microsoft_tenant,
            graph_url=settings.graph_url, timeout_s=timeout)
        zoom_holder["zoom"] = ZoomOAuth(session, oauth_url=settings.zoom_oauth_url,
                                        api_url=settings.zoom_api_url, timeout_s=timeout)

    async def sync_loop() -> None:
        """Due calendars and bots, every tick or at once when a push or a request makes one
        due."""
        service.wake.clear()
        await service.sync_due()
        await bots.hand_over_due()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(service.wake.wait(), settings.tick_s)

    kit.every(0.0, "sync", sync_loop)
    kit.every(60.0, "push channels", service.tend_channels)
    return kit.app
