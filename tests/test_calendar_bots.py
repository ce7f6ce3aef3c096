"""Bots scheduled from calendar events, end to end: a bot joins the event's meeting at its start
and its webhooks carry `event_uuid`; every occurrence of a series gets its own; a moved event moves
its bot and a cancelled one cancels it; and what a client can get wrong.

The scenarios that wait for an event's start run together, each for a customer of its own."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from test_calendars import Customer, soon

from meeting_simulator import new_meet_code
from support import Together


@pytest.fixture
def customer(platform, webhooks, calendar_providers) -> Customer:
    return Customer(platform, webhooks, calendar_providers)


def at(seconds: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds)


def bot_hooks(webhooks, customer: Customer, event_uuid: str) -> list:
    """Every webhook of the bots scheduled for the event, in the order received."""
    bots = {h.body["data"]["bot_id"] for h in webhooks.on_path(customer.path)
            if h.body["data"].get("event_uuid") == event_uuid}
    return [h for h in webhooks.on_path(customer.path) if h.body["data"].get("bot_id") in bots]


def meeting_event(customer: Customer, simulator, start: datetime, minutes: float = 30,
                  **event) -> tuple[str, str]:
    """A simulated Meet meeting that admits everyone and lasts a while, and a calendar event at
    `start` linking to it; the (meeting code, provider event id)."""
    code = new_meet_code()
    simulator.create_meeting(code, participants=[{"name": "Alice"}],
                             admission={"action": "admit", "after": 0.5}, end_after=600)
    event_id = customer.world.create_event(customer.email, "Sync", start,
                                           start + timedelta(minutes=minutes),
                                           meeting_url=f"https://meet.google.com/{code}", **event)
    return code, event_id


def listed(customer: Customer, calendar: dict, predicate, count: int,
           timeout: float = 30.0) -> list[dict]:
    """The `count` events `predicate` accepts, as the API lists them once the provider's push
    has been synced."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in customer.events(calendar["uuid"]) if predicate(e)]
        if len(found) >= count or time.monotonic() > deadline:
            assert len(found) == count, found
            return found
        time.sleep(0.2)


def event_of(customer: Customer, calendar: dict, provider_id: str) -> dict:
    (event,) = listed(customer, calendar, lambda e: e["google_id"] == provider_id, 1)
    return event


def recording(webhooks, customer: Customer, count: int = 1, timeout: float = 120.0) -> list[str]:
    """The customer's bots (all scheduled from its calendar) that are recording, once `count`
    are."""
    deadline = time.monotonic() + timeout
    while True:
        listed_bots = customer.api.request("GET", "/bots/bots_with_metadata?limit=50").body
        found = [b["uuid"] for b in listed_bots["bots"]
                 if "in_call_recording" in webhooks.status_codes(b["uuid"])]
        if len(found) >= count or time.monotonic() > deadline:
            assert len(found) >= count, (found, listed_bots)
            return found
        time.sleep(0.3)


def a_scheduled_bot_joins_at_the_start_and_carries_the_event(customer, webhooks, simulator):
    calendar = customer.connect()
    start = at(25)
    code, provider_id = meeting_event(customer, simulator, start)
    event = event_of(customer, calendar, provider_id)
    scheduled = customer.api.request("POST", f"/calendar_events/{event['uuid']}/bot",
                                     {"bot_name": "Calendar Bot", "extra": {"team": "sales"},
                                      "speech_to_text": {"provider": "Default"}})
    assert scheduled.status == 200, scheduled.body
    (shown,) = scheduled.body
    assert shown["uuid"] == event["uuid"] and shown["bot_param"]["bot_name"] == "Calendar Bot"
    assert shown["bot_param"]["extra"] == {"team": "sales"}
    assert customer.api.request("GET", f"/calendar_events/{event['uuid']}").body["bot_param"] \
        == shown["bot_param"]

    (bot_id,) = recording(webhooks, customer)
    (guest,) = simulator.meeting(code)["guests"]
    admitted = datetime.fromtimestamp(guest["admitted_at"], UTC)
    late = (admitted - start).total_seconds()
    print(f"\n[calendar bot] admitted {late:+.1f} s after the event's start")
    assert guest["name"] == "Calendar Bot"
    assert late < 60, late  # joined at the start, not at some later time

    simulator.end(code)
    final = webhooks.wait_on_path(customer.path, lambda w: w.body["event"] in ("complete",
                                                                               "failed")
                                  and w.body["data"].get("event_uuid") == event["uuid"],
                                  timeout=180)
    assert final.body["event"] == "complete", final.body
    assert final.body["data"]["bot_id"] == bot_id and final.body["data"]["event"] == "complete"
    assert final.body["data"]["extra"] == {"team": "sales"}
    details = customer.api.request("GET", f"/bots/{bot_id}")
    assert details.status == 200 and details.body["params"]["event_uuid"] == event["uuid"]
    meeting_data = customer.api.request("GET", f"/bots/meeting_data?bot_id={bot_id}").body
    assert meeting_data["bot_data"]["event_uuid"] == event["uuid"]
    listed_bots = customer.api.request("GET", "/bots/bots_with_metadata").body["bots"]
    assert [(b["uuid"], b["event_uuid"]) for b in listed_bots] == [(bot_id, event["uuid"])]


