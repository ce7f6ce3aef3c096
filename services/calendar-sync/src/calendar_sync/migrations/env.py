"""Alembic environment of calendar-sync's database (run by mb_shared.migrations, never by hand)."""

from calendar_sync.models import CalendarSyncModel
from mb_shared.migrations import run_env

run_env(CalendarSyncModel.metadata)
