"""Calendars end to end on the real stack: connecting a Google calendar through the API, its
events listed, a change pushed by the provider turning into a `calendar.sync_events` webhook, and
what a client can get wrong."""

from __future__ import annotations

import itertools
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from support import account_api, meetup_join_link

MEET = "https://meet.google.com/abc-defg-hij"
_accounts = itertools.count(1)


def soon(minutes: float) -> datetime:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).replace(second=0, microsecond=0)


class Customer:
    """A new account whose webhooks go to its own path of the receiver, with one Google user
    (a client, a refresh token) in the emulators' world."""

    def __init__(self, platform, webhooks, calendar_providers) -> None:
        n = next(_accounts)
        self.api = account_api(platform, f"calendar customer {n}")
        self.path = f"/calendars-{n}"
        response = self.api.request("POST", "/accounts/webhook_url",
                                    {"webhook_url": webhooks.url + self.path})
        assert response.status == 200, response.body
        self.world = calendar_providers.world
        self.google = calendar_providers.google.emulator
        self.email = f"user{n}-{uuid.uuid4().hex[:6]}@acme.test"
        self.world.create_user(self.email, f"User {n}")
        self.client = self.world.create_client()
        self.refresh_token = self.google.issue_refresh_token(self.client.client_id, self.email)

    def credentials(self, **overrides) -> dict:
        return {"oauth_client_id": self.client.client_id,
                "oauth_client_secret": self.client.client_secret,
                "oauth_refresh_token": self.refresh_token, "platform": "Google", **overrides}

    def connect(self) -> dict:
        response = self.api.request("POST", "/calendars/", self.credentials())
        assert response.status == 200, response.body
        return response.body["calendar"]

    def events(self, calendar_uuid: str, **query) -> list[dict]:
        params = "&".join(f"{k}={v}" for k, v in {"calendar_id": calendar_uuid, "status": "all",
                                                   **query}.items())
        response = self.api.request("GET", f"/calendar_events/?{params}")
        assert response.status == 200, response.body
        return response.body["data"]


@pytest.fixture
def customer(platform, webhooks, calendar_providers) -> Customer:
    return Customer(platform, webhooks, calendar_providers)


def sync_events(webhooks, customer: Customer, *, after: dict | None = None,
                timeout: float = 60.0, **predicate) -> dict:
    """The first `calendar.sync_events` to the customer matching `predicate` (and later than
    the `after` one)."""
    hook = webhooks.wait_on_path(
        customer.path, lambda w: w.body["event"] == "calendar.sync_events"
        and all(w.body["data"].get(k) == v for k, v in predicate.items())
        and (after is None or w.body["data"]["last_updated_ts"] > after["last_updated_ts"]),
        timeout=timeout)
    return hook.body["data"]


def test_a_google_calendar_is_connected_and_its_events_listed(customer, webhooks):
    customer.world.create_calendar(customer.email, "Team")
    planning = customer.world.create_event(customer.email, "Planning", soon(60), soon(90),
                                           meeting_url=MEET, attendees=["bob@acme.test"])
    customer.world.create_event(customer.email, "Weekly", soon(120), soon(150),
                                meeting_url="https://zoom.us/j/12345678901?pwd=abc",
                                link_in="location", rrule="FREQ=WEEKLY;COUNT=3")

    raw = customer.api.request("POST", "/calendars/raw", customer.credentials())
    assert raw.status == 200, raw.body
    assert {(c["id"], c["is_primary"]) for c in raw.body["calendars"]} >= {(customer.email, True)}
    assert customer.api.request("GET", "/calendars/").body == []  # raw stores nothing

    calendar = customer.connect()
    assert calendar["google_id"] == customer.email and calendar["email"] == customer.email
    assert customer.api.request("GET", "/calendars/").body == [calendar]
    assert customer.api.request("GET", f"/calendars/{calendar['uuid']}").body == calendar

    events = customer.events(calendar["uuid"])
    assert [e["name"] for e in events] == ["Planning", "Weekly", "Weekly", "Weekly"]
    first = events[0]
    assert first["google_id"] == planning and first["meeting_url"] == MEET
    assert first["attendees"] == [{"email": "bob@acme.test", "name": None}]
    assert first["calendar_uuid"] == calendar["uuid"] and first["deleted"] is False
    assert first["raw"]["id"] == planning and first["bot_param"] is None
    weekly = events[1:]
    assert {e["meeting_url"] for e in weekly} == {"https://zoom.us/j/12345678901?pwd=abc"}
    assert all(e["is_recurring"] and e["recurring_event_id"] for e in weekly)
    assert customer.api.request("GET", f"/calendar_events/{first['uuid']}").body == first

    synced = sync_events(webhooks, customer, calendar_id=calendar["uuid"])
    assert set(synced["affected_event_uuids"]) == {e["uuid"] for e in events}


