"""The outbox, transcription requests, and the provider key moved out of the bot's parameters
into `bots.speech_api_key`, sealed (the key ring `MB_SECRET_KEYS` is needed when a bot holds one)

Revision ID: scheduler_0002
Revises: scheduler_0001
Create Date: 2026-12-04 04:57:20.057069
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision: str = 'scheduler_0002'
down_revision: str | Sequence[str] | None = 'scheduler_0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEYED = sa.text(
    "SELECT id, params -> 'speech_to_text' ->> 'api_key' AS api_key FROM bots "
    "WHERE params -> 'speech_to_text' ->> 'api_key' IS NOT NULL")


def _key_ring():
    from mb_shared.settings import BaseServiceSettings

    return BaseServiceSettings().key_ring()


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
    op.create_table('transcription_requests',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('bot_pk', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(), nullable=False),
    sa.Column('sealed_api_key', sa.String(), nullable=True),
    sa.Column('rerun', sa.Boolean(), nullable=False),
    sa.Column('webhook_url', sa.String(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['bot_pk'], ['bots.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_transcription_requests_bot_pk'), 'transcription_requests', ['bot_pk'], unique=False)
    op.add_column('bots', sa.Column('api_key_prefix', sa.String(), nullable=True))
    op.add_column('bots', sa.Column('speech_api_key', sa.String(), nullable=True))
    op.add_column('bots', sa.Column('leave_requested_at', sa.DateTime(timezone=True), nullable=True))
    connection = op.get_bind()
    keyed = connection.execute(_KEYED).all()
    if keyed:
        ring = _key_ring()
        for bot_pk, api_key in keyed:
            connection.execute(
                sa.text("UPDATE bots SET speech_api_key = :sealed, params = jsonb_set(params, "
                        "'{speech_to_text,api_key}', 'null'::jsonb) WHERE id = :id"),
                {"sealed": ring.seal(api_key), "id": bot_pk})


def downgrade() -> None:
    connection = op.get_bind()
    sealed = connection.execute(
        sa.text("SELECT id, speech_api_key FROM bots WHERE speech_api_key IS NOT NULL")).all()
    if sealed:
        ring = _key_ring()
        for bot_pk, value in sealed:
            connection.execute(
                sa.text("UPDATE bots SET params = jsonb_set(params, '{speech_to_text,api_key}', "
                        "to_jsonb(CAST(:key AS text))) WHERE id = :id"),
                {"key": ring.open(value), "id": bot_pk})
    op.drop_column('bots', 'leave_requested_at')
    op.drop_column('bots', 'speech_api_key')
    op.drop_column('bots', 'api_key_prefix')
    op.drop_index(op.f('ix_transcription_requests_bot_pk'), table_name='transcription_requests')
    op.drop_table('transcription_requests')
    op.drop_table('outbox')
