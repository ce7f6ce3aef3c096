"""`mb-calendar-sync [serve|migrate|revision -m MESSAGE|rotate-secrets]`."""

from __future__ import annotations

from calendar_sync.settings import CalendarSyncSettings
from mb_shared.service_main import rotate_secrets, run_service


def _build(settings: CalendarSyncSettings):
    from calendar_sync.app import build_app

    return build_app(settings)


def main() -> None:
    run_service("calendar-sync", CalendarSyncSettings, _build, migrations="calendar_sync",
                commands={"rotate-secrets": rotate_secrets(
                    "calendar_sync.secrets_rotation:reseal_secrets")})


if __name__ == "__main__":
    main()
