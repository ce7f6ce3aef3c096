"""`mb-bot-runner`: take dispatched bots from the work queue and run them."""

from __future__ import annotations

from bot_runner.settings import RunnerSettings
from mb_shared.service_main import run_service


def _build(settings: RunnerSettings):
    from bot_runner.app import build_app

    return build_app(settings)


def main() -> None:
    run_service("bot-runner", RunnerSettings, _build)


if __name__ == "__main__":
    main()
