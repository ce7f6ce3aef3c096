"""The meeting as data: who was there, when they came and went, when they spoke, as the files
`meeting_participants_file` and `participant_events_file` of `complete` and
`GET /bots/meeting_data` hold them, on every platform.

One scripted meeting per platform: a host, two people with one name, someone who arrives late,
leaves, comes back, cameras switching on and off, two screenshares one after the other, chat
messages (emoji, right-to-left text, 4,000 characters, markup that would
call a local server if anything rendered it as HTML; on Zoom also one sent to the bot alone), and
(on Meet, the one page that shows participant ids) a rename. The simulator's record of when each
thing happened is the truth the files are held to.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter, defaultdict

import pytest
from aiohttp import web

from meeting_simulator.client import new_meet_code, new_teams_meeting_id, new_zoom_meeting_id
from support import (
    MEETING_LINES,
    BackgroundServer,
    color_area,
    ffprobe,
    meeting_link,
    status_of,
    video_frames,
)

PLATFORMS = ("meet", "teams", "zoom")
NEW_CODE = {"meet": new_meet_code, "teams": new_teams_meeting_id, "zoom": new_zoom_meeting_id}
TOLERANCE_S = 1.0
SCRIPT = [
    {"join": "alex-2", "at": 9.0},
    {"join": "Bob", "at": 11.0},
    {"speaker": "Alice", "text": MEETING_LINES[0][1], "at": 12.0},
    {"leave": "Bob", "at": 16.0},
    {"join": "Bob", "at": 18.0},
    {"speaker": "Bob", "text": MEETING_LINES[1][1], "at": 19.0},
    {"leave": "alex-2", "at": 21.0},
    {"screenshare": "Alice", "on": True, "at": 7.0},
    {"camera": "Bob", "on": True, "at": 13.0},
    {"camera": "Alice", "on": False, "at": 17.0},
    {"screenshare": "Alice", "on": False, "at": 20.0},
    {"screenshare": "alex-1", "on": True, "at": 22.0},
    {"camera": "Alice", "on": True, "at": 23.0},
]
MEDIA_ACTIONS = ("webcam_on", "webcam_off", "screenshare_on", "screenshare_off")
RENAME = {"rename": "Alice", "to": "Alice Liddell", "at": 24.0}
GREETING = "Welcome, all \U0001f44b\U0001f3fd \u2014 agenda in the doc"
RIGHT_TO_LEFT = "\u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd (hello) 123"
LONG = ("The quarterly numbers, line by line. " * 120)[:4000]
PRIVATE = "Only for the note taker: skip the budget part."
SLIDE_BACKGROUND = "#f1f3f4"
"""The simulator's screenshare: a light slide."""


def markup(canary: str) -> str:
    return (f'<img src="{canary}/img" onerror="fetch(\'{canary}/js\')"> <script>fetch("{canary}/'
            f'script")</script> <b>bold</b> & {{{{7*7}}}}')


def chat_script(canary: str, platform: str) -> list[dict]:
    lines = [{"chat": "Alice", "text": GREETING, "at": 5.0},
             {"chat": "Bob", "text": RIGHT_TO_LEFT, "at": 13.0},
             {"chat": "Bob", "text": LONG, "at": 14.0},
             {"chat": "Alice", "text": markup(canary), "at": 15.0}]
    if platform == "zoom":
        lines.append({"chat": "Bob", "text": PRIVATE, "to": "guests", "at": 20.0})
    return lines
PARTICIPANTS = [{"name": "Alice", "host": True, "camera": True}, {"name": "Alex", "key": "alex-1"},
                {"name": "Alex", "key": "alex-2"}, {"name": "Bob"}]
HOST_SHOWN = {"meet": False, "teams": False, "zoom": True}
"""Whether the bot's page shows who hosts: only Zoom's participants pane, which the bot keeps
open; Meet and Teams show it in panels that would cover the recording."""


def download(url: str) -> list[dict]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


class Canary:
    """A local server that anything executing the chat's markup would call."""

    def __init__(self) -> None:
        self.hits: list[str] = []

    async def hit(self, request: web.Request) -> web.Response:
        self.hits.append(request.path)
        return web.Response(status=204)


@pytest.fixture(scope="module")
def canary():
    calls = Canary()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", calls.hit)
    server = BackgroundServer(app)
    server.start()
    calls.url = server.url
    yield calls
    server.stop()


