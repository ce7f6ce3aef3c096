"""Bots for calendar events: the bot asked for each event, its handover to the scheduler, and
the series whose every instance gets one

Revision ID: calendar_sync_0002
Revises: calendar_sync_0001
Create Date: 2026-12-04 07:57:02.689100
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = 'calendar_sync_0002'
down_revision: str | Sequence[str] | None = 'calendar_sync_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('series_bots',
    sa.Column('calendar_uuid', sa.Uuid(), nullable=False),
    sa.Column('recurring_event_id', sa.String(), nullable=False),
    sa.Column('bot_param', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('api_key_prefix', sa.String(), nullable=True),
    sa.ForeignKeyConstraint(['calendar_uuid'], ['calendars.uuid'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('calendar_uuid', 'recurring_event_id')
    )
    op.add_column('calendar_events', sa.Column('bot_api_key_prefix', sa.String(), nullable=True))
    op.add_column('calendar_events', sa.Column('bot_id', sa.Uuid(), nullable=True))
    # events synced so far have no bot: the counters start at 0, nothing cancelled
    for name, kind, zero in (('bot_revision', sa.Integer(), '0'),
                             ('bot_synced_revision', sa.Integer(), '0'),
                             ('bot_cancelled', sa.Boolean(), 'false'),
                             ('bot_attempts', sa.Integer(), '0')):
        op.add_column('calendar_events', sa.Column(name, kind, nullable=False, server_default=zero))
        op.alter_column('calendar_events', name, server_default=None)
    op.add_column('calendar_events', sa.Column('bot_retry_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('calendar_events', sa.Column('bot_error', sa.String(), nullable=True))


def downgrade() -> None:
    op.drop_column('calendar_events', 'bot_error')
    op.drop_column('calendar_events', 'bot_retry_at')
    op.drop_column('calendar_events', 'bot_attempts')
    op.drop_column('calendar_events', 'bot_cancelled')
    op.drop_column('calendar_events', 'bot_synced_revision')
    op.drop_column('calendar_events', 'bot_revision')
    op.drop_column('calendar_events', 'bot_id')
    op.drop_column('calendar_events', 'bot_api_key_prefix')
    op.drop_table('series_bots')
