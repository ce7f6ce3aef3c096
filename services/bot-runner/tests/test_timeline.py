"""The speaker timeline and participant files the runner writes, read back with the shared
contracts."""

import json
from datetime import datetime

from bot_runner.participants import MeetingRoster, name_key
from bot_runner.timeline import SpeakerTimelineBuilder
from mb_shared.contracts.bot import Platform
from mb_shared.contracts.participants import parse_participant_events, parse_participants
from mb_shared.contracts.timeline import parse_speaker_timeline

ZERO_UNIX = 1_800_000_000.0


def _builder(platform: Platform = Platform.GOOGLE_MEET) -> SpeakerTimelineBuilder:
    return SpeakerTimelineBuilder(MeetingRoster(10_000.0, ZERO_UNIX, platform))


def test_speaking_events_become_timeline_entries_on_the_media_clock():
    builder = _builder()
    builder.add_events([
        {"name": "Alice", "on": True, "t": 11_000.0},
        {"name": "Bob", "on": True, "t": 12_500.0},
        {"name": "Alice", "on": False, "t": 13_250.0},
    ])
    builder.close(duration_s=6.0)
    entries = parse_speaker_timeline(builder.to_json())
    assert [(e.speaker, e.start, e.end) for e in entries] == [("Alice", 1.0, 3.25), ("Bob", 2.5, 6.0)]
    assert entries[0].start_timestamp.absolute.timestamp() == ZERO_UNIX + 1
    assert entries[1].participant.platform == "google_meet"
    assert builder.speakers() == ["Alice", "Bob"]
    assert json.loads(builder.roster.diarization_json()) == [
        {"name": "Alice", "id": 1, "timestamp": 1_800_000_001_000, "isSpeaking": True},
        {"name": "Bob", "id": 2, "timestamp": 1_800_000_002_500, "isSpeaking": True},
        {"name": "Alice", "id": 1, "timestamp": 1_800_000_003_250, "isSpeaking": False},
        {"name": "Bob", "id": 2, "timestamp": 1_800_000_006_000, "isSpeaking": False}]
    events = parse_participant_events(builder.roster.events_json())
    assert [(e.action, e.participant.name, e.timestamp.relative) for e in events] == [
        ("speech_on", "Alice", 1.0), ("speech_on", "Bob", 2.5), ("speech_off", "Alice", 3.25),
        ("speech_off", "Bob", 6.0)]


def test_events_before_the_recording_start_count_from_zero_and_empty_turns_vanish():
    builder = _builder()
    builder.add_events([
        {"name": "Alice", "on": True, "t": 9_000.0},
        {"name": "Alice", "on": False, "t": 10_500.0},
        {"name": "Bob", "on": True, "t": 11_000.0},
        {"name": "Bob", "on": False, "t": 11_000.0},
    ])
    entries = parse_speaker_timeline(builder.to_json())
    assert [(e.speaker, e.start, e.end) for e in entries] == [("Alice", 0.0, 0.5)]


def test_two_people_with_one_name_are_two_participants_and_a_rejoin_is_the_same_one():
    builder = _builder(Platform.ZOOM)
    roster = builder.roster
    roster.add_roster_events([
        {"action": "join", "key": name_key("Alex", 1), "name": "Alex", "host": True, "t": 10_100.0},
        {"action": "join", "key": name_key("Alex", 2), "name": "Alex", "host": False,
         "extra": {"guest": True}, "t": 10_100.0},
    ])
    roster.add_roster_events([
        {"action": "leave", "key": name_key("Alex", 2), "name": "Alex", "t": 12_000.0}])
    roster.add_roster_events([
        {"action": "join", "key": name_key("Alex", 2), "name": "Alex", "host": False, "t": 13_000.0}])
    builder.add_events([{"name": "Alex", "on": True, "t": 14_000.0},
                        {"name": "Alex", "on": False, "t": 15_000.0}])
    builder.close(6.0)

    people = parse_participants(roster.participants_json())
    assert [(p.id, p.name, p.is_host, p.extra_data, p.platform) for p in people] == [
        (1, "Alex", True, None, "zoom"), (2, "Alex", False, {"guest": True}, "zoom")]
    events = parse_participant_events(roster.events_json())
    assert [(e.action, e.participant.id, e.timestamp.relative) for e in events] == [
        ("join", 1, 0.1), ("join", 2, 0.1), ("leave", 2, 2.0), ("join", 2, 3.0),
        ("speech_on", 1, 4.0), ("speech_off", 1, 5.0)]
    assert events[2].timestamp.absolute == "2027-01-15T08:00:02Z"
    assert len({e.id for e in events}) == len(events)
    assert parse_speaker_timeline(builder.to_json())[0].participant.id == 1


def test_a_rename_is_an_update_that_names_the_participant_as_they_were():
    roster = MeetingRoster(0.0, ZERO_UNIX, Platform.GOOGLE_MEET)
    roster.add_roster_events([{"action": "join", "key": "devices/7", "name": "Sam", "t": 0.0}])
    roster.add_roster_events([{"action": "update", "key": "devices/7", "name": "Sam Lee", "t": 500.0}])
    roster.add_roster_events([{"action": "update", "key": "devices/7", "name": "Sam Lee", "t": 900.0}])
    events = roster.events()
    assert [(e.action, e.participant.name) for e in events] == [("join", "Sam"), ("update", "Sam")]
    assert [p.name for p in roster.participants()] == ["Sam Lee"]