JOIN_AHEAD_S = 10.0
"""How long before an event's start its bot joins (the calendar service's default)."""


def every_occurrence_of_a_series_gets_its_own_bot(customer, webhooks, simulator):
    """A series of two: the first under way (its bot joins at once), the second 30 s away (its
    bot joins then)."""
    calendar = customer.connect()
    start = at(-30)
    code, series = meeting_event(customer, simulator, start, minutes=0.9,
                                 rrule="FREQ=MINUTELY;INTERVAL=1;COUNT=2")
    second_joins_at = (start + timedelta(minutes=1)).timestamp() - JOIN_AHEAD_S
    instances = listed(customer, calendar, lambda e: e["recurring_event_id"] == series, 2)
    reply = customer.api.request("POST", f"/calendar_events/{instances[0]['uuid']}/bot"
                                 "?all_occurrences=true", {"bot_name": "Series Bot"})
    assert reply.status == 200, reply.body
    assert {e["uuid"] for e in reply.body} == {e["uuid"] for e in instances}
    assert all(e["bot_param"]["bot_name"] == "Series Bot" for e in reply.body)

    recording(webhooks, customer, count=2, timeout=120)
    guests = sorted(simulator.meeting(code)["guests"], key=lambda g: g["admitted_at"])
    assert guests[0]["admitted_at"] < second_joins_at, guests
    assert guests[1]["admitted_at"] >= second_joins_at - 1.0, guests
    simulator.end(code)
    finals = {}
    for instance in instances:
        hook = webhooks.wait_on_path(
            customer.path, lambda w, uuid=instance["uuid"]: w.body["event"] == "complete"
            and w.body["data"].get("event_uuid") == uuid, timeout=180)
        finals[instance["uuid"]] = hook.body["data"]["bot_id"]
    assert len(set(finals.values())) == 2


def a_moved_event_moves_its_bot_and_a_cancelled_one_cancels_it(customer, webhooks, simulator):
    calendar = customer.connect()
    start = at(30)
    code, provider_id = meeting_event(customer, simulator, start)
    event = event_of(customer, calendar, provider_id)
    reply = customer.api.request("POST", f"/calendar_events/{event['uuid']}/bot",
                                 {"bot_name": "Mover"})
    assert reply.status == 200, reply.body
    time.sleep(2)  # handed over to the scheduler: the event is within two minutes
    customer.world.move_event(provider_id, start + timedelta(hours=1),
                              start + timedelta(hours=1, minutes=30))
    webhooks.wait_on_path(customer.path, lambda w: w.body["event"] == "calendar.sync_events"
                          and event["uuid"] in w.body["data"]["affected_event_uuids"]
                          and w.body["data"]["last_updated_ts"] > event["last_updated_at"])
    time.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds()) + 10)
    assert simulator.meeting(code)["guests"] == []  # nobody came at the old time
    assert bot_hooks(webhooks, customer, event["uuid"]) == []

    customer.world.cancel_event(provider_id)
    failed = webhooks.wait_on_path(customer.path, lambda w: w.body["event"] == "failed"
                                   and w.body["data"].get("event_uuid") == event["uuid"],
                                   timeout=60)
    assert failed.body["data"]["reason"] == "cancelled", failed.body
    assert simulator.meeting(code)["guests"] == []
    assert event_of(customer, calendar, provider_id)["deleted"] is True


