"""`mb-meetings [serve|migrate|revision -m MESSAGE|rotate-secrets]`."""

from __future__ import annotations

from mb_shared.service_main import rotate_secrets, run_service
from meetings.settings import MeetingsSettings


def _build(settings: MeetingsSettings):
    from meetings.app import build_app

    return build_app(settings)


def main() -> None:
    run_service("meetings", MeetingsSettings, _build, migrations="meetings",
                commands={"rotate-secrets": rotate_secrets(
                    "meetings.secrets_rotation:reseal_secrets")})


if __name__ == "__main__":
    main()
