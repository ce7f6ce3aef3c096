"""Alembic environment of the meetings database (run by mb_shared.migrations, never by hand)."""

from mb_shared.migrations import run_env
from meetings.models import MeetingsModel

run_env(MeetingsModel.metadata)
