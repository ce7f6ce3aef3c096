"""`webhooks.retry` (send the final event again) and `transcription_complete` for reruns."""

from __future__ import annotations

import base64
import json
from uuid import uuid4

import pytest
from standardwebhooks.webhooks import Webhook

from mb_shared.contracts.bot import BotStatus
from mb_shared.contracts.queries import OkReply, QueryError, RetryWebhook
from mb_shared.contracts.transcription import TranscriptionDone, TranscriptSegment, TranscriptWord
from webhook_dispatcher.ports import AttemptResult, Unavailable

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef01234567").decode()  # as in conftest
URL = "https://customer.test/hook"
OTHER_URL = "https://customer.test/again"


def _result(status: int | None, error: str | None = None) -> AttemptResult:
    return AttemptResult(status_code=status, error=error, duration_ms=3, response_excerpt="")


async def retry(h, bot_id, account_id=1, webhook_url=None):
    reply = await h.dispatcher.retry(
        RetryWebhook(account_id=account_id, bot_id=bot_id, webhook_url=webhook_url))
    await h.dispatcher.settle()
    return reply


# --- retry: which delivery, where, how ---------------------------------------------------------

async def test_the_final_event_goes_again_as_the_same_signed_delivery_to_the_given_url(h, sender):
    bot = await h.bot()
    await h.status(bot)
    webhook_id = await h.complete(bot)
    (first,) = [s for s in sender.to(URL) if json.loads(s.body)["event"] == "complete"]
    h.clock.advance(60)

    assert isinstance(await retry(h, bot, webhook_url=OTHER_URL), OkReply)

    (again,) = sender.to(OTHER_URL)
    assert again.headers["webhook-id"] == first.headers["webhook-id"] == str(webhook_id)
    assert Webhook(SECRET).verify(again.body, again.headers)["event"] == "complete"
    assert again.headers["webhook-timestamp"] != first.headers["webhook-timestamp"]
    # the same body, with its download URLs presigned afresh
    body, before = json.loads(again.body), json.loads(first.body)
    assert body["data"]["mp4"] != before["data"]["mp4"]
    assert {**body["data"], "mp4": "", "audio": ""} == {**before["data"], "mp4": "", "audio": ""}
    delivery = h.store.of(webhook_id)
    assert (delivery.state, delivery.url, delivery.attempts) == ("delivered", OTHER_URL, 1)
    # a new run numbers its attempts from 1; the first run's row is kept
    assert [a.number for a in h.store.attempts_of(webhook_id)] == [1, 1]
    assert len([d for d in h.store.deliveries if d.bot_id == bot]) == 2  # nothing new enqueued


async def test_without_a_url_it_goes_to_the_bots_url(h, sender):
    bot = await h.bot()
    webhook_id = await h.failed(bot)
    assert isinstance(await retry(h, bot), OkReply)
    sent = sender.to(URL)
    assert [s.headers["webhook-id"] for s in sent] == [str(webhook_id)] * 2
    assert all(json.loads(s.body)["event"] == "failed" for s in sent)


async def test_a_delivery_that_ran_out_of_retries_gets_a_whole_new_run(harness, sender):
    h = harness(sender, schedule=[0, 5, 300], jitter=0.0)
    sender.scripts[URL] = [_result(503)] * 3 + [_result(500), _result(200)]
    bot = await h.bot()
    webhook_id = await h.complete(bot)
    await h.until(h.store.of(webhook_id).next_attempt_at)
    await h.until(h.store.of(webhook_id).next_attempt_at)
    assert h.store.of(webhook_id).state == "failed"

    assert isinstance(await retry(h, bot), OkReply)
    delivery = h.store.of(webhook_id)
    assert (delivery.state, delivery.attempts) == ("pending", 1)  # 500: retried on the schedule
    assert (delivery.next_attempt_at - h.clock.now).total_seconds() == 5
    await h.until(delivery.next_attempt_at)
    assert (delivery.state, delivery.attempts) == ("delivered", 2)
    assert [a.number for a in h.store.attempts_of(webhook_id)] == [1, 2, 3, 1, 2]


async def test_the_latest_final_event_is_chosen_not_a_transcription_complete(h, sender):
    bot = await h.bot()
    webhook_id = await h.complete(bot)
    await h.dispatcher.on_transcription_done(TranscriptionDone(
        bot_id=bot, transcript_id=2, provider="Default", speakers=["Alice"], word_count=0,
        rerun=True))
    assert isinstance(await retry(h, bot, webhook_url=OTHER_URL), OkReply)
    (again,) = sender.to(OTHER_URL)
    assert again.headers["webhook-id"] == str(webhook_id)