def test_a_pushed_change_becomes_a_sync_events_webhook(customer, webhooks):
    calendar = customer.connect()
    (channel,) = [c for c in customer.google.channels.values()
                  if c.calendar_id == customer.email]
    assert channel.address.endswith("/calendar_push/google")
    started = time.monotonic()
    created = customer.world.create_event(customer.email, "Pushed", soon(30), soon(60),
                                          meeting_url=MEET)
    synced = sync_events(webhooks, customer, calendar_id=calendar["uuid"])
    latency = time.monotonic() - started
    (event,) = customer.events(calendar["uuid"])
    assert event["google_id"] == created and synced["affected_event_uuids"] == [event["uuid"]]
    print(f"\n[calendar] provider change -> calendar.sync_events webhook: {latency:.2f} s")

    customer.world.move_event(created, soon(45), soon(75))
    moved = sync_events(webhooks, customer, after=synced)
    assert moved["affected_event_uuids"] == [event["uuid"]]
    (event,) = customer.events(calendar["uuid"])
    assert event["start_time"] == soon(45).isoformat()

    customer.world.cancel_event(created)
    cancelled = sync_events(webhooks, customer, after=moved)
    assert cancelled["affected_event_uuids"] == [event["uuid"]]
    (event,) = customer.events(calendar["uuid"])
    assert event["deleted"] is True


def test_a_microsoft_calendar_is_connected_and_graph_notifications_become_webhooks(
        customer, webhooks, calendar_providers):
    graph = calendar_providers.microsoft.emulator
    email = f"amy-{uuid.uuid4().hex[:6]}@contoso.test"
    customer.world.create_user(email, "Amy Lee")
    client = customer.world.create_client()
    response = customer.api.request("POST", "/calendars/", {
        "platform": "Microsoft", "oauth_client_id": client.client_id,
        "oauth_client_secret": client.client_secret,
        "oauth_refresh_token": graph.issue_refresh_token(client.client_id, email)})
    assert response.status == 200, response.body
    calendar = response.body["calendar"]
    assert calendar["email"] == email
    (subscription,) = [s for s in graph.subscriptions.values() if s.email == email]
    assert subscription.notification_url.endswith("/calendar_push/microsoft")

    teams = meetup_join_link("19:meeting_calendar-bench@thread.v2")
    created = customer.world.create_event(email, "Notified", soon(30), soon(60),
                                          meeting_url=teams)
    synced = sync_events(webhooks, customer, calendar_id=calendar["uuid"])
    (event,) = customer.events(calendar["uuid"])
    assert event["name"] == "Notified" and event["meeting_url"].startswith(
        "https://teams.microsoft.com/l/meetup-join/")
    assert synced["affected_event_uuids"] == [event["uuid"]]

    customer.world.delete_event(created)
    deleted = sync_events(webhooks, customer, after=synced)
    assert deleted["affected_event_uuids"] == [event["uuid"]]
    (event,) = customer.events(calendar["uuid"])
    assert event["deleted"] is True


@pytest.mark.parametrize(("change", "field"), [
    ({"oauth_refresh_token": "1//0-revoked-or-made-up"}, "oauth_refresh_token"),
    ({"oauth_client_secret": "not-the-secret"}, "oauth_client_secret"),
    ({"oauth_client_id": "nobody.apps.test"}, "oauth_client_id"),
    ({"oauth_refresh_token": "   "}, "oauth_refresh_token"),
])
def test_credentials_the_provider_refuses_are_a_400_naming_the_field(customer, change, field):
    response = customer.api.request("POST", "/calendars/", customer.credentials(**change))
    assert response.status == 400, response.body
    assert response.body["field"] == field and field in response.body["message"]
    assert customer.api.request("GET", "/calendars/").body == []


@pytest.mark.parametrize("body", [
    {"oauth_client_id": "x", "oauth_client_secret": "y", "platform": "Google"},
    {"oauth_client_id": "x", "oauth_client_secret": "y", "oauth_refresh_token": "z",
     "platform": "Yahoo"},
])
def test_a_body_that_does_not_fit_is_a_422(customer, body):
    response = customer.api.request("POST", "/calendars/", body)
    assert response.status == 422 and response.body["errors"], response.body


def test_unknown_fields_are_ignored(customer):
    response = customer.api.request("POST", "/calendars/",
                                    customer.credentials(field_from_a_newer_client=1))
    assert response.status == 200, response.body


def test_a_provider_that_is_down_is_a_503_and_nothing_is_stored(customer):
    customer.google.down = True
    try:
        response = customer.api.request("POST", "/calendars/", customer.credentials())
    finally:
        customer.google.down = False
    assert response.status == 503, response.body
    assert customer.api.request("GET", "/calendars/").body == []


