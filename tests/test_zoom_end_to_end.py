"""Real bots join, record and leave simulated Zoom web-client meetings through every service, and
every way a Zoom visit can fail reaches the user as a typed `failed` webhook.

All the module's bots are sent by one fleet that keeps a few queued behind the runner's two
slots, so the visits overlap; each test then waits for its own bot. The transcribed meeting is
recorded alone: on a loaded two-core machine a second browser costs audio quality.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from meeting_simulator.client import new_zoom_meeting_id
from support import (
    BackgroundServer,
    ReceivedWebhook,
    assert_heard_the_script,
    assert_mp4_lasts_the_time_in_call,
    assert_words_carry_their_speaker,
    decodes,
    meeting_script,
)

SCRIPT = meeting_script(first_at=3.0)
END_AFTER = 25.0
EXPECTED_STATUSES = [
    "joining_call",
    "in_waiting_room",
    "in_call_not_recording",
    "in_call_recording",
    "call_ended",
]
ZAK = "zak-7b1e0c9f4d2a46c1a8e5"
PASSCODE = "314159"
ALICE = [{"name": "Alice"}]
ADMIT = {"action": "admit", "after": 1.0}
QUEUED_AHEAD = 3  # bots waiting for a runner slot at any time (the runner takes two)


@dataclass
class Case:
    name: str
    meeting: dict[str, Any]
    link_query: str = ""
    bot: dict[str, Any] = field(default_factory=dict)
    host_action: str | None = None  # "remove" or "end", once the bot records
    alone: bool = False  # no other bot before this one has left its meeting
    code: str = field(default_factory=new_zoom_meeting_id)
    bot_id: str | None = None
    posted_at: float | None = None
    posted: threading.Event = field(default_factory=threading.Event)


class TokenServer:
    """The customer's token endpoint: `/zak` answers the access token, `/broken` a 500."""

    def __init__(self) -> None:
        self.hits: list[str] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/zak", self._zak)
        app.router.add_get("/broken", self._broken)
        return app

    async def _zak(self, request: web.Request) -> web.Response:
        self.hits.append("/zak")
        return web.Response(text=ZAK)

    async def _broken(self, request: web.Request) -> web.Response:
        self.hits.append("/broken")
        return web.Response(status=500, text="token service down")


@pytest.fixture(scope="module")
def token_server():
    tokens = TokenServer()
    server = BackgroundServer(tokens.app())
    server.start()
    tokens.url = server.url
    yield tokens
    server.stop()


ENTRY_MESSAGE = "Hello from the note taker: this meeting is recorded."


def cases(token_url: str) -> dict[str, Case]:
    short = {"automatic_leave": {"waiting_room_timeout": 5}}
    listed = [
        Case("recorded", {"participants": [{"name": "Alice"}, {"name": "Bob"}], "script": SCRIPT,
                          "admission": {"action": "admit", "after": 4.0}, "end_after": END_AFTER,
                          "passcode": PASSCODE},
             link_query=f"?pwd={PASSCODE}", alone=True,
             bot={"speech_to_text": {"provider": "Default"}, "extra": {"customer": "acme"},
                  "entry_message": ENTRY_MESSAGE}),
        Case("host_starts_late_then_removes", {"participants": ALICE, "admission": ADMIT,
                                               "host_starts_after": 3600,
                                               "host_starts_on_reload": True},
             host_action="remove"),
        Case("ended_by_host", {"participants": ALICE, "admission": ADMIT}, host_action="end"),
        Case("signed_in_with_token", {"participants": ALICE, "admission": ADMIT, "end_after": 6.0,
                                      "require_sign_in": True, "accepted_tokens": [ZAK]},
             bot={"zoom_access_token_url": token_url + "/zak"}),
        Case("host_never_starts", {"participants": ALICE, "host_starts_after": 3600},
             bot={"automatic_leave": {"waiting_room_timeout": 20}}),
        Case("denied", {"participants": ALICE, "admission": {"action": "deny", "after": 2.0}}),
        Case("wrong_passcode", {"participants": ALICE, "admission": ADMIT, "passcode": PASSCODE},
             link_query="?pwd=271828"),
        Case("bot_wall", {"participants": ALICE, "admission": ADMIT, "bot_wall": True}),
        Case("captcha", {"participants": ALICE, "admission": ADMIT, "captcha": True}),
        Case("passcode_missing", {"participants": ALICE, "admission": ADMIT, "passcode": PASSCODE}),
        Case("sign_in_required", {"participants": ALICE, "admission": ADMIT,
                                  "require_sign_in": True}),
        Case("token_url_fails", {"participants": ALICE, "admission": ADMIT,
                                 "require_sign_in": True, "accepted_tokens": [ZAK]},
             bot={"zoom_access_token_url": token_url + "/broken"}),
        Case("invalid_link", {"participants": ALICE, "invalid": True}, bot=short),
    ]
    return {case.name: case for case in listed}


