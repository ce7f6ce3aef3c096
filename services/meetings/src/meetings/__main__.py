"""`mb-meetings [serve|migrate|revision -m MESSAGE]`."""

from __future__ import annotations

from mb_shared.service_main import run_service
from meetings.settings import MeetingsSettings


def _build(settings: MeetingsSettings):
    from meetings.app import build_app

    return build_app(settings)


def main() -> None:
    run_service("meetings", MeetingsSettings, _build, migrations="meetings")


if __name__ == "__main__":
    main()
