"""Who said each word: join recognised words with the bot's speaker timeline.

The speaker timeline is the JSON file the bot writes, following the "Speaker Timeline" download
schema: a list of entries ``{participant, start_timestamp, end_timestamp}`` whose ``relative``
timestamps are seconds from the start of the recording. Entries may overlap (two people talking
at once) and need not be sorted.

Rules, for a word spanning ``[start, end]``:

1. The entry with the largest positive overlap with the word wins.
2. If no entry overlaps, the nearest entry whose distance to the word is at most ``tolerance``
   seconds wins (speaking indicators lag the audio a little, and a word can slip just outside
   its speaker's entry). An entry that touches the word, or contains a zero-length word, is at
   distance 0.
3. A word still without a speaker that is part of continuous speech (no pause longer than
   ``tolerance`` between it and the next attributed word of the same stretch) goes to the speaker
   of the nearest attributed word in that stretch: on a loaded machine or a slow page the speaking
   indicator can trail the audio by more than ``tolerance``, but a sentence has one speaker.
4. Otherwise the word goes to :data:`UNKNOWN_SPEAKER` (``"Unknown"``).

Ties (equal overlap, or equal distance) go to the entry that comes first in the timeline file.
The bot writes entries in chronological order, so this is the speaker who started first, i.e.
the one who already had the floor.
"""

from __future__ import annotations

import bisect
import heapq
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mb_shared.contracts.timeline import (
    SpeakerTimeline,
    SpeakerTimelineEntry,
    TimelineParticipant,
    TimelineTimestamp,
    dump_speaker_timeline,
    load_speaker_timeline,
    parse_speaker_timeline,
)
from transcriber.speech import RecognizedWord

__all__ = [
    "SpeakerTimeline",
    "SpeakerTimelineEntry",
    "TimelineParticipant",
    "TimelineTimestamp",
    "dump_speaker_timeline",
    "load_speaker_timeline",
    "parse_speaker_timeline",
]

#: Speaker name given to speech that no timeline entry accounts for (no one was shown speaking
#: within the tolerance, or the timeline is empty).
UNKNOWN_SPEAKER = "Unknown"

#: Default distance (seconds) within which a word outside every entry still goes to the nearest.
DEFAULT_TOLERANCE = 1.0


# --------------------------------------------------------------------------------------------
# Attribution
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttributedWord:
    word: RecognizedWord
    speaker: str

    @property
    def start(self) -> float:
        return self.word.start

    @property
    def end(self) -> float:
        return self.word.end

    @property
    def text(self) -> str:
        return self.word.text


@dataclass
class Segment:
    """Consecutive words of one speaker."""

    speaker: str
    start: float
    end: float
    words: list[RecognizedWord] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


def _overlap(ws: float, we: float, es: float, ee: float) -> float:
    return min(we, ee) - max(ws, es)


def _distance(ws: float, we: float, es: float, ee: float) -> float:
    return max(es - we, ws - ee, 0.0)


def _choose(
    ws: float,
    we: float,
    candidates: Iterable[int],
    starts: Sequence[float],
    ends: Sequence[float],
    tolerance: float,
) -> int | None:
    """Index of the winning entry among ``candidates`` (see the module rules), or None."""
    best_overlap = 0.0
    best_overlap_idx: int | None = None
    best_distance = tolerance
    best_distance_idx: int | None = None
    for idx in candidates:
        es, ee = starts[idx], ends[idx]
        ov = _overlap(ws, we, es, ee)
        if ov > 0.0:
            if ov > best_overlap or (
                ov == best_overlap and best_overlap_idx is not None and idx < best_overlap_idx
            ):
                best_overlap, best_overlap_idx = ov, idx
        elif best_overlap_idx is None:
            d = _distance(ws, we, es, ee)
            if d < best_distance or (
                d == best_distance and (best_distance_idx is None or idx < best_distance_idx)
            ):
                best_distance, best_distance_idx = d, idx
    return best_overlap_idx if best_overlap_idx is not None else best_distance_idx


