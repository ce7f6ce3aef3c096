"""join secrets: the customer's Zoom secrets (`zoom_obf_token`, `zoom_sdk_pwd`) moved out of the
bot's parameters into `bots.join_secrets`, sealed (the key ring `MB_SECRET_KEYS` is needed when a
bot holds one)

Revision ID: scheduler_0005
Revises: scheduler_0004
Create Date: 2026-12-04 11:20:00.000000
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = 'scheduler_0005'
down_revision: str | Sequence[str] | None = 'scheduler_0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SECRETS = ("zoom_obf_token", "zoom_sdk_pwd")


def _key_ring():
    from mb_shared.settings import BaseServiceSettings

    return BaseServiceSettings().key_ring()


def upgrade() -> None:
    op.add_column('bots', sa.Column('join_secrets', postgresql.JSONB(astext_type=sa.Text()),
                                    nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT id, params -> 'zoom' FROM bots WHERE params -> 'zoom' ?| "
        "array['zoom_obf_token', 'zoom_sdk_pwd']")).all()
    if not rows:
        return
    ring = _key_ring()
    for bot_pk, zoom in rows:
        held = {k: ring.seal(str(zoom[k])) for k in SECRETS if zoom.get(k)}
        rest = {k: v for k, v in zoom.items() if k not in SECRETS}
        connection.execute(
            sa.text("UPDATE bots SET join_secrets = CAST(:held AS jsonb), "
                    "params = jsonb_set(params, '{zoom}', CAST(:rest AS jsonb)) WHERE id = :id"),
            {"held": json.dumps(held) if held else None,
             "rest": json.dumps(rest or None), "id": bot_pk})


def downgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT id, join_secrets, params -> 'zoom' FROM bots WHERE join_secrets IS NOT NULL")).all()
    if rows:
        ring = _key_ring()
        for bot_pk, held, zoom in rows:
            opened = {k: ring.open(v) for k, v in held.items()}
            connection.execute(
                sa.text("UPDATE bots SET params = jsonb_set(params, '{zoom}', "
                        "CAST(:zoom AS jsonb)) WHERE id = :id"),
                {"zoom": json.dumps({**(zoom or {}), **opened}), "id": bot_pk})
    op.drop_column('bots', 'join_secrets')
