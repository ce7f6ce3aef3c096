"""The provider's raw answers about each run of pieces, kept on the run's first piece

Revision ID: transcriber_0005
Revises: transcriber_0004
Create Date: 2026-12-05 00:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = 'transcriber_0005'
down_revision: str | Sequence[str] | None = 'transcriber_0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('live_pieces', sa.Column('answers', postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column('live_pieces', 'answers')
