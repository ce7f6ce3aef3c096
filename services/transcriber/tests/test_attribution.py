"""Unit tests of speaker attribution (no model, no audio)."""

from __future__ import annotations

import json
import random
import time

import pytest
from pydantic import ValidationError

from transcriber import attribution
from transcriber.attribution import (
    UNKNOWN_SPEAKER,
    AttributedWord,
    Segment,
    SpeakerTimelineEntry,
    attribute_words,
    attribute_words_naive,
    dump_speaker_timeline,
    group_into_segments,
    load_speaker_timeline,
    parse_speaker_timeline,
    speakers_of,
)
from transcriber.speech import RecognizedWord

PID = {"Alice": 1, "Bob": 2, "Carol": 3, "Dan": 4}


def entry(name: str, start: float, end: float, pid: int | None = None) -> SpeakerTimelineEntry:
    return SpeakerTimelineEntry.model_validate(
        {
            "participant": {
                "id": pid if pid is not None else PID.get(name, 99),
                "name": name,
                "is_host": None,
                "platform": "google_meet",
                "extra_data": None,
            },
            "start_timestamp": {"absolute": None, "relative": start},
            "end_timestamp": {"absolute": None, "relative": end},
        }
    )


def w(start: float, end: float, text: str = "w") -> RecognizedWord:
    return RecognizedWord(start=start, end=end, text=text)


# --------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------

SAMPLE_JSON = """[
 {"participant": {"id": 1, "name": "Alice", "is_host": null, "platform": "google_meet",
                  "extra_data": null},
  "start_timestamp": {"absolute": "2026-11-21T10:00:03.100Z", "relative": 3.1},
  "end_timestamp": {"absolute": "2026-11-21T10:00:06.900Z", "relative": 6.9}},
 {"participant": {"id": 2, "name": "Bob", "is_host": true, "platform": "google_meet",
                  "extra_data": {"avatar": "x"}, "unknown_field": 1},
  "start_timestamp": {"absolute": "2026-11-21T10:00:06.500Z", "relative": 6.5},
  "end_timestamp": {"absolute": "2026-11-21T10:00:09.000Z", "relative": 9.0}}
]"""


def test_parse_sample_timeline(tmp_path):
    path = tmp_path / "speaker_timeline.json"
    path.write_text(SAMPLE_JSON)
    timeline = load_speaker_timeline(path)
    assert [(e.speaker, e.start, e.end) for e in timeline] == [
        ("Alice", 3.1, 6.9),
        ("Bob", 6.5, 9.0),
    ]
    assert timeline[0].start_timestamp.absolute is not None
    assert timeline[0].start_timestamp.absolute.tzinfo is not None
    assert timeline[1].participant.is_host is True
    assert timeline[1].participant.extra_data == {"avatar": "x"}
    # round trip through the download schema
    again = parse_speaker_timeline(dump_speaker_timeline(timeline))
    assert again == timeline
    # already-decoded JSON works too
    assert parse_speaker_timeline(json.loads(SAMPLE_JSON)) == timeline
    assert parse_speaker_timeline("[]") == []


@pytest.mark.parametrize(
    "bad",
    [
        # end before start
        (
            '[{"participant": {"id": 1, "name": "A"}, "start_timestamp": {"relative": 5},'
            ' "end_timestamp": {"relative": 4}}]'
        ),
        # missing relative
        (
            '[{"participant": {"id": 1, "name": "A"}, "start_timestamp": {"absolute": null},'
            ' "end_timestamp": {"relative": 4}}]'
        ),
        # missing participant
        '[{"start_timestamp": {"relative": 1}, "end_timestamp": {"relative": 4}}]',
        # not a list
        '{"participant": {"id": 1}}',
    ],
)
def test_invalid_timeline_is_rejected(bad):
    with pytest.raises(ValidationError):
        parse_speaker_timeline(bad)


def test_blank_name_falls_back_to_participant_id():
    assert entry("  ", 0, 1, pid=7).speaker == "Participant 7"
    nameless = parse_speaker_timeline(
        '[{"participant": {"id": 8, "name": null}, "start_timestamp": {"relative": 0},'
        ' "end_timestamp": {"relative": 1}}]'
    )
    assert nameless[0].speaker == "Participant 8"


