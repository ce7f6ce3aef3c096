"""Every way a Meet visit can fail reaches the user as a typed `failed` webhook."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from minio import Minio


def send_bot(api, webhooks, code, **extra):
    response = api.join(meeting_url=f"https://meet.google.com/{code}", bot_name="Notetaker",
                        webhook_url=webhooks.url + "/failures", **extra)
    assert response.status == 200, response.body
    return response.body["bot_id"]


def recording_bot(api, simulator, webhooks, code, said):
    """A bot recording a long meeting where Alice has `said` something."""
    simulator.create_meeting(
        code, participants=[{"name": "Alice"}],
        script=[{"speaker": "Alice", "text": said, "at": 1.0}],
        admission={"action": "admit", "after": 1.0}, end_after=300,
    )
    bot_id = send_bot(api, webhooks, code)
    webhooks.wait_for(bot_id, lambda w: w.body["data"].get("status", {}).get("code")
                      == "in_call_recording", timeout=120)
    return bot_id


def test_a_denied_bot_fails_with_bot_not_accepted(api, simulator, webhooks, meeting_code):
    simulator.create_meeting(meeting_code, participants=[{"name": "Alice"}],
                             admission={"action": "deny", "after": 2.0})
    bot_id = send_bot(api, webhooks, meeting_code)
    final = webhooks.wait_final(bot_id, timeout=120)
    assert final.body["event"] == "failed"
    assert final.body["data"]["error"] == "BotNotAccepted"
    assert final.body["data"]["code"] == "access_denied"
    assert "denied" in final.body["data"]["message"]
    assert webhooks.status_codes(bot_id)[:2] == ["joining_call", "in_waiting_room"]


def test_a_bot_left_waiting_times_out(api, simulator, webhooks, meeting_code):
    simulator.create_meeting(meeting_code, participants=[{"name": "Alice"}],
                             admission={"action": "ignore"})
    started = time.monotonic()
    bot_id = send_bot(api, webhooks, meeting_code, automatic_leave={"waiting_room_timeout": 8})
    final = webhooks.wait_final(bot_id, timeout=120)
    assert final.body["event"] == "failed"
    assert final.body["data"]["error"] == "TimeoutWaitingToStart"
    assert time.monotonic() - started >= 8
    assert simulator.meeting(meeting_code)["guests"][0]["status"] in ("left", "cancelled")


def test_an_unknown_meeting_code_fails_with_cannot_join(api, webhooks, meeting_code):
    bot_id = send_bot(api, webhooks, meeting_code)
    final = webhooks.wait_final(bot_id, timeout=120)
    assert final.body["event"] == "failed"
    assert final.body["data"]["error"] == "CannotJoinMeeting"
    assert final.body["data"]["code"] == "meeting_not_found"
    assert "meeting code" in final.body["data"]["message"]


def test_a_bot_asked_to_leave_delivers_what_it_recorded(api, simulator, webhooks, meeting_code):
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


def test_a_scheduled_bot_joins_at_its_start_time(api, simulator, webhooks, meeting_code):
    simulator.create_meeting(meeting_code, participants=[{"name": "Alice"}],
                             admission={"action": "deny", "after": 1.0})
    start_time = int(time.time()) + 10
    bot_id = send_bot(api, webhooks, meeting_code, start_time=start_time)
    joining = webhooks.wait_for(bot_id, lambda w: w.body["event"] == "bot.status_change",
                                timeout=120)
    assert joining.received_at >= start_time
    assert joining.received_at - start_time <= 5
    webhooks.wait_final(bot_id, timeout=120)


def test_a_killed_bot_runner_ends_the_bot_as_failed_and_keeps_uploads(
    api, simulator, webhooks, platform, meeting_code
):
    bot_id = recording_bot(api, simulator, webhooks, meeting_code, "This meeting will go on for a while.")
    runner = platform.processes["bot-runner"]
    browser_pids = [p.pid for p in runner.descendants() if "chrom" in p.name()]
    assert browser_pids, "the bot's browser should be running"
    os.kill(runner.pid, signal.SIGKILL)
    try:
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
    finally:
        platform.restart("bot-runner")


def test_a_browser_crash_is_a_typed_internal_error_and_leaves_no_process(
    api, simulator, webhooks, platform, meeting_code
):
    bot_id = recording_bot(api, simulator, webhooks, meeting_code, "Can everyone see my screen?")
    runner = platform.processes["bot-runner"]

    def bot_processes():
        found = []
        for process in runner.descendants():
            try:
                if bot_id in " ".join(process.cmdline()) or process.name() == "chromedriver":
                    found.append(process)
            except Exception:  # gone meanwhile
                continue
        return found

    (browser,) = [p for p in bot_processes()
                  if p.name().startswith("chrom") and p.name() != "chromedriver"
                  and not any(a.startswith("--type=") for a in p.cmdline())]
    browser.kill()

    final = webhooks.wait_final(bot_id, timeout=120)
    data = final.body["data"]
    assert final.body["event"] == "failed", final.body
    assert (data["error"], data["code"], data["reason"]) == (
        "InternalError", "internal_error", "browser_crashed")
    assert "browser crashed" in data["message"]
    status = api.request("GET", f"/bots/{bot_id}").body["status"]
    assert (status["code"], status["error"], status["reason"]) == (
        "failed", "InternalError", "browser_crashed"), status
    deadline = time.monotonic() + 15
    while bot_processes() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert bot_processes() == [], "processes of the crashed bot's browser outlived it"
