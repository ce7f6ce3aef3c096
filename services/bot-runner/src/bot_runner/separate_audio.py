"""Each participant's own voice, where the page plays remote audio on several elements.

Meet plays the call on a small pool of `<audio>` elements, each carrying one voice at a time (a
second voice at once takes another element). The recorder hands each element over on its own (a
channel, `ChannelTap`); `ChannelAudio` lays each channel on the recording's timeline and notes
where it carried sound. `separate` gives each voiced stretch of a channel to the participant whose
speaking (the speaker timeline, from the page's indicators) matches it best: speaking that starts
and ends with the stretch, over the one that merely overlaps it. Each participant's stretches then
make a track of their own, silent between them, from their first words to their last.

Teams and Zoom play the meeting as one mixed stream: there is nothing to separate there, and
their bots record no channels.
"""

from __future__ import annotations

import array
import logging
import subprocess
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from bot_runner.media.recorder import ChannelTap
from mb_shared.contracts.participants import EventTimestamp
from mb_shared.contracts.separate_parts import StoredAudioPart
from mb_shared.contracts.timeline import SpeakerTimelineEntry, TimelineParticipant

log = logging.getLogger(__name__)

RATE = 16_000
FRAME_MS = 40
SOUND_PEAK = 328
"""A frame whose peak sample is above this (-40 dBFS) carries sound, as the recorder judges."""
JOIN_GAP_S = 0.4
"""Sound on a channel with pauses this short between is one stretch."""
SHORTEST_STRETCH_S = 0.12
NEAR_S = 0.5
"""How far the page's speaking indicator may lag or lead the sound it shows."""
LEAD_S = 0.1
TAIL_S = 0.3
"""What a part keeps of its channel before and after the sound: a voice fades in and out under
`SOUND_PEAK`."""
HANDOVER_S = 0.3
"""How long two speakers in turn may both be shown speaking (one's indicator lagging) and still
be in turn, not at once."""


@dataclass
class _Channel:
    path: Path
    out: BinaryIO
    written: int = 0
    """Samples written, from the start of the recording."""
    stretches: list[list[float]] = field(default_factory=list)


@dataclass(frozen=True)
class Stretch:
    channel: str
    start: float
    end: float


class ChannelAudio:
    """The recording's channels as raw 16-bit mono PCM files in `directory`, each starting with
    the recording (silence until the element first played), and the stretches where each carried
    sound."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._channels: dict[str, _Channel] = {}
        self._lock = threading.Lock()
        self._closed = False

    def tap(self) -> ChannelTap:
        return ChannelTap(RATE, FRAME_MS, self.on_frame)

    def on_frame(self, channel: str, pcm: bytes, offset_s: float) -> None:
        with self._lock:
            if self._closed:
                return
            state = self._channels.get(channel)
            if state is None:
                self.directory.mkdir(parents=True, exist_ok=True)
                path = self.directory / f"channel-{channel}.pcm"
                state = self._channels[channel] = _Channel(path, open(path, "wb"))  # noqa: SIM115
            first = round(offset_s * RATE)
            skip = max(0, state.written - first)
            if skip * 2 >= len(pcm):
                return  # nothing after what is written already (or before the recording)
            if first > state.written:
                state.out.write(bytes(2 * (first - state.written)))
                state.written = first
            samples = array.array("h", pcm[2 * skip:])
            start = state.written / RATE
            state.out.write(samples.tobytes())
            state.written += len(samples)
            if samples and max(max(samples), -min(samples)) > SOUND_PEAK:
                self._sounded(state, start, state.written / RATE)

    @staticmethod
    def _sounded(state: _Channel, start: float, end: float) -> None:
        if state.stretches and start - state.stretches[-1][1] <= JOIN_GAP_S:
            state.stretches[-1][1] = end
        else:
            state.stretches.append([start, end])

    def close(self) -> dict[str, list[tuple[float, float]]]:
        """Stop taking frames; each channel's stretches of sound (s of the recording)."""
        with self._lock:
            self._closed = True
            for state in self._channels.values():
                state.out.close()
            return {name: [(s, e) for s, e in state.stretches if e - s >= SHORTEST_STRETCH_S]
                    for name, state in self._channels.items()}

    def path(self, channel: str) -> Path:
        return self._channels[channel].path


def _cuts(start: float, end: float, speaking: list[SpeakerTimelineEntry]) -> list[float]:
    """Where, within a stretch, one participant's speaking gives way to another's: one element
    may carry one voice, then another."""
    near = sorted((e for e in speaking
                   if e.start_timestamp.relative < end + NEAR_S
                   and e.end_timestamp.relative > start - NEAR_S),
                  key=lambda e: e.start_timestamp.relative)
    cuts = []
    for before, after in zip(near, near[1:], strict=False):
        gap_start, gap_end = before.end_timestamp.relative, after.start_timestamp.relative
        if before.participant.id != after.participant.id and gap_start <= gap_end + HANDOVER_S:
            cut = (gap_start + gap_end) / 2
            if start < cut < end:
                cuts.append(cut)
    return cuts


