"""The Teams adapter against the simulated Teams in one headless Chromium: each step it meets,
what it reads off the page, and what it does there."""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest

from bot_runner.platforms.base import InputDriver, Observation, PageState
from bot_runner.platforms.teams import TeamsAdapter
from mb_shared.contracts.bot import EndReason
from meeting_simulator import new_teams_meeting_id, new_teams_numeric_id

CONTEXT = json.dumps({"Tid": "6a1c2b3d-0000-4000-8000-00000000abcd", "Oid": "9f8e7d6c"})



def meetup_join(code: str) -> str:
    """A meetup-join link as the gateway normalizes it (the v2 web client, anon=true)."""
    thread = urllib.parse.quote(code, safe="")
    context = urllib.parse.quote(CONTEXT, safe="")
    return f"https://teams.microsoft.com/v2/?meetingjoin=true#/l/meetup-join/{thread}/0?context={context}&anon=true"




@pytest.fixture
def adapter(browser) -> TeamsAdapter:
    browser.driver.get("about:blank")
    return TeamsAdapter(browser.driver, InputDriver(browser.driver))


def drive(adapter: TeamsAdapter, until: set[PageState], timeout: float = 20.0,
          name: str = "Notetaker") -> tuple[Observation, list[Observation]]:
    """What the session does before admission: look, tend, ask on the pre-join page."""
    seen_all: list[Observation] = []
    asked_at: float | None = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = adapter.observe()
        seen_all.append(seen)
        if seen.state in until:
            return seen, seen_all
        adapter.tend(seen)
        if seen.state == PageState.PRE_JOIN and (asked_at is None or time.monotonic() - asked_at > 10):
            if adapter.ask_to_join(name):
                asked_at = time.monotonic()
        time.sleep(0.3)
    raise AssertionError(f"never reached {until}: {seen_all[-5:]}")


def wait_state(adapter: TeamsAdapter, states: set[PageState], timeout: float = 15.0) -> Observation:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = adapter.observe()
        if seen.state in states:
            return seen
        time.sleep(0.2)
    raise AssertionError(f"never reached {states}: {seen}")


FINAL = {PageState.NOT_JOINABLE, PageState.DENIED, PageState.NO_RESPONSE, PageState.REMOVED,
         PageState.ENDED, PageState.IN_CALL, PageState.WAITING_ROOM}


@pytest.mark.parametrize("modal", ["before", "after"])
def test_from_the_launcher_to_the_call_and_out(sim, adapter, browser, modal):
    code = new_teams_numeric_id()
    sim.client.create_meeting(
        code, platform="teams", passcode="Xy12ab", prejoin_modal=modal,
        participants=[{"name": "Alice"}, {"name": "Bob"}],
        script=[{"speaker": "Alice", "text": "Good morning, this is a test of the speaking ring.", "at": 1.0}],
        admission={"action": "admit", "after": 2.0},
    )
    browser.driver.get(f"https://teams.live.com/meet/{code}?p=Xy12ab")
    seen, history = drive(adapter, FINAL)
    assert seen.state == PageState.WAITING_ROOM, history[-3:]
    assert any("launcher" in s.evidence for s in history)
    assert "teams.live.com/v2/" in browser.driver.current_url
    guest = sim.client.meeting(code)["guests"][0]
    assert guest["name"] == "Notetaker" and guest["status"] == "asking"
    seen = wait_state(adapter, {PageState.IN_CALL})
    assert sorted(seen.participants) == ["Alice", "Bob"]
    adapter.dismiss_dialogs()
    adapter.start_speaker_probe()
    names = [t["name"] for t in browser.driver.execute_script(adapter.speaking_tiles_script)]
    assert sorted(names) == ["Alice", "Bob"]
    time.sleep(4.0)
    assert adapter.observe().state == PageState.IN_CALL  # toasts come and go: still in the call
    events, _, _ = adapter.drain_page_events()
    assert [e["name"] for e in events if e["on"]][:1] == ["Alice"], events
    adapter.leave()
    assert sim.client.meeting(code)["guests"][0]["status"] == "left"
    assert adapter.observe().state == PageState.ENDED


def test_removal_and_the_end_are_told_apart(sim, adapter, browser):
    code = new_teams_meeting_id()
    sim.client.create_meeting(code, platform="teams", prejoin_modal="none",
                              participants=[{"name": "Alice"}],
                              admission={"action": "admit", "after": 0.5})
    browser.driver.get(meetup_join(code))
    drive(adapter, {PageState.IN_CALL})
    sim.client.remove(code)
    seen = wait_state(adapter, FINAL - {PageState.IN_CALL})
    assert (seen.state, seen.reason) == (PageState.REMOVED, EndReason.REMOVED)
    assert "removed" in seen.evidence


@pytest.mark.parametrize(
    ("options", "link", "state", "reason", "words"),
    [
        ({}, "unknown", PageState.NOT_JOINABLE, EndReason.MEETING_NOT_FOUND, "meeting URL is incorrect"),
        ({"passcode": "123456"}, "wrong-passcode", PageState.NOT_JOINABLE, EndReason.MEETING_NOT_FOUND,
         "passcode"),
        ({"require_sign_in": True}, "thread", PageState.NOT_JOINABLE, EndReason.SIGN_IN_REQUIRED,
         "login.microsoftonline.com"),
        ({"captcha": True}, "thread", PageState.NOT_JOINABLE, EndReason.BOT_WALL, "real person"),
        ({"admission": {"action": "deny", "after": 0.5}}, "thread", PageState.DENIED, EndReason.DENIED,
         "denied"),
    ],
)
def test_refusals_carry_their_reason_and_the_page_words(sim, adapter, browser, options, link, state,
                                                        reason, words):
    if link == "thread" or link == "unknown":
        code = new_teams_meeting_id()
        if link == "thread":
            sim.client.create_meeting(code, platform="teams", participants=[{"name": "Alice"}],
                                      prejoin_modal="none", **options)
        browser.driver.get(meetup_join(code))
    else:
        code = new_teams_numeric_id()
        sim.client.create_meeting(code, platform="teams", participants=[{"name": "Alice"}], **options)
        browser.driver.get(f"https://teams.microsoft.com/meet/{code}?p=999999")
    seen, _ = drive(adapter, FINAL - {PageState.WAITING_ROOM})
    assert (seen.state, seen.reason) == (state, reason), seen
    assert words in seen.evidence, seen.evidence
