"""The language spoken in each live piece, when the bot's meeting gave one

Revision ID: transcriber_0006
Revises: transcriber_0005
Create Date: 2026-12-05 20:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'transcriber_0006'
down_revision: str | Sequence[str] | None = 'transcriber_0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('live_pieces', sa.Column('language', sa.String(), nullable=True))


def downgrade() -> None:
    op.drop_column('live_pieces', 'language')
