"""Delivery logic over in-memory fakes: signatures, retries, Retry-After, redirects, 410 Gone."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from mb_shared.contracts.bot import BotStatus
from webhook_dispatcher.adapters.http_sender import parse_retry_after
from webhook_dispatcher.ports import AttemptResult
from webhook_dispatcher.signing import InvalidSecretError, signature, signing_key

SCHEDULE = [0, 5, 300, 1800, 7200, 18000, 36000, 36000]
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef01234567").decode()
URL = "https://customer.test/hook"
OTHER_URL = "https://customer.test/other"


def _result(status=200, **kw):
    return AttemptResult(status_code=status, error=kw.get("error"), duration_ms=3,
                         response_excerpt="", retry_after_s=kw.get("retry_after"),
                         location=kw.get("location"))


TIMEOUT = _result(None, error="TimeoutError: ")


def assert_signed(sent) -> None:
    """The request's signature is the Standard Webhooks one of its own id, timestamp and bytes
    (whatever the wall clock says, unlike `Webhook.verify`, which wants a timestamp within 5 min)."""
    timestamp = datetime.fromtimestamp(int(sent.headers["webhook-timestamp"]), UTC)
    expected = Webhook(SECRET).sign(sent.headers["webhook-id"], timestamp, sent.body.decode())
    assert sent.headers["webhook-signature"] == expected


# --- signing ---------------------------------------------------------------------------------

def test_signature_matches_the_standard_webhooks_reference():
    key = signing_key(SECRET)
    body = b'{"event": "x"}'
    ours = signature(key, "msg_1", 1_700_000_000, body)
    theirs = Webhook(SECRET).sign("msg_1", datetime.fromtimestamp(1_700_000_000, UTC), body.decode())
    assert ours == theirs
    expected = hmac.new(b"0123456789abcdef01234567", b"msg_1.1700000000." + body,
                        hashlib.sha256).digest()
    assert ours == "v1," + base64.b64encode(expected).decode()


def test_secret_decoding():
    raw = b"0123456789abcdef01234567"
    assert signing_key(SECRET) == raw
    assert signing_key(SECRET.removeprefix("whsec_")) == raw
    assert signing_key("whsec_" + base64.b64encode(b"abcd1").decode().rstrip("=")) == b"abcd1"
    for bad in ("whsec_", "whsec_not base64!", ""):
        with pytest.raises(InvalidSecretError):
            signing_key(bad)


async def test_every_delivery_is_signed_and_keeps_the_api_key(h, sender):
    bot = await h.bot()
    webhook_id = await h.status(bot)
    (sent,) = sender.sent
    assert sent.headers["x-meeting-baas-api-key"] == "mb_key"
    assert sent.headers["webhook-id"] == str(webhook_id)
    assert sent.headers["webhook-timestamp"] == str(int(h.clock.now.timestamp()))
    body = Webhook(SECRET).verify(sent.body, sent.headers)
    assert body["event"] == "bot.status_change" and body["data"]["bot_id"] == str(bot)
    assert h.store.of(webhook_id).state == "delivered"


async def test_a_tampered_body_or_other_secret_does_not_verify(h, sender):
    await h.status(await h.bot())
    (sent,) = sender.sent
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(sent.body.replace(b"joining_call", b"call_ended"), sent.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + base64.b64encode(b"another-secret").decode()).verify(sent.body,
                                                                                sent.headers)


async def test_without_a_secret_only_the_webhook_id_is_sent(h, sender):
    webhook_id = await h.status(await h.bot(secret=None))
    (sent,) = sender.sent
    assert sent.headers["webhook-id"] == str(webhook_id)
    assert "webhook-signature" not in sent.headers and "webhook-timestamp" not in sent.headers
    assert sent.headers["x-meeting-baas-api-key"] == "mb_key"


async def test_an_invalid_secret_sends_unsigned_rather_than_not_at_all(h, sender):
    await h.status(await h.bot(secret="whsec_%%%"))
    (sent,) = sender.sent
    assert "webhook-signature" not in sent.headers


async def test_same_webhook_id_every_attempt_with_a_fresh_timestamp_and_signature(h, sender):
    sender.scripts[URL] = [_result(503), TIMEOUT, _result(500)]
    bot = await h.bot()
    webhook_id = await h.status(bot)
    for _ in range(3):
        await h.until(h.store.of(webhook_id).next_attempt_at)
    assert len(sender.sent) == 4 and h.store.of(webhook_id).state == "delivered"
    assert {s.headers["webhook-id"] for s in sender.sent} == {str(webhook_id)}
    timestamps = [int(s.headers["webhook-timestamp"]) for s in sender.sent]
    assert timestamps == sorted(timestamps) and len(set(timestamps)) == 4
    for s in sender.sent:
        assert_signed(s)
    assert [a.number for a in h.store.attempts_of(webhook_id)] == [1, 2, 3, 4]


async def test_a_retried_complete_carries_fresh_urls_and_signs_those_bytes(h, sender):
    sender.scripts[URL] = [_result(502)]
    bot = await h.bot()
    webhook_id = await h.complete(bot)
    await h.until(h.store.of(webhook_id).next_attempt_at)
    first, second = sender.sent
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == str(webhook_id)
    urls = [(json.loads(s.body)["data"]["mp4"], json.loads(s.body)["data"]["audio"])
            for s in (first, second)]
    assert urls == [("https://store.test/rec/video.mp4?signature=1",
                     "https://store.test/rec/audio.wav?signature=2"),
                    ("https://store.test/rec/video.mp4?signature=3",
                     "https://store.test/rec/audio.wav?signature=4")]
    for s in (first, second):
        assert Webhook(SECRET).verify(s.body, s.headers)["event"] == "complete"
    assert first.headers["webhook-signature"] != second.headers["webhook-signature"]
    # a signature is bound to its own bytes: the first one does not cover the re-signed body
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(second.body, {**second.headers,
                                             "webhook-signature": first.headers["webhook-signature"],
                                             "webhook-timestamp": first.headers["webhook-timestamp"]})


# --- retries ---------------------------------------------------------------------------------

async def test_5xx_and_timeouts_follow_the_schedule_with_jitter(h, sender):
    failures = [_result(500), TIMEOUT, _result(503), _result(None, error="ClientConnectorError"),
                _result(504), TIMEOUT, _result(502), _result(500)]
    sender.scripts[URL] = list(failures)
    bot = await h.bot()
    webhook_id = await h.status(bot)
    factors = []
    for number in range(1, len(SCHEDULE)):
        delivery = h.store.of(webhook_id)
        assert delivery.state == "pending" and delivery.attempts == number
        delay = (delivery.next_attempt_at - h.clock.now).total_seconds()
        expected = SCHEDULE[number]
        assert expected * 0.8 <= delay <= expected * 1.2, (number, delay)
        factors.append(delay / expected)
        # not due yet: nothing is sent
        h.clock.now = delivery.next_attempt_at - timedelta(seconds=0.5)
        await h.dispatcher.deliver_due()
        assert len(sender.sent) == number
        await h.until(delivery.next_attempt_at)
    assert len(set(round(f, 6) for f in factors)) > 1, "jitter must vary"
    delivery = h.store.of(webhook_id)
    assert delivery.state == "failed" and delivery.next_attempt_at is None
    attempts = h.store.attempts_of(webhook_id)
    assert len(attempts) == len(SCHEDULE) == len(sender.sent)
    assert "retries exhausted" in attempts[-1].error
    assert attempts[1].status_code is None and attempts[1].error.startswith("TimeoutError")


@pytest.mark.parametrize("status", [408, 429])
async def test_408_and_429_are_retried(h, sender, status):
    sender.scripts[URL] = [_result(status)]
    webhook_id = await h.status(await h.bot())
    assert h.store.of(webhook_id).state == "pending"
    await h.until(h.store.of(webhook_id).next_attempt_at)
    assert h.store.of(webhook_id).state == "delivered"


@pytest.mark.parametrize("status", [400, 401, 404, 422])
async def test_other_4xx_fail_at_once(h, sender, status):
    sender.scripts[URL] = [_result(status)]
    webhook_id = await h.status(await h.bot())
    delivery = h.store.of(webhook_id)
    assert delivery.state == "failed" and delivery.next_attempt_at is None
    (attempt,) = h.store.attempts_of(webhook_id)
    assert attempt.status_code == status and "not retried" in attempt.error


async def test_429_retry_after_delays_the_next_attempt(h, sender):
    sender.scripts[URL] = [_result(429, retry_after=120)]
    webhook_id = await h.status(await h.bot())
    sent_at = h.clock.now
    assert h.store.of(webhook_id).next_attempt_at == sent_at + timedelta(seconds=120)
    h.clock.advance(60)  # past the schedule's 5 s (±20 %), before Retry-After
    await h.dispatcher.deliver_due()
    assert len(sender.sent) == 1
    await h.until(sent_at + timedelta(seconds=120))
    assert len(sender.sent) == 2 and h.store.of(webhook_id).state == "delivered"


async def test_retry_after_is_capped_at_one_hour(h, sender):
    sender.scripts[URL] = [_result(429, retry_after=86400)]
    webhook_id = await h.status(await h.bot())
    assert h.store.of(webhook_id).next_attempt_at == h.clock.now + timedelta(hours=1)


async def test_retry_after_never_shortens_the_schedule(h, sender):
    sender.scripts[URL] = [_result(503), _result(503, retry_after=1)]
    webhook_id = await h.status(await h.bot())
    await h.until(h.store.of(webhook_id).next_attempt_at)
    delay = (h.store.of(webhook_id).next_attempt_at - h.clock.now).total_seconds()
    assert 300 * 0.8 <= delay <= 300 * 1.2


async def test_retry_after_does_not_lengthen_beyond_the_schedule_when_it_is_longer(harness, sender):
    h = harness(sender, schedule=[0, 7200])
    sender.scripts[URL] = [_result(429, retry_after=600)]
    webhook_id = await h.status(await h.bot())
    delay = (h.store.of(webhook_id).next_attempt_at - h.clock.now).total_seconds()
    assert 7200 * 0.8 <= delay <= 7200 * 1.2


def test_retry_after_parsing():
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after(" 0 ", now) == 0
    assert parse_retry_after("Wed, 01 Jan 2025 12:02:30 GMT", now) == 150
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now) == 0
    for junk in (None, "", "soon", "-5", "nan", "inf"):
        assert parse_retry_after(junk, now) is None


# --- redirects and 410 Gone ------------------------------------------------------------------

async def test_a_redirect_is_a_permanent_failure_of_that_delivery(h, sender):
    sender.scripts[URL] = [_result(302, location="https://elsewhere.test/hook")]
    bot = await h.bot()
    first = await h.status(bot)
    (attempt,) = h.store.attempts_of(first)
    assert h.store.of(first).state == "failed" and h.store.of(first).next_attempt_at is None
    assert attempt.status_code == 302
    assert "not followed" in attempt.error and "https://elsewhere.test/hook" in attempt.error
    assert "not retried" in attempt.error
    # only that delivery: the bot's next event still goes to the same URL
    second = await h.status(bot, status=BotStatus.IN_CALL_RECORDING)
    assert h.store.of(second).state == "delivered"
    assert [s.url for s in sender.sent] == [URL, URL]


async def test_410_stops_this_and_later_deliveries_for_that_account_and_url(h, sender):
    bot_a = await h.bot(account_id=1)
    bot_b = await h.bot(account_id=1)          # same account, same URL
    bot_other_account = await h.bot(account_id=2)
    bot_other_url = await h.bot(account_id=1, url=OTHER_URL)

    # bot B has a delivery waiting for its retry when the endpoint goes away
    sender.scripts[URL] = [_result(503)]
    waiting = await h.status(bot_b)
    assert h.store.of(waiting).state == "pending"

    sender.scripts[URL] = [_result(410)]
    gone = await h.status(bot_a)
    assert h.store.of(gone).state == "failed"
    (attempt,) = h.store.attempts_of(gone)
    assert attempt.status_code == 410 and "410 Gone" in attempt.error
    assert h.store.of(waiting).state == "endpoint_gone"

    # later events of the same bot, of another bot and of a new bot: recorded, never sent
    later = [await h.status(bot_a, BotStatus.IN_CALL_RECORDING), await h.failed(bot_b)]
    bot_new = await h.bot(account_id=1)
    later.append(await h.complete(bot_new))
    h.clock.advance(86400)
    await h.dispatcher.deliver_due()
    assert h.store.of(waiting).state == "endpoint_gone"
    for webhook_id in later:
        assert h.store.of(webhook_id).state == "endpoint_gone"
        assert h.store.attempts_of(webhook_id) == []
    assert len(sender.to(URL)) == 2  # B's 503 and A's 410, nothing after

    # another account on the same URL, and the same account on another URL, are unaffected
    assert h.store.of(await h.status(bot_other_account)).state == "delivered"
    assert h.store.of(await h.status(bot_other_url)).state == "delivered"
    assert len(sender.to(URL)) == 3 and len(sender.to(OTHER_URL)) == 1


async def test_a_delivery_with_no_url_is_kept_unsent(h, sender):
    webhook_id = await h.status(await h.bot(url=None))
    assert h.store.of(webhook_id).state == "no_url" and sender.sent == []


async def test_deliveries_of_a_bot_stay_in_order(h, sender):
    sender.scripts[URL] = [_result(500)]
    bot = await h.bot()
    first = await h.status(bot)
    second = await h.status(bot, BotStatus.IN_WAITING_ROOM)
    assert len(sender.sent) == 1 and h.store.of(second).state == "pending"
    await h.until(h.store.of(first).next_attempt_at)
    events = [json.loads(s.body)["data"]["status"]["code"] for s in sender.sent]
    assert events == ["joining_call", "joining_call", "in_waiting_room"]
