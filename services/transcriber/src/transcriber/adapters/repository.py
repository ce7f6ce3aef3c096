"""SQLModel repository of transcripts and runs. A run is recorded, its transcript made current and
its answer staged in the outbox in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mb_shared.contracts.transcription import (
    TranscriptionDone,
    TranscriptSegment,
    TranscriptWord,
)
from mb_shared.database import session_scope
from mb_shared.outbox import Outbox
from transcriber.attribution import Segment
from transcriber.models import (
    Transcript,
    TranscriptionRun,
    TranscriptSegmentRow,
    TranscriptWordRow,
)


class SqlTranscriptRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], outbox: Outbox) -> None:
        self._sessions = sessions
        self._outbox = outbox

    async def handled(self, request_id: UUID) -> bool:
        async with self._sessions() as session:
            return await session.get(TranscriptionRun, request_id) is not None

    async def finish(self, request_id: UUID, bot_id: UUID, provider: str,
                     segments: list[Segment] | None,
                     done: Callable[[int | None], TranscriptionDone]) -> TranscriptionDone | None:
        now = datetime.now(UTC)
        async with session_scope(self._sessions) as session:
            claimed = await session.exec(
                insert(TranscriptionRun)
                .values(request_id=request_id, bot_id=bot_id, provider=provider,
                        finished_at=now)
                .on_conflict_do_nothing(index_elements=["request_id"])
                .returning(TranscriptionRun.request_id)
            )
            if claimed.scalar_one_or_none() is None:
                return None
            transcript_id = None
            if segments is not None:
                transcript_id = await self._replace(session, bot_id, provider, segments, now)
            answer = done(transcript_id)
            await session.exec(
                update(TranscriptionRun)
                .where(col(TranscriptionRun.request_id) == request_id)
                .values(transcript_id=transcript_id, error=answer.error)
            )
            await self._outbox.put(session, [answer])
        return answer

    @staticmethod
    async def _replace(session: AsyncSession, bot_id: UUID, provider: str,
                       segments: list[Segment], now: datetime) -> int:
        """Make `segments` the bot's current transcript (the others are kept, not current)."""
        await session.exec(
            update(Transcript).where(col(Transcript.bot_id) == bot_id).values(is_current=False)
        )
        transcript = Transcript(bot_id=bot_id, provider=provider, created_at=now)
        session.add(transcript)
        await session.flush()
        rows = [
            TranscriptSegmentRow(
                transcript_id=transcript.id,
                position=i,
                speaker=s.speaker,
                start_time=s.start,
                end_time=s.end,
            )
            for i, s in enumerate(segments)
        ]
        session.add_all(rows)
        await session.flush()
        session.add_all(
            TranscriptWordRow(
                segment_id=row.id, position=j, start=w.start, end=w.end, word=w.text
            )
            for row, segment in zip(rows, segments, strict=True)
            for j, w in enumerate(segment.words)
        )
        return transcript.id

    async def current(self, bot_id: UUID) -> tuple[int, str, list[TranscriptSegment]] | None:
        async with self._sessions() as session:
            transcript = (
                await session.exec(
                    select(Transcript).where(Transcript.bot_id == bot_id, Transcript.is_current)
                )
            ).first()
            if transcript is None:
                return None
            segments = (
                await session.exec(
                    select(TranscriptSegmentRow)
                    .where(TranscriptSegmentRow.transcript_id == transcript.id)
                    .order_by(col(TranscriptSegmentRow.position))
                )
            ).all()
            words = (
                await session.exec(
                    select(TranscriptWordRow)
                    .where(col(TranscriptWordRow.segment_id).in_([s.id for s in segments]))
                    .order_by(col(TranscriptWordRow.segment_id), col(TranscriptWordRow.position))
                )
            ).all()
        by_segment: dict[int, list[TranscriptWord]] = {}
        for w in words:
            by_segment.setdefault(w.segment_id, []).append(
                TranscriptWord(id=w.id, start=w.start, end=w.end, word=w.word)
            )
        return (
            transcript.id,
            transcript.provider,
            [
                TranscriptSegment(
                    id=s.id,
                    speaker=s.speaker,
                    start_time=s.start_time,
                    end_time=s.end_time,
                    words=by_segment.get(s.id, []),
                )
                for s in segments
            ],
        )
