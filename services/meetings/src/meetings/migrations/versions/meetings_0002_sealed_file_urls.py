"""Imported files' URLs sealed (the key ring `MB_SECRET_KEYS` is needed when imports exist), and
their meetings' locations shown without what grants access to the file

Revision ID: meetings_0002
Revises: meetings_0001
Create Date: 2026-12-05 21:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = 'meetings_0002'
down_revision: str | Sequence[str] | None = 'meetings_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT id, file_url FROM meetings WHERE file_url IS NOT NULL "
        "AND file_url NOT LIKE 'sealed:%'")).all()
    if not rows:
        return
    from yarl import URL

    from mb_shared.settings import BaseServiceSettings

    ring = BaseServiceSettings().key_ring()
    for meeting_id, file_url in rows:
        connection.execute(sa.text("UPDATE meetings SET file_url = :sealed, location = :shown "
                                   "WHERE id = :id"),
                           {"sealed": ring.seal(file_url),
                            "shown": str(URL(file_url).with_user(None).with_query(None)
                                         .with_fragment(None)),
                            "id": meeting_id})


def downgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT id, file_url FROM meetings WHERE file_url LIKE 'sealed:%'")).all()
    if not rows:
        return
    from mb_shared.settings import BaseServiceSettings

    ring = BaseServiceSettings().key_ring()
    for meeting_id, file_url in rows:
        connection.execute(sa.text("UPDATE meetings SET file_url = :url WHERE id = :id"),
                           {"url": ring.open(file_url), "id": meeting_id})
