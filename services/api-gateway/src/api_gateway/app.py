"""The gateway's aiohttp application: authentication, errors, routes, resources."""

from __future__ import annotations

from aiohttp import web
from faststream.nats import NatsRouter

from api_gateway.accounts import AccountStore
from api_gateway.accounts_routes import routes as account_routes
from api_gateway.bots import routes as bot_routes
from api_gateway.calendars import PUSH_PATHS
from api_gateway.calendars import routes as calendar_routes
from api_gateway.deletion import LIMITER, REQUESTS_PER_WINDOW, WINDOW_S, SharedRateLimiter
from api_gateway.deletion import routes as deletion_routes
from api_gateway.errors import ApiError, error_middleware
from api_gateway.keys import ACCOUNTS, BROKER, CALLER, KEY_RING, SETTINGS, STORE
from api_gateway.meetings import routes as meeting_routes
from api_gateway.openapi import DOCS_PATH, OPENAPI_PATH
from api_gateway.openapi import install as install_openapi
from api_gateway.operations import routes as operation_routes
from api_gateway.screenshots import routes as screenshot_routes
from api_gateway.settings import GatewaySettings
from api_gateway.webhook_docs import routes as webhook_doc_routes
from api_gateway.zoom_connections import routes as zoom_connection_routes
from mb_shared.contracts.queries import DeliveryProfile, GetDeliveryProfile, QueryError
from mb_shared.database import make_engine, session_factory
from mb_shared.messaging import answers_errors, make_broker
from mb_shared.storage import ObjectStore

API_KEY_HEADER = "x-meeting-baas-api-key"
PUBLIC_PATHS = {"/health", OPENAPI_PATH, DOCS_PATH, *PUSH_PATHS}


@web.middleware
async def auth_middleware(request: web.Request, handler):
    if request.path in PUBLIC_PATHS:
        return await handler(request)
    key = request.headers.get(API_KEY_HEADER)
    if not key:
        raise ApiError(401, "MissingApiKey", f"The {API_KEY_HEADER} header is required.",
                       field=API_KEY_HEADER)
    caller = await request.app[ACCOUNTS].authenticate(key)
    if caller is None:
        raise ApiError(401, "InvalidApiKey", "This API key is unknown or revoked.",
                       field=API_KEY_HEADER)
    request[CALLER] = caller
    return await handler(request)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def account_queries(accounts: AccountStore) -> NatsRouter:
    """What other services ask the owner of accounts (request/reply)."""
    router = NatsRouter()

    @router.subscriber(GetDeliveryProfile.SUBJECT, queue="api-gateway")
    @answers_errors
    async def on_get_delivery_profile(query: GetDeliveryProfile) -> dict:
        profile: DeliveryProfile | None = await accounts.delivery_profile(
            query.account_id, query.api_key_prefix)
        if profile is None:
            return QueryError(status=404, code="AccountNotFound",
                              message=f"No account {query.account_id}").model_dump(mode="json")
        return profile.model_dump(mode="json")

    return router


async def _resources(app: web.Application):
    settings = app[SETTINGS]
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    key_ring = settings.key_ring()
    accounts = AccountStore(sessions, key_ring)
    broker = make_broker(settings.nats_url, "api-gateway")
    broker.include_router(account_queries(accounts))
    await broker.start()
    app[BROKER] = broker
    app[ACCOUNTS] = accounts
    app[KEY_RING] = key_ring
    app[LIMITER] = SharedRateLimiter(sessions, REQUESTS_PER_WINDOW, WINDOW_S)
    app[STORE] = ObjectStore(settings)
    yield
    await broker.stop()
    await engine.dispose()


def build_app(settings: GatewaySettings) -> web.Application:
    if not settings.database_url:
        raise ValueError("DATABASE_URL must be set for the api-gateway")
    from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor

    instrumentor = AioHttpServerInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()
    app = web.Application(middlewares=[error_middleware, auth_middleware])
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_resources)
    app.router.add_get("/health", health)
    app.router.add_routes(webhook_doc_routes)
    app.router.add_routes(screenshot_routes)
    app.router.add_routes(operation_routes)
    app.router.add_routes(deletion_routes)
    app.router.add_routes(bot_routes)
    app.router.add_routes(account_routes)
    app.router.add_routes(calendar_routes)
    app.router.add_routes(zoom_connection_routes)
    app.router.add_routes(meeting_routes)
    install_openapi(app, settings)
    return app