# --------------------------------------------------------------------------------------------
# attribute_words: table-driven
# --------------------------------------------------------------------------------------------

CASES = [
    # (id, timeline [(name, start, end)], word (start, end), tolerance, expected speaker)
    ("inside one entry", [("Alice", 0, 5)], (1.0, 1.5), 1.0, "Alice"),
    ("largest overlap wins", [("Alice", 0, 2.2), ("Bob", 2.2, 5)], (2.0, 2.6), 1.0, "Bob"),
    (
        "largest overlap wins (other side)",
        [("Alice", 0, 2.4), ("Bob", 2.4, 5)],
        (2.0, 2.6),
        1.0,
        "Alice",
    ),
    # (binary-exact values so that the tie is exact in floating point)
    (
        "overlap tie: first in file",
        [("Alice", 0, 2.25), ("Bob", 2.25, 5)],
        (2.0, 2.5),
        1.0,
        "Alice",
    ),
    (
        "overlap tie: first in file, reversed file",
        [("Bob", 2.25, 5), ("Alice", 0, 2.25)],
        (2.0, 2.5),
        1.0,
        "Bob",
    ),
    (
        "overlapping speakers: both cover the word, first in file",
        [("Alice", 0, 10), ("Bob", 3, 6)],
        (4.0, 4.5),
        1.0,
        "Alice",
    ),
    (
        "overlapping speakers: bigger share wins",
        [("Alice", 0, 4.1), ("Bob", 3, 6)],
        (4.0, 4.5),
        1.0,
        "Bob",
    ),
    (
        "overlap beats a nearer-looking entry",
        [("Alice", 0, 1.05), ("Bob", 1.1, 3)],
        (1.0, 1.08),
        1.0,
        "Alice",
    ),
    ("gap within tolerance: before", [("Alice", 0, 2)], (2.5, 2.8), 1.0, "Alice"),
    ("gap within tolerance: after", [("Bob", 3, 5)], (2.2, 2.5), 1.0, "Bob"),
    ("gap exactly at tolerance", [("Alice", 0, 2)], (3.0, 3.2), 1.0, "Alice"),
    ("gap beyond tolerance", [("Alice", 0, 2)], (3.01, 3.2), 1.0, UNKNOWN_SPEAKER),
    ("gap: nearest of two", [("Alice", 0, 2), ("Bob", 2.9, 4)], (2.3, 2.5), 1.0, "Alice"),
    ("gap: nearest of two (after)", [("Alice", 0, 2), ("Bob", 2.6, 4)], (2.3, 2.5), 1.0, "Bob"),
    (
        "gap: equal distance, first in file",
        [("Bob", 2.75, 4), ("Alice", 0, 2)],
        (2.25, 2.5),
        1.0,
        "Bob",
    ),
    (
        "gap: equal distance, first in file (other order)",
        [("Alice", 0, 2), ("Bob", 2.75, 4)],
        (2.25, 2.5),
        1.0,
        "Alice",
    ),
    ("tolerance 0: touching counts", [("Alice", 0, 2)], (2.0, 2.3), 0.0, "Alice"),
    ("tolerance 0: any gap is unknown", [("Alice", 0, 2)], (2.01, 2.3), 0.0, UNKNOWN_SPEAKER),
    ("zero-length word inside an entry", [("Alice", 0, 2)], (1.0, 1.0), 0.0, "Alice"),
    ("zero-length entry inside the word", [("Alice", 1.2, 1.2)], (1.0, 1.5), 0.0, "Alice"),
    (
        "word longer than the entries, biggest share",
        [("Alice", 1, 2), ("Bob", 2, 4), ("Carol", 4, 4.5)],
        (1.5, 4.6),
        1.0,
        "Bob",
    ),
    (
        "speaker still talking at recording end",
        [("Alice", 0, 10), ("Bob", 8, 30)],
        (29.5, 30.0),
        1.0,
        "Bob",
    ),
]


