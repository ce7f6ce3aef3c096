"""`mb-webhook-dispatcher [serve|migrate]`."""

from __future__ import annotations

import asyncio
import sys

from mb_shared.database import migrate
from mb_shared.telemetry import setup_logging, setup_tracing, shutdown_tracing
from webhook_dispatcher.settings import DispatcherSettings


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "serve"
    settings = DispatcherSettings()
    setup_logging(settings.log_level)
    if command == "migrate":
        from webhook_dispatcher.models import DispatcherModel

        asyncio.run(migrate(settings.database_url, DispatcherModel.metadata))
        return
    from webhook_dispatcher.app import build_app

    setup_tracing("webhook-dispatcher", settings.otel_endpoint)
    try:
        asyncio.run(build_app(settings).run())
    finally:
        shutdown_tracing()


if __name__ == "__main__":
    main()
