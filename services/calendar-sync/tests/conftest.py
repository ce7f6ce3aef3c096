"""calendar-sync on a real PostgreSQL (migrated with its own history), talking over HTTP to the
Google and Microsoft emulators of `tools/provider-emulators` exactly as it talks to the real
providers. Pushes reach it the way the gateway forwards them (`CalendarPush`, the token's
sha256), from a loopback receiver standing in for the gateway's `/calendar_push/*` routes."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import text

from calendar_sync.models import OUTBOX
from calendar_sync.providers.google import GoogleCalendar
from calendar_sync.providers.microsoft import MicrosoftGraph
from calendar_sync.service import CalendarService, SyncPace
from mb_shared.contracts.calendar import CalendarProvider, CalendarPush, OAuthCredentials
from mb_shared.database import make_engine, session_factory
from mb_shared.migrations import migrate
from mb_shared.outbox import Outbox
from mb_shared.secrets import KeyRing, new_key
from provider_emulators import BackgroundEmulator
from provider_emulators.calendar_world import CalendarWorld
from provider_emulators.google_calendar import GoogleCalendarEmulator

KEYS = KeyRing([new_key()])
TENANT = "common"


@pytest.fixture
def world() -> CalendarWorld:
    return CalendarWorld()


@pytest.fixture
def google(world):
    emulator = GoogleCalendarEmulator(world)
    with BackgroundEmulator(emulator) as server:
        yield server


@pytest.fixture
def microsoft(world):
    from provider_emulators.microsoft_graph import MicrosoftGraphEmulator

    emulator = MicrosoftGraphEmulator(world)
    with BackgroundEmulator(emulator) as server:
        yield server


@dataclass
class PushRelay:
    """A loopback stand-in for the gateway's push routes: forwards what providers send."""

    url: str
    answered: list[int]


@pytest.fixture
async def sessions(fresh_database):
    migrate("calendar_sync", fresh_database)
    engine = make_engine(fresh_database)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def make_service(request, sessions, http, google):
    """Services on the Google emulator, and on the Graph one for tests that ask for it."""
    microsoft = (request.getfixturevalue("microsoft") if "microsoft" in request.fixturenames
                 else None)

    def make(push_url: str | None = None, **pace) -> CalendarService:
        providers = {
            CalendarProvider.GOOGLE: GoogleCalendar(
                http, token_url=f"{google.base_url}/token",
                api_url=f"{google.base_url}/calendar/v3", timeout_s=10),
        }
        if microsoft is not None:
            providers[CalendarProvider.MICROSOFT] = MicrosoftGraph(
                http, login_url=microsoft.base_url, tenant=TENANT,
                graph_url=f"{microsoft.base_url}/v1.0", timeout_s=10)
        return CalendarService(sessions, Outbox(OUTBOX), providers, KEYS,
                               pace=SyncPace(**pace), push_url=push_url)

    return make


@pytest.fixture
def service(make_service) -> CalendarService:
    return make_service()


@pytest.fixture
async def push_relay(make_service) -> AsyncIterator[tuple[PushRelay, CalendarService]]:
    """A service whose channels point at a loopback relay that forwards to it, as the gateway
    would (Google's headers, Graph's validation handshake and notification list)."""
    holder: dict[str, CalendarService] = {}
    answered: list[int] = []

    async def google_push(request: web.Request) -> web.Response:
        reply = await holder["service"].push(CalendarPush(
            platform=CalendarProvider.GOOGLE,
            channel_id=request.headers.get("X-Goog-Channel-ID", ""),
            token_sha256=digest(request.headers.get("X-Goog-Channel-Token", "")),
            state=request.headers.get("X-Goog-Resource-State", "")))
        answered.append(200 if reply.ok else 404)
        return web.Response(status=200 if reply.ok else 404)

    async def microsoft_push(request: web.Request) -> web.Response:
        if "validationToken" in request.query:
            return web.Response(text=request.query["validationToken"], content_type="text/plain")
        body = await request.json()
        ok = False
        for item in body["value"]:
            reply = await holder["service"].push(CalendarPush(
                platform=CalendarProvider.MICROSOFT, channel_id=item["subscriptionId"],
                token_sha256=digest(item.get("clientState") or ""),
                state=item.get("lifecycleEvent") or item.get("changeType") or ""))
            ok = ok or reply.ok
        answered.append(202 if ok else 404)
        return web.Response(status=202 if ok else 404)

    app = web.Application()
    app.router.add_post("/calendar_push/google", google_push)
    app.router.add_post("/calendar_push/microsoft", microsoft_push)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    holder["service"] = make_service(push_url=url)
    yield PushRelay(url, answered), holder["service"]
    await runner.cleanup()


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def credentials(platform: CalendarProvider, client, refresh_token: str,
                secret: str | None = None) -> OAuthCredentials:
    return OAuthCredentials(platform=platform, client_id=client.client_id,
                            sealed_client_secret=KEYS.seal(secret or client.client_secret),
                            sealed_refresh_token=KEYS.seal(refresh_token))


async def synced_events(sessions) -> list[dict]:
    """The `calendar.synced` events the service committed to its outbox, oldest first."""
    async with sessions() as session:
        rows = (await session.execute(text(
            "SELECT payload FROM outbox WHERE subject = 'calendar.synced' ORDER BY id"))).all()
    return [row[0] for row in rows]
