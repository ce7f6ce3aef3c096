"""The command line every service shares: `serve` (the default), `migrate`, `revision -m MESSAGE`,
and the service's own commands (e.g. `rotate-secrets`)."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from mb_shared.settings import BaseServiceSettings
from mb_shared.telemetry import setup_logging, setup_tracing, shutdown_tracing


def run_database_command(name: str, migrations: str | None, database_url: str | None,
                         args: list[str]) -> None:
    """`migrate` or `revision -m MESSAGE` of the service whose Alembic history is
    `<migrations>/migrations/` (see mb_shared.migrations)."""
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # a line per plugin
    from alembic.util import CommandError

    from mb_shared.migrations import MigrationError, migrate, new_revision

    if migrations is None:
        raise SystemExit(f"{name} has no database to migrate")
    if not database_url:
        raise SystemExit(f"mb-{name} {args[0]}: DATABASE_URL is not set")
    try:
        if args[0] == "migrate":
            migrate(migrations, database_url)
        else:
            parser = argparse.ArgumentParser(
                prog=f"mb-{name} revision",
                description="Autogenerate the next revision against a scratch database created "
                "(and dropped) on the server of DATABASE_URL.",
            )
            parser.add_argument("-m", "--message", required=True)
            message = parser.parse_args(args[1:]).message
            print(new_revision(migrations, database_url, message))
    except (MigrationError, CommandError) as exc:  # e.g. a database newer than this code
        raise SystemExit(f"mb-{name} {args[0]}: {exc}") from None


def rotate_secrets(reseal: str) -> Callable[[BaseServiceSettings], Awaitable[str]]:
    """The `rotate-secrets` command of a service: `reseal` ("module:function", imported when the
    command runs) seals every secret the service stores again with the newest key of
    MB_SECRET_KEYS, given a session factory and the ring, and returns how many it sealed."""

    async def rotate(settings: BaseServiceSettings) -> str:
        from mb_shared.database import make_engine, session_factory

        module, function = reseal.split(":")
        engine = make_engine(settings.database_url, pool_size=1)
        try:
            count = await getattr(importlib.import_module(module), function)(
                session_factory(engine), settings.key_ring())
        finally:
            await engine.dispose()
        return f"{count} secret(s) sealed again with the newest key"

    return rotate


def run_service(
    name: str,
    settings_type: type[BaseServiceSettings],
    build_app: Callable[[Any], Any],
    migrations: str | None = None,
    commands: dict[str, Callable[[Any], Awaitable[object]]] | None = None,
) -> None:
    """Load settings once, then run the FastStream app, a database command or one of
    `commands` (each called with the settings; what it returns is printed).

    `migrations` names the package holding the service's Alembic history (`<package>/migrations/`).
    """
    args = sys.argv[1:] or ["serve"]
    settings = settings_type()
    setup_logging(settings.log_level)
    commands = commands or {}
    if args[0] in ("migrate", "revision"):
        run_database_command(name, migrations, settings.database_url, args)
        return
    if args[0] in commands:
        print(asyncio.run(commands[args[0]](settings)))
        return
    if args[0] != "serve":
        names = "|".join(["serve", "migrate", "revision -m MESSAGE", *commands])
        raise SystemExit(f"usage: mb-{name} [{names}]")
    setup_tracing(name, settings.otel_endpoint)
    try:
        asyncio.run(build_app(settings).run())
    finally:
        shutdown_tracing()