def test_a_speaker_keeps_speaking_until_they_leave():
    builder = _builder()
    builder.roster.add_roster_events([{"action": "join", "key": "d/1", "name": "Ana", "t": 10_000.0}])
    builder.add_events([{"name": "Ana", "key": "d/1", "on": True, "t": 10_500.0}])
    builder.roster.add_roster_events([{"action": "leave", "key": "d/1", "name": "Ana", "t": 11_000.0}])
    assert [e.action for e in builder.roster.events()] == ["join", "speech_on", "speech_off", "leave"]


def test_cameras_and_screenshares_switch_and_go_off_when_their_owner_leaves():
    roster = MeetingRoster(0.0, ZERO_UNIX, Platform.MICROSOFT_TEAMS)
    key = name_key("Ana")
    roster.add_roster_events([{"action": "join", "key": key, "name": "Ana", "t": 0.0},
                              {"action": "camera", "key": key, "on": True, "t": 0.0}])
    roster.add_roster_events([{"action": "screenshare", "key": key, "on": True, "t": 1000.0},
                              {"action": "camera", "key": key, "on": True, "t": 1000.0},
                              {"action": "camera", "key": key, "on": False, "t": 2000.0},
                              {"action": "camera", "key": name_key("Nobody"), "on": True,
                               "t": 2000.0}])
    roster.add_roster_events([{"action": "leave", "key": key, "name": "Ana", "t": 3000.0}])
    roster.add_roster_events([{"action": "join", "key": key, "name": "Ana", "t": 4000.0}])
    assert [(e.action, e.timestamp.relative) for e in roster.events()] == [
        ("join", 0.0), ("webcam_on", 0.0), ("screenshare_on", 1.0), ("webcam_off", 2.0),
        ("screenshare_off", 3.0), ("leave", 3.0), ("join", 4.0)]
    assert [p.name for p in roster.participants()] == ["Ana"]


def test_someone_who_rejoins_under_a_new_platform_id_keeps_their_participant_id():
    roster = MeetingRoster(0.0, ZERO_UNIX, Platform.GOOGLE_MEET)
    roster.add_roster_events([{"action": "join", "key": "devices/1", "name": "Kim", "t": 0.0},
                              {"action": "join", "key": "devices/2", "name": "Lee", "t": 0.0}])
    roster.add_roster_events([{"action": "leave", "key": "devices/1", "name": "Kim", "t": 1000.0}])
    roster.add_roster_events([{"action": "join", "key": "devices/9", "name": "Kim", "t": 2000.0},
                              {"action": "join", "key": "devices/10", "name": "Lee", "t": 2000.0}])
    assert [(e.action, e.participant.id, e.participant.name) for e in roster.events()] == [
        ("join", 1, "Kim"), ("join", 2, "Lee"), ("leave", 1, "Kim"), ("join", 1, "Kim"),
        ("join", 3, "Lee")]


def test_a_chat_message_is_an_event_of_its_sender_with_its_text_unchanged():
    roster = MeetingRoster(0.0, ZERO_UNIX, Platform.ZOOM)
    roster.add_roster_events([{"action": "join", "key": name_key("Ana"), "name": "Ana", "t": 0.0}])
    text = "<b>bold</b> \u05e9\u05dc\u05d5\u05dd \U0001f44b\n  two lines  "
    roster.chat({"sender": "Ana", "text": text, "to": "only_bot", "t": 1500.0})
    roster.chat({"sender": "Stranger", "text": "hi", "to": "everyone", "t": 1600.0})
    events = parse_participant_events(roster.events_json())
    assert [(e.action, e.participant.name, e.data.text, e.data.to, e.timestamp.relative)
            for e in events[1:]] == [("chat_message", "Ana", text, "only_bot", 1.5),
                                     ("chat_message", "Stranger", "hi", "everyone", 1.6)]
    assert [p.name for p in parse_participants(roster.participants_json())] == ["Ana", "Stranger"]


def test_every_time_is_one_millisecond_whichever_way_it_is_written():
    """Page times have fractions of a millisecond: the absolute time, the relative one and the
    diarization's unix milliseconds of one event name the same millisecond."""
    zero = 1_800_000_000.123  # Date.now() of the recording's start: milliseconds
    builder = SpeakerTimelineBuilder(MeetingRoster(10_000.0, zero, Platform.GOOGLE_MEET))
    for step in range(400):
        t = 10_000.0 + step * 12.5 + (step % 7) * 0.0371
        builder.add_events([{"name": "Alice", "on": step % 2 == 0, "t": t}])
    builder.close(duration_s=10.0)
    events = parse_participant_events(builder.roster.events_json())
    stamps = [e.timestamp for e in events if e.action.startswith("speech")]
    diarization = json.loads(builder.roster.diarization_json())
    absolute_ms = [round(datetime.fromisoformat(s.absolute).timestamp() * 1000) for s in stamps]
    assert absolute_ms == [d["timestamp"] for d in diarization]
    assert absolute_ms == [round((zero + s.relative) * 1000) for s in stamps]
    for entry in parse_speaker_timeline(builder.to_json()):
        for stamp in (entry.start_timestamp, entry.end_timestamp):
            assert round(stamp.absolute.timestamp() * 1000) == round((zero + stamp.relative) * 1000)
