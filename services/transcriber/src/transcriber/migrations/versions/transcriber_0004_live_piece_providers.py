"""Pieces transcribed during a call by any provider, and the error of a piece it refused

Revision ID: transcriber_0004
Revises: transcriber_0003
Create Date: 2026-12-04 20:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'transcriber_0004'
down_revision: str | Sequence[str] | None = 'transcriber_0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('live_pieces', sa.Column('provider', sa.String(), nullable=False,
                                           server_default='Default'))
    op.alter_column('live_pieces', 'provider', server_default=None)
    op.add_column('live_pieces', sa.Column('error', sa.String(), nullable=True))


def downgrade() -> None:
    op.drop_column('live_pieces', 'error')
    op.drop_column('live_pieces', 'provider')
