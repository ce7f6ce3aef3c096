"""`automatic_leave`: a bot leaves on its own when no one else arrives and when no one speaks.

The two bots run at once, in two meetings. Everyone-left, removal, end and leave requests are
covered by the end-to-end and failure tests; the waiting-room timeout by `test_meet_failures`.
"""

from __future__ import annotations

import time

from meeting_simulator import new_meet_code

SENTENCE = "Let me say one thing and then stay quiet for a while."


def test_a_bot_alone_leaves_and_one_in_a_silent_meeting_delivers_what_it_heard(
        api, simulator, webhooks):
    empty, quiet = new_meet_code(), new_meet_code()
    simulator.create_meeting(empty, participants=[], admission={"action": "admit", "after": 1.0})
    simulator.create_meeting(quiet, participants=[{"name": "Alice"}],
                             script=[{"speaker": "Alice", "text": SENTENCE, "at": 2.0}],
                             admission={"action": "admit", "after": 1.0}, end_after=120.0)
    started = time.monotonic()
    alone = api.join(meeting_url=f"https://meet.google.com/{empty}", bot_name="Alone",
                     webhook_url=webhooks.url + "/leave", automatic_leave={"noone_joined_timeout": 8})
    listening = api.join(meeting_url=f"https://meet.google.com/{quiet}", bot_name="Listener",
                         webhook_url=webhooks.url + "/leave", speech_to_text="Default",
                         automatic_leave={"silence_timeout": 10})
    assert alone.status == listening.status == 200

    final = webhooks.wait_final(alone.body["bot_id"], timeout=120)
    assert final.body["event"] == "failed", final.body
    data = final.body["data"]
    assert (data["error"], data["code"], data["reason"]) == (
        "TimeoutWaitingToStart", "no_attendees", "no_one_joined")
    assert "8 s" in data["message"]
    assert time.monotonic() - started >= 8
    assert "in_call_recording" in webhooks.status_codes(alone.body["bot_id"])
    assert simulator.meeting(empty)["guests"][0]["status"] == "left"

    final = webhooks.wait_final(listening.body["bot_id"], timeout=120)
    assert final.body["event"] == "complete", final.body
    data = final.body["data"]
    assert data["reason"] == "silence_timeout"
    heard = " ".join(w["word"] for s in data["transcript"] for w in s["words"]).lower()
    assert "one thing" in heard and {s["speaker"] for s in data["transcript"]} == {"Alice"}
    meeting = simulator.meeting(quiet)
    (guest,) = meeting["guests"]
    assert guest["status"] == "left"
    spoken_until = meeting["utterances"][0]["actual_end"]
    # it waited for ten silent seconds after Alice stopped, and not much more
    assert 10 <= guest["left_at"] - spoken_until <= 25, (guest, spoken_until)
    assert meeting["status"] == "active"  # the meeting itself goes on
