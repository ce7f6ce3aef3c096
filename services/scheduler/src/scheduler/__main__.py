"""`mb-scheduler [serve|migrate|revision -m MESSAGE|rotate-secrets]`."""

from __future__ import annotations

from mb_shared.service_main import rotate_secrets, run_service
from scheduler.settings import SchedulerSettings


def _build(settings: SchedulerSettings):
    from scheduler.app import build_app

    return build_app(settings)


def main() -> None:
    run_service("scheduler", SchedulerSettings, _build, migrations="scheduler",
                commands={"rotate-secrets": rotate_secrets(
                    "scheduler.adapters.repository:reseal_secrets")})


if __name__ == "__main__":
    main()
