"""`mb-transcriber [serve|migrate]`."""

from __future__ import annotations

from mb_shared.service_main import run_service
from transcriber.settings import TranscriberSettings


def _build(settings: TranscriberSettings):
    from transcriber.app import build_app

    return build_app(settings)


def _metadata():
    from transcriber.models import TranscriberModel

    return TranscriberModel.metadata


def main() -> None:
    run_service("transcriber", TranscriberSettings, _build, _metadata)


if __name__ == "__main__":
    main()
