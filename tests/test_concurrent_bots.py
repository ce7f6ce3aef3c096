"""Two bots in two meetings at once (one on each runner replica, or both on one runner with
two slots: each bot has its own browser) never hear each other's meeting."""

from __future__ import annotations

import re

MEETINGS = {
    "Alice": "Purple elephants dance quietly around the ancient lighthouse.",
    "Carol": "Seventeen bicycles were parked beside the frozen waterfall.",
}


def words(text: str) -> set[str]:
    return set(re.sub(r"[^a-z ]+", " ", text.lower()).split())


def test_two_bots_record_only_their_own_meeting(api, simulator, webhooks):
    bots = {}
    for n, (speaker, sentence) in enumerate(MEETINGS.items()):
        code = ["two-bots-one", "two-bots-two"][n]
        simulator.create_meeting(code, participants=[{"name": speaker}],
                                 script=[{"speaker": speaker, "text": sentence, "at": 2.0}],
                                 admission={"action": "admit", "after": 1.0}, end_after=12.0)
    for n, speaker in enumerate(MEETINGS):
        code = ["two-bots-one", "two-bots-two"][n]
        response = api.join(meeting_url=f"https://meet.google.com/{code}", bot_name=f"Bot {n}",
                            webhook_url=webhooks.url + "/concurrent",
                            speech_to_text={"provider": "Default"})
        bots[speaker] = response.body["bot_id"]
    for speaker, bot_id in bots.items():
        final = webhooks.wait_final(bot_id, timeout=240)
        assert final.body["event"] == "complete", final.body
        heard = words(" ".join(w["word"] for s in final.body["data"]["transcript"] for w in s["words"]))
        own = words(MEETINGS[speaker])
        other = set().union(*(words(t) for s, t in MEETINGS.items() if s != speaker)) - own
        assert len(heard & own) >= len(own) // 2, (speaker, heard)
        assert not heard & other, f"{speaker}'s bot heard the other meeting: {heard & other}"
        assert final.body["data"]["speakers"] == [speaker]
