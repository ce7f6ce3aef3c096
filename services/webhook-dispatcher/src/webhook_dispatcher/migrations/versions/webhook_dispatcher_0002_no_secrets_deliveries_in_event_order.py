"""No secret kept here any more (the API key and signing secret are looked up at each attempt),
deliveries ordered by when their event happened, deferrals while a service does not answer

Revision ID: webhook_dispatcher_0002
Revises: webhook_dispatcher_0001
Create Date: 2026-12-04 04:57:32.110210
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'webhook_dispatcher_0002'
down_revision: str | Sequence[str] | None = 'webhook_dispatcher_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('bot_targets', sa.Column('api_key_prefix', sa.String(), nullable=True))
    op.add_column('bot_targets', sa.Column('final_at', sa.DateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE bot_targets SET final_at = (SELECT min(d.created_at) FROM deliveries d "
        "WHERE d.bot_id = bot_targets.bot_id AND d.event IN ('complete', 'failed')) "
        "WHERE final_sent")
    op.drop_column('bot_targets', 'signing_secret')
    op.drop_column('bot_targets', 'final_sent')
    op.drop_column('bot_targets', 'api_key')
    op.add_column('deliveries', sa.Column('needs_transcript', sa.Boolean(), nullable=True))
    op.add_column('deliveries', sa.Column('deferrals', sa.Integer(), nullable=True))
    op.add_column('deliveries', sa.Column('last_error', sa.String(), nullable=True))
    op.add_column('deliveries', sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE deliveries SET needs_transcript = false, deferrals = 0, "
               "occurred_at = created_at")
    for column in ('needs_transcript', 'deferrals', 'occurred_at'):
        op.alter_column('deliveries', column, nullable=False)
    op.create_index('ix_deliveries_bot_order', 'deliveries', ['bot_id', 'occurred_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_deliveries_bot_order', table_name='deliveries')
    op.drop_column('deliveries', 'occurred_at')
    op.drop_column('deliveries', 'last_error')
    op.drop_column('deliveries', 'deferrals')
    op.drop_column('deliveries', 'needs_transcript')
    # the secrets are not brought back: deliveries of earlier bots go out unsigned
    op.add_column('bot_targets', sa.Column('api_key', sa.VARCHAR(), server_default='', nullable=False))
    op.alter_column('bot_targets', 'api_key', server_default=None)
    op.add_column('bot_targets', sa.Column('final_sent', sa.BOOLEAN(), server_default=sa.false(), nullable=False))
    op.alter_column('bot_targets', 'final_sent', server_default=None)
    op.execute("UPDATE bot_targets SET final_sent = final_at IS NOT NULL")
    op.add_column('bot_targets', sa.Column('signing_secret', sa.VARCHAR(), autoincrement=False, nullable=True))
    op.drop_column('bot_targets', 'final_at')
    op.drop_column('bot_targets', 'api_key_prefix')