def _speaker_of(start: float, end: float, speaking: list[SpeakerTimelineEntry]
                ) -> TimelineParticipant | None:
    """Whose speaking matches the stretch best: overlap, less the distance between its ends and
    the stretch's."""
    best, best_score = None, None
    for entry in speaking:
        s, e = entry.start_timestamp.relative, entry.end_timestamp.relative
        if s >= end + NEAR_S or e <= start - NEAR_S:
            continue
        score = max(0.0, min(end, e) - max(start, s)) - 0.5 * (abs(start - s) + abs(end - e))
        if best_score is None or score > best_score:
            best, best_score = entry.participant, score
    return best


def separate(stretches: dict[str, list[tuple[float, float]]],
             speaking: list[SpeakerTimelineEntry]) -> dict[int, tuple[TimelineParticipant,
                                                                     list[Stretch]]]:
    """By participant id: the participant and the stretches of channels that carried them."""
    voices: dict[int, tuple[TimelineParticipant, list[Stretch]]] = {}
    for channel, sounded in stretches.items():
        for start, end in sounded:
            edges = [start, *_cuts(start, end, speaking), end]
            for a, b in zip(edges, edges[1:], strict=False):
                who = _speaker_of(a, b, speaking)
                if who is None:
                    continue
                voices.setdefault(who.id, (who, []))[1].append(Stretch(channel, a, b))
    _widen(voices)
    for _, own in voices.values():
        own.sort(key=lambda stretch: stretch.start)
    return voices


def _widen(voices: dict[int, tuple[TimelineParticipant, list[Stretch]]]) -> None:
    """Each stretch with a little of its channel before and after: a voice fades in and out
    under the level that counts as sound, and a word cut at that level loses its ending. Never
    into a neighbouring stretch of the channel."""
    by_channel: dict[str, list[tuple[int, int]]] = {}
    for pid, (_, own) in voices.items():
        for index, stretch in enumerate(own):
            by_channel.setdefault(stretch.channel, []).append((pid, index))
    for places in by_channel.values():
        places.sort(key=lambda place: voices[place[0]][1][place[1]].start)
        spans = [voices[pid][1][index] for pid, index in places]
        for position, (pid, index) in enumerate(places):
            stretch = spans[position]
            earliest = spans[position - 1].end if position else 0.0
            latest = spans[position + 1].start if position + 1 < len(spans) else float("inf")
            voices[pid][1][index] = Stretch(stretch.channel,
                                            max(earliest, stretch.start - LEAD_S),
                                            min(latest, stretch.end + TAIL_S))


def write_voices(audio: ChannelAudio, voices: dict[int, tuple[TimelineParticipant,
                                                             list[Stretch]]],
                 started_at_unix: float, directory: Path) -> list[tuple[StoredAudioPart, Path]]:
    """Each participant's track as FLAC (16 kHz mono), from their first stretch to the end of
    their last, silent between; the part describing it (its `key` left for the uploader)."""
    parts = []
    for who, own in voices.values():
        start, end = own[0].start, max(stretch.end for stretch in own)
        part_id = str(uuid.uuid4())
        flac = directory / f"{part_id}.flac"
        encoder = subprocess.Popen(
            ["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "s16le", "-ar", str(RATE), "-ac", "1",
             "-i", "pipe:0", "-c:a", "flac", str(flac)], stdin=subprocess.PIPE)
        assert encoder.stdin is not None
        try:
            written = round(start * RATE)
            for stretch in own:
                first, last = round(stretch.start * RATE), round(stretch.end * RATE)
                first = max(first, written)
                if last <= first:
                    continue
                _silence(encoder.stdin, first - written)
                with open(audio.path(stretch.channel), "rb") as source:
                    source.seek(first * 2)
                    sound = source.read((last - first) * 2)
                encoder.stdin.write(sound)
                written = first + len(sound) // 2
            _silence(encoder.stdin, round(end * RATE) - written)
            encoder.stdin.close()
            if encoder.wait(timeout=600) != 0:
                raise RuntimeError(f"ffmpeg could not encode {flac.name}: {encoder.returncode}")
        finally:
            if encoder.poll() is None:
                encoder.kill()
                encoder.wait()
        parts.append((StoredAudioPart(
            id=part_id, participant=who,
            start_timestamp=EventTimestamp(
                absolute=datetime.fromtimestamp(started_at_unix + start, UTC)
                .isoformat().replace("+00:00", "Z"),
                relative=round(start, 3)),
            duration=round(end - start, 3), key=""), flac))
    return sorted(parts, key=lambda part: (part[0].start_timestamp.relative, part[0].participant.id))


def _silence(out: BinaryIO, samples: int) -> None:
    while samples > 0:
        step = min(samples, RATE * 10)
        out.write(bytes(2 * step))
        samples -= step
