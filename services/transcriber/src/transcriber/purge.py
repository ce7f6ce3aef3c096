"""`transcriber.data.purge` (request/reply): delete every transcript run of a bot, words included,
and the pieces transcribed during its call."""

from __future__ import annotations

from faststream.nats import NatsRouter
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from mb_shared.contracts.queries import PurgeReply, PurgeTranscripts
from mb_shared.database import session_scope
from mb_shared.messaging import answers_errors
from transcriber.models import (
    LivePiece,
    Transcript,
    TranscriptionRun,
    TranscriptSegmentRow,
    TranscriptWordRow,
)


async def purge_transcripts(sessions: async_sessionmaker[AsyncSession], bot_id) -> int:
    """Returns how many transcript runs were deleted."""
    async with session_scope(sessions) as session:
        runs = select(Transcript.id).where(Transcript.bot_id == bot_id)
        segments = select(TranscriptSegmentRow.id).where(
            col(TranscriptSegmentRow.transcript_id).in_(runs)
        )
        await session.exec(delete(TranscriptWordRow).where(col(TranscriptWordRow.segment_id).in_(segments)))
        await session.exec(
            delete(TranscriptSegmentRow).where(col(TranscriptSegmentRow.transcript_id).in_(runs))
        )
        result = await session.exec(delete(Transcript).where(Transcript.bot_id == bot_id))
        await session.exec(delete(LivePiece).where(col(LivePiece.bot_id) == bot_id))
        await session.exec(
            update(TranscriptionRun).where(col(TranscriptionRun.bot_id) == bot_id)
            .values(transcript_id=None)
        )
        return result.rowcount


def build_purge_router(sessions: async_sessionmaker[AsyncSession]) -> NatsRouter:
    router = NatsRouter()

    @router.subscriber(PurgeTranscripts.SUBJECT, queue="transcriber")
    @answers_errors
    async def on_purge_transcripts(query: PurgeTranscripts) -> dict:
        removed = await purge_transcripts(sessions, query.bot_id)
        return PurgeReply(removed=removed).model_dump(mode="json")

    return router