class Fleet:
    """Sends the bots in order, keeping at most QUEUED_AHEAD + 2 unfinished at once, and plays
    the host's part (remove, end) once a bot records."""

    def __init__(self, api, simulator, webhooks, all_cases: dict[str, Case]) -> None:
        self.api, self.simulator, self.webhooks = api, simulator, webhooks
        self.cases = all_cases
        self.errors: list[str] = []
        self._thread = threading.Thread(target=self._send_all, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _unfinished(self) -> int:
        return sum(1 for c in self.cases.values() if c.bot_id and not self._final(c.bot_id))

    def _final(self, bot_id: str) -> bool:
        return any(w.body["event"] in ("complete", "failed") for w in self.webhooks.for_bot(bot_id))

    def _send_all(self) -> None:
        for case in self.cases.values():
            deadline = time.monotonic() + 600
            while self._unfinished() >= QUEUED_AHEAD + 2 and time.monotonic() < deadline:
                time.sleep(0.5)
            try:
                self._send(case)
            except Exception as exc:  # reported by the case's own test
                self.errors.append(f"{case.name}: {exc!r}")
            finally:
                case.posted.set()
            if case.alone and case.bot_id:
                with contextlib.suppress(AssertionError):
                    self.webhooks.wait_for(case.bot_id, lambda w: status_of(w) == "call_ended"
                                           or w.body["event"] in ("complete", "failed"),
                                           timeout=300)

    def _send(self, case: Case) -> None:
        self.simulator.create_meeting(case.code, platform="zoom", **case.meeting)
        case.posted_at = time.time()
        response = self.api.join(meeting_url=f"https://zoom.us/j/{case.code}{case.link_query}",
                                 bot_name="Notetaker", webhook_url=self.webhooks.url + "/zoom",
                                 **case.bot)
        assert response.status == 200, response.body
        case.bot_id = response.body["bot_id"]
        if case.host_action:
            threading.Thread(target=self._host, args=(case,), daemon=True).start()

    def _host(self, case: Case) -> None:
        try:
            self.webhooks.wait_for(case.bot_id, lambda w: status_of(w) == "in_call_recording",
                                   timeout=300)
            time.sleep(4)
            if case.host_action == "remove":
                self.simulator.remove(case.code)
            else:
                self.simulator.end(case.code)
        except Exception as exc:
            self.errors.append(f"{case.name} host: {exc!r}")

    def final(self, name: str, timeout: float = 400) -> tuple[Case, ReceivedWebhook]:
        case = self.cases[name]
        assert case.posted.wait(timeout), f"{name} was never sent"
        assert case.bot_id, self.errors
        return case, self.webhooks.wait_final(case.bot_id, timeout=timeout)


def status_of(hook: ReceivedWebhook) -> str | None:
    return (hook.body.get("data", {}).get("status") or {}).get("code")


@pytest.fixture(scope="module")
def fleet(api, simulator, webhooks, token_server) -> Fleet:
    sent = Fleet(api, simulator, webhooks, cases(token_server.url))
    sent.start()
    return sent


# -- the recorded meeting ---------------------------------------------------------------------




@dataclass
class RecordedMeeting:
    case: Case
    final: ReceivedWebhook
    meeting: dict
    statuses: list[str]


@pytest.fixture(scope="module")
def recorded(fleet, simulator, webhooks) -> RecordedMeeting:
    case, final = fleet.final("recorded")
    recording = webhooks.wait_for(case.bot_id, lambda w: status_of(w) == "in_call_recording",
                                  timeout=5)
    print(f"\nPOST /bots/ -> in_call_recording webhook: "
          f"{recording.received_at - case.posted_at:.1f} s")
    return RecordedMeeting(case, final, simulator.meeting(case.code),
                           webhooks.status_codes(case.bot_id))


def test_the_bot_joins_muted_with_its_camera_under_its_name_and_completes(recorded):
    assert recorded.final.body["event"] == "complete", recorded.final.body
    guests = recorded.meeting["guests"]
    assert [g["name"] for g in guests] == ["Notetaker"]
    assert guests[0]["preview_audio_muted"] and not guests[0]["preview_video_off"], guests[0]
    assert guests[0]["computer_audio_joined_at"] is not None, "the bot never joined the audio"
    assert recorded.final.body["data"]["extra"] == {"customer": "acme"}
    assert recorded.final.body["data"]["reason"] == "meeting_ended"


def test_the_entry_message_is_posted_in_the_chat_once_admitted(recorded):
    guest = recorded.meeting["guests"][0]
    posted = [m for m in recorded.meeting["chat"] if m["from_guest"]]
    assert [(m["sender"], m["text"]) for m in posted] == [("Notetaker", ENTRY_MESSAGE)]
    assert posted[0]["sent_at"] >= guest["admitted_at"]


def test_status_webhooks_arrive_in_order(recorded):
    assert recorded.statuses == EXPECTED_STATUSES


def test_every_line_was_heard_after_the_bot_joined_the_audio(recorded):
    joined = recorded.meeting["guests"][0]["computer_audio_joined_at"]
    for utterance in recorded.meeting["utterances"]:
        assert utterance["actual_start"] is not None, utterance
        assert utterance["actual_start"] >= joined - 0.5


def test_transcript_matches_what_was_said(recorded):
    assert_heard_the_script(recorded.final.body, SCRIPT)


def test_words_carry_the_right_speaker(recorded):
    assert_words_carry_their_speaker(recorded.final.body, SCRIPT)


def test_speakers_are_the_two_participants(recorded):
    assert sorted(recorded.final.body["data"]["speakers"]) == ["Alice", "Bob"]


def test_the_mp4_has_audio_and_video_and_lasts_the_time_in_call(recorded):
    assert_mp4_lasts_the_time_in_call(recorded.final.body, recorded.meeting, 4.0)
    assert decodes(recorded.final.body["data"]["audio"])


# -- ends that deliver the recording ------------------------------------------------------------


def test_a_bot_waits_for_the_host_reloading_and_is_then_removed(fleet, simulator, webhooks):
    case, final = fleet.final("host_starts_late_then_removes")
    assert final.body["event"] == "complete", final.body
    assert final.body["data"]["reason"] == "removed"
    guest = simulator.meeting(case.code)["guests"][0]
    assert guest["status"] == "removed"
    assert guest["waited_for_host"] and guest["host_wait_reloads"] >= 1, guest
    assert webhooks.status_codes(case.bot_id)[:2] == ["joining_call", "in_waiting_room"]


def test_a_meeting_ended_by_the_host_completes(fleet, simulator):
    case, final = fleet.final("ended_by_host")
    assert final.body["event"] == "complete", final.body
    assert final.body["data"]["reason"] == "meeting_ended"
    assert final.body["data"]["mp4"]
    assert simulator.meeting(case.code)["end_reason"] == "host_ended"


def test_a_sign_in_meeting_is_joined_with_the_fetched_access_token(fleet, simulator, webhooks,
                                                                   token_server, platform):
    case, final = fleet.final("signed_in_with_token")
    assert final.body["event"] == "complete", final.body
    guest = simulator.meeting(case.code)["guests"][0]
    assert guest["authenticated"] is True and guest["token_kind"] == "zak", guest
    assert "/zak" in token_server.hits
    assert all(ZAK not in w.raw.decode() for w in webhooks.for_bot(case.bot_id))
    for runner in platform.replicas_of("bot-runner"):
        assert ZAK not in runner.log_path.read_text(errors="replace")


# -- typed failures -----------------------------------------------------------------------------

FAILURES = [
    # case, error, code, reason, words of the message
    ("invalid_link", "CannotJoinMeeting", "meeting_not_found", "meeting_not_found", "invalid (3,001)"),
    ("passcode_missing", "CannotJoinMeeting", "authentication_error", "passcode_required", "passcode"),
    ("wrong_passcode", "CannotJoinMeeting", "authentication_error", "passcode_required",
     "Incorrect meeting passcode"),
    ("sign_in_required", "CannotJoinMeeting", "authentication_error", "sign_in_required", "sign in"),
    ("token_url_fails", "CannotJoinMeeting", "authentication_error", "sign_in_required", "HTTP 500"),
    ("bot_wall", "CannotJoinMeeting", "access_denied", "bot_wall", "may be a bot"),
    ("captcha", "CannotJoinMeeting", "access_denied", "bot_wall", "captcha"),
    ("denied", "BotNotAccepted", "access_denied", "denied", "removed from the waiting room"),
    ("host_never_starts", "TimeoutWaitingToStart", "access_denied", "waiting_room_timeout", "20 s"),
]


@pytest.mark.parametrize("name, error, code, reason, words", FAILURES, ids=[f[0] for f in FAILURES])
def test_a_failed_visit_is_typed(fleet, api, name, error, code, reason, words):
    case, final = fleet.final(name)
    data = final.body["data"]
    assert final.body["event"] == "failed", final.body
    assert (data["error"], data["code"], data["reason"]) == (error, code, reason), data
    assert words.lower() in data["message"].lower(), data["message"]
    assert ZAK not in data["message"]
    shots = api.request("GET", f"/bots/{case.bot_id}/screenshots")
    assert shots.status == 200, shots.body
    assert any("-failure.png" in shot["url"] for shot in shots.body), shots.body


def test_a_bot_left_waiting_for_the_host_reloaded_and_said_so(fleet, simulator, webhooks):
    case, _ = fleet.final("host_never_starts")
    loads = simulator.meeting(case.code)["page_loads"]
    assert sum(v["reloads_while_waiting"] for v in loads.values()) >= 1, loads
    assert "in_waiting_room" in webhooks.status_codes(case.bot_id)


def test_refusals_happened_where_the_meeting_says(fleet, simulator, token_server):
    names = ("wrong_passcode", "bot_wall", "captcha")
    for name in names:
        fleet.final(name)
    refused = {name: [r["reason"] for r in simulator.meeting(fleet.cases[name].code)["refused_joins"]]
               for name in names}
    assert refused == {"wrong_passcode": ["passcode_wrong"], "bot_wall": ["bot_wall"],
                       "captcha": ["captcha"]}, refused
    assert "/broken" in token_server.hits
    assert not fleet.errors, fleet.errors
