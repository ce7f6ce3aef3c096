"""The transcript made while the bot records, on the real stack: `bot.live_transcript` webhooks
during the call, in order, with their speakers; the `complete` transcript made of the same words,
seconds after the call; and a bot that did not ask for them gets none."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from meeting_simulator import new_meet_code
from support import (
    ReceivedWebhook,
    assert_heard_the_script,
    assert_words_carry_their_speaker,
    meeting_script,
)

SCRIPT = meeting_script(first_at=3.0)
END_AFTER = 25.0


@dataclass
class Visit:
    bot_id: str
    meeting: dict
    final: ReceivedWebhook
    live: list[ReceivedWebhook]
    statuses: list[ReceivedWebhook]


@pytest.fixture(scope="module")
def visits(api, simulator, webhooks) -> dict[str, Visit]:
    sent = {}
    for name, live in (("live", True), ("quiet", False)):
        code = new_meet_code()
        simulator.create_meeting(code, participants=[{"name": "Alice"}, {"name": "Bob"}],
                                 script=SCRIPT, admission={"action": "admit", "after": 2.0},
                                 end_after=END_AFTER)
        response = api.join(meeting_url=f"https://meet.google.com/{code}",
                            bot_name=f"Live {name}", webhook_url=webhooks.url + "/live",
                            speech_to_text={"provider": "Default", "live_transcript": live})
        assert response.status == 200, response.body
        sent[name] = (code, response.body["bot_id"])
    result = {}
    for name, (code, bot_id) in sent.items():
        final = webhooks.wait_final(bot_id, timeout=300)
        hooks = webhooks.for_bot(bot_id)
        result[name] = Visit(
            bot_id, simulator.meeting(code), final,
            [h for h in hooks if h.body["event"] == "bot.live_transcript"],
            [h for h in hooks if h.body["event"] == "bot.status_change"])
    return result


def live_segments(visit: Visit) -> list[dict]:
    return [segment for hook in visit.live for segment in hook.body["data"]["transcript"]]


def test_live_transcripts_arrive_during_the_call(visits):
    visit = visits["live"]
    assert visit.live, "no bot.live_transcript webhook"
    ended_at = visit.meeting["ended_at"]
    during = [hook for hook in visit.live if hook.received_at < ended_at]
    for hook in visit.live:
        print(f"\n{hook.received_at - ended_at:+.1f} s from the end: "
              f"{[(s['speaker'], ' '.join(w['word'] for w in s['words'])) for s in hook.body['data']['transcript']]}")
    assert len(during) >= 2, "fewer than two live transcripts before the meeting ended"


def test_live_transcripts_are_in_order_and_say_who_spoke(visits):
    segments = live_segments(visits["live"])
    starts = [segment["start_time"] for segment in segments]
    assert starts == sorted(starts)
    turns = [s["speaker"] for s in segments]
    firsts = [turns[0], *(b for a, b in zip(turns, turns[1:]) if a != b)]
    assert firsts[:3] == [line["speaker"] for line in SCRIPT]
    transcript = [{"speaker": s["speaker"], "words": s["words"]} for s in segments]
    assert_heard_the_script({"data": {"transcript": transcript}}, SCRIPT)


def test_the_complete_transcript_is_made_of_the_live_words(visits):
    visit = visits["live"]
    assert visit.final.body["event"] == "complete", visit.final.body
    final = visit.final.body["data"]["transcript"]
    assert_heard_the_script(visit.final.body, SCRIPT)
    assert_words_carry_their_speaker(visit.final.body, SCRIPT)
    live_words = [(w["word"], round(w["start"], 2)) for s in live_segments(visit) for w in s["words"]]
    final_words = [(w["word"], round(w["start"], 2)) for s in final for w in s["words"]]
    assert final_words == live_words
    latency = visit.final.received_at - visit.meeting["ended_at"]
    print(f"\nmeeting end -> complete: {latency:.1f} s")


def test_a_bot_that_did_not_ask_gets_no_live_transcript_and_the_same_transcript(visits):
    visit = visits["quiet"]
    assert visit.live == []
    assert visit.final.body["event"] == "complete", visit.final.body
    assert_heard_the_script(visit.final.body, SCRIPT)