def an_unscheduled_bot_never_comes(customer, webhooks, simulator):
    calendar = customer.connect()
    start = at(20)
    code, provider_id = meeting_event(customer, simulator, start)
    event = event_of(customer, calendar, provider_id)
    assert customer.api.request("POST", f"/calendar_events/{event['uuid']}/bot",
                                {"bot_name": "Gone"}).status == 200
    patched = customer.api.request("PATCH", f"/calendar_events/{event['uuid']}/bot",
                                   {"bot_name": "Renamed", "waiting_room_timeout": 300})
    assert patched.status == 200, patched.body
    assert patched.body[0]["bot_param"]["bot_name"] == "Renamed"
    assert patched.body[0]["bot_param"]["waiting_room_timeout"] == 300
    removed = customer.api.request("DELETE", f"/calendar_events/{event['uuid']}/bot")
    assert removed.status == 200 and removed.body[0]["bot_param"] is None
    again = customer.api.request("DELETE", f"/calendar_events/{event['uuid']}/bot")
    assert again.status == 200  # idempotent
    time.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds()) + 10)
    assert simulator.meeting(code)["guests"] == []


SCENARIOS = (a_scheduled_bot_joins_at_the_start_and_carries_the_event,
             every_occurrence_of_a_series_gets_its_own_bot,
             a_moved_event_moves_its_bot_and_a_cancelled_one_cancels_it,
             an_unscheduled_bot_never_comes)


@pytest.fixture(scope="module")
def scenarios(platform, webhooks, calendar_providers, simulator):
    customers = {s.__name__: Customer(platform, webhooks, calendar_providers) for s in SCENARIOS}
    together = Together(**{s.__name__: lambda s=s: s(customers[s.__name__], webhooks, simulator)
                           for s in SCENARIOS})
    yield together
    together.close()


@pytest.mark.parametrize("scenario", [s.__name__ for s in SCENARIOS])
def test_the_scenario_holds(scenarios, scenario):
    scenarios.outcome(scenario)


def test_scheduling_mistakes_are_named(customer, platform, webhooks, calendar_providers):
    calendar = customer.connect()
    no_link = customer.world.create_event(customer.email, "Lunch", soon(60), soon(90))
    linked = customer.world.create_event(customer.email, "Call", soon(100), soon(130),
                                         meeting_url="https://meet.google.com/abc-defg-hij")
    lunch = event_of(customer, calendar, no_link)["uuid"]
    call = event_of(customer, calendar, linked)["uuid"]
    cases = [
        (lunch, {"bot_name": "B"}, 400, "uuid"),
        (call, {"bot_name": "  "}, 400, "bot_name"),
        (call, {"bot_name": "B", "waiting_room_timeout": 1}, 400, "waiting_room_timeout"),
        (call, {"bot_name": "B", "webhook_url": "http://169.254.169.254/latest"}, 400,
         "webhook_url"),
        (call, {"bot_name": "B", "streaming_output": "ws://10.0.0.5/audio"}, 400,
         "streaming_output"),
        (call, {"extra": {}}, 422, "bot_name"),
    ]
    for uuid_, body, status, field in cases:
        response = customer.api.request("POST", f"/calendar_events/{uuid_}/bot", body)
        assert (response.status, response.body.get("field")) == (status, field), (body,
                                                                                  response.body)
    assert customer.api.request("GET", f"/calendar_events/{call}").body["bot_param"] is None
    assert customer.api.request("PATCH", f"/calendar_events/{call}/bot",
                                {"bot_name": "X"}).status == 409
    bad = customer.api.request("POST", f"/calendar_events/{call}/bot?all_occurrences=maybe",
                               {"bot_name": "B"})
    assert (bad.status, bad.body["field"]) == (400, "all_occurrences")
    stranger = Customer(platform, webhooks, calendar_providers)
    for method in ("POST", "PATCH", "DELETE"):
        response = stranger.api.request(method, f"/calendar_events/{call}/bot",
                                        {"bot_name": "B"} if method != "DELETE" else None)
        assert response.status == 404, (method, response.body)
