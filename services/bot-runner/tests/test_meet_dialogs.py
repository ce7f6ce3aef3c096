"""Meet puts a recording notice (a modal with "OK") over the call soon after admission. The bot's
recording shows whatever covers the call, so the session accepts such a dialog on the first look
that sees it: right after the recorder has started (which takes seconds on a busy machine), and
in the call at once, not at its next periodic round of `dismiss_dialogs`. (Before, on a loaded
machine, a gallery recording showed the notice over a participant's tile for its first seconds.)"""

from __future__ import annotations

import time
from pathlib import Path
from uuid import uuid4

from selenium.common.exceptions import StaleElementReferenceException

from bot_runner.media import RecordingClock, RecordingFiles
from bot_runner.participants import MeetingRoster
from bot_runner.platforms.base import InputDriver, Observation, PageState
from bot_runner.platforms.meet import GoogleMeetAdapter
from bot_runner.session import BotSession, SessionConfig
from bot_runner.timeline import SpeakerTimelineBuilder
from mb_shared.contracts.bot import BotDispatched, BotParams, EndReason, Platform, RecordingMode
from meeting_simulator import new_meet_code


class Effects:
    def __init__(self, steps: list[str]) -> None:
        self.steps = steps

    def status(self, *args, **kwargs) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def piece(self, event) -> None:
        pass

    def upload(self, name: str, path: Path, content_type: str) -> str:
        return name

    def upload_bytes(self, name: str, data: bytes, content_type: str) -> str:
        if name.startswith("screenshots/"):
            self.steps.append("screenshot " + name.rsplit("-", 1)[-1].removesuffix(".png"))
        return name

    def recording_uploaded(self, *args, **kwargs) -> None:
        pass


class Recorder:
    """The session's side of the recorder; `start()` takes as long as `start_until()` says."""

    def __init__(self, steps: list[str], start_until=lambda: True) -> None:
        self.steps = steps
        self.start_until = start_until
        self.clock = RecordingClock(time.time(), 0.0, time.time() * 1000)

    def start(self) -> RecordingClock:
        deadline = time.monotonic() + 15
        while not self.start_until() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.steps.append("recording")
        return self.clock

    def pump(self) -> dict:
        return {}

    def silent_for_s(self) -> float:
        return 0.0

    def stop(self) -> RecordingFiles:
        return RecordingFiles(mp4=Path("recording.mp4"), wav=Path("audio.wav"), duration_s=5.0,
                              clock=self.clock)


class WatchedMeet(GoogleMeetAdapter):
    """The Meet adapter, noting what the session asks of it, in order."""

    def __init__(self, steps: list[str], *args) -> None:
        super().__init__(*args)
        self.steps = steps

    def observe(self) -> Observation:
        seen = super().observe()
        self.steps.append("observe+dialog" if seen.dialog else "observe")
        return seen

    def dismiss_dialogs(self) -> None:
        self.steps.append("dismiss")
        super().dismiss_dialogs()


def _session(code: str, tmp_path: Path, steps: list[str]) -> BotSession:
    dispatch = BotDispatched(bot_id=uuid4(), account_id=1, params=BotParams(
        meeting_url=f"https://meet.google.com/{code}", platform=Platform.GOOGLE_MEET,
        bot_name="Notetaker", recording_mode=RecordingMode.GALLERY_VIEW))
    # No periodic round of dismiss_dialogs within the meeting: only a look that sees the dialog
    # can have it accepted.
    # (the session is driven in the module's browser: these paths are never launched)
    config = SessionConfig(chromium_path="/usr/bin/chromium",
                           chromedriver_path="/usr/bin/chromedriver",
                           extra_chromium_args=[], work_dir=tmp_path, dismiss_interval_s=600.0,
                           screenshot_interval_s=600.0)
    return BotSession(dispatch, config, Effects(steps))


def _admitted(sim, browser, tmp_path: Path, steps: list[str]) -> tuple[str, BotSession, WatchedMeet]:
    code = new_meet_code()
    sim.client.create_meeting(code, participants=[{"name": "Alice"}],
                              admission={"action": "admit", "after": 0.5}, end_after=6.0)
    session = _session(code, tmp_path, steps)
    adapter = WatchedMeet(steps, browser.driver, InputDriver(browser.driver))
    browser.driver.get(session.dispatch.params.meeting_url)
    assert session._wait_for_admission(adapter, browser)
    steps.clear()
    return code, session, adapter


def test_a_notice_that_came_while_the_recorder_started_is_accepted_first(sim, browser, tmp_path):
    steps: list[str] = []
    code, session, adapter = _admitted(sim, browser, tmp_path, steps)
    # A slow start: the notice (1.5 s after admission) is over the call when the recording begins.
    slow = Recorder(steps, start_until=lambda: GoogleMeetAdapter.observe(adapter).dialog)

    session._record(adapter, slow, browser)

    assert sim.client.meeting(code)["guests"][0]["dialog_accepted_at"] is not None, steps
    after = steps[steps.index("recording") + 1:]
    assert after[:3] == ["observe+dialog", "dismiss", "screenshot admitted"], steps


def test_a_notice_over_the_call_is_accepted_in_the_look_that_sees_it(sim, browser, tmp_path):
    steps: list[str] = []
    code, session, adapter = _admitted(sim, browser, tmp_path, steps)
    adapter.dismiss_dialogs()  # as at admission: the notice comes 1.5 s later
    steps.clear()

    timeline = SpeakerTimelineBuilder(MeetingRoster(0.0, 0.0, Platform.GOOGLE_MEET))
    reason = session._watch_call(adapter, Recorder(steps), browser, timeline)

    assert reason == EndReason.MEETING_ENDED
    assert sim.client.meeting(code)["guests"][0]["dialog_accepted_at"] is not None, steps
    seen = [i for i, step in enumerate(steps) if step == "observe+dialog"]
    assert seen, steps
    assert all(steps[i + 1] == "dismiss" for i in seen), steps
    assert adapter.observe().state == PageState.ENDED


def test_the_meet_observation_reports_the_notice_until_it_is_accepted(sim, browser):
    code = new_meet_code()
    sim.client.create_meeting(code, participants=[{"name": "Alice"}],
                              admission={"action": "admit", "after": 0.5})
    adapter = GoogleMeetAdapter(browser.driver, InputDriver(browser.driver))
    browser.driver.get(f"https://meet.google.com/{code}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        seen = adapter.observe()
        if seen.state == PageState.PRE_JOIN:
            adapter.ask_to_join("Notetaker")
        if seen.dialog:
            break
        time.sleep(0.2)
    assert seen.state == PageState.IN_CALL and seen.dialog, seen
    adapter.dismiss_dialogs()
    seen = adapter.observe()
    assert seen.state == PageState.IN_CALL and not seen.dialog, seen
    assert sim.client.meeting(code)["guests"][0]["dialog_accepted_at"] is not None
    sim.client.end(code)


class GoneDialog:
    """A dialog found by one look and gone (accepted, or the call ended under it) by the next."""

    def find_elements(self, *args):
        raise StaleElementReferenceException("stale element reference")


class OneDialogDriver:
    def find_elements(self, *args):
        return [GoneDialog()]


def test_a_dialog_that_goes_while_it_is_being_accepted_is_no_error():
    driver = OneDialogDriver()
    GoogleMeetAdapter(driver, InputDriver(driver)).dismiss_dialogs()
