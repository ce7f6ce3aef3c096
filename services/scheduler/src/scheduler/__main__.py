"""`mb-scheduler [serve|migrate]`."""

from __future__ import annotations

import asyncio
import sys

from mb_shared.database import migrate
from mb_shared.telemetry import setup_logging, setup_tracing, shutdown_tracing
from scheduler.settings import SchedulerSettings


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "serve"
    settings = SchedulerSettings()
    setup_logging(settings.log_level)
    if command == "migrate":
        from scheduler.models import SchedulerModel

        asyncio.run(migrate(settings.database_url, SchedulerModel.metadata))
        return
    from scheduler.app import build_app

    setup_tracing("scheduler", settings.otel_endpoint)
    try:
        asyncio.run(build_app(settings).run())
    finally:
        shutdown_tracing()


if __name__ == "__main__":
    main()
