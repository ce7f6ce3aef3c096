"""Zoom OAuth connections: a Zoom user's grant to the customer's app, tokens sealed

Revision ID: calendar_sync_0003
Revises: calendar_sync_0002
Create Date: 2026-12-04 08:58:27.697940
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = 'calendar_sync_0003'
down_revision: str | Sequence[str] | None = 'calendar_sync_0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('zoom_connections',
    sa.Column('uuid', sa.Uuid(), nullable=False),
    sa.Column('account_id', sa.Integer(), nullable=False),
    sa.Column('zoom_user_id', sa.String(), nullable=False),
    sa.Column('zoom_account_id', sa.String(), nullable=True),
    sa.Column('client_id', sa.String(), nullable=False),
    sa.Column('sealed_client_secret', sa.String(), nullable=False),
    sa.Column('sealed_access_token', sa.String(), nullable=False),
    sa.Column('sealed_refresh_token', sa.String(), nullable=False),
    sa.Column('access_expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('scopes', sa.String(), nullable=True),
    sa.Column('state', sa.String(), nullable=False),
    sa.Column('connection_failure_data', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('uuid'),
    sa.UniqueConstraint('account_id', 'zoom_user_id', name='uq_zoom_connections_account_user')
    )
    op.create_index(op.f('ix_zoom_connections_account_id'), 'zoom_connections', ['account_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_zoom_connections_account_id'), table_name='zoom_connections')
    op.drop_table('zoom_connections')
