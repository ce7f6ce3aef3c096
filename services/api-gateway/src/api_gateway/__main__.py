"""`mb-api-gateway [serve|migrate|revision -m MESSAGE|create-account NAME [WEBHOOK_URL]|
rotate-secrets]`."""

from __future__ import annotations

import asyncio
import json
import sys

from aiohttp import web

from api_gateway.settings import GatewaySettings
from mb_shared.database import make_engine, session_factory
from mb_shared.service_main import run_database_command
from mb_shared.telemetry import setup_logging, setup_tracing, shutdown_tracing


async def _create_account(settings: GatewaySettings, name: str, webhook_url: str | None) -> None:
    from api_gateway.accounts import AccountStore

    engine = make_engine(settings.database_url, pool_size=1)
    try:
        accounts = AccountStore(session_factory(engine), settings.key_ring())
        account, key = await accounts.create_account(name, webhook_url)
    finally:
        await engine.dispose()
    print(json.dumps({"account_id": account.id, "api_key": key}))


async def _rotate_secrets(settings: GatewaySettings) -> None:
    """Seal every stored secret again with the newest key of MB_SECRET_KEYS."""
    from api_gateway.accounts import AccountStore

    engine = make_engine(settings.database_url, pool_size=1)
    try:
        count = await AccountStore(session_factory(engine), settings.key_ring()).reseal_all()
    finally:
        await engine.dispose()
    print(f"{count} secret(s) sealed again with the newest key")


def main() -> None:
    args = sys.argv[1:] or ["serve"]
    settings = GatewaySettings()
    setup_logging(settings.log_level)
    if args[0] in ("migrate", "revision"):
        run_database_command("api-gateway", "api_gateway", settings.database_url, args)
    elif args[0] == "rotate-secrets":
        asyncio.run(_rotate_secrets(settings))
    elif args[0] == "create-account":
        name = args[1] if len(args) > 1 else "default"
        asyncio.run(_create_account(settings, name, args[2] if len(args) > 2 else None))
    else:
        from api_gateway.app import build_app

        setup_tracing("api-gateway", settings.otel_endpoint)
        try:
            web.run_app(build_app(settings), host=settings.host, port=settings.port,
                        access_log=None, print=None)
        finally:
            shutdown_tracing()


if __name__ == "__main__":
    main()