async def test_a_bot_with_no_url_is_sent_to_the_given_one_and_refused_without(h, sender):
    bot = await h.bot(url=None)
    webhook_id = await h.complete(bot)
    assert h.store.of(webhook_id).state == "no_url"
    refused = await retry(h, bot)
    assert isinstance(refused, QueryError)
    assert (refused.status, refused.code, refused.field) == (409, "NoWebhookUrl", "webhook_url")
    assert isinstance(await retry(h, bot, webhook_url=OTHER_URL), OkReply)
    assert h.store.of(webhook_id).state == "delivered"
    assert len(sender.to(OTHER_URL)) == 1


async def test_unknown_or_another_accounts_bot_is_404(h, sender):
    bot = await h.bot(account_id=1)
    await h.complete(bot)
    for bot_id, account_id in ((uuid4(), 1), (bot, 2)):
        reply = await retry(h, bot_id, account_id=account_id)
        assert isinstance(reply, QueryError)
        assert (reply.status, reply.code, reply.field) == (404, "BotNotFound", "bot_uuid")
    assert len(sender.sent) == 1


async def test_no_final_event_yet_is_409(h, sender):
    bot = await h.bot()
    await h.status(bot, BotStatus.JOINING_CALL)
    reply = await retry(h, bot)
    assert isinstance(reply, QueryError)
    assert (reply.status, reply.code) == (409, "NoFinalEvent")
    assert len(sender.sent) == 1


async def test_a_gone_url_is_refused(h, sender):
    sender.scripts[URL] = [_result(410)]
    bot = await h.bot()
    await h.complete(bot)
    reply = await retry(h, bot)
    assert isinstance(reply, QueryError) and (reply.status, reply.code) == (409, "EndpointGone")
    assert isinstance(await retry(h, bot, webhook_url=OTHER_URL), OkReply)
    assert len(sender.to(URL)) == 1 and len(sender.to(OTHER_URL)) == 1


async def test_a_retried_final_event_waits_behind_the_bots_earlier_pending_ones(h, sender):
    bot = await h.bot()
    webhook_id = await h.complete(bot)
    sender.scripts[URL] = [_result(503)]
    # a rerun's webhook is pending a retry when the final event is asked for again
    h.clock.advance(1)
    await h.rerun(TranscriptionDone(
        bot_id=bot, transcript_id=2, provider="Default", speakers=[], word_count=0, rerun=True,
        occurred_at=h.clock()))
    assert isinstance(await retry(h, bot), OkReply)
    # the final event happened first: it goes first, the rerun's follows on its schedule
    assert h.store.of(webhook_id).state == "delivered"
    events = [json.loads(s.body)["event"] for s in sender.to(URL)]
    assert events == ["complete", "transcription_complete", "complete"]


# --- transcription_complete ------------------------------------------------------------------

SEGMENTS = [
    TranscriptSegment(id=7, speaker="Alice", start_time=1.0, end_time=2.0,
                      words=[TranscriptWord(id=70, start=1.0, end=1.5, word="Hello"),
                             TranscriptWord(id=71, start=1.5, end=2.0, word="there.")]),
]


def rerun(bot, **kw) -> TranscriptionDone:
    return TranscriptionDone(bot_id=bot, transcript_id=2, provider="Default",
                             speakers=kw.pop("speakers", []), word_count=2, rerun=True, **kw)


async def test_a_rerun_is_delivered_signed_to_its_url_with_the_transcript(h, sender):
    bot = await h.bot()
    h.lookups.transcripts[bot] = SEGMENTS
    await h.complete(bot)
    event = rerun(bot, webhook_url=OTHER_URL)
    await h.rerun(event)
    await h.rerun(event)  # redelivered: enqueued once
    (sent,) = sender.to(OTHER_URL)
    assert sent.headers["webhook-id"] == str(event.event_id)
    body = Webhook(SECRET).verify(sent.body, sent.headers)
    assert body == {
        "event": "transcription_complete",
        "data": {
            "bot_id": str(bot),
            "transcript": [{"speaker": "Alice", "offset": 1.0, "start_time": 1.0, "end_time": 2.0,
                            "words": [{"start": 1.0, "end": 1.5, "word": "Hello"},
                                      {"start": 1.5, "end": 2.0, "word": "there."}]}],
            "speakers": ["Alice"],
            "extra": None,
            "error": None,
        },
    }
    assert len(sender.to(URL)) == 1  # only the complete


async def test_a_rerun_without_a_url_goes_to_the_bots_and_a_failure_says_why(h, sender):
    bot = await h.bot()
    event = rerun(bot, error="the Gladia provider is not available on this platform yet")
    await h.rerun(event)
    (sent,) = sender.to(URL)
    data = json.loads(sent.body)["data"]
    assert data["transcript"] == [] and data["error"].startswith("the Gladia provider")


async def test_first_transcriptions_are_not_delivered_and_unknown_bots_are_retried(h, sender):
    bot = await h.bot()
    await h.rerun(TranscriptionDone(
        bot_id=bot, transcript_id=1, provider="Default", speakers=[], word_count=0))
    with pytest.raises(Unavailable, match="knows no bot"):
        await h.rerun(rerun(uuid4()))
    assert sender.sent == [] and h.store.deliveries == []
