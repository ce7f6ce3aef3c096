"""The speaker timeline of a recording that names no speakers: its speakers found in the audio
(`transcriber.diarisation`), around the stretches where words were heard, written as the timeline
a bot would have made, so that attribution and the transcript document work unchanged."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mb_shared.contracts.timeline import (
    SpeakerTimelineEntry,
    TimelineParticipant,
    TimelineTimestamp,
)
from transcriber.diarisation import diarise
from transcriber.speech import SAMPLE_RATE, RecognizedWord, iter_pcm_blocks

WORD_GAP_S = 0.6
"""Words closer than this are one stretch of speech."""


def speech_stretches(words: Sequence[RecognizedWord]) -> list[tuple[float, float]]:
    stretches: list[tuple[float, float]] = []
    for word in sorted(words, key=lambda w: w.start):
        if stretches and word.start - stretches[-1][1] <= WORD_GAP_S:
            stretches[-1] = (stretches[-1][0], max(stretches[-1][1], word.end))
        else:
            stretches.append((word.start, max(word.end, word.start)))
    return stretches


def speaker_timeline(audio: Path, words: Sequence[RecognizedWord],
                     speaker_count: int | None) -> list[SpeakerTimelineEntry]:
    """Blocking (decoding and the speaker model): run it in a worker thread."""
    blocks = list(iter_pcm_blocks(audio))
    samples = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.float32)
    turns = diarise(samples, SAMPLE_RATE, speech_stretches(words), speaker_count=speaker_count)
    ids = {name: n for n, name in enumerate(dict.fromkeys(t.speaker for t in turns), start=1)}
    return [SpeakerTimelineEntry(
        participant=TimelineParticipant(id=ids[turn.speaker], name=turn.speaker),
        start_timestamp=TimelineTimestamp(relative=turn.start),
        end_timestamp=TimelineTimestamp(relative=max(turn.end, turn.start)))
        for turn in turns]