def attribute_words(
    words: Sequence[RecognizedWord],
    timeline: Sequence[SpeakerTimelineEntry],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
) -> list[AttributedWord]:
    """Give each word its speaker (rules in the module docstring); output is in input order.

    A sweep over words and entries sorted by start: entries join an active set once they start
    within ``tolerance`` after the furthest word end seen, and leave it (via a heap on their end)
    once they end more than ``tolerance`` before the current word's start. Each word is compared
    only with the active set, i.e. with the entries around it, so the cost is
    O((n + m) log(n + m)) plus the number of (word, nearby entry) pairs, instead of O(n * m).
    """
    if tolerance < 0:
        raise ValueError("tolerance must be >= 0")
    if not timeline:
        return [AttributedWord(word=w, speaker=UNKNOWN_SPEAKER) for w in words]

    starts = [e.start for e in timeline]
    ends = [e.end for e in timeline]
    names = [e.speaker for e in timeline]
    entry_order = sorted(range(len(timeline)), key=lambda i: (starts[i], i))
    word_order = sorted(range(len(words)), key=lambda i: (words[i].start, i))

    result: list[AttributedWord | None] = [None] * len(words)
    active: set[int] = set()
    by_end: list[tuple[float, int]] = []  # heap of (end, entry index) over the active set
    next_entry = 0
    furthest_end = -float("inf")

    for wi in word_order:
        word = words[wi]
        ws, we = word.start, max(word.start, word.end)
        furthest_end = max(furthest_end, we)
        # Admit every entry that starts no later than `tolerance` after the furthest word end:
        # the ones left out are beyond tolerance of this word (and of every earlier one).
        while next_entry < len(entry_order):
            idx = entry_order[next_entry]
            if starts[idx] - furthest_end > tolerance:
                break
            active.add(idx)
            heapq.heappush(by_end, (ends[idx], idx))
            next_entry += 1
        # Retire entries that end more than `tolerance` before this word starts: word starts only
        # grow from here on, so they can never be chosen again.
        while by_end and ws - by_end[0][0] > tolerance:
            _, idx = heapq.heappop(by_end)
            active.discard(idx)
        chosen = _choose(ws, we, active, starts, ends, tolerance)
        result[wi] = AttributedWord(
            word=word, speaker=names[chosen] if chosen is not None else UNKNOWN_SPEAKER
        )
    return _carry_through_speech(result, tolerance, word_order)  # type: ignore[arg-type]


def attribute_words_naive(
    words: Sequence[RecognizedWord],
    timeline: Sequence[SpeakerTimelineEntry],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
) -> list[AttributedWord]:
    """Reference O(n * m) implementation of :func:`attribute_words` (same rules, for tests)."""
    starts = [e.start for e in timeline]
    ends = [e.end for e in timeline]
    out = []
    for word in words:
        ws, we = word.start, max(word.start, word.end)
        chosen = _choose(ws, we, range(len(timeline)), starts, ends, tolerance)
        out.append(
            AttributedWord(
                word=word,
                speaker=timeline[chosen].speaker if chosen is not None else UNKNOWN_SPEAKER,
            )
        )
    return _carry_through_speech(out, tolerance)


def _carry_through_speech(
    attributed: list[AttributedWord], pause: float, order: list[int] | None = None
) -> list[AttributedWord]:
    """Rule 3: unattributed words take the speaker of the nearest attributed word of their stretch.

    A stretch is a run of words (in time order; ``order`` when the caller has sorted them
    already) with no gap longer than ``pause`` between one word's end and the next word's start.
    Ties go to the earlier word. Output keeps input order.
    """
    if order is None:
        order = sorted(range(len(attributed)), key=lambda i: (attributed[i].start, i))
    speakers = [attributed[i].speaker for i in order]
    stretch_start = 0
    for pos in range(1, len(order) + 1):
        if pos < len(order):
            previous, word = attributed[order[pos - 1]], attributed[order[pos]]
            if word.start - max(previous.start, previous.end) <= pause:
                continue
        _fill_stretch(speakers, stretch_start, pos)
        stretch_start = pos
    out = list(attributed)
    for pos, idx in enumerate(order):
        if speakers[pos] != attributed[idx].speaker:
            out[idx] = AttributedWord(word=attributed[idx].word, speaker=speakers[pos])
    return out


