"""The command line every service shares: `serve` (the default) or `migrate`."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

from sqlmodel import MetaData

from mb_shared.database import migrate
from mb_shared.settings import BaseServiceSettings
from mb_shared.telemetry import setup_logging, setup_tracing, shutdown_tracing


def run_service(
    name: str,
    settings_type: type[BaseServiceSettings],
    build_app: Callable[[Any], Any],
    metadata: Callable[[], MetaData] | None = None,
) -> None:
    """Load settings once, then migrate the service's database or run its FastStream app."""
    command = sys.argv[1] if len(sys.argv) > 1 else "serve"
    settings = settings_type()
    setup_logging(settings.log_level)
    if command == "migrate":
        if metadata is None:
            raise SystemExit(f"{name} has no database to migrate")
        asyncio.run(migrate(settings.database_url, metadata()))
        return
    if command != "serve":
        raise SystemExit(f"usage: mb-{name} [serve|migrate]")
    setup_tracing(name, settings.otel_endpoint)
    try:
        asyncio.run(build_app(settings).run())
    finally:
        shutdown_tracing()
