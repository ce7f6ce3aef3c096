"""calendar event bots: the event revision applied

Revision ID: scheduler_0004
Revises: scheduler_0003
Create Date: 2026-12-04 07:56:06.040219
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'scheduler_0004'
down_revision: str | Sequence[str] | None = 'scheduler_0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # bots that no calendar event scheduled (all existing ones) keep revision 0
    op.add_column('bots', sa.Column('event_revision', sa.Integer(), nullable=False,
                                    server_default='0'))


def downgrade() -> None:
    op.drop_column('bots', 'event_revision')
