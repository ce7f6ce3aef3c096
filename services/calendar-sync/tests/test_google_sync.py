"""Connecting a Google calendar and keeping its events in sync, against the Google emulator."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from calendar_sync.event_bots import EventBots
from calendar_sync.models import Calendar
from mb_shared.contracts.bot import BotParams
from mb_shared.contracts.calendar import (
    CalendarProvider,
    CreateCalendar,
    GetCalendar,
    GetCalendarEvent,
    ListCalendarEvents,
    ListCalendars,
    ListRawCalendars,
    ResyncCalendars,
    ScheduleEventBot,
    UnscheduleEventBot,
    UpdateCalendar,
)
from mb_shared.contracts.queries import QueryError

from .conftest import credentials, synced_events

GOOGLE = CalendarProvider.GOOGLE
MEET = "https://meet.google.com/abc-defg-hij"


NOW: list[datetime] = []


@pytest.fixture(autouse=True)
def _now() -> None:
    """One "now" per test, so that times written twice are equal."""
    NOW[:] = [datetime.now(UTC).replace(microsecond=0)]


def soon(minutes: float) -> datetime:
    return NOW[0] + timedelta(minutes=minutes)


@pytest.fixture
def jane(world, google):
    client = world.create_client()
    world.create_user("jane@acme.test", "Jane Doe")
    token = google.emulator.issue_refresh_token(client.client_id, "jane@acme.test")
    return client, token


async def connect(service, jane, account_id=1):
    client, token = jane
    view = await service.create(CreateCalendar(account_id=account_id,
                                               credentials=credentials(GOOGLE, client, token)))
    assert not isinstance(view, QueryError), view
    return view


async def events_of(service, calendar: UUID, account_id=1, **filters):
    listed = await service.list_events(ListCalendarEvents(account_id=account_id,
                                                          calendar_uuid=calendar, status="all",
                                                          **filters))
    assert not isinstance(listed, QueryError), listed
    return listed.events


async def test_raw_calendars_lists_the_primary_without_storing_anything(service, world, jane):
    client, token = jane
    world.create_calendar("jane@acme.test", "Team")
    raw = await service.raw_calendars(ListRawCalendars(
        account_id=1, credentials=credentials(GOOGLE, client, token)))
    assert {(c.id, c.is_primary) for c in raw.calendars} >= {("jane@acme.test", True)}
    assert len(raw.calendars) == 2
    assert (await service.list(ListCalendars(account_id=1))).calendars == []


@pytest.mark.parametrize(("which", "field"), [("refresh", "oauth_refresh_token"),
                                              ("secret", "oauth_client_secret"),
                                              ("client", "oauth_client_id")])
async def test_refused_credentials_name_the_field_and_store_nothing(service, world, jane, which,
                                                                     field):
    client, token = jane
    creds = credentials(GOOGLE, client, token)
    if which == "refresh":
        creds = credentials(GOOGLE, client, "1//0-not-a-token")
    elif which == "secret":
        creds = credentials(GOOGLE, client, token, secret="wrong-secret")
    else:
        creds = creds.model_copy(update={"client_id": "nobody.apps.test"})
    refused = await service.create(CreateCalendar(account_id=1, credentials=creds))
    assert isinstance(refused, QueryError)
    assert (refused.status, refused.field) == (400, field), refused
    assert (await service.list(ListCalendars(account_id=1))).calendars == []


async def test_connecting_syncs_the_window_with_links_attendees_and_series(service, sessions,
                                                                          world, jane):
    world.create_event("jane@acme.test", "Planning", soon(60), soon(90), meeting_url=MEET,
                       link_in="conference", attendees=["bob@acme.test", "amy@acme.test"])
    world.create_event("jane@acme.test", "Zoom call", soon(120), soon(150),
                       description="Join: https://zoom.us/j/12345678901?pwd=s3cr3t now",
                       meeting_url=None)
    world.create_event("jane@acme.test", "Lunch", soon(200), soon(260))
    series = world.create_event("jane@acme.test", "Weekly", soon(300), soon(330),
                                meeting_url=MEET, rrule="FREQ=WEEKLY;COUNT=10")
    world.create_event("jane@acme.test", "Far away", soon(60 * 24 * 40), soon(60 * 24 * 40 + 30))

    view = await connect(service, jane)
    assert (view.platform, view.provider_calendar_id, view.status) == (GOOGLE, "jane@acme.test",
                                                                        "active")
    events = await events_of(service, view.uuid)
    by_name: dict[str, list] = {}
    for event in events:
        by_name.setdefault(event.name, []).append(event)
    assert "Far away" not in by_name  # beyond the 30-day window
    (planning,) = by_name["Planning"]
    assert planning.meeting_url == MEET
    assert {a.email for a in planning.attendees} == {"bob@acme.test", "amy@acme.test"}
    assert planning.is_organizer and planning.organizer_email == "jane@acme.test"
    assert by_name["Zoom call"][0].meeting_url == "https://zoom.us/j/12345678901?pwd=s3cr3t"
    assert by_name["Lunch"][0].meeting_url == ""
    weekly = by_name["Weekly"]
    assert 4 <= len(weekly) <= 5  # the instances within 30 days
    assert all(e.is_recurring and e.recurring_event_id == series for e in weekly)
    assert [e.start_time for e in events] == sorted(e.start_time for e in events)
    (synced,) = await synced_events(sessions)
    assert synced["calendar_uuid"] == str(view.uuid)
    assert set(synced["affected_event_uuids"]) == {str(e.uuid) for e in events}


async def test_changes_are_synced_incrementally(service, sessions, world, jane, google):
    lone = world.create_event("jane@acme.test", "Review", soon(60), soon(90), meeting_url=MEET)
    doomed = world.create_event("jane@acme.test", "Doomed", soon(100), soon(130))
    series = world.create_event("jane@acme.test", "Daily", soon(180), soon(190),
                                rrule="FREQ=DAILY;COUNT=5")
    view = await connect(service, jane)
    before = {e.name + e.start_time.isoformat(): e for e in await events_of(service, view.uuid)}
    requests_before = len(google.emulator.requests)

    world.move_event(lone, soon(240), soon(270))
    world.delete_event(doomed)
    first_daily = min(e.start_time for e in before.values() if e.name == "Daily")
    world.cancel_instance(series, first_daily)
    changed = await service.sync(view.uuid)

    after = await events_of(service, view.uuid)
    review = next(e for e in after if e.name == "Review")
    assert review.start_time == soon(240) and review.uuid == next(
        e.uuid for e in before.values() if e.name == "Review")
    assert next(e for e in after if e.name == "Doomed").deleted
    cancelled = next(e for e in after if e.name == "Daily" and e.start_time == first_daily)
    assert cancelled.deleted
    assert set(changed) == {review.uuid, cancelled.uuid,
                            next(e for e in after if e.name == "Doomed").uuid}
    assert all(not e.deleted for e in after if e.name == "Daily" and e.start_time != first_daily)
    sent = google.emulator.requests.all()[requests_before:]
    assert any("syncToken" in r.query for r in sent if r.path.endswith("/events"))
    assert len(await synced_events(sessions)) == 2
    assert await service.sync(view.uuid) == []  # nothing new: no event, no webhook
    assert len(await synced_events(sessions)) == 2


async def test_a_lost_sync_token_means_listing_again_and_nothing_spurious(service, sessions,
                                                                         world, jane, google):
    world.create_event("jane@acme.test", "Stays", soon(60), soon(90))
    view = await connect(service, jane)
    google.emulator.expire_sync_tokens()
    world.create_event("jane@acme.test", "New", soon(120), soon(150))
    changed = await service.sync(view.uuid)
    (new,) = [e for e in await events_of(service, view.uuid) if e.name == "New"]
    assert changed == [new.uuid]


async def test_a_revoked_token_marks_the_calendar_and_keeps_its_events(service, world, jane):
    world.create_event("jane@acme.test", "Kept", soon(60), soon(90))
    view = await connect(service, jane)
    client, token = jane
    world.revoke_refresh_token(token)
    world.create_event("jane@acme.test", "Unseen", soon(120), soon(150))
    with pytest.raises(Exception, match="refresh token"):
        await service.sync(view.uuid)
    marked = await service.get(GetCalendar(account_id=1, calendar_uuid=view.uuid))
    assert marked.status == "refresh_failed" and "refresh token" in marked.status_message
    assert [e.name for e in await events_of(service, view.uuid)] == ["Kept"]
    assert await service.sync_due() == 0  # no more attempts

    fresh = world.issue_refresh_token(client.client_id, "jane@acme.test")
    updated = await service.update(UpdateCalendar(account_id=1, calendar_uuid=view.uuid,
                                                  credentials=credentials(GOOGLE, client, fresh)))
    assert updated.status == "active"
    assert {e.name for e in await events_of(service, view.uuid)} == {"Kept", "Unseen"}


async def test_a_provider_that_is_down_is_retried_with_backoff(service, sessions, world, jane,
                                                               google):
    view = await connect(service, jane)
    google.emulator.down = True
    world.create_event("jane@acme.test", "During the outage", soon(60), soon(90))
    with pytest.raises(Exception, match="503"):
        await service.sync(view.uuid)
    async with sessions() as session:
        calendar = await session.get(Calendar, view.uuid)
    assert calendar.sync_failures == 1 and "503" in calendar.last_sync_error
    assert calendar.next_sync_at > datetime.now(UTC)
    google.emulator.down = False
    changed = await service.sync(view.uuid)
    assert len(changed) == 1
    assert [e.name for e in await events_of(service, view.uuid)] == ["During the outage"]


async def test_another_accounts_calendar_and_event_are_not_found(service, world, jane):
    world.create_event("jane@acme.test", "Private", soon(60), soon(90))
    view = await connect(service, jane, account_id=1)
    (event,) = await events_of(service, view.uuid)
    assert (await service.get(GetCalendar(account_id=2, calendar_uuid=view.uuid))).status == 404
    assert (await service.get_event(GetCalendarEvent(account_id=2,
                                                     event_uuid=event.uuid))).status == 404
    listed = await service.list_events(ListCalendarEvents(account_id=2, calendar_uuid=view.uuid))
    assert isinstance(listed, QueryError) and listed.status == 404
    assert (await service.get_event(GetCalendarEvent(account_id=1,
                                                     event_uuid=uuid4()))).status == 404


async def test_the_same_calendar_twice_is_a_conflict(service, jane):
    view = await connect(service, jane)
    client, token = jane
    again = await service.create(CreateCalendar(account_id=1,
                                                credentials=credentials(GOOGLE, client, token)))
    assert isinstance(again, QueryError) and again.status == 409 and str(view.uuid) in again.message


async def test_listing_filters_and_pages(service, world, jane):
    for n in range(7):
        world.create_event("jane@acme.test", f"E{n}", soon(60 + n * 10), soon(65 + n * 10),
                           attendees=["bob@acme.test"] if n % 2 else [],
                           organizer="boss@acme.test" if n == 3 else None)
    view = await connect(service, jane)
    all_events = await events_of(service, view.uuid)
    assert [e.name for e in all_events] == [f"E{n}" for n in range(7)]
    assert [e.name for e in await events_of(service, view.uuid,
                                            attendee_email="BOB@acme.test")] == ["E1", "E3", "E5"]
    assert [e.name for e in await events_of(service, view.uuid,
                                            organizer_email="boss@acme.test")] == ["E3"]
    assert [e.name for e in await events_of(service, view.uuid, start_date_gte=soon(80),
                                            start_date_lte=soon(100))] == ["E2", "E3", "E4"]
    pages, after = [], None
    while True:
        page = await service.list_events(ListCalendarEvents(
            account_id=1, calendar_uuid=view.uuid, status="all", limit=3, after=after))
        pages.append([e.name for e in page.events])
        if page.next_after is None:
            break
        after = page.next_after
    assert pages == [["E0", "E1", "E2"], ["E3", "E4", "E5"], ["E6"]]
    assert await events_of(service, view.uuid, updated_at_gte=datetime.now(UTC)
                           + timedelta(minutes=1)) == []


async def test_resync_all_syncs_every_calendar_and_reports_the_broken_one(service, world, jane):
    view = await connect(service, jane)
    world.create_event("jane@acme.test", "Later", soon(60 * 24 * 35), soon(60 * 24 * 35 + 30))
    reply = await service.resync_all(ResyncCalendars(account_id=1, days=40))
    assert reply.synced_calendars == [view.uuid] and reply.errors == []
    assert [e.name for e in await events_of(service, view.uuid)] == ["Later"]


async def test_a_push_makes_the_calendar_due_and_an_unknown_channel_is_refused(push_relay, world,
                                                                              jane, google):
    relay, service = push_relay
    view = await connect(service, jane)
    (channel,) = google.emulator.channels.values()
    assert channel.address == f"{relay.url}/calendar_push/google"
    world.create_event("jane@acme.test", "Pushed", soon(60), soon(90))
    for _ in range(100):
        if await service.sync_due():
            break
        await asyncio.sleep(0.05)
    assert [e.name for e in await events_of(service, view.uuid)] == ["Pushed"]
    assert 200 in relay.answered


async def test_two_replicas_open_one_channel_per_calendar(make_service, push_relay, jane, google):
    relay, _ = push_relay
    view = await connect(make_service(), jane)  # no push URL: no channel yet
    assert google.emulator.channels == {}
    replicas = [make_service(push_url=relay.url) for _ in range(2)]
    for _ in range(3):
        await asyncio.gather(*(r.tend_channels() for r in replicas))
    (channel,) = google.emulator.channels.values()
    assert channel.calendar_id == "jane@acme.test" and view.provider_calendar_id == "jane@acme.test"


async def test_a_series_bot_reaches_the_instances_later_syncs_bring(sessions, make_service, world,
                                                                   jane):
    async def never_called(command):
        raise AssertionError("nothing is handed over in this test")

    service = make_service()
    service.bots = EventBots(sessions, never_called)
    series = world.create_event("jane@acme.test", "Daily", soon(60), soon(70), meeting_url=MEET,
                                rrule="FREQ=DAILY;COUNT=3")
    view = await connect(service, jane)
    first = min((e for e in await events_of(service, view.uuid)), key=lambda e: e.start_time)
    params = BotParams(meeting_url=MEET, platform="google_meet", bot_name="Every day")
    reply = await service.schedule_bot(ScheduleEventBot(account_id=1, event_uuid=first.uuid,
                                                        all_occurrences=True, params=params))
    assert len(reply.events) == 3 and all(e.bot_param["bot_name"] == "Every day"
                                          for e in reply.events)
    world.update_event(series, rrule="FREQ=DAILY;COUNT=6")
    await service.sync(view.uuid)
    daily = await events_of(service, view.uuid)
    assert len(daily) == 6 and all(e.bot_param and e.bot_param["bot_name"] == "Every day"
                                   for e in daily)
    other = await service.unschedule_bot(UnscheduleEventBot(account_id=2, event_uuid=first.uuid))
    assert other.status == 404  # another account's event
    await service.unschedule_bot(UnscheduleEventBot(account_id=1, event_uuid=first.uuid,
                                                    all_occurrences=True))
    world.update_event(series, rrule="FREQ=DAILY;COUNT=8")
    await service.sync(view.uuid)
    assert [e.bot_param for e in await events_of(service, view.uuid)] == [None] * 8
