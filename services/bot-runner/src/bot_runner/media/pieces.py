"""The meeting's audio cut, while it is recorded, into pieces that end in a pause: what the
transcriber transcribes during the call, so that the transcript is ready soon after its end.

Frames of 16-bit mono PCM come in order with their place on the recording's timeline. A piece
ends at the first pause of at least `pause_s` once it holds `min_s` of audio; one that reaches
`max_s` without a pause is cut at its quietest moment of the last second, the rest starting the
next piece. A piece with no sound in it is only announced (nothing to transcribe) and may run
longer (`max_silent_s`); when sound starts after `lead_s` or more of quiet, the quiet before it
(but its last `lead_s`) becomes such a piece, so that what is transcribed starts with the voice. Where the timeline jumps (the page handed nothing over for a while) the
piece ends before the jump. Pieces tile what was handed over exactly.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

SOUND_LEVEL = 328
"""Peak of a 16-bit sample (-40 dBFS) above which a frame holds sound."""


@dataclass(frozen=True)
class Piece:
    index: int
    offset_s: float
    pcm: bytes
    sample_rate: int
    sound: bool

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate


def _loudness(pcm: bytes) -> int:
    samples = array("h", pcm)
    return max(max(samples, default=0), -min(samples, default=0))


class PieceCutter:
    def __init__(self, sample_rate: int = 16_000, *, min_s: float = 1.0, max_s: float = 8.0,
                 pause_s: float = 0.3, max_silent_s: float = 30.0, lead_s: float = 0.3) -> None:
        self.sample_rate = sample_rate
        self.min_s, self.max_s, self.pause_s, self.max_silent_s = min_s, max_s, pause_s, max_silent_s
        self.lead_s = lead_s
        self._frames: list[tuple[float, bytes, int]] = []  # (offset, pcm, loudness)
        self._held_bytes = 0  # of the frames held
        self._loud = 0  # frames held with sound
        self._quiet_s = 0.0
        self._next = 0

    def _length_s(self) -> float:
        return self._held_bytes / 2 / self.sample_rate

    def push(self, pcm: bytes, offset_s: float) -> list[Piece]:
        """Add the next frame; the pieces it completes."""
        done: list[Piece] = []
        if self._frames:
            last_offset, last_pcm, _ = self._frames[-1]
            expected = last_offset + len(last_pcm) / 2 / self.sample_rate
            if abs(offset_s - expected) > 0.5 * len(pcm) / 2 / self.sample_rate:
                done += self.flush()
        loudness = _loudness(pcm)
        if loudness > SOUND_LEVEL and self._quiet_s >= 2 * self.lead_s and not self._loud:
            lead, kept = 0.0, len(self._frames)
            while kept > 0 and lead < self.lead_s:
                kept -= 1
                lead += len(self._frames[kept][1]) / 2 / self.sample_rate
            if kept:
                done.append(self._cut(kept))
        self._frames.append((offset_s, pcm, loudness))
        self._held_bytes += len(pcm)
        self._loud += loudness > SOUND_LEVEL
        frame_s = len(pcm) / 2 / self.sample_rate
        self._quiet_s = self._quiet_s + frame_s if loudness <= SOUND_LEVEL else 0.0
        length = self._length_s()
        if not self._loud:
            if length >= self.max_silent_s:
                done += self.flush()
        elif length >= self.min_s and self._quiet_s >= self.pause_s:
            done += self.flush()
        elif length >= self.max_s:
            done.append(self._cut(self._quietest_in_last(1.0)))
        return done

    def flush(self) -> list[Piece]:
        """What is held, as a last piece (none if nothing is)."""
        return [self._cut(len(self._frames))] if self._frames else []

    def _quietest_in_last(self, seconds: float) -> int:
        """Where to cut: after the quietest frame of the last `seconds`."""
        frames, total, start = self._frames, 0.0, len(self._frames)
        while start > 1 and total < seconds:
            start -= 1
            total += len(frames[start][1]) / 2 / self.sample_rate
        best = min(range(start, len(frames)), key=lambda i: frames[i][2])
        return best + 1

    def _cut(self, end: int) -> Piece:
        taken, self._frames = self._frames[:end], self._frames[end:]
        self._held_bytes = sum(len(pcm) for _, pcm, _ in self._frames)
        self._loud = sum(level > SOUND_LEVEL for _, _, level in self._frames)
        self._quiet_s = 0.0
        for _, pcm, level in reversed(self._frames):
            if level > SOUND_LEVEL:
                break
            self._quiet_s += len(pcm) / 2 / self.sample_rate
        piece = Piece(self._next, taken[0][0], b"".join(pcm for _, pcm, _ in taken),
                      self.sample_rate, any(level > SOUND_LEVEL for _, _, level in taken))
        self._next += 1
        return piece


def wav_bytes(piece: Piece) -> bytes:
    """The piece as a WAV file (16-bit mono)."""
    header = b"".join((
        b"RIFF", (36 + len(piece.pcm)).to_bytes(4, "little"), b"WAVEfmt ",
        (16).to_bytes(4, "little"), (1).to_bytes(2, "little"), (1).to_bytes(2, "little"),
        piece.sample_rate.to_bytes(4, "little"), (piece.sample_rate * 2).to_bytes(4, "little"),
        (2).to_bytes(2, "little"), (16).to_bytes(2, "little"),
        b"data", len(piece.pcm).to_bytes(4, "little"),
    ))
    return header + piece.pcm
