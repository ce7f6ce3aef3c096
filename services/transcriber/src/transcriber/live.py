"""The transcript made while a bot records, from the pieces of audio its runner sends
(`recording.piece`), so that the final transcript is ready seconds after the call, whatever its
length. Pieces go to the provider the bot asked for, with its key (asked of the scheduler by bot
id, used only in memory); a run a provider refuses is marked with the error, and the final
transcript of that bot is then made from the whole file.

Pieces are stored as they come (`live_pieces`). A worker takes the oldest pending piece of any bot
that is its bot's first pending piece, with the pieces of that bot that follow it without a
break, up to `max_batch_s` of audio (one piece when it keeps up, more when it is behind: the
model costs about the same for one piece as for a full window, so a backlog is cleared in fewer,
fuller runs; a silent piece inside a run takes at most `SILENCE_KEPT_S` of it), holds their rows
locked (another replica skips them, and the bot's later pieces wait) while the provider
transcribes them as one audio, and stores each piece's words in the same transaction as the
`transcription.live` event of the bots that asked for one. So a bot's runs go one at a time, in
order: each is heard with the words before it, and the live events come in the order spoken. When the bot's first transcript is asked for, `words_of` transcribes what is still
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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from sqlalchemy import exists
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from mb_shared.contracts.bot import SpeechToTextProvider
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
from transcriber.providers import AudioSource, ProviderError, Recognizer
from transcriber.speech import RecognizedWord

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
CONTIGUOUS_S = 0.05
"""Pieces further apart than this are not transcribed as one audio."""
CONTEXT_PIECES = 8
CONTEXT_WORDS = 60
"""The model hears a piece knowing the last words said before it (of up to that many pieces), as
it would in one file: the same words come out as from the whole recording."""
SILENCE_KEPT_S = 1.0
"""A silent piece inside a run is transcribed as this much silence at most."""

LiveKeys = Callable[[UUID], Awaitable[str | None]]
"""The provider key of a bot (by its id), opened; None when it has none."""


@dataclass(frozen=True)
class Part:
    """Where a piece lies in the audio of a run: from `at_s`, `length_s` long (a silent piece
    may be shortened)."""

    piece: LivePiece
    at_s: float
    length_s: float

    def to_recording(self, t: float) -> float:
        """A time of the run's audio within this part, on the recording's timeline."""
        return self.piece.offset_s + min(max(t - self.at_s, 0.0), self.piece.duration_s)


def lay_out(rows: list[LivePiece], max_length_s: float) -> list[Part]:
    """The run that starts with `rows[0]` (pending): the pieces that follow it without a break,
    each voiced one still pending, silent ones shortened, up to `max_length_s` of audio, ending
    with a voiced piece."""
    parts = [Part(rows[0], 0.0, rows[0].duration_s)]
    for row in rows[1:]:
        previous = parts[-1].piece
        length = row.duration_s if row.audio else min(row.duration_s, SILENCE_KEPT_S)
        at = parts[-1].at_s + parts[-1].length_s
        if (row.piece != previous.piece + 1
                or abs(row.offset_s - previous.offset_s - previous.duration_s) > CONTIGUOUS_S
                or (row.audio and row.words is not None) or at + length > max_length_s):
            break
        parts.append(Part(row, at, length))
    while not parts[-1].piece.audio:
        parts.pop()
    return parts


class LiveTranscription:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], outbox: Outbox,
                 recognizers: dict[str, Recognizer], keys: LiveKeys, files: Files,
                 work_dir: Path, *, max_batch_s: float = 30.0) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._recognizers = recognizers
        self._keys = keys
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
                provider=event.provider, live_transcript=event.live_transcript,
                language=event.language, words=None if event.audio else [],
                received_at=datetime.now(UTC),
            ).on_conflict_do_nothing(index_elements=["bot_id", "piece"]))

    async def work(self) -> None:
        """Transcribe pending pieces until none is left that this replica can take."""
        while await self.transcribe_next():
            pass

    async def transcribe_next(self, bot_id: UUID | None = None, api_key: str | None = None
                              ) -> bool:
        """Transcribe the oldest pending run of pieces (of `bot_id`, or of any bot; with
        `api_key`, else the bot's own); False when there was none to take."""
        async with session_scope(self._sessions) as session:
            earlier = aliased(LivePiece)
            pending = select(LivePiece).where(
                col(LivePiece.words).is_(None), col(LivePiece.error).is_(None),
                # the bot's first pending piece: one run of a bot at a time, across replicas
                ~exists().where(earlier.bot_id == LivePiece.bot_id,
                                earlier.piece < LivePiece.piece,
                                col(earlier.words).is_(None), col(earlier.error).is_(None)))
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
            parts = lay_out(list(rows), self._max_batch_s)
            before = (await session.exec(
                select(LivePiece.words).where(LivePiece.bot_id == oldest.bot_id,
                                              col(LivePiece.piece) < oldest.piece,
                                              col(LivePiece.words).is_not(None))
                .order_by(col(LivePiece.piece).desc()).limit(CONTEXT_PIECES))).all()
            said_before = " ".join(w[2] for words in reversed(before) for w in words)
            said_before = " ".join(said_before.split()[-CONTEXT_WORDS:])
            try:
                words, answers = await self._recognize(parts, said_before, api_key)
            except ProviderError as exc:
                log.warning("%s could not transcribe pieces %d-%d of bot %s: %s",
                            oldest.provider, oldest.piece, parts[-1].piece.piece, oldest.bot_id,
                            exc)
                for part in parts:
                    part.piece.error = str(exc)
                    session.add(part.piece)
                return True
            batch = [part.piece for part in parts]
            for part in parts:
                part.piece.words = [[w.start, w.end, w.text] for w in words[part.piece.piece]]
                session.add(part.piece)
            parts[0].piece.answers = answers
            if any(row.live_transcript for row in batch):
                found = [w for part in parts for w in words[part.piece.piece]]
                await self._outbox.put(session, [self._live_event(batch, found)])
        return True

    async def _recognize(self, parts: list[Part], said_before: str, api_key: str | None
                         ) -> tuple[dict[int, list[RecognizedWord]], list[dict]]:
        """The words of each piece of the run, on the recording's timeline, and the provider's
        raw answers (offsets on that timeline); `said_before`: the words of the pieces before
        it."""
        first = parts[0].piece
        recognizer = self._recognizers.get(first.provider)
        if recognizer is None:
            raise ProviderError(f"the {first.provider} provider is not available on this platform")
        if api_key is None and first.provider != SpeechToTextProvider.DEFAULT:
            api_key = await self._keys(first.bot_id)
        pcm = bytearray()
        for part in parts:
            if part.piece.audio:
                with wave.open(io.BytesIO(await self._files.get_bytes(part.piece.audio))) as wav:
                    pcm += wav.readframes(wav.getnframes())
            else:
                pcm += bytes(round(part.length_s * SAMPLE_RATE) * 2)
        self._work_dir.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix=f"live-{first.bot_id}-", dir=self._work_dir))
        path = workdir / "pieces.wav"
        stored: list[str] = []

        async def url() -> str:
            """The run's audio, stored for a provider that fetches it (removed afterwards)."""
            if not stored:
                last = parts[-1].piece.piece
                key = f"bots/{first.bot_id}/live/run-{first.piece:06d}-{last:06d}.wav"
                await self._files.put_file(key, path, "audio/wav")
                stored.append(key)
            return self._files.presigned_url(stored[0])

        try:
            with wave.open(str(path), "wb") as out:
                out.setnchannels(1)
                out.setsampwidth(2)
                out.setframerate(SAMPLE_RATE)
                out.writeframes(bytes(pcm))
            started = time.monotonic()
            source = AudioSource(path, url, said_before, language=first.language)
            found = await recognizer.recognize(source, api_key)
            log.info("%s transcribed pieces %d-%d of bot %s (%.1f s of audio) in %.1f s",
                     first.provider, first.piece, parts[-1].piece.piece, first.bot_id,
                     len(pcm) / 2 / SAMPLE_RATE, time.monotonic() - started)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
            for key in stored:
                await self._files.delete(key)
        def part_at(t: float) -> Part:
            """The part of the run that time `t` of its audio falls in."""
            return next((p for p in reversed(parts) if p.at_s <= t), parts[0])

        words: dict[int, list[RecognizedWord]] = {part.piece.piece: [] for part in parts}
        for word in found:
            part = part_at(word.start)
            start = part.to_recording(word.start)
            words[part.piece.piece].append(RecognizedWord(
                start=start, end=max(start, part.to_recording(word.end)), text=word.text))
        answers = [{**a, "offset": part_at(a["offset"]).to_recording(a["offset"])}
                   for a in source.answers]
        return words, answers

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

    async def words_of(self, bot_id: UUID, pieces: int, provider: str, api_key: str | None, *,
                       wait_s: float = 120.0) -> tuple[list[RecognizedWord], list[dict]] | None:
        """Every word of the bot's `pieces` pieces once all are transcribed by `provider` (what
        is pending is transcribed now, with `api_key` if given), and the provider's raw answers
        about them; None if they are not all there within `wait_s`, or one of them could not be
        transcribed."""
        deadline = time.monotonic() + wait_s
        while True:
            async with self._sessions() as session:
                rows = (await session.exec(select(LivePiece).where(LivePiece.bot_id == bot_id)
                                           .order_by(col(LivePiece.piece)))).all()
            if any(row.error is not None or row.provider != provider for row in rows[:pieces]):
                return None
            if len(rows) >= pieces and all(row.words is not None for row in rows[:pieces]):
                return ([RecognizedWord(start=w[0], end=w[1], text=w[2])
                         for row in rows[:pieces] for w in row.words],
                        [a for row in rows[:pieces] for a in row.answers or []])
            if not await self.transcribe_next(bot_id, api_key):
                if time.monotonic() > deadline:
                    log.warning("bot %s: %d of %d pieces transcribed after %.0f s", bot_id,
                                sum(row.words is not None for row in rows), pieces, wait_s)
                    return None
                await asyncio.sleep(0.2)  # a piece yet to arrive, or another replica's
