"""Connecting a Microsoft calendar and keeping its events in sync, against the Graph emulator:
`calendarView/delta` pages and delta links, removals, the 410 that starts over, subscriptions with
their validation handshake, renewal and lifecycle notifications."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from mb_shared.contracts.calendar import (
    CalendarProvider,
    CreateCalendar,
    GetCalendar,
    ListCalendarEvents,
)
from mb_shared.contracts.queries import QueryError

from .conftest import credentials, synced_events

MICROSOFT = CalendarProvider.MICROSOFT
TEAMS = ("https://teams.microsoft.com/l/meetup-join/19%3ameeting_NjE2ZmU0%40thread.v2/0"
         "?context=%7b%22Tid%22%3a%2272f988bf-86f1%22%2c%22Oid%22%3a%22a1b2%22%7d")
NOW: list[datetime] = []


@pytest.fixture(autouse=True)
def _now() -> None:
    NOW[:] = [datetime.now(UTC).replace(microsecond=0)]


def soon(minutes: float) -> datetime:
    return NOW[0] + timedelta(minutes=minutes)


@pytest.fixture
def amy(world, microsoft):
    client = world.create_client()
    world.create_user("amy@contoso.test", "Amy Lee")
    return client, microsoft.emulator.issue_refresh_token(client.client_id, "amy@contoso.test")


async def connect(service, amy):
    client, token = amy
    view = await service.create(CreateCalendar(account_id=1,
                                               credentials=credentials(MICROSOFT, client, token)))
    assert not isinstance(view, QueryError), view
    return view


async def events_of(service, view):
    listed = await service.list_events(ListCalendarEvents(account_id=1, calendar_uuid=view.uuid,
                                                          status="all"))
    return listed.events


async def test_a_calendar_is_listed_page_by_page_with_its_links(service, sessions, world, amy,
                                                               microsoft, monkeypatch):
    monkeypatch.setattr("calendar_sync.providers.microsoft.PAGE_SIZE", 3)
    world.create_event("amy@contoso.test", "Teams call", soon(60), soon(90), meeting_url=TEAMS,
                       link_in="conference", attendees=["bob@contoso.test"])
    world.create_event("amy@contoso.test", "In the body", soon(100), soon(130),
                       meeting_url="https://zoom.us/j/98765432101?pwd=xyz", link_in="description")
    series = world.create_event("amy@contoso.test", "Standup", soon(200), soon(215),
                                rrule="FREQ=DAILY;COUNT=6", meeting_url=TEAMS)
    view = await connect(service, amy)
    assert view.email == "amy@contoso.test"
    events = await events_of(service, view)
    names = [e.name for e in events]
    assert names[:2] == ["Teams call", "In the body"] and names.count("Standup") == 6
    assert events[0].meeting_url == TEAMS
    assert [a.email for a in events[0].attendees] == ["bob@contoso.test"]
    assert events[1].meeting_url == "https://zoom.us/j/98765432101?pwd=xyz"
    standups = [e for e in events if e.name == "Standup"]
    assert all(e.is_recurring and e.recurring_event_id for e in standups)
    assert len({e.recurring_event_id for e in standups}) == 1 and series
    delta_pages = [r for r in microsoft.emulator.requests.all() if "delta" in r.path]
    assert len(delta_pages) == 3  # eight events, three a page
    (synced,) = await synced_events(sessions)
    assert len(synced["affected_event_uuids"]) == 8


async def test_changes_come_from_the_delta_link(service, world, amy, microsoft):
    moved = world.create_event("amy@contoso.test", "Moves", soon(60), soon(90))
    gone = world.create_event("amy@contoso.test", "Goes", soon(100), soon(130))
    view = await connect(service, amy)
    world.move_event(moved, soon(300), soon(330))
    world.delete_event(gone)
    changed = await service.sync(view.uuid)
    events = {e.name: e for e in await events_of(service, view)}
    assert events["Moves"].start_time == soon(300)
    assert events["Goes"].deleted
    assert set(changed) == {events["Moves"].uuid, events["Goes"].uuid}

    microsoft.emulator.invalidate_delta_tokens()
    world.create_event("amy@contoso.test", "After the 410", soon(400), soon(430))
    changed = await service.sync(view.uuid)
    events = {e.name: e for e in await events_of(service, view)}
    assert changed == [events["After the 410"].uuid]


async def test_a_subscription_notifies_and_is_renewed_and_recreated(push_relay, world, amy,
                                                                   microsoft):
    relay, service = push_relay
    view = await connect(service, amy)
    (subscription,) = microsoft.emulator.subscriptions.values()
    assert subscription.notification_url == f"{relay.url}/calendar_push/microsoft"
    world.create_event("amy@contoso.test", "Notified", soon(60), soon(90))
    for _ in range(100):
        if await service.sync_due():
            break
        await asyncio.sleep(0.05)
    assert [e.name for e in await events_of(service, view)] == ["Notified"]
    assert 202 in relay.answered

    first_expiry = subscription.expiration
    await asyncio.wrap_future(microsoft.emulator.send_lifecycle(subscription.id,
                                                                "reauthorizationRequired"))
    await service.tend_channels()
    (renewed,) = microsoft.emulator.subscriptions.values()
    assert renewed.id == subscription.id and renewed.expiration >= first_expiry

    await asyncio.wrap_future(microsoft.emulator.send_lifecycle(subscription.id,
                                                                "subscriptionRemoved"))
    await service.tend_channels()
    (replacement,) = microsoft.emulator.subscriptions.values()
    assert replacement.id != subscription.id


async def test_a_refused_refresh_token_marks_the_calendar(service, world, amy):
    view = await connect(service, amy)
    world.revoke_grant(amy[0].client_id, "amy@contoso.test")
    with pytest.raises(Exception, match="refresh token"):
        await service.sync(view.uuid)
    marked = await service.get(GetCalendar(account_id=1, calendar_uuid=view.uuid))
    assert marked.status == "refresh_failed"
