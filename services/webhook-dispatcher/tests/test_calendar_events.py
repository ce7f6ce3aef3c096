"""`calendar.sync_events`: to the account's webhook URL, signed, in order per calendar, retried."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from standardwebhooks.webhooks import Webhook

from mb_shared.contracts.calendar import CalendarSynced
from webhook_dispatcher.ports import AttemptResult

from .conftest import SECRET, URL

UNAVAILABLE = AttemptResult(status_code=503, error=None, duration_ms=3, response_excerpt="")


async def synced(h, calendar, events, account_id=1):
    event = CalendarSynced(calendar_uuid=calendar, account_id=account_id,
                           last_updated_ts=h.clock(), affected_event_uuids=events,
                           occurred_at=h.clock())
    await h.dispatcher.on_calendar_synced(event)
    await h.dispatcher.settle()
    return event


async def test_sync_events_go_signed_to_the_account_url(h, sender):
    h.account(1, url=URL)
    calendar, changed = uuid4(), [uuid4(), uuid4()]
    event = await synced(h, calendar, changed)
    (sent,) = sender.sent
    assert sent.url == URL
    assert sent.headers["webhook-id"] == str(event.event_id)
    body = Webhook(SECRET).verify(sent.body, sent.headers)
    assert body == {"event": "calendar.sync_events", "data": {
        "calendar_id": str(calendar),
        "last_updated_ts": event.last_updated_ts.isoformat().replace("+00:00", "Z"),
        "affected_event_uuids": [str(u) for u in changed]}}


async def test_a_redelivered_sync_event_is_sent_once(h, sender):
    h.account(1, url=URL)
    calendar = uuid4()
    event = CalendarSynced(calendar_uuid=calendar, account_id=1, last_updated_ts=h.clock(),
                           affected_event_uuids=[uuid4()])
    for _ in range(2):
        await h.dispatcher.on_calendar_synced(event)
        await h.dispatcher.settle()
    assert len(sender.sent) == 1


async def test_sync_events_are_retried_in_order_per_calendar(h, sender):
    h.account(1, url=URL)
    sender.scripts[URL] = [UNAVAILABLE]
    calendar = uuid4()
    first = await synced(h, calendar, [uuid4()])
    h.clock.advance(1)
    second = await synced(h, calendar, [uuid4()])
    assert [s.headers["webhook-id"] for s in sender.sent] == [str(first.event_id)]
    await h.until(h.clock() + timedelta(seconds=10))
    ids = [s.headers["webhook-id"] for s in sender.sent]
    assert ids == [str(first.event_id), str(first.event_id), str(second.event_id)]


async def test_without_an_account_url_nothing_is_sent(h, sender):
    h.account(1, url=None)
    event = await synced(h, uuid4(), [uuid4()])
    assert sender.sent == []
    assert h.store.of(event.event_id).state == "no_url"