@pytest.fixture(scope="module")
def meetings(api, simulator, webhooks, canary):
    """Each platform's meeting, its bot sent at once (the stack runs two at a time)."""
    sent = {}
    for platform in PLATFORMS:
        code = NEW_CODE[platform]()
        script = SCRIPT + chat_script(canary.url, platform) + (
            [RENAME] if platform == "meet" else [])
        simulator.create_meeting(code, platform=platform, participants=PARTICIPANTS,
                                 script=script, admission={"action": "admit", "after": 1.0},
                                 end_after=27.0, **({"guest_chat": True} if platform == "teams"
                                                    else {}))
        response = api.join(meeting_url=meeting_link(platform, code), bot_name="Data Bot",
                            webhook_url=f"{webhooks.url}/meeting-data/{platform}")
        assert response.status == 200, response.body
        sent[platform] = (code, response.body["bot_id"])
    return sent


@pytest.fixture(scope="module")
def outcomes(meetings, webhooks, simulator):
    done = {}
    for platform, (code, bot_id) in meetings.items():
        final = webhooks.wait_final(bot_id, timeout=400)
        assert final.body["event"] == "complete", final.body
        done[platform] = (simulator.meeting(code), bot_id, final.body["data"])
    return done


@pytest.mark.parametrize("kind", PLATFORMS)
def test_participants_and_their_events_are_what_happened(kind, outcomes, api):
    truth, bot_id, complete = outcomes[kind]
    meeting_data = api.request("GET", f"/bots/meeting_data?bot_id={bot_id}").body
    people = download(meeting_data["meeting_participants_file"])
    events = download(meeting_data["participant_events_file"])
    assert download(complete["meeting_participants_file"]) == people
    assert download(complete["participant_events_file"]) == events

    final_names = {"meet": "Alice Liddell"}.get(kind, "Alice")
    host = HOST_SHOWN[kind]
    assert Counter((p["name"], p["is_host"]) for p in people) == Counter({
        (final_names, True if host else None): 1,
        ("Alex", False if host else None): 2,
        ("Bob", False if host else None): 1,
    }), people
    assert len({p["id"] for p in people}) == 4
    assert {p["platform"] for p in people} == {complete_platform(kind)}

    by_id = defaultdict(list)
    for event in events:
        by_id[event["participant"]["id"]].append(event)
    times = [e["timestamp"]["relative"] for e in events]
    assert times == sorted(times)
    name_of = {p["id"]: p["name"] for p in people}
    moves = {pid: [e["action"] for e in evs if e["action"] in ("join", "leave")]
             for pid, evs in by_id.items()}
    alexes = sorted((pid for pid in name_of if name_of[pid] == "Alex"), key=lambda i: len(moves[i]))
    bob = next(pid for pid in name_of if name_of[pid] == "Bob")
    alice = next(pid for pid in name_of if name_of[pid] == final_names)
    assert moves[alice] == ["join"] and moves[alexes[0]] == ["join"]
    assert moves[alexes[1]] == ["join", "leave"]
    assert moves[bob] == ["join", "leave", "join"]

    truth_people = {p["key"]: p for p in truth["participants"]}
    expected = [(alexes[1], "join", truth_people["alex-2"]["visits"][0]["joined_at"]),
                (alexes[1], "leave", truth_people["alex-2"]["visits"][0]["left_at"]),
                (bob, "join", truth_people["Bob"]["visits"][0]["joined_at"]),
                (bob, "leave", truth_people["Bob"]["visits"][0]["left_at"]),
                (bob, "join", truth_people["Bob"]["visits"][1]["joined_at"])]
    alice_line, bob_line = truth["utterances"]
    expected += [(alice, "speech_on", alice_line["actual_start"]),
                 (bob, "speech_on", bob_line["actual_start"])]
    if kind == "meet":
        expected.append((alice, "update", truth_people["Alice"]["renames"][0]["at"]))
    for pid, action, at in expected:
        seen = [e for e in by_id[pid] if e["action"] == action]
        gaps = [abs(_unix(e["timestamp"]["absolute"]) - at) for e in seen]
        assert gaps and min(gaps) <= TOLERANCE_S, (name_of[pid], action, at, seen)
    if kind == "meet":
        update = next(e for e in by_id[alice] if e["action"] == "update")
        assert update["participant"]["name"] == "Alice"
    spoke = {e["participant"]["id"] for e in events if e["action"] == "speech_on"}
    assert spoke == {alice, bob}

    # Cameras and screenshares: each switch, in order, at the simulator's time; a camera on when
    # its owner comes in is on from their join, and goes off when they leave.
    def switches(key: str, kind: str) -> list[float]:
        return [m["at"] for m in truth_people[key]["media"] if m["kind"] == kind]
    alice_join = next(e for e in by_id[alice] if e["action"] == "join")
    alice_camera, alice_share = switches("Alice", "camera"), switches("Alice", "screenshare")
    bob_visits = truth_people["Bob"]["visits"]
    media_expected = {
        alice: [("webcam_on", _unix(alice_join["timestamp"]["absolute"])),
                ("screenshare_on", alice_share[0]), ("webcam_off", alice_camera[0]),
                ("screenshare_off", alice_share[1]), ("webcam_on", alice_camera[1])],
        bob: [("webcam_on", switches("Bob", "camera")[0]),
              ("webcam_off", bob_visits[0]["left_at"]), ("webcam_on", bob_visits[1]["joined_at"])],
        alexes[0]: [("screenshare_on", switches("alex-1", "screenshare")[0])],
        alexes[1]: [],
    }
    for pid, expected_media in media_expected.items():
        seen = [e for e in by_id[pid] if e["action"] in MEDIA_ACTIONS]
        assert [e["action"] for e in seen] == [a for a, _ in expected_media], (name_of[pid], seen)
        for event, (action, at) in zip(seen, expected_media, strict=True):
            gap = abs(_unix(event["timestamp"]["absolute"]) - at)
            assert gap <= TOLERANCE_S, (name_of[pid], action, at, event)

    chats = [e for e in events if e["action"] == "chat_message"]
    sent = [m for m in truth["chat"] if m["from_guest"] is None]
    assert [(e["participant"]["id"], e["data"]["text"], e["data"]["to"]) for e in chats] == [
        ({"Alice": alice, "Bob": bob}[m["sender"]], m["text"],
         "only_bot" if m["to"] == "guests" else "everyone") for m in sent]
    assert [m["text"] for m in sent][:3] == [GREETING, RIGHT_TO_LEFT, LONG]
    assert ("only_bot" in {e["data"]["to"] for e in chats}) == (kind == "zoom")
    for event, message in zip(chats, sent, strict=True):
        assert abs(_unix(event["timestamp"]["absolute"]) - message["sent_at"]) <= TOLERANCE_S


