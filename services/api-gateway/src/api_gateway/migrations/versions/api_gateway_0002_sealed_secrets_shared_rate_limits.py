"""Webhook signing secrets sealed (the key ring `MB_SECRET_KEYS` is needed when accounts exist), a
sealed copy of each new API key for the webhook header, and rate-limit hits shared by replicas

Keys created before this revision have no sealed copy (only their hash was kept): their bots'
webhooks carry the account's newest key that has one, or no `x-meeting-baas-api-key` header until
the account creates a key.

Revision ID: api_gateway_0002
Revises: api_gateway_0001
Create Date: 2026-12-04 04:57:44.822400
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'api_gateway_0002'
down_revision: str | Sequence[str] | None = 'api_gateway_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key_ring():
    from mb_shared.settings import BaseServiceSettings

    return BaseServiceSettings().key_ring()


def _rewrite_secrets(change, select: str) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.text(select)).all()
    if not rows:
        return
    ring = _key_ring()
    for account_id, secret in rows:
        connection.execute(sa.text("UPDATE accounts SET webhook_secret = :secret WHERE id = :id"),
                           {"secret": change(ring, secret), "id": account_id})


def upgrade() -> None:
    op.create_table('rate_limit_hits',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('key', sa.String(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_rate_limit_hits_key_at', 'rate_limit_hits', ['key', 'at'], unique=False)
    op.add_column('api_keys', sa.Column('key_sealed', sa.String(), nullable=True))
    _rewrite_secrets(lambda ring, secret: ring.seal(secret),
                     "SELECT id, webhook_secret FROM accounts "
                     "WHERE webhook_secret NOT LIKE 'sealed:%'")


def downgrade() -> None:
    _rewrite_secrets(lambda ring, secret: ring.open(secret),
                     "SELECT id, webhook_secret FROM accounts WHERE webhook_secret LIKE 'sealed:%'")
    op.drop_column('api_keys', 'key_sealed')
    op.drop_index('ix_rate_limit_hits_key_at', table_name='rate_limit_hits')
    op.drop_table('rate_limit_hits')
