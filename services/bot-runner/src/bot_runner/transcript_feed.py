"""The meeting's audio sent, piece by piece, to be transcribed while the bot records.

The recorder's 16 kHz tap feeds a `PieceCutter` (on the recorder's DevTools thread); each finished
piece waits `SPEAKER_LAG_S` after its end, for the speaking indicators that trail the audio, then
takes who spoke during it from the speaker timeline (on the session's thread) and goes to a
thread of its own that stores its audio (`bots/<id>/live/<index>.wav`) and publishes
`recording.piece`. Nothing here waits on the object store or NATS in the recorder's or the
session's place.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Protocol
from uuid import UUID

from bot_runner.media import PcmTap
from bot_runner.media.pieces import Piece, PieceCutter, wav_bytes
from bot_runner.timeline import SpeakerTimelineBuilder
from mb_shared.contracts.bot import SpeechToTextProvider
from mb_shared.contracts.recording import RecordingPiece
from mb_shared.contracts.timeline import SpeakerTimelineEntry

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
FRAME_MS = 40
SPEAKER_LAG_S = 1.0


class PieceEffects(Protocol):
    def upload_bytes(self, name: str, data: bytes, content_type: str) -> str: ...
    def piece(self, event: RecordingPiece) -> None: ...


class TranscriptFeed:
    def __init__(self, bot_id: UUID, effects: PieceEffects, provider: SpeechToTextProvider, *,
                 live_transcript: bool, language: str | None = None) -> None:
        self.bot_id = bot_id
        self._effects = effects
        self._provider = provider
        self._live_transcript = live_transcript
        self._language = language
        self._cutter = PieceCutter(SAMPLE_RATE)
        self._cut: queue.SimpleQueue[Piece] = queue.SimpleQueue()
        self._waiting: list[Piece] = []
        self._outgoing: queue.Queue[tuple[Piece, list[SpeakerTimelineEntry]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._publish_all, name=f"pieces-{bot_id}",
                                        daemon=True)
        self._finished = False
        self.published = 0
        self.failed = 0

    @property
    def tap(self) -> PcmTap:
        return PcmTap(SAMPLE_RATE, FRAME_MS, self._on_frame)

    def start(self) -> None:
        self._thread.start()

    def _on_frame(self, pcm: bytes, offset_s: float) -> None:
        for piece in self._cutter.push(pcm, offset_s):
            self._cut.put(piece)

    def send_ready(self, timeline: SpeakerTimelineBuilder | None, now_s: float | None) -> None:
        """Send the pieces that ended `SPEAKER_LAG_S` before `now_s` (s of the recording; None:
        all of them), with who spoke during each."""
        while True:
            try:
                self._waiting.append(self._cut.get_nowait())
            except queue.Empty:
                break
        keep = []
        for piece in self._waiting:
            end = piece.offset_s + piece.duration_s
            if now_s is not None and end > now_s - SPEAKER_LAG_S:
                keep.append(piece)
                continue
            spoke = timeline.entries_between(piece.offset_s, end) if timeline else []
            self._outgoing.put((piece, spoke))
        self._waiting = keep

    def finish(self, timeline: SpeakerTimelineBuilder | None) -> int | None:
        """Send what is left (call once the recorder has stopped) and wait until all is published:
        the number of pieces, or None if one of them could not be published."""
        if self._finished:
            return None
        self._finished = True
        for piece in self._cutter.flush():
            self._cut.put(piece)
        self.send_ready(timeline, None)
        self._outgoing.put(None)
        if self._thread.ident is not None:
            self._thread.join()
        if self.failed:
            return None
        return self.published or None

    def _publish_all(self) -> None:
        while True:
            item = self._outgoing.get()
            if item is None:
                return
            piece, spoke = item
            try:
                audio = None
                if piece.sound:
                    audio = self._effects.upload_bytes(f"live/{piece.index:06d}.wav",
                                                       wav_bytes(piece), "audio/wav")
                self._effects.piece(RecordingPiece(
                    bot_id=self.bot_id, index=piece.index, offset_s=round(piece.offset_s, 3),
                    duration_s=round(piece.duration_s, 3), audio=audio, timeline=spoke,
                    provider=self._provider, live_transcript=self._live_transcript,
                    language=self._language))
                self.published += 1
            except Exception:
                self.failed += 1
                log.exception("piece %d of the audio not published", piece.index,
                              extra={"bot_id": self.bot_id})
