"""`mb-bot-runner`: take dispatched bots from the work queue and run them."""

from __future__ import annotations

import asyncio

from bot_runner.settings import RunnerSettings
from mb_shared.telemetry import setup_logging, setup_tracing, shutdown_tracing


def main() -> None:
    settings = RunnerSettings()
    setup_logging(settings.log_level)
    from bot_runner.app import build_app

    setup_tracing("bot-runner", settings.otel_endpoint)
    try:
        asyncio.run(build_app(settings).run())
    finally:
        shutdown_tracing()


if __name__ == "__main__":
    main()
