"""What the dispatcher looks up instead of carrying: a bot's target (scheduler), an account's URL,
API key and signing secret (api-gateway), a `complete`'s transcript (transcriber); and what
happens while one of them does not answer."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from mb_shared.contracts.bot import BotStatus, BotStatusChanged
from mb_shared.contracts.transcription import TranscriptSegment, TranscriptWord
from webhook_dispatcher.ports import Unavailable

from .conftest import SECRET, URL

SEGMENTS = [TranscriptSegment(speaker="Alice", start_time=1.0, end_time=1.5,
                              words=[TranscriptWord(start=1.0, end=1.5, word="Hello")])]


async def test_a_bots_target_is_asked_of_the_scheduler_once(h, sender):
    bot = await h.bot()
    await h.status(bot)
    await h.status(bot, BotStatus.IN_WAITING_ROOM)
    assert h.lookups.asked.count("scheduler") == 1
    assert len(sender.sent) == 2


async def test_while_the_scheduler_is_down_the_event_is_retried_not_dropped(h, sender):
    bot = await h.bot()
    h.lookups.down.add("scheduler")
    event = BotStatusChanged(bot_id=bot, status=BotStatus.JOINING_CALL, occurred_at=h.clock())
    with pytest.raises(Unavailable):
        await h.dispatcher.on_status_change(event)  # the consumer retries it later
    assert h.store.deliveries == [] and sender.sent == []
    h.lookups.down.clear()
    await h.dispatcher.on_status_change(event)
    await h.dispatcher.settle()
    assert h.store.of(event.event_id).state == "delivered"


async def test_the_account_url_key_and_secret_are_looked_up_sealed_and_opened(h, sender):
    h.account(7, url="https://customer.test/account-hook", api_key="mb_account_key")
    bot = await h.bot(url=None, account_id=7)
    webhook_id = await h.status(bot)
    (sent,) = sender.sent
    assert sent.url == "https://customer.test/account-hook"
    assert sent.headers["x-meeting-baas-api-key"] == "mb_account_key"
    assert Webhook(SECRET).verify(sent.body, sent.headers)["data"]["bot_id"] == str(bot)
    assert h.store.of(webhook_id).url == "https://customer.test/account-hook"


async def test_a_rotated_secret_signs_the_next_attempt(h, sender):
    from .test_delivery import _result

    sender.scripts[URL] = [_result(503)]
    bot = await h.bot()
    webhook_id = await h.status(bot)
    rotated = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    h.account(1, secret=rotated)
    await h.until(h.store.of(webhook_id).next_attempt_at)
    first, second = sender.sent
    Webhook(SECRET).verify(first.body, first.headers)
    Webhook(rotated).verify(second.body, second.headers)


async def test_a_complete_reads_its_transcript_once_and_waits_while_the_transcriber_is_down(
        h, sender):
    from .test_delivery import _result

    bot = await h.bot()
    h.lookups.transcripts[bot] = SEGMENTS
    h.lookups.down.add("transcriber")
    webhook_id = await h.complete(bot, has_transcript=True)
    delivery = h.store.of(webhook_id)
    assert sender.sent == [] and h.store.attempts_of(webhook_id) == []
    assert delivery.state == "pending" and delivery.deferrals == 1
    assert "transcriber" in delivery.last_error
    waits = []
    for _ in range(3):
        waits.append((delivery.next_attempt_at - h.clock()).total_seconds())
        await h.until(delivery.next_attempt_at)
    assert waits == sorted(waits) and waits[0] < waits[-1], "the wait grows"
    assert sender.sent == [] and delivery.attempts == 0, "the customer's schedule is untouched"

    h.lookups.down.clear()
    sender.scripts[URL] = [_result(503)]
    await h.until(delivery.next_attempt_at)
    await h.until(h.store.of(webhook_id).next_attempt_at)
    assert [a.number for a in h.store.attempts_of(webhook_id)] == [1, 2]
    bodies = [json.loads(s.body) for s in sender.sent]
    assert all(b["data"]["transcript"][0]["words"][0]["word"] == "Hello" for b in bodies)
    assert h.lookups.asked.count("transcriber") == 5, "read once it answered, then kept"


async def test_a_delivery_waits_while_the_api_gateway_is_down(h, sender):
    bot = await h.bot()
    await h.status(bot)
    h.lookups.down.add("api-gateway")
    webhook_id = await h.status(bot, BotStatus.IN_WAITING_ROOM)
    assert h.store.of(webhook_id).state == "pending" and len(sender.sent) == 1
    h.lookups.down.clear()
    await h.until(h.store.of(webhook_id).next_attempt_at)
    assert h.store.of(webhook_id).state == "delivered" and len(sender.sent) == 2


async def test_statuses_after_the_final_event_are_not_sent_those_before_are(h, sender):
    from .test_delivery import _result

    bot = await h.bot()
    earlier = BotStatusChanged(bot_id=bot, status=BotStatus.CALL_ENDED,
                               occurred_at=h.clock() - timedelta(seconds=5))
    sender.scripts[URL] = [_result(503)]
    final = await h.complete(bot)
    await h.dispatcher.on_status_change(earlier)  # arrives late, happened before the final
    later = BotStatusChanged(bot_id=bot, status=BotStatus.CALL_ENDED,
                             occurred_at=h.clock() + timedelta(seconds=5))
    await h.dispatcher.on_status_change(later)
    await h.until(h.store.of(final).next_attempt_at)
    events = [json.loads(s.body)["event"] for s in sender.sent]
    assert events == ["complete", "bot.status_change", "complete"]
    assert h.store.of(earlier.event_id).state == "delivered"
    assert [d.webhook_id for d in h.store.deliveries if d.bot_id == bot] == [
        final, earlier.event_id]
