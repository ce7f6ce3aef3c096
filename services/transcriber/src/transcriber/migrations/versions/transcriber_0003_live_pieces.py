"""The pieces of audio transcribed while bots record

Revision ID: transcriber_0003
Revises: transcriber_0002
Create Date: 2026-12-04 14:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = 'transcriber_0003'
down_revision: str | Sequence[str] | None = 'transcriber_0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('live_pieces',
    sa.Column('bot_id', sa.Uuid(), nullable=False),
    sa.Column('piece', sa.Integer(), nullable=False),
    sa.Column('offset_s', sa.Float(), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=False),
    sa.Column('audio', sa.String(), nullable=True),
    sa.Column('timeline', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('live_transcript', sa.Boolean(), nullable=False),
    sa.Column('words', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('bot_id', 'piece')
    )


def downgrade() -> None:
    op.drop_table('live_pieces')
