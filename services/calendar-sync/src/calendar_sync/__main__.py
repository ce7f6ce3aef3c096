"""`mb-calendar-sync [serve|migrate|revision -m MESSAGE|rotate-secrets]`."""

from __future__ import annotations

from calendar_sync.settings import CalendarSyncSettings
from mb_shared.service_main import run_service


def _build(settings: CalendarSyncSettings):
    from calendar_sync.app import build_app

    return build_app(settings)


async def _rotate_secrets(settings: CalendarSyncSettings) -> str:
    """Seal every stored OAuth secret again with the newest key of MB_SECRET_KEYS."""
    from calendar_sync.secrets_rotation import reseal_secrets
    from mb_shared.database import make_engine, session_factory

    engine = make_engine(settings.database_url, pool_size=1)
    try:
        count = await reseal_secrets(session_factory(engine), settings.key_ring())
    finally:
        await engine.dispose()
    return f"{count} secret(s) sealed again with the newest key"


def main() -> None:
    run_service("calendar-sync", CalendarSyncSettings, _build, migrations="calendar_sync",
                commands={"rotate-secrets": _rotate_secrets})


if __name__ == "__main__":
    main()
