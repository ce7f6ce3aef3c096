"""The transcript made while a bot records, from the pieces of audio its runner sends
(`recording.piece`), so that the final transcript is ready seconds after the call, whatever its
length.

Pieces are stored as they come (`live_pieces`). A worker takes the oldest pending piece of any bot
with the pieces of that bot that follow it without a break, up to `max_batch_s` (one piece when
it keeps up, more when it is behind: fewer, longer runs of the model), holds their rows locked
(another replica skips them) while the model transcribes them as one audio, and stores each
piece's words in the same transaction as the `transcription.live` event of the bots that asked
for one. When the bot's first transcript is asked for, `words_of` transcribes what is still
pending and returns every word of the recording; the final attribution uses the whole speaker
timeline.
"""

from __future__ import annotations

import asyncio
import io
import logging
import shutil
import tempfile
import time
import wave
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mb_shared.contracts.recording import RecordingPiece
from mb_shared.contracts.timeline import SpeakerTimelineEntry
from mb_shared.contracts.transcription import (
    TranscriptionLive,
    TranscriptSegment,
    TranscriptWord,
)
from mb_shared.database import session_scope
from mb_shared.outbox import Outbox
from transcriber.attribution import attribute_words, group_into_segments
from transcriber.models import LivePiece
from transcriber.ports import Files
from transcriber.providers import AudioSource, Recognizer
from transcriber.speech import RecognizedWord

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
CONTIGUOUS_S = 0.05
"""Pieces further apart than this are not transcribed as one audio."""


class LiveTranscription:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], outbox: Outbox,
                 recognizer: Recognizer, files: Files, work_dir: Path, *,
                 max_batch_s: float = 30.0) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._recognizer = recognizer
        self._files = files
        self._work_dir = work_dir
        self._max_batch_s = max_batch_s

    async def on_piece(self, event: RecordingPiece) -> None:
        """Keep the piece (a second delivery changes nothing)."""
        async with session_scope(self._sessions) as session:
            await session.exec(insert(LivePiece).values(
                bot_id=event.bot_id, piece=event.index, offset_s=event.offset_s,
                duration_s=event.duration_s, audio=event.audio,
                timeline=[entry.model_dump(mode="json") for entry in event.timeline],
                live_transcript=event.live_transcript,
                words=None if event.audio else [], received_at=datetime.now(UTC),
            ).on_conflict_do_nothing(index_elements=["bot_id", "piece"]))

    async def work(self) -> None:
        """Transcribe pending pieces until none is left that this replica can take."""
        while await self.transcribe_next():
            pass

    async def transcribe_next(self, bot_id: UUID | None = None) -> bool:
        """Transcribe the oldest pending run of pieces (of `bot_id`, or of any bot); False when
        there was none to take."""
        async with session_scope(self._sessions) as session:
            pending = select(LivePiece).where(col(LivePiece.words).is_(None))
            if bot_id is not None:
                pending = pending.where(LivePiece.bot_id == bot_id)
            oldest = (await session.exec(
                pending.order_by(col(LivePiece.received_at), col(LivePiece.piece)).limit(1)
                .with_for_update(skip_locked=True))).first()
            if oldest is None:
                return False
            rows = (await session.exec(
                select(LivePiece).where(LivePiece.bot_id == oldest.bot_id,
                                        col(LivePiece.piece) >= oldest.piece)
                .order_by(col(LivePiece.piece)).with_for_update(skip_locked=True))).all()
            batch = self._run_from(rows)
            words = await self._recognize(batch)
            for row in batch:
                end = row.offset_s + row.duration_s
                last = row is batch[-1]
                row.words = [[w.start, w.end, w.text] for w in words
                             if row.offset_s <= w.start and (w.start < end or last)]
                session.add(row)
            if any(row.live_transcript for row in batch):
                await self._outbox.put(session, [self._live_event(batch, words)])
        return True

    def _run_from(self, rows: list[LivePiece]) -> list[LivePiece]:
        """The first row and those that follow it without a break, pending, up to the limit."""
        batch = [rows[0]]
        for row in rows[1:]:
            previous = batch[-1]
            if (row.words is not None or row.piece != previous.piece + 1
                    or abs(row.offset_s - previous.offset_s - previous.duration_s) > CONTIGUOUS_S
                    or sum(r.duration_s for r in batch) + row.duration_s > self._max_batch_s):
                break
            batch.append(row)
        return batch

    async def _recognize(self, batch: list[LivePiece]) -> list[RecognizedWord]:
        """The batch's words, on the recording's timeline."""
        voiced = [row for row in batch if row.audio]
        if not voiced:
            return []
        pcm = bytearray()
        for row in batch:
            if row.audio:
                with wave.open(io.BytesIO(await self._files.get_bytes(row.audio))) as piece:
                    pcm += piece.readframes(piece.getnframes())
            else:
                pcm += bytes(round(row.duration_s * SAMPLE_RATE) * 2)
        self._work_dir.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix=f"live-{batch[0].bot_id}-", dir=self._work_dir))
        try:
            path = workdir / "pieces.wav"
            with wave.open(str(path), "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(SAMPLE_RATE)
                out.writeframes(bytes(pcm))
            started = time.monotonic()
            words = await self._recognizer.recognize(
                AudioSource(path, lambda: self._files.presigned_url(voiced[0].audio)), None)
            log.info("transcribed pieces %d-%d of bot %s (%.1f s of audio) in %.1f s",
                     batch[0].piece, batch[-1].piece, batch[0].bot_id, len(pcm) / 2 / SAMPLE_RATE,
                     time.monotonic() - started)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        offset = batch[0].offset_s
        return [RecognizedWord(start=offset + w.start, end=offset + w.end, text=w.text)
                for w in words]

    @staticmethod
    def _live_event(batch: list[LivePiece], words: list[RecognizedWord]) -> TranscriptionLive:
        timeline = [SpeakerTimelineEntry.model_validate(entry)
                    for row in batch for entry in row.timeline]
        segments = group_into_segments(attribute_words(words, timeline))
        return TranscriptionLive(
            bot_id=batch[0].bot_id, pieces=[row.piece for row in batch],
            segments=[TranscriptSegment(
                speaker=s.speaker, start_time=s.start, end_time=s.end,
                words=[TranscriptWord(start=w.start, end=w.end, word=w.text) for w in s.words])
                for s in segments])

    async def words_of(self, bot_id: UUID, pieces: int, *, wait_s: float = 120.0
                       ) -> list[RecognizedWord] | None:
        """Every word of the bot's `pieces` pieces once all are transcribed (what is pending is
        transcribed now); None if they are not all there within `wait_s`."""
        deadline = time.monotonic() + wait_s
        while True:
            async with self._sessions() as session:
                rows = (await session.exec(select(LivePiece).where(LivePiece.bot_id == bot_id)
                                           .order_by(col(LivePiece.piece)))).all()
            if len(rows) >= pieces and all(row.words is not None for row in rows[:pieces]):
                return [RecognizedWord(start=w[0], end=w[1], text=w[2])
                        for row in rows[:pieces] for w in row.words]
            if not await self.transcribe_next(bot_id):
                if time.monotonic() > deadline:
                    log.warning("bot %s: %d of %d pieces transcribed after %.0f s", bot_id,
                                sum(row.words is not None for row in rows), pieces, wait_s)
                    return None
                await asyncio.sleep(0.2)  # a piece yet to arrive, or another replica's
