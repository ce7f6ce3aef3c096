"""Alembic environment of the webhook-dispatcher's database (run by mb_shared.migrations, never by hand)."""

from mb_shared.migrations import run_env
from webhook_dispatcher.models import DispatcherModel

run_env(DispatcherModel.metadata)