def test_chat_markup_is_never_executed(outcomes, canary):
    assert len(outcomes) == len(PLATFORMS)
    assert canary.hits == []


def test_the_speaker_timeline_names_the_same_participants(outcomes, api):
    _, bot_id, _ = outcomes["meet"]
    meeting_data = api.request("GET", f"/bots/meeting_data?bot_id={bot_id}").body
    ids = {p["name"]: p["id"] for p in download(meeting_data["meeting_participants_file"])}
    timeline = download(meeting_data["speaker_timeline_file"])
    # Alice spoke before she was renamed: the timeline names her as she was then.
    assert {(e["participant"]["id"], e["participant"]["name"]) for e in timeline} == {
        (ids["Alice Liddell"], "Alice"), (ids["Bob"], "Bob")}
    events = download(meeting_data["participant_events_file"])
    speech = [e for e in events if e["action"] in ("speech_on", "speech_off")]
    diarization = download(meeting_data["speaker_diarization_file"])
    assert diarization == [
        {"name": e["participant"]["name"], "id": e["participant"]["id"],
         "timestamp": round(_unix(e["timestamp"]["absolute"]) * 1000),
         "isSpeaking": e["action"] == "speech_on"} for e in speech]
    assert {d["isSpeaking"] for d in diarization} == {True, False}


def test_separate_audio_is_there_only_where_the_page_plays_voices_apart(outcomes, api):
    """Meet plays each voice on an audio element of its own; Teams and Zoom play one mix."""
    for kind, (_, bot_id, complete) in outcomes.items():
        listed = api.request("GET", f"/bots/meeting_data?bot_id={bot_id}").body
        heard = sorted(p["participant"]["name"] for p in complete["separate_audio_parts"])
        assert heard == (["Alice", "Bob"] if kind == "meet" else []), (kind, heard)
        assert len(listed["separate_audio_parts"]) == len(heard)


