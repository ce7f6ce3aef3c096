"""Alembic environment of the scheduler's database (run by mb_shared.migrations, never by hand)."""

from mb_shared.migrations import run_env
from scheduler.models import SchedulerModel

run_env(SchedulerModel.metadata)
