"""`POST /bots/retranscribe` and `POST /bots/retry_webhook` on the real stack.

One short meeting (one speaker, one sentence) is recorded and transcribed once; it is then
transcribed again and its final webhook sent again. The error cases use a bot queued for 2100.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote

import jiwer
import pytest

from support import MEETING_LINES, Api, account_api

SENTENCE = MEETING_LINES[0][1]
FAR_FUTURE = 4102444800  # 2100-01-01


def normalize(text: str) -> list[str]:
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def meeting_words(api: Api, bot_id: str) -> tuple[list[int], list[int], list[str]]:
    """Segment ids, word ids and the words of `GET /bots/meeting_data`."""
    response = api.request("GET", f"/bots/meeting_data?bot_id={bot_id}")
    assert response.status == 200, response.body
    segments = response.body["bot_data"]["transcripts"]
    words = [w for s in segments for w in s["words"]]
    return [s["id"] for s in segments], [w["id"] for w in words], [w["text"] for w in words]


def lowered(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


@pytest.fixture(scope="module")
def completed(api, simulator, webhooks, meeting_code_module):
    """A completed bot with a transcript: (bot_id, its `complete` webhook)."""
    simulator.create_meeting(
        meeting_code_module, participants=[{"name": "Alice"}],
        script=[{"speaker": "Alice", "text": SENTENCE, "at": 1.5}],
        admission={"action": "admit", "after": 1.0}, end_after=9.0,
    )
    response = api.join(meeting_url=f"https://meet.google.com/{meeting_code_module}",
                        bot_name="Notetaker", webhook_url=webhooks.url + "/operations",
                        speech_to_text={"provider": "Default"})
    assert response.status == 200, response.body
    bot_id = response.body["bot_id"]
    final = webhooks.wait_final(bot_id, timeout=180)
    assert final.body["event"] == "complete", final.body
    return bot_id, final


@pytest.fixture(scope="module")
def meeting_code_module() -> str:
    from meeting_simulator.client import new_meet_code

    return new_meet_code()


@pytest.fixture(scope="module")
def queued(api):
    """A bot that stays queued (start_time in 2100): it has no recording and no final event."""
    response = api.join(meeting_url="https://meet.google.com/que-uedb-otx", bot_name="Later",
                        start_time=FAR_FUTURE, deduplication_key=str(uuid.uuid4()))
    assert response.status == 200, response.body
    yield response.body["bot_id"]
    api.request("DELETE", f"/bots/{response.body['bot_id']}")


@pytest.fixture(scope="module")
def other_api(api, platform) -> Api:

    return account_api(platform, "operations-other")


# --- retranscribe ----------------------------------------------------------------------------

def test_retranscribe_replaces_the_transcript_and_sends_transcription_complete(
        api, webhooks, completed):
    bot_id, final = completed
    first_text = [w["word"] for s in final.body["data"]["transcript"] for w in s["words"]]
    assert jiwer.wer(" ".join(normalize(SENTENCE)), " ".join(normalize(" ".join(first_text)))) \
        <= 0.3, first_text
    segment_ids, word_ids, words = meeting_words(api, bot_id)
    assert words == first_text

    response = api.request("POST", "/bots/retranscribe", {
        "bot_uuid": bot_id, "speech_to_text": "Default",
        "webhook_url": webhooks.url + "/retranscribed",
    })
    assert response.status == 202, response.body
    assert response.body is None, "202 with no content, as the reference says"

    hook = webhooks.wait_for(bot_id, lambda w: w.body["event"] == "transcription_complete",
                             timeout=120)
    assert hook.path == "/retranscribed"
    data = hook.body["data"]
    assert data["bot_id"] == bot_id and data["error"] is None
    assert data["speakers"] == ["Alice"]
    assert data["extra"] is None
    # the same shape as in `complete`
    assert [set(s) for s in data["transcript"]] == [set(s) for s in final.body["data"]["transcript"]]
    assert [w["word"] for s in data["transcript"] for w in s["words"]] == first_text
    assert {s["speaker"] for s in data["transcript"]} == {"Alice"}
    # signed like every delivery, with its own webhook-id
    from standardwebhooks.webhooks import Webhook

    secret = api.request("GET", "/accounts/webhook_secret").body["secret"]
    assert Webhook(secret).verify(hook.raw, lowered(hook.headers)) == hook.body
    assert lowered(hook.headers)["webhook-id"] != lowered(final.headers)["webhook-id"]

    new_segment_ids, new_word_ids, new_words = meeting_words(api, bot_id)
    assert new_words == words
    assert set(new_segment_ids).isdisjoint(segment_ids)
    assert set(new_word_ids).isdisjoint(word_ids)
    # the bot is still complete, and got nothing else
    bot = api.request("GET", f"/bots/{bot_id}").body
    assert bot["status"]["code"] == "completed"
    assert [w.body["event"] for w in webhooks.for_bot(bot_id)].count("complete") == 1


@pytest.mark.parametrize(("body", "status", "field"), [
    ({"bot_uuid": "not-a-uuid"}, 400, "bot_uuid"),
    ({}, 422, "bot_uuid"),
    ({"bot_uuid": 12}, 422, "bot_uuid"),
    ({"bot_uuid": str(uuid.uuid4()), "speech_to_text": {"provider": "Nope"}}, 422,
     "speech_to_text"),
    ({"bot_uuid": str(uuid.uuid4()), "webhook_url": "not a url"}, 400, "webhook_url"),
])
def test_retranscribe_refuses_a_bad_body_naming_the_field(api, body, status, field):
    response = api.request("POST", "/bots/retranscribe", body)
    assert response.status == status, response.body
    assert response.body["field"].startswith(field), response.body
    assert field in response.body["message"]


def test_retranscribe_of_an_unknown_or_another_accounts_bot_is_404(api, other_api, queued):
    unknown = api.request("POST", "/bots/retranscribe", {"bot_uuid": str(uuid.uuid4())})
    assert unknown.status == 404, unknown.body
    theirs = other_api.request("POST", "/bots/retranscribe", {"bot_uuid": queued})
    assert theirs.status == 404, theirs.body


def test_retranscribe_of_a_bot_not_completed_is_409(api, queued):
    response = api.request("POST", "/bots/retranscribe", {"bot_uuid": queued})
    assert response.status == 409, response.body
    assert response.body["code"] == "BotNotCompleted"
    assert "queued" in response.body["message"]


# --- retry_webhook ---------------------------------------------------------------------------

def test_retry_webhook_sends_the_final_event_again_signed_with_the_same_id(
        api, webhooks, completed):
    from standardwebhooks.webhooks import Webhook

    bot_id, final = completed
    url = webhooks.url + "/retried"
    response = api.request("POST", f"/bots/retry_webhook?bot_uuid={bot_id}"
                                   f"&webhook_url={quote(url, safe='')}")
    assert response.status == 200, response.body
    assert response.body == {"ok": True}
    again = webhooks.wait_for(bot_id, lambda w: w.path == "/retried", timeout=30)
    headers = lowered(again.headers)
    assert again.body["event"] == "complete"
    assert headers["webhook-id"] == lowered(final.headers)["webhook-id"]
    secret = api.request("GET", "/accounts/webhook_secret").body["secret"]
    assert Webhook(secret).verify(again.raw, headers) == again.body
    assert again.body["data"]["transcript"] == final.body["data"]["transcript"]
    assert again.body["data"]["mp4"]  # presigned afresh

    # without webhook_url: to the bot's own URL
    before = len([w for w in webhooks.for_bot(bot_id) if w.path == "/operations"])
    assert api.request("POST", f"/bots/retry_webhook?bot_uuid={bot_id}").status == 200
    webhooks.wait_for(bot_id, lambda w: w.path == "/operations" and w.body["event"] == "complete"
                      and w.received_at > again.received_at, timeout=30)
    assert len([w for w in webhooks.for_bot(bot_id) if w.path == "/operations"]) == before + 1


def test_retry_webhook_errors(api, other_api, queued):
    missing = api.request("POST", "/bots/retry_webhook")
    assert missing.status == 400 and missing.body["field"] == "bot_uuid", missing.body
    bad = api.request("POST", "/bots/retry_webhook?bot_uuid=nope")
    assert bad.status == 400 and bad.body["field"] == "bot_uuid", bad.body
    unknown = api.request("POST", f"/bots/retry_webhook?bot_uuid={uuid.uuid4()}")
    assert unknown.status == 404, unknown.body
    theirs = other_api.request("POST", f"/bots/retry_webhook?bot_uuid={queued}")
    assert theirs.status == 404, theirs.body
    not_yet = api.request("POST", f"/bots/retry_webhook?bot_uuid={queued}")
    assert not_yet.status == 409, not_yet.body
    assert not_yet.body["code"] == "NoFinalEvent"
