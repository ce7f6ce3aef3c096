"""Crowds and restless people: a meeting of 30 on every platform, and on Meet someone who joins
and leaves 50 times. Everyone is in the participants file once, every coming and going is an
event, nothing is lost and the bot completes."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter

import pytest

from meeting_simulator.client import new_meet_code, new_teams_meeting_id, new_zoom_meeting_id
from support import meeting_link

CROWD = [f"Person {n:02d}" for n in range(1, 30)]
RESTLESS = "Rita Restless"
VISITS = 50
NEW_CODE = {"meet": new_meet_code, "teams": new_teams_meeting_id, "zoom": new_zoom_meeting_id}


def restless_script(first_at: float, present_s: float, away_s: float) -> list[dict]:
    script = []
    at = first_at
    for _ in range(VISITS):
        script += [{"join": RESTLESS, "at": round(at, 2)},
                   {"leave": RESTLESS, "at": round(at + present_s, 2)}]
        at += present_s + away_s
    return script


def download(url: str) -> list[dict]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def crowded(api, simulator, webhooks):
    """The bots of the three meetings, sent together: Meet's with the restless participant."""
    sent = {}
    for platform in ("meet", "teams", "zoom"):
        code = NEW_CODE[platform]()
        participants = [{"name": name} for name in CROWD] + [{"name": RESTLESS}]
        script = [{"speaker": "Person 07", "text": "Can everyone hear me?", "at": 6.0}]
        end_after = 16.0
        if platform == "meet":
            script += restless_script(first_at=8.0, present_s=0.6, away_s=0.6)
            end_after = 8.0 + VISITS * 1.2 + 3.0
        else:
            participants.pop()
        simulator.create_meeting(code, platform=platform, participants=participants,
                                 script=script, admission={"action": "admit", "after": 1.0},
                                 end_after=end_after)
        response = api.join(meeting_url=meeting_link(platform, code), bot_name="Crowd Bot",
                            webhook_url=f"{webhooks.url}/crowded/{platform}")
        assert response.status == 200, response.body
        sent[platform] = (code, response.body["bot_id"])
    done = {}
    for platform, (code, bot_id) in sent.items():
        final = webhooks.wait_final(bot_id, timeout=500)
        assert final.body["event"] == "complete", final.body
        done[platform] = (simulator.meeting(code), final.body["data"])
    return done


@pytest.mark.parametrize("kind", ["meet", "teams", "zoom"])
def test_everyone_of_a_crowd_is_a_participant_once(kind, crowded):
    truth, complete = crowded[kind]
    people = download(complete["meeting_participants_file"])
    expected = [p["name"] for p in truth["participants"]]
    assert len(expected) == (30 if kind == "meet" else 29)
    assert Counter(p["name"] for p in people) == Counter(expected)
    events = download(complete["participant_events_file"])
    joins = Counter(e["participant"]["name"] for e in events if e["action"] == "join")
    assert all(joins[name] >= 1 for name in CROWD), joins
    speakers = {e["participant"]["name"] for e in events if e["action"] == "speech_on"}
    assert speakers == {"Person 07"}


def test_fifty_visits_are_fifty_joins_and_leaves_of_one_participant(crowded):
    truth, complete = crowded["meet"]
    restless = next(p for p in truth["participants"] if p["name"] == RESTLESS)
    assert len(restless["visits"]) == VISITS
    assert len({v["id"] for v in restless["visits"]}) == VISITS  # Meet: a new id at each join
    events = [e for e in download(complete["participant_events_file"])
              if e["participant"]["name"] == RESTLESS]
    assert len({e["participant"]["id"] for e in events}) == 1
    moves = [e for e in events if e["action"] in ("join", "leave")]
    assert [e["action"] for e in moves] == ["join", "leave"] * VISITS
    truth_moves = [t for v in restless["visits"] for t in (v["joined_at"], v["left_at"])]
    gaps = [abs(_unix(e["timestamp"]["absolute"]) - at) for e, at in zip(moves, truth_moves,
                                                                          strict=True)]
    assert max(gaps) <= 1.0, gaps


def _unix(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
