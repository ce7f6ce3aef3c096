"""`mb-scheduler [serve|migrate]`."""

from __future__ import annotations

from mb_shared.service_main import run_service
from scheduler.settings import SchedulerSettings


def _build(settings: SchedulerSettings):
    from scheduler.app import build_app

    return build_app(settings)


def _metadata():
    from scheduler.models import SchedulerModel

    return SchedulerModel.metadata


def main() -> None:
    run_service("scheduler", SchedulerSettings, _build, _metadata)


if __name__ == "__main__":
    main()
