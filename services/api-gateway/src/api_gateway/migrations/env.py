"""Alembic environment of the api-gateway's database (run by mb_shared.migrations, never by hand)."""

from api_gateway.models import GatewayModel
from mb_shared.migrations import run_env

run_env(GatewayModel.metadata)
