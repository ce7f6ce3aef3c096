"""The speaker timeline file the runner writes, read back with the shared contract."""

from bot_runner.timeline import SpeakerTimelineBuilder
from mb_shared.contracts.bot import Platform
from mb_shared.contracts.timeline import parse_speaker_timeline


def test_speaking_events_become_timeline_entries_on_the_media_clock():
    builder = SpeakerTimelineBuilder(started_at_page_ms=10_000.0, started_at_unix=1_800_000_000.0,
                                     platform=Platform.GOOGLE_MEET)
    builder.add_events([
        {"name": "Alice", "on": True, "t": 11_000.0},
        {"name": "Bob", "on": True, "t": 12_500.0},
        {"name": "Alice", "on": False, "t": 13_250.0},
    ])
    builder.close(duration_s=6.0)
    entries = parse_speaker_timeline(builder.to_json())
    assert [(e.speaker, e.start, e.end) for e in entries] == [("Alice", 1.0, 3.25), ("Bob", 2.5, 6.0)]
    assert entries[0].start_timestamp.absolute.timestamp() == 1_800_000_001.0
    assert entries[1].participant.platform == "google_meet"
    assert builder.speakers() == ["Alice", "Bob"]


def test_events_before_the_recording_start_count_from_zero_and_empty_turns_vanish():
    builder = SpeakerTimelineBuilder(10_000.0, 1_800_000_000.0, Platform.GOOGLE_MEET)
    builder.add_events([
        {"name": "Alice", "on": True, "t": 9_000.0},
        {"name": "Alice", "on": False, "t": 10_500.0},
        {"name": "Bob", "on": True, "t": 11_000.0},
        {"name": "Bob", "on": False, "t": 11_000.0},
    ])
    entries = parse_speaker_timeline(builder.to_json())
    assert [(e.speaker, e.start, e.end) for e in entries] == [("Alice", 0.0, 0.5)]
