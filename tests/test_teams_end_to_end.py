"""Real bots join simulated Microsoft Teams meetings through every service: they record and
transcribe two-speaker meetings, and every way a Teams visit fails or ends reaches the user typed.

All the bots of the module are sent at once (the recordings first, so that the time they take to
start recording is measured on an idle runner); the runner takes two at a time."""

from __future__ import annotations

import threading
import time
import urllib.parse
from dataclasses import dataclass, field

import pytest

from meeting_simulator import new_teams_meeting_id, new_teams_numeric_id
from support import (
    ReceivedWebhook,
    assert_heard_the_script,
    assert_mp4_lasts_the_time_in_call,
    assert_words_carry_their_speaker,
    meeting_script,
    meetup_join_link,
)

# Both recording bots are sent together; the first words come once both record, so that neither
# bot's start-up (Chromium, the recorder's encoders) competes with the speech on two cores.
SCRIPT = meeting_script(first_at=5.0)
END_AFTER = 27.0
EXPECTED_STATUSES = ["joining_call", "in_waiting_room", "in_call_not_recording",
                     "in_call_recording", "call_ended"]
BOT_NAME = "Notetaker"


def short_link(meeting_id: str, passcode: str) -> str:
    return f"https://teams.live.com/meet/{meeting_id}?p={passcode}"


@dataclass
class Visit:
    code: str
    bot_id: str
    posted_at: float
    host_action: threading.Thread | None = None
    host_errors: list[BaseException] = field(default_factory=list)


class TeamsVisits:
    """Every bot of the module, by name; `final(name)` waits for its last webhook."""

    def __init__(self, api, simulator, webhooks) -> None:
        self.api, self.simulator, self.webhooks = api, simulator, webhooks
        self.visits: dict[str, Visit] = {}

    def send(self, name: str, code: str, meeting_url: str, **extra) -> Visit:
        posted_at = time.time()
        response = self.api.join(meeting_url=meeting_url, bot_name=BOT_NAME,
                                 webhook_url=self.webhooks.url + f"/teams/{name}", **extra)
        assert response.status == 200, response.body
        visit = Visit(code, response.body["bot_id"], posted_at)
        self.visits[name] = visit
        return visit

    def when_recording(self, name: str, act) -> None:
        """The host acts a few seconds after the bot starts recording."""
        visit = self.visits[name]

        def run() -> None:
            try:
                self.webhooks.wait_for(visit.bot_id, lambda w: status_of(w) == "in_call_recording",
                                       timeout=240)
                time.sleep(3)
                act(visit.code)
            except BaseException as exc:  # reported by the test that owns this visit
                visit.host_errors.append(exc)

        visit.host_action = threading.Thread(target=run, daemon=True)
        visit.host_action.start()

    def final(self, name: str) -> ReceivedWebhook:
        visit = self.visits[name]
        final = self.webhooks.wait_final(visit.bot_id, timeout=300)
        if visit.host_action is not None:
            visit.host_action.join(30)
            assert not visit.host_errors, visit.host_errors
        return final


def status_of(hook: ReceivedWebhook) -> str | None:
    return (hook.body["data"].get("status") or {}).get("code")


@pytest.fixture(scope="module")
def visits(api, simulator, webhooks) -> TeamsVisits:
    everyone = TeamsVisits(api, simulator, webhooks)
    two_speakers = {"participants": [{"name": "Alice"}, {"name": "Bob"}], "script": SCRIPT,
                    "admission": {"action": "admit", "after": 2.0}, "end_after": END_AFTER}

    # Recordings: the "no audio or video" modal before the join click on a meetup-join link, and
    # after it on a /meet/ short link with its passcode.
    thread = new_teams_meeting_id()
    simulator.create_meeting(thread, platform="teams", prejoin_modal="before", **two_speakers)
    everyone.send("modal_before", thread, meetup_join_link(thread),
                  speech_to_text={"provider": "Default"})
    numeric = new_teams_numeric_id()
    simulator.create_meeting(numeric, platform="teams", prejoin_modal="after", passcode="Pq7Rx2",
                             **two_speakers)
    everyone.send("modal_after", numeric, short_link(numeric, "Pq7Rx2"),
                  speech_to_text={"provider": "Default"})

    alice = {"participants": [{"name": "Alice"}], "prejoin_modal": "random"}
    short_wait = {"automatic_leave": {"waiting_room_timeout": 5}}
    unknown = new_teams_meeting_id()
    everyone.send("not_found", unknown, meetup_join_link(unknown), **short_wait)
    locked = new_teams_numeric_id()
    simulator.create_meeting(locked, platform="teams", passcode="Rt5Kw9", **alice)
    everyone.send("wrong_passcode", locked, short_link(locked, "Rt5Kw0"), **short_wait)
    for name, options in (("sign_in", {"require_sign_in": True}), ("captcha", {"captcha": True}),
                          ("denied", {"admission": {"action": "deny", "after": 1.5}}),
                          ("lobby", {"admission": {"action": "ignore"}})):
        code = new_teams_meeting_id()
        simulator.create_meeting(code, platform="teams", **alice, **options)
        everyone.send(name, code, meetup_join_link(code), **short_wait)
    for name, act in (("removed", simulator.remove), ("ended", simulator.end)):
        code = new_teams_meeting_id()
        simulator.create_meeting(
            code, platform="teams", admission={"action": "admit", "after": 1.0},
            script=[{"speaker": "Alice", "text": "Welcome to the weekly sync.", "at": 1.0}], **alice,
        )
        everyone.send(name, code, meetup_join_link(code))
        everyone.when_recording(name, act)
    return everyone