def _fill_stretch(speakers: list[str], start: int, stop: int) -> None:
    """Give each unknown in ``speakers[start:stop]`` the nearest known speaker of that range."""
    known = [p for p in range(start, stop) if speakers[p] != UNKNOWN_SPEAKER]
    if not known:
        return
    for p in range(start, stop):
        if speakers[p] != UNKNOWN_SPEAKER:
            continue
        after = bisect.bisect_right(known, p)
        candidates = known[max(0, after - 1) : after + 1]
        nearest = min(candidates, key=lambda q: (abs(q - p), q))
        speakers[p] = speakers[nearest]


def group_into_segments(attributed_words: Iterable[AttributedWord]) -> list[Segment]:
    """Merge runs of consecutive words with the same speaker into segments (order is kept)."""
    segments: list[Segment] = []
    for aw in attributed_words:
        if segments and segments[-1].speaker == aw.speaker:
            seg = segments[-1]
            seg.words.append(aw.word)
            seg.start = min(seg.start, aw.word.start)
            seg.end = max(seg.end, aw.word.end)
        else:
            segments.append(
                Segment(speaker=aw.speaker, start=aw.word.start, end=aw.word.end, words=[aw.word])
            )
    return segments


def speakers_of(timeline: Sequence[SpeakerTimelineEntry]) -> list[str]:
    """Distinct speaker names, ordered by when each first speaks (file order breaks ties)."""
    seen: dict[str, None] = {}
    for idx in sorted(range(len(timeline)), key=lambda i: (timeline[i].start, i)):
        seen.setdefault(timeline[idx].speaker, None)
    return list(seen)


def transcript_document(segments: Sequence[Segment],
                        timeline: Sequence[SpeakerTimelineEntry]) -> bytes:
    """The transcript as the recording download schemas' Transcript: per run of words of one
    participant, the participant (id and name) and the words with relative times. Words are
    attributed by name; where two participants have that name, each word goes to the one whose
    speaking is nearest it (a segment of both is cut between them). A speaker no entry names,
    such as `UNKNOWN_SPEAKER`, has id 0 and no name."""
    by_name: dict[str, list[SpeakerTimelineEntry]] = {}
    for entry in timeline:
        by_name.setdefault(entry.speaker, []).append(entry)
    runs: list[tuple[int, str | None, list[RecognizedWord]]] = []
    for segment in segments:
        named = by_name.get(segment.speaker, [])
        only = {entry.participant.id for entry in named}
        for word in segment.words:
            pid = (next(iter(only)) if len(only) == 1 else
                   _nearest(named, word).participant.id if named else 0)
            if runs and runs[-1][0] == pid and runs[-1][1] == segment.speaker:
                runs[-1][2].append(word)
            else:
                runs.append((pid, segment.speaker if named else None, [word]))
    return json.dumps([
        {"participant": {"id": pid, "name": name},
         "words": [{"text": w.text, "start_timestamp": {"relative": round(w.start, 3)},
                    "end_timestamp": {"relative": round(w.end, 3)}} for w in words]}
        for pid, name, words in runs
    ], ensure_ascii=False).encode()


def _nearest(entries: Sequence[SpeakerTimelineEntry], word: RecognizedWord
             ) -> SpeakerTimelineEntry:
    """The entry overlapping the word most, else the nearest one (the first of equals)."""
    def closeness(entry: SpeakerTimelineEntry) -> float:
        overlap = min(entry.end, word.end) - max(entry.start, word.start)
        return overlap if overlap > 0 else -max(entry.start - word.end, word.start - entry.end, 0)

    return max(entries, key=closeness)