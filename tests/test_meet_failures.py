"""Every way a Meet visit can fail reaches the user as a typed `failed` webhook, and a visit cut
short after recording started still delivers what was recorded. The visits that end on their own
run together."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from minio import Minio

from meeting_simulator import new_meet_code
from support import Together, decodes, ffprobe, normalize


def send_bot(api, webhooks, code, **extra):
    response = api.join(meeting_url=f"https://meet.google.com/{code}", bot_name="Notetaker",
                        webhook_url=webhooks.url + "/failures", **extra)
    assert response.status == 200, response.body
    return response.body["bot_id"]


def recording_bot(api, simulator, webhooks, code, said, **extra):
    """A bot recording a long meeting where Alice has `said` something."""
    simulator.create_meeting(
        code, participants=[{"name": "Alice"}],
        script=[{"speaker": "Alice", "text": said, "at": 1.0}],
        admission={"action": "admit", "after": 1.0}, end_after=300,
    )
    bot_id = send_bot(api, webhooks, code, **extra)
    webhooks.wait_for(bot_id, lambda w: w.body["data"].get("status", {}).get("code")
                      == "in_call_recording", timeout=120)
    return bot_id


def a_denied_bot_fails_with_bot_not_accepted(api, simulator, webhooks, meeting_code):
    simulator.create_meeting(meeting_code, participants=[{"name": "Alice"}],
                             admission={"action": "deny", "after": 2.0})
    bot_id = send_bot(api, webhooks, meeting_code)
    final = webhooks.wait_final(bot_id, timeout=120)
    assert final.body["event"] == "failed"
    assert final.body["data"]["error"] == "BotNotAccepted"
    assert final.body["data"]["code"] == "access_denied"
    assert "denied" in final.body["data"]["message"]
    assert webhooks.status_codes(bot_id)[:2] == ["joining_call", "in_waiting_room"]


def a_bot_left_waiting_times_out(api, simulator, webhooks, meeting_code):
    simulator.create_meeting(meeting_code, participants=[{"name": "Alice"}],
                             admission={"action": "ignore"})
    started = time.monotonic()
    bot_id = send_bot(api, webhooks, meeting_code, automatic_leave={"waiting_room_timeout": 8})
    final = webhooks.wait_final(bot_id, timeout=120)
    assert final.body["event"] == "failed"
    assert final.body["data"]["error"] == "TimeoutWaitingToStart"
    assert time.monotonic() - started >= 8
    assert simulator.meeting(meeting_code)["guests"][0]["status"] in ("left", "cancelled")


def an_unknown_meeting_code_fails_with_cannot_join(api, simulator, webhooks, meeting_code):
    bot_id = send_bot(api, webhooks, meeting_code)
    final = webhooks.wait_final(bot_id, timeout=120)
    assert final.body["event"] == "failed"
    assert final.body["data"]["error"] == "CannotJoinMeeting"
    assert final.body["data"]["code"] == "meeting_not_found"
    assert "meeting code" in final.body["data"]["message"]


def a_bot_asked_to_leave_delivers_what_it_recorded(api, simulator, webhooks, meeting_code):
    simulator.create_meeting(
        meeting_code, participants=[{"name": "Alice"}],
        script=[{"speaker": "Alice", "text": "Hello everyone, thanks for joining.", "at": 1.0}],
        admission={"action": "admit", "after": 1.0}, end_after=300,
    )
    bot_id = send_bot(api, webhooks, meeting_code)
    webhooks.wait_for(bot_id, lambda w: w.body["data"].get("status", {}).get("code")
                      == "in_call_recording", timeout=120)
    time.sleep(6)
    assert api.request("DELETE", f"/bots/{bot_id}").body == {"ok": True}
    final = webhooks.wait_final(bot_id, timeout=120)
    assert final.body["event"] == "complete"
    assert final.body["data"]["reason"] == "left_on_request"
    assert final.body["data"]["mp4"]
    assert simulator.meeting(meeting_code)["guests"][0]["left"] is True


def a_scheduled_bot_joins_at_its_start_time(api, simulator, webhooks, meeting_code):
    simulator.create_meeting(meeting_code, participants=[{"name": "Alice"}],
                             admission={"action": "deny", "after": 1.0})
    start_time = int(time.time()) + 10
    bot_id = send_bot(api, webhooks, meeting_code, start_time=start_time)
    joining = webhooks.wait_for(bot_id, lambda w: w.body["event"] == "bot.status_change",
                                timeout=120)
    assert joining.received_at >= start_time
    assert joining.received_at - start_time < 60, "at its start time, not a later one"
    webhooks.wait_final(bot_id, timeout=120)


SCENARIOS = (a_denied_bot_fails_with_bot_not_accepted, a_bot_left_waiting_times_out,
             an_unknown_meeting_code_fails_with_cannot_join,
             a_bot_asked_to_leave_delivers_what_it_recorded, a_scheduled_bot_joins_at_its_start_time)


@pytest.fixture(scope="module")
def scenarios(api, simulator, webhooks):
    """The visits that end on their own, run together and all ended before the tests that kill
    a runner or a browser."""
    together = Together(**{s.__name__: lambda s=s: s(api, simulator, webhooks, new_meet_code())
                           for s in SCENARIOS})
    together.close()
    return together


@pytest.mark.parametrize("scenario", [s.__name__ for s in SCENARIOS])
def test_the_visit_ends_as_it_should(scenarios, scenario):
    scenarios.outcome(scenario)


def test_a_killed_bot_runner_ends_the_bot_as_failed_keeps_uploads_and_comes_back(
    api, simulator, webhooks, platform, meeting_code
):
    bot_id = recording_bot(api, simulator, webhooks, meeting_code, "This meeting will go on for a while.")
    runner = platform.runner_of(bot_id)
    browser_pids = [p.pid for p in runner.descendants() if "chrom" in p.name()]
    assert browser_pids, "the bot's browser should be running"
    restarts = len(platform.supervisor.restarts_of(runner.name))
    os.kill(runner.pid, signal.SIGKILL)
    final = webhooks.wait_final(bot_id, timeout=120)
    assert final.body["event"] == "failed"
    assert final.body["data"]["error"] == "InternalError"
    assert final.body["data"]["reason"] == "runner_lost"
    assert "bot-runner" in final.body["data"]["message"]
    infra = platform.infra_endpoints
    store = Minio(infra.s3_endpoint, infra.s3_access_key, infra.s3_secret_key, secure=False)
    kept = [o.object_name for o in store.list_objects("meeting-bots",
                                                      prefix=f"bots/{bot_id}/", recursive=True)]
    assert any("screenshots/" in name for name in kept), kept
    alive = subprocess.run(["ps", "-o", "pid=", "-p", ",".join(map(str, browser_pids))],
                           capture_output=True, text=True).stdout.split()
    assert alive == [], f"browser processes outlived the killed runner: {alive}"
    deadline = time.monotonic() + 60
    while len(platform.supervisor.restarts_of(runner.name)) == restarts:
        assert time.monotonic() < deadline, "the killed runner was not started again"
        time.sleep(0.5)
    assert platform.processes[runner.name].is_running()


def bot_processes(runner, bot_id):
    """The bot's Chromium processes (their command line names its work directory) and every
    chromedriver under the runner."""
    found = []
    for process in runner.descendants():
        try:
            if bot_id in " ".join(process.cmdline()) or process.name() == "chromedriver":
                found.append(process)
        except Exception:  # gone meanwhile
            continue
    return found


def kill_browser(runner, bot_id) -> float:
    """SIGKILL the bot's main Chromium process, as a crash or the out-of-memory killer would
    end it; returns when (unix time)."""
    (browser,) = [p for p in bot_processes(runner, bot_id)
                  if p.name().startswith("chrom") and p.name() != "chromedriver"
                  and not any(a.startswith("--type=") for a in p.cmdline())]
    killed_at = time.time()
    browser.kill()
    return killed_at


def recording_started_at(runner) -> float:
    """When (unix time) the runner's latest recording started, from its log (each runner of the
    suite holds one bot at a time)."""
    started = re.findall(r"recording started at (\d+\.\d+)", runner.log_path.read_text())
    assert started, "the runner logged no recording"
    return float(started[-1])


def wav_seconds(path: Path) -> float:
    """Seconds of 16 kHz mono 16-bit audio the recorder has written so far."""
    return max(0, path.stat().st_size - 44) / 32_000 if path.exists() else 0.0


def assert_no_process_left(runner, bot_id):
    deadline = time.monotonic() + 15
    while bot_processes(runner, bot_id) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert bot_processes(runner, bot_id) == [], "processes of the crashed bot's browser outlived it"


def test_a_browser_crash_while_recording_delivers_what_was_recorded_and_leaves_no_process(
    api, simulator, webhooks, platform, meeting_code
):
    said = "Can everyone see my screen?"
    bot_id = recording_bot(api, simulator, webhooks, meeting_code, said,
                           speech_to_text={"provider": "Default"})
    runner = platform.runner_of(bot_id)
    # Kill once Alice has finished and the runner holds the recording's audio past her last word
    # (the page hands audio over a timeslice at a time, later on a loaded machine).
    deadline = time.monotonic() + 60
    while (spoken := simulator.meeting(meeting_code)["utterances"][0]["actual_end"]) is None:
        assert time.monotonic() < deadline, "Alice never spoke"
        time.sleep(0.5)
    wav = platform.base_dir / "bot-runner" / bot_id / "audio.wav"
    needed = spoken - recording_started_at(runner) + 0.5
    deadline = time.monotonic() + 60
    while wav_seconds(wav) < needed:
        assert time.monotonic() < deadline, f"the runner never held {needed:.1f} s of audio"
        time.sleep(0.2)
    killed_at = kill_browser(runner, bot_id)

    final = webhooks.wait_final(bot_id, timeout=300)
    data = final.body["data"]
    assert final.body["event"] == "complete", final.body
    assert data["reason"] == "browser_crashed"
    heard = normalize(" ".join(w["word"] for s in data["transcript"] for w in s["words"]))
    assert "see my screen" in " ".join(heard), heard
    assert {s["speaker"] for s in data["transcript"]} == {"Alice"}

    # The mp4 lasts the time in the call up to the kill, less the moments before recording
    # started and the page's last timeslice (1 s) of audio it never handed over.
    (guest,) = simulator.meeting(meeting_code)["guests"]
    in_call = killed_at - guest["admitted_at"]
    probe = ffprobe(data["mp4"])
    kinds = {s["codec_type"]: s["codec_name"] for s in probe["streams"]}
    assert kinds == {"video": "h264", "audio": "aac"}, kinds
    duration = float(probe["format"]["duration"])
    print(f"\nmp4 {duration:.2f} s, bot in call {in_call:.2f} s before the kill")
    assert in_call - 3.0 <= duration <= in_call
    assert data["audio"] and decodes(data["audio"])

    body = api.request("GET", f"/bots/{bot_id}").body
    history = [(h["code"], h["reason"]) for h in body["status_history"]]
    assert history[-2:] == [("call_ended", "browser_crashed"), ("completed", None)], history
    assert webhooks.status_codes(bot_id)[-1] == "call_ended"
    assert_no_process_left(runner, bot_id)


def test_a_browser_crash_before_recording_is_a_typed_internal_error_and_leaves_no_process(
    api, simulator, webhooks, platform, meeting_code
):
    simulator.create_meeting(meeting_code, participants=[{"name": "Alice"}],
                             admission={"action": "ignore"})
    bot_id = send_bot(api, webhooks, meeting_code)
    webhooks.wait_for(bot_id, lambda w: w.body["data"].get("status", {}).get("code")
                      == "in_waiting_room", timeout=120)
    runner = platform.runner_of(bot_id)
    kill_browser(runner, bot_id)

    final = webhooks.wait_final(bot_id, timeout=120)
    data = final.body["data"]
    assert final.body["event"] == "failed", final.body
    assert (data["error"], data["code"], data["reason"]) == (
        "InternalError", "internal_error", "browser_crashed")
    assert "browser crashed" in data["message"]
    status = api.request("GET", f"/bots/{bot_id}").body["status"]
    assert (status["code"], status["error"], status["reason"]) == (
        "failed", "InternalError", "browser_crashed"), status
    assert "in_call_recording" not in webhooks.status_codes(bot_id)
    assert_no_process_left(runner, bot_id)
