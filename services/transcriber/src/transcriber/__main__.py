"""`mb-transcriber [serve|migrate]`."""

from __future__ import annotations

import asyncio
import sys

from mb_shared.database import migrate
from mb_shared.telemetry import setup_logging, setup_tracing, shutdown_tracing
from transcriber.settings import TranscriberSettings


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "serve"
    settings = TranscriberSettings()
    setup_logging(settings.log_level)
    if command == "migrate":
        from transcriber.models import TranscriberModel

        asyncio.run(migrate(settings.database_url, TranscriberModel.metadata))
        return
    from transcriber.app import build_app

    setup_tracing("transcriber", settings.otel_endpoint)
    try:
        asyncio.run(build_app(settings).run())
    finally:
        shutdown_tracing()


if __name__ == "__main__":
    main()