# -- recordings ------------------------------------------------------------------------------------


@dataclass
class Recorded:
    visit: Visit
    final: ReceivedWebhook
    meeting: dict
    statuses: list[str]


@pytest.fixture(scope="module", params=["modal_before", "modal_after"])
def recorded(request, visits, simulator, webhooks) -> Recorded:
    visit = visits.visits[request.param]
    final = visits.final(request.param)
    recording = webhooks.wait_for(visit.bot_id, lambda w: status_of(w) == "in_call_recording",
                                  timeout=5)
    meeting = simulator.meeting(visit.code)
    guest = meeting["guests"][0]
    joining = webhooks.wait_for(visit.bot_id, lambda w: status_of(w) == "joining_call", timeout=5)
    to_recording = recording.received_at - visit.posted_at
    host_wait = (guest["admitted_at"] or 0) - (guest["asked_at"] or 0)
    print(f"\n[{request.param}] POST /bots/ -> in_call_recording webhook: {to_recording:.1f} s "
          f"(joining_call after {joining.received_at - visit.posted_at:.1f} s; join request after "
          f"{guest['asked_at'] - visit.posted_at:.1f} s; the host took {host_wait:.1f} s to admit)")
    return Recorded(visit, final, meeting, webhooks.status_codes(visit.bot_id))




def test_the_bot_joins_under_its_name_and_completes(recorded):
    assert recorded.final.body["event"] == "complete", recorded.final.body
    assert [g["name"] for g in recorded.meeting["guests"]] == [BOT_NAME]
    assert recorded.statuses == EXPECTED_STATUSES
    assert recorded.final.body["data"]["reason"] == "meeting_ended"


def test_transcript_matches_what_was_said(recorded):
    assert_heard_the_script(recorded.final.body, SCRIPT)


def test_words_carry_the_right_speaker(recorded):
    assert_words_carry_their_speaker(recorded.final.body, SCRIPT)


def test_speakers_are_the_two_participants(recorded):
    assert sorted(recorded.final.body["data"]["speakers"]) == ["Alice", "Bob"]


def test_the_mp4_has_audio_and_video_and_lasts_the_time_in_call(recorded):
    assert_mp4_lasts_the_time_in_call(recorded.final.body, recorded.meeting, 2.0)


# -- failures and ends -----------------------------------------------------------------------------


def screenshot_labels(api, bot_id: str) -> list[str]:
    response = api.request("GET", f"/bots/{bot_id}/screenshots")
    assert response.status == 200, response.body
    return [urllib.parse.urlparse(item["url"]).path.rsplit("/", 1)[-1].removesuffix(".png")
            .split("-", 1)[1] for item in response.body]


@pytest.mark.parametrize(
    ("name", "error", "code", "reason", "words"),
    [
        ("not_found", "CannotJoinMeeting", "meeting_not_found", "meeting_not_found",
         "meeting URL is incorrect"),
        ("wrong_passcode", "CannotJoinMeeting", "meeting_not_found", "meeting_not_found", "passcode"),
        ("sign_in", "CannotJoinMeeting", "authentication_error", "sign_in_required", "sign in"),
        ("captcha", "CannotJoinMeeting", "access_denied", "bot_wall", "real person"),
        ("denied", "BotNotAccepted", "access_denied", "denied", "denied access"),
        ("lobby", "TimeoutWaitingToStart", "access_denied", "waiting_room_timeout",
         "not admitted within 5 s"),
    ],
)
def test_a_visit_that_cannot_go_on_fails_typed(visits, api, webhooks, name, error, code, reason,
                                               words):
    final = visits.final(name)
    data = final.body["data"]
    assert final.body["event"] == "failed", final.body
    assert (data["error"], data["code"], data["reason"]) == (error, code, reason), data
    assert words in data["message"], data["message"]
    print(f"\n[{name}] {data['message']!r}")
    bot_id = visits.visits[name].bot_id
    assert webhooks.status_codes(bot_id)[0] == "joining_call"
    if name in ("denied", "lobby"):
        assert webhooks.status_codes(bot_id)[:2] == ["joining_call", "in_waiting_room"]
    assert "failure" in screenshot_labels(api, bot_id)


def test_the_lobby_wait_lasts_the_timeout(visits, webhooks, simulator):
    final = visits.final("lobby")
    visit = visits.visits["lobby"]
    joining = webhooks.wait_for(visit.bot_id, lambda w: status_of(w) == "joining_call", timeout=5)
    assert final.received_at - joining.received_at >= 5
    assert simulator.meeting(visit.code)["guests"][0]["status"] in ("asking", "cancelled")


@pytest.mark.parametrize(("name", "reason", "guest_status"),
                         [("removed", "removed", "removed"), ("ended", "meeting_ended", "ended")])
def test_the_host_ending_the_visit_completes_it(visits, simulator, webhooks, name, reason,
                                                guest_status):
    final = visits.final(name)
    assert final.body["event"] == "complete", final.body
    assert final.body["data"]["reason"] == reason
    assert final.body["data"]["mp4"]
    visit = visits.visits[name]
    assert webhooks.status_codes(visit.bot_id)[-1] == "call_ended"
    assert simulator.meeting(visit.code)["guests"][0]["status"] == guest_status