@pytest.mark.parametrize("kind", PLATFORMS)
def test_each_webcam_and_screenshare_is_a_video_part_of_its_own(kind, outcomes, api):
    """Meet and Teams play each video on a <video> of its own: every stretch a webcam or a
    screenshare was on is a part, at the simulator's times, showing that stream (the webcam in
    its owner's colour, the screenshare's slide) throughout. Zoom paints all video on canvases
    and hands none out: no parts."""
    truth, bot_id, complete = outcomes[kind]
    parts = complete["separate_video_parts"]
    listed = api.request("GET", f"/bots/meeting_data?bot_id={bot_id}").body["separate_video_parts"]
    assert [{**p, "download_url": ""} for p in listed] == [
        {**p, "download_url": ""} for p in parts]
    if kind == "zoom":
        assert parts == []
        return

    events = download(complete["participant_events_file"])
    ids = {name: [p["id"] for p in download(complete["meeting_participants_file"])
                  if p["name"] == name] for name in ("Alice", "Alice Liddell", "Alex", "Bob")}
    alice, = ids["Alice"] or ids["Alice Liddell"]
    bob, = ids["Bob"]
    joins = Counter(e["participant"]["id"] for e in events if e["action"] == "join")
    alex_1 = min(ids["Alex"], key=lambda pid: joins[pid])  # the other Alex comes and goes
    truth_people = {p["key"]: p for p in truth["participants"]}

    def switches(key: str, what: str) -> list[float]:
        return [m["at"] for m in truth_people[key]["media"] if m["kind"] == what]
    alice_in = next(_unix(e["timestamp"]["absolute"]) for e in events
                    if e["action"] == "join" and e["participant"]["id"] == alice)
    recording_start = _unix(parts[0]["start_timestamp"]["absolute"]) - parts[0][
        "start_timestamp"]["relative"]
    end = min(truth["ended_at"], recording_start + complete["duration"])
    camera, share, bob_visits = switches("Alice", "camera"), switches("Alice", "screenshare"), \
        truth_people["Bob"]["visits"]
    expected = {
        (alice, "webcam"): [(alice_in, camera[0]), (camera[1], end)],
        (alice, "screenshare"): [(share[0], share[1])],
        (bob, "webcam"): [(switches("Bob", "camera")[0], bob_visits[0]["left_at"]),
                          (bob_visits[1]["joined_at"], end)],
        (alex_1, "screenshare"): [(switches("alex-1", "screenshare")[0], end)],
    }
    seen = defaultdict(list)
    for part in parts:
        start = _unix(part["start_timestamp"]["absolute"])
        assert abs(start - recording_start - part["start_timestamp"]["relative"]) < 0.002
        seen[(part["participant"]["id"], part["type"])].append((start, start + part["duration"]))
    assert sorted(seen) == sorted(expected), (seen, expected)
    for slot, stretches in expected.items():
        assert len(seen[slot]) == len(stretches), (slot, seen[slot], stretches)
        for (start, stop), (want_start, want_stop) in zip(seen[slot], stretches, strict=True):
            assert abs(start - want_start) <= TOLERANCE_S, (slot, start, want_start)
            assert abs(stop - want_stop) <= TOLERANCE_S, (slot, stop, want_stop)

    colour = {alice: truth_people["Alice"]["color"], bob: truth_people["Bob"]["color"]}
    for part in parts:
        probe = ffprobe(part["download_url"])
        video, = probe["streams"]
        assert (video["codec_name"], video["width"], video["height"]) == ("vp8", 320, 180)
        assert abs(float(probe["format"]["duration"]) - part["duration"]) <= TOLERANCE_S, part
        frames = video_frames(part["download_url"], fps=2.0)
        assert abs(len(frames) - 2 * part["duration"]) <= 3, (len(frames), part)
        shown = (colour[part["participant"]["id"]] if part["type"] == "webcam"
                 else SLIDE_BACKGROUND)
        for frame in frames:
            assert color_area(frame, shown) > 0.8 * frame.shape[0] * frame.shape[1], (part, shown)


@pytest.mark.parametrize("kind", ["zoom", "teams"])
def test_no_data_file_can_be_downloaded_after_delete_data(kind, outcomes, api):
    _, bot_id, complete = outcomes[kind]
    urls = [complete["meeting_participants_file"], complete["participant_events_file"],
            *(part["download_url"] for part in complete["separate_video_parts"])]
    assert len(urls) == {"zoom": 2, "teams": 8}[kind]
    assert {status_of(url) for url in urls} == {200}
    deleted = api.request("POST", f"/bots/{bot_id}/delete_data")
    assert deleted.status == 200, deleted.body
    assert {status_of(url) for url in urls} == {404}
    meeting_data = api.request("GET", f"/bots/meeting_data?bot_id={bot_id}").body
    assert meeting_data["meeting_participants_file"] == ""
    assert meeting_data["participant_events_file"] == ""
    assert meeting_data["separate_video_parts"] == []


def complete_platform(platform: str) -> str:
    return {"meet": "google_meet", "teams": "microsoft_teams", "zoom": "zoom"}[platform]


def _unix(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
