"""Runners heard by their heartbeats: a bot is lost when its runner is silent, not when the
runner stops listing it (its last events may still be on their way)

Revision ID: scheduler_0003
Revises: scheduler_0002
Create Date: 2026-12-04 06:02:44.393116
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'scheduler_0003'
down_revision: str | Sequence[str] | None = 'scheduler_0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('runners',
    sa.Column('runner_id', sa.String(), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('runner_id')
    )


def downgrade() -> None:
    op.drop_table('runners')