def test_a_revoked_token_is_reported_and_new_credentials_resume(customer, webhooks):
    customer.world.create_event(customer.email, "Known", soon(60), soon(90))
    calendar = customer.connect()
    customer.world.revoke_refresh_token(customer.refresh_token)
    reply = customer.api.request("POST", "/calendars/resync_all")
    assert reply.status == 200, reply.body
    assert reply.body["synced_calendars"] == []
    ((failed_uuid, reason),) = reply.body["errors"]
    assert failed_uuid == calendar["uuid"] and "refresh token" in reason
    assert [e["name"] for e in customer.events(calendar["uuid"])] == ["Known"]

    customer.refresh_token = customer.google.issue_refresh_token(customer.client.client_id,
                                                                 customer.email)
    customer.world.create_event(customer.email, "After", soon(100), soon(130))
    patched = customer.api.request("PATCH", f"/calendars/{calendar['uuid']}",
                                   customer.credentials())
    assert patched.status == 200 and patched.body["calendar"]["uuid"] == calendar["uuid"]
    assert [e["name"] for e in customer.events(calendar["uuid"])] == ["Known", "After"]


def test_another_accounts_calendar_and_events_are_not_found(platform, webhooks,
                                                           calendar_providers):
    owner = Customer(platform, webhooks, calendar_providers)
    owner.world.create_event(owner.email, "Private", soon(60), soon(90))
    calendar = owner.connect()
    (event,) = owner.events(calendar["uuid"])
    stranger = Customer(platform, webhooks, calendar_providers)
    for method, path in [("GET", f"/calendars/{calendar['uuid']}"),
                         ("PATCH", f"/calendars/{calendar['uuid']}"),
                         ("DELETE", f"/calendars/{calendar['uuid']}"),
                         ("GET", f"/calendar_events/{event['uuid']}"),
                         ("GET", f"/calendar_events/?calendar_id={calendar['uuid']}")]:
        body = stranger.credentials() if method == "PATCH" else None
        response = stranger.api.request(method, path, body)
        assert response.status == 404, (method, path, response.body)
    assert owner.events(calendar["uuid"]) == [event]


@pytest.mark.parametrize(("path", "field"), [
    ("/calendars/not-a-uuid", "uuid"),
    ("/calendar_events/not-a-uuid", "uuid"),
    ("/calendar_events/", "calendar_id"),
    ("/calendar_events/?calendar_id=nope", "calendar_id"),
    (f"/calendar_events/?calendar_id={uuid.uuid4()}&start_date_gte=yesterday", "start_date_gte"),
    (f"/calendar_events/?calendar_id={uuid.uuid4()}&status=soon", "status"),
    (f"/calendar_events/?calendar_id={uuid.uuid4()}&cursor=%%%", "cursor"),
])
def test_malformed_parameters_are_a_400_naming_them(customer, path, field):
    response = customer.api.request("GET", path)
    assert response.status == 400, response.body
    assert response.body["field"] == field


@pytest.mark.parametrize("days", ["0", "400", "ten"])
def test_resync_days_out_of_range_is_a_400(customer, days):
    response = customer.api.request("POST", f"/calendars/resync_all?days={days}")
    assert response.status == 400 and response.body["field"] == "days"


def test_a_deleted_calendar_is_gone_and_its_channel_stopped(customer):
    calendar = customer.connect()
    (channel,) = [c for c in customer.google.channels.values()
                  if c.calendar_id == customer.email]
    response = customer.api.request("DELETE", f"/calendars/{calendar['uuid']}")
    assert response.status == 200
    assert customer.api.request("GET", f"/calendars/{calendar['uuid']}").status == 404
    assert customer.api.request("GET", "/calendars/").body == []
    assert channel.id in customer.google.stopped_channels


def _post(url: str, headers: dict[str, str], body: bytes = b"") -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_pushes_for_unknown_channels_or_with_a_wrong_token_are_refused(customer, platform):
    customer.connect()
    (channel,) = [c for c in customer.google.channels.values()
                  if c.calendar_id == customer.email]
    url = platform.endpoints.gateway_url + "/calendar_push/google"
    headers = {"X-Goog-Resource-State": "exists", "X-Goog-Resource-ID": "r"}
    assert _post(url, {**headers, "X-Goog-Channel-ID": str(uuid.uuid4()),
                       "X-Goog-Channel-Token": "whatever"}) == 404
    assert _post(url, {**headers, "X-Goog-Channel-ID": channel.id,
                       "X-Goog-Channel-Token": "not-its-token"}) == 404
    assert _post(url, {**headers, "X-Goog-Channel-ID": channel.id,
                       "X-Goog-Channel-Token": channel.token}) == 200
    graph = platform.endpoints.gateway_url + "/calendar_push/microsoft"
    assert _post(graph + "?validationToken=abc%20123", {}) == 200
    unknown = (b'{"value": [{"subscriptionId": "nope", "clientState": "x", '
               b'"changeType": "updated"}]}')
    assert _post(graph, {"Content-Type": "application/json"}, unknown) == 404
