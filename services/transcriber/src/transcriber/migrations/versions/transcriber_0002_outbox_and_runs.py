"""The outbox, and the runs of transcription requests (what makes a request handled once)

Revision ID: transcriber_0002
Revises: transcriber_0001
Create Date: 2026-12-04 04:57:28.346812
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = 'transcriber_0002'
down_revision: str | Sequence[str] | None = 'transcriber_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=True), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=False),
    sa.Column('subject', sa.String(), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('trace_context', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('event_id')
    )
    op.create_table('transcription_runs',
    sa.Column('request_id', sa.Uuid(), nullable=False),
    sa.Column('bot_id', sa.Uuid(), nullable=False),
    sa.Column('provider', sa.String(), nullable=False),
    sa.Column('transcript_id', sa.Integer(), nullable=True),
    sa.Column('error', sa.String(), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('request_id')
    )
    op.create_index(op.f('ix_transcription_runs_bot_id'), 'transcription_runs', ['bot_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_transcription_runs_bot_id'), table_name='transcription_runs')
    op.drop_table('transcription_runs')
    op.drop_table('outbox')
