"""`mb-scheduler [serve|migrate|revision -m MESSAGE|rotate-secrets]`."""

from __future__ import annotations

from mb_shared.service_main import run_service
from scheduler.settings import SchedulerSettings


def _build(settings: SchedulerSettings):
    from scheduler.app import build_app

    return build_app(settings)


async def _rotate_secrets(settings: SchedulerSettings) -> str:
    """Seal every stored provider key again with the newest key of MB_SECRET_KEYS."""
    from mb_shared.database import make_engine, session_factory
    from scheduler.adapters.repository import reseal_secrets

    engine = make_engine(settings.database_url, pool_size=1)
    try:
        count = await reseal_secrets(session_factory(engine), settings.key_ring())
    finally:
        await engine.dispose()
    return f"{count} secret(s) sealed again with the newest key"


def main() -> None:
    run_service("scheduler", SchedulerSettings, _build, migrations="scheduler",
                commands={"rotate-secrets": _rotate_secrets})


if __name__ == "__main__":
    main()
