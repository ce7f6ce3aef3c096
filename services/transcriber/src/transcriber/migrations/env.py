"""Alembic environment of the transcriber's database (run by mb_shared.migrations, never by hand)."""

from mb_shared.migrations import run_env
from transcriber.models import TranscriberModel

run_env(TranscriberModel.metadata)
