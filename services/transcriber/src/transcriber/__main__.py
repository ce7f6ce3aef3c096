"""`mb-transcriber [serve|migrate|revision -m MESSAGE]`."""

from __future__ import annotations

from mb_shared.service_main import run_service
from transcriber.settings import TranscriberSettings


def _build(settings: TranscriberSettings):
    from transcriber.app import build_app

    return build_app(settings)


def main() -> None:
    run_service("transcriber", TranscriberSettings, _build, migrations="transcriber")


if __name__ == "__main__":
    main()