@pytest.mark.parametrize(
    ("timeline", "word", "tolerance", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_attribute_single_word(timeline, word, tolerance, expected):
    tl = [entry(*e) for e in timeline]
    got = attribute_words([w(*word)], tl, tolerance=tolerance)
    assert [a.speaker for a in got] == [expected]
    assert attribute_words_naive([w(*word)], tl, tolerance=tolerance)[0].speaker == expected


def test_empty_timeline_gives_unknown():
    words = [w(0, 1, "hello"), w(1, 2, "there")]
    got = attribute_words(words, [])
    assert [a.speaker for a in got] == [UNKNOWN_SPEAKER] * 2
    assert [a.word for a in got] == words
    assert group_into_segments(got) == [
        Segment(speaker=UNKNOWN_SPEAKER, start=0, end=2, words=words)
    ]


def test_no_words():
    assert attribute_words([], [entry("Alice", 0, 1)]) == []
    assert group_into_segments([]) == []


def test_negative_tolerance_is_refused():
    with pytest.raises(ValueError):
        attribute_words([w(0, 1)], [entry("Alice", 0, 1)], tolerance=-0.1)


def test_output_keeps_input_order_with_unsorted_timeline():
    timeline = [entry("Bob", 5, 8), entry("Alice", 0, 5), entry("Carol", 8, 9)]
    words = [
        w(0.5, 0.9, "a"),
        w(5.5, 6, "b"),
        w(8.2, 8.4, "c"),
        w(12, 12.5, "d"),
        w(4.0, 4.5, "back-in-time"),
    ]
    got = attribute_words(words, timeline)
    assert [(a.text, a.speaker) for a in got] == [
        ("a", "Alice"),
        ("b", "Bob"),
        ("c", "Carol"),
        ("d", UNKNOWN_SPEAKER),
        ("back-in-time", "Alice"),
    ]


def test_same_name_different_ids_share_a_speaker_name():
    timeline = [entry("Guest", 0, 1, pid=10), entry("Guest", 1, 2, pid=11)]
    got = attribute_words([w(0.2, 0.4), w(1.2, 1.4)], timeline)
    assert [a.speaker for a in got] == ["Guest", "Guest"]
    assert len(group_into_segments(got)) == 1


def test_the_transcript_document_gives_each_word_the_participant_of_that_name_who_spoke_it():
    """The webhook's transcript names speakers; the document's ids tell two Guests apart, one
    speaking right after the other in one segment, and the Unknown is id 0."""
    timeline = [entry("Guest", 0, 1, pid=10), entry("Alice", 1, 2), entry("Guest", 1.9, 3, pid=11)]
    words = [w(0.2, 0.4, "hi"), w(1.2, 1.4, "hello"), w(2.2, 2.4, "hey"), w(2.5, 2.6, "you"),
             w(9.0, 9.5, "echo")]
    segments = group_into_segments(attribute_words(words, timeline))
    document = json.loads(attribution.transcript_document(segments, timeline))
    assert [(part["participant"], [word["text"] for word in part["words"]])
            for part in document] == [
        ({"id": 10, "name": "Guest"}, ["hi"]), ({"id": 1, "name": "Alice"}, ["hello"]),
        ({"id": 11, "name": "Guest"}, ["hey", "you"]), ({"id": 0, "name": None}, ["echo"])]
    back_to_back = [entry("Guest", 0, 1, pid=10), entry("Guest", 1.1, 2, pid=11)]
    segments = group_into_segments(attribute_words([w(0.2, 0.4, "a"), w(1.3, 1.5, "b")],
                                                   back_to_back))
    assert len(segments) == 1
    document = json.loads(attribution.transcript_document(segments, back_to_back))
    assert [(part["participant"]["id"], len(part["words"])) for part in document] == [
        (10, 1), (11, 1)]


# --------------------------------------------------------------------------------------------
# group_into_segments / speakers_of
# --------------------------------------------------------------------------------------------


def test_grouping_consecutive_words():
    words = [
        w(0, 0.4, "Hi"),
        w(0.4, 0.8, "all."),
        w(1.0, 1.3, "Hello"),
        w(1.3, 1.6, "Alice."),
        w(1.9, 2.2, "Shall"),
        w(2.2, 2.5, "we"),
        w(2.5, 2.9, "start?"),
        w(3.5, 3.9, "Mm."),
    ]
    speakers = ["Alice", "Alice", "Bob", "Bob", "Alice", "Alice", "Alice", UNKNOWN_SPEAKER]
    segments = group_into_segments(
        [AttributedWord(word=x, speaker=s) for x, s in zip(words, speakers, strict=True)]
    )
    assert [(s.speaker, s.start, s.end, s.text) for s in segments] == [
        ("Alice", 0, 0.8, "Hi all."),
        ("Bob", 1.0, 1.6, "Hello Alice."),
        ("Alice", 1.9, 2.9, "Shall we start?"),
        (UNKNOWN_SPEAKER, 3.5, 3.9, "Mm."),
    ]
    assert segments[0].words == words[:2]
    assert sum(len(s.words) for s in segments) == len(words)


def test_end_to_end_small_meeting():
    timeline = parse_speaker_timeline(SAMPLE_JSON)
    words = [
        w(3.2, 3.5, "Good"),
        w(3.5, 3.9, "morning."),
        w(6.95, 7.3, "Hi"),
        w(7.3, 7.8, "Alice."),
        w(9.5, 9.8, "Right."),
        w(15, 15.4, "Hello?"),
    ]
    segments = group_into_segments(attribute_words(words, timeline))
    assert [(s.speaker, s.text) for s in segments] == [
        ("Alice", "Good morning."),
        ("Bob", "Hi Alice. Right."),
        (UNKNOWN_SPEAKER, "Hello?"),
    ]


def test_speakers_of_order_of_first_appearance():
    timeline = [
        entry("Bob", 5, 8),
        entry("Alice", 1, 5),
        entry("Bob", 0.5, 0.9),
        entry("Carol", 9, 10),
        entry("Alice", 11, 12),
        entry("Dan", 9, 9.5),
    ]
    assert speakers_of(timeline) == ["Bob", "Alice", "Carol", "Dan"]
    assert speakers_of([]) == []


# --------------------------------------------------------------------------------------------
# Sweep vs naive reference
# --------------------------------------------------------------------------------------------


def random_meeting(rng: random.Random, n_words: int, n_entries: int, duration: float):
    names = ["Alice", "Bob", "Carol", "Dan", "Eve"]
    timeline = []
    for _ in range(n_entries):
        start = rng.uniform(0, duration)
        # mostly short turns, some long monologues, some zero-length blips
        length = rng.choice([0.0, rng.expovariate(1 / 4), rng.uniform(0, duration / 5)])
        # coarse grid sometimes, so that exact ties happen
        if rng.random() < 0.3:
            start = round(start, 0)
            length = round(length, 0)
        timeline.append(entry(rng.choice(names), start, start + length))
    words = []
    for _ in range(n_words):
        start = rng.uniform(-1, duration + 1)
        length = rng.choice([0.0, rng.uniform(0.05, 0.8), rng.uniform(0, 3)])
        if rng.random() < 0.3:
            start = round(start, 1)
            length = round(length, 1)
        words.append(w(start, start + length))
    if rng.random() < 0.5:
        words.sort(key=lambda x: x.start)  # whisper order; unsorted input must work too
    return words, timeline


@pytest.mark.parametrize("seed", range(40))
def test_sweep_matches_naive_on_random_data(seed):
    rng = random.Random(seed)
    n_words = rng.randint(0, 300)
    n_entries = rng.randint(0, 60)
    duration = rng.uniform(5, 200)
    words, timeline = random_meeting(rng, n_words, n_entries, duration)
    tolerance = rng.choice([0.0, 0.5, 1.0, 3.0])
    fast = attribute_words(words, timeline, tolerance=tolerance)
    slow = attribute_words_naive(words, timeline, tolerance=tolerance)
    assert fast == slow


def test_large_input_uses_the_sweep(monkeypatch):
    rng = random.Random(1234)
    duration = 3600.0
    timeline = []
    t = 0.0
    for _ in range(2000):  # a busy one-hour meeting with some crosstalk
        length = rng.uniform(0.3, 3.0)
        start = max(0.0, t - rng.uniform(0, 0.5))
        timeline.append(entry(rng.choice(["Alice", "Bob", "Carol", "Dan"]), start, start + length))
        t = start + length + rng.uniform(0, 0.6)
    words = []
    t = 0.0
    for _ in range(10_000):
        length = rng.uniform(0.1, 0.5)
        words.append(w(t, t + length))
        t += length + rng.uniform(0, 0.1)
        if t > duration:
            break
    comparisons = 0
    real_overlap = attribution._overlap

    def counting_overlap(*args: float) -> float:
        nonlocal comparisons
        comparisons += 1
        return real_overlap(*args)

    monkeypatch.setattr(attribution, "_overlap", counting_overlap)
    started = time.perf_counter()
    fast = attribute_words(words, timeline)
    elapsed = time.perf_counter() - started
    monkeypatch.undo()
    print(
        f"\n  attribute_words: {len(words)} words x {len(timeline)} entries in {elapsed:.3f} s, "
        f"{comparisons} word/entry comparisons"
    )
    # The sweep compares each word with the few entries around it, not with all of them.
    assert comparisons < 20 * len(words)
    assert len(fast) == len(words)
    # check against the reference on the first 500 words (the reference is O(n * m))
    sample = words[:500]
    assert [a.speaker for a in attribute_words(sample, timeline)] == [
        a.speaker for a in attribute_words_naive(sample, timeline)
    ]


# --------------------------------------------------------------------------------------------
# Rule 3: continuous speech keeps its speaker
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("attribute", [attribute_words, attribute_words_naive])
def test_a_late_indicator_does_not_split_a_sentence(attribute):
    # Alice is shown speaking only from 2.5 s: the first words are 1.5 s ahead of her entry.
    timeline = [entry("Alice", 2.5, 5.0)]
    words = [w(0.5, 0.9, "Next"), w(1.0, 1.3, "we"), w(1.35, 1.6, "ship"), w(2.6, 3.0, "it.")]
    assert [a.speaker for a in attribute(words, timeline)] == ["Alice"] * 4


@pytest.mark.parametrize("attribute", [attribute_words, attribute_words_naive])
def test_a_pause_ends_the_stretch_and_ties_go_to_the_earlier_speaker(attribute):
    timeline = [entry("Alice", 0.0, 1.0), entry("Bob", 10.0, 11.0)]
    words = [
        w(0.2, 0.8, "Alice"),
        w(2.5, 2.9, "unheard"),  # 1.7 s pause after Alice's word, 2.8 s before the next
        w(5.0, 5.4, "one"),  # a stretch of its own: no attributed word in it
        w(7.5, 7.9, "x"), w(8.2, 8.5, "y"), w(8.8, 9.1, "z"),  # continuous up to Bob's word
        w(10.2, 10.5, "Bob"),
    ]
    got = [a.speaker for a in attribute(words, timeline)]
    assert got == ["Alice", UNKNOWN_SPEAKER, UNKNOWN_SPEAKER, "Bob", "Bob", "Bob", "Bob"]


def test_unknown_words_between_two_speakers_go_to_the_nearer_one():
    timeline = [entry("Alice", 0.0, 1.0), entry("Bob", 5.0, 6.0)]
    # a continuous stretch from 0.2 to 5.5 s; the middle words are far from both entries
    words = [w(0.2 + 0.5 * i, 0.6 + 0.5 * i, f"w{i}") for i in range(11)]
    got = [a.speaker for a in attribute_words(words, timeline)]
    # w0,w1 overlap/near Alice; w9,w10 overlap/near Bob; w2..w8 take the nearer attributed word
    assert got[:2] == ["Alice", "Alice"] and got[-2:] == ["Bob", "Bob"]
    assert UNKNOWN_SPEAKER not in got
    assert got == sorted(got, key=["Alice", "Bob"].index), "one change of speaker, not several"
