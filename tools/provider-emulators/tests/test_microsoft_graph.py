"""The Microsoft Graph emulator over real HTTP: tokens, calendarView delta, subscriptions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web

from provider_emulators.calendar_world import Attendee, CalendarWorld, OAuthClient
from provider_emulators.common import BackgroundEmulator
from provider_emulators.microsoft_graph import (
    MicrosoftGraphEmulator,
    event_graph_id,
    graph_stamp,
)

PARIS = ZoneInfo("Europe/Paris")
GRACE = "grace@contoso.test"
SCOPE = "offline_access https://graph.microsoft.com/Calendars.Read"
WINDOW = {"startDateTime": "2030-01-01T00:00:00Z", "endDateTime": "2030-02-01T00:00:00Z"}
TEAMS = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in January 2030, Paris."""
    return datetime(2030, 1, day, hour, minute, tzinfo=PARIS)


@dataclass
class Received:
    headers: dict[str, str]
    query: dict[str, str]
    body: Any


class Receiver:
    """A loopback endpoint in the test's event loop: answers Graph's validation requests as
    ``mode`` says ("echo", "wrong", "error" or "hang") and queues what it is sent."""

    def __init__(self, mode: str = "echo") -> None:
        self.mode = mode
        self.validations: asyncio.Queue[Received] = asyncio.Queue()
        self.notifications: asyncio.Queue[Received] = asyncio.Queue()
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        if "validationToken" in request.query:
            token = request.query["validationToken"]
            await self.validations.put(Received(dict(request.headers), dict(request.query), None))
            if self.mode == "hang":
                await self._release.wait()
            if self.mode == "error":
                return web.Response(status=500)
            text = token if self.mode == "echo" else "something else"
            return web.Response(text=text, content_type="text/plain")
        body = await request.json()
        await self.notifications.put(Received(dict(request.headers), dict(request.query), body))
        return web.Response(status=202)

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/notify", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/notify"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._release.set()
        assert self._runner is not None
        await self._runner.cleanup()

    async def next(self, timeout: float = 5.0) -> Any:
        """The next notification's body."""
        return (await asyncio.wait_for(self.notifications.get(), timeout)).body


@dataclass
class Graph:
    base_url: str
    emulator: MicrosoftGraphEmulator
    world: CalendarWorld
    client: OAuthClient
    refresh_token: str
    session: aiohttp.ClientSession

    async def token(self, **form: str) -> tuple[int, dict[str, Any]]:
        data = {
            "grant_type": "refresh_token",
            "client_id": self.client.client_id,
            "client_secret": self.client.client_secret,
            "refresh_token": self.refresh_token,
            "scope": SCOPE,
            **form,
        }
        url = f"{self.base_url}/common/oauth2/v2.0/token"
        async with self.session.post(url, data=data) as response:
            return response.status, await response.json()

    async def access_token(self) -> str:
        status, body = await self.token()
        assert status == 200, body
        return body["access_token"]

    async def call(
        self,
        method: str,
        url: str,
        token: str | None,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> tuple[int, Any, Any]:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        if not url.startswith("http"):
            url = f"{self.base_url}/v1.0{url}"
        async with self.session.request(
            method, url, json=json, headers=sent, params=params
        ) as response:
            text = await response.text()
            return response.status, (await response.json() if text else None), response.headers

    async def delta_round(
        self, token: str, url: str, params: dict[str, str] | None = None, page_size: int = 2
    ) -> tuple[list[dict[str, Any]], str, int]:
        """Follow nextLinks to the deltaLink; returns the values, the deltaLink, the pages."""
        values: list[dict[str, Any]] = []
        pages = 0
        headers = {"Prefer": f"odata.maxpagesize={page_size}"}
        while True:
            status, body, response_headers = await self.call(
                "GET", url, token, headers=headers, params=params
            )
            assert status == 200, body
            assert response_headers["Preference-Applied"] == f"odata.maxpagesize={page_size}"
            assert len(body["value"]) <= page_size
            pages += 1
            values.extend(body["value"])
            params = None
            if "@odata.deltaLink" in body:
                assert "@odata.nextLink" not in body
                return values, body["@odata.deltaLink"], pages
            url = body["@odata.nextLink"]


@pytest.fixture
def world() -> CalendarWorld:
    world = CalendarWorld()
    world.create_user(GRACE, "Grace Hopper", time_zone="Europe/Paris")
    return world


@pytest.fixture
def graph_server(world: CalendarWorld) -> Iterator[BackgroundEmulator]:
    with BackgroundEmulator(MicrosoftGraphEmulator(world)) as server:
        yield server


@pytest.fixture
async def graph(graph_server: BackgroundEmulator, world: CalendarWorld) -> AsyncIterator[Graph]:
    emulator = graph_server.emulator
    assert isinstance(emulator, MicrosoftGraphEmulator)
    client = world.create_client()
    refresh_token = emulator.issue_refresh_token(client.client_id, GRACE)
    async with aiohttp.ClientSession() as session:
        yield Graph(graph_server.base_url, emulator, world, client, refresh_token, session)


def weekly_series(world: CalendarWorld) -> str:
    return world.create_event(
        GRACE,
        "Weekly sync",
        at(7, 9),
        at(7, 10),
        rrule="FREQ=WEEKLY;BYDAY=MO;COUNT=10",
        meeting_url=TEAMS,
        attendees=[Attendee("alan@contoso.test", "Alan Turing", "accepted")],
    )


async def test_refresh_token_grant_rotates_and_me(graph: Graph) -> None:
    status, grant = await graph.token()
    assert status == 200, grant
    assert grant["token_type"] == "Bearer"
    assert grant["expires_in"] == 3599 and grant["ext_expires_in"] == 3599
    assert grant["scope"] == "Calendars.Read"
    assert grant["refresh_token"] and grant["refresh_token"] != graph.refresh_token
    status, again = await graph.token(
        refresh_token=grant["refresh_token"], scope="https://graph.microsoft.com/.default"
    )
    assert status == 200 and again["scope"] == "Calendars.Read User.Read"
    status, body = await graph.token(scope="https://graph.microsoft.com/Calendars.ReadWrite")
    assert status == 400 and body["error_codes"] == [65001]

    status, me, _ = await graph.call("GET", "/me", grant["access_token"])
    assert status == 200
    user = graph.world.user(GRACE)
    assert me["id"] == user.id and me["displayName"] == "Grace Hopper"
    assert me["mail"] == GRACE and me["userPrincipalName"] == GRACE

    status, calendars, _ = await graph.call("GET", "/me/calendars", again["access_token"])
    assert status == 200
    (default,) = calendars["value"]
    assert default["isDefaultCalendar"] is True and default["name"] == "Calendar"
    assert default["owner"] == {"name": "Grace Hopper", "address": GRACE}


async def test_token_errors_in_aad_shape(graph: Graph) -> None:
    status, body = await graph.token(client_secret="wrong")
    assert status == 401 and body["error"] == "invalid_client"
    assert body["error_codes"] == [7000215]
    status, body = await graph.token(refresh_token="0.AXnot-a-token")
    assert status == 400 and body["error"] == "invalid_grant"
    assert body["error_description"].startswith("AADSTS70000: ")
    status, body = await graph.token(scope="")
    assert status == 400 and body["error"] == "invalid_request" and body["error_codes"] == [900144]

    access = await graph.access_token()
    graph.world.revoke_refresh_token(graph.refresh_token)
    status, body = await graph.token()
    assert status == 400 and body["error"] == "invalid_grant"
    assert body["error_description"].startswith("AADSTS50173: ")
    assert body["error_codes"] == [50173]
    assert {"timestamp", "trace_id", "correlation_id", "error_uri"} <= set(body)

    status, body, headers = await graph.call("GET", "/me", access)
    assert status == 401 and body["error"]["code"] == "InvalidAuthenticationToken"
    assert {"date", "request-id", "client-request-id"} <= set(body["error"]["innerError"])
    assert headers["WWW-Authenticate"].startswith("Bearer")
    status, body, _ = await graph.call("GET", "/me", None)
    assert status == 401 and body["error"]["message"] == "Access token is empty."


async def test_access_token_expires(graph: Graph) -> None:
    access = await graph.access_token()
    graph.world.advance(timedelta(hours=1))
    status, body, _ = await graph.call("GET", "/me", access)
    assert status == 401 and "expired" in body["error"]["message"]


async def test_delta_pages_end_with_a_delta_link(graph: Graph) -> None:
    series = weekly_series(graph.world)
    for day in (8, 15, 22):
        graph.world.create_event(GRACE, f"Review {day}", at(day, 14), at(day, 15))
    token = await graph.access_token()

    values, delta_link, pages = await graph.delta_round(token, "/me/calendarView/delta", WINDOW)
    assert pages == 4 and len(values) == 7
    assert [v["subject"] for v in values][:3] == ["Weekly sync", "Review 8", "Weekly sync"]
    occurrence = values[0]
    assert occurrence["type"] == "occurrence"
    assert occurrence["id"] == event_graph_id(series, at(7, 9))
    assert occurrence["seriesMasterId"] == event_graph_id(series)
    assert occurrence["start"] == {"dateTime": "2030-01-07T08:00:00.0000000", "timeZone": "UTC"}
    assert occurrence["end"] == {"dateTime": "2030-01-07T09:00:00.0000000", "timeZone": "UTC"}
    assert occurrence["isOnlineMeeting"] is True
    assert occurrence["onlineMeetingProvider"] == "teamsForBusiness"
    assert occurrence["onlineMeeting"] == {"joinUrl": TEAMS}
    assert occurrence["isOrganizer"] is True and occurrence["isCancelled"] is False
    assert occurrence["organizer"] == {
        "emailAddress": {"name": GRACE, "address": GRACE},
    }
    assert occurrence["attendees"] == [
        {
            "type": "required",
            "status": {"response": "accepted", "time": "0001-01-01T00:00:00Z"},
            "emailAddress": {"name": "Alan Turing", "address": "alan@contoso.test"},
        }
    ]
    assert values[1]["type"] == "singleInstance" and values[1]["seriesMasterId"] is None
    assert "$deltatoken=" in delta_link

    calendar_id = (await graph.call("GET", "/me/calendars", token))[1]["value"][0]["id"]
    same, _, _ = await graph.delta_round(
        token, f"/me/calendars/{calendar_id}/calendarView/delta", WINDOW, page_size=10
    )
    assert [v["id"] for v in same] == [v["id"] for v in values]

    nothing, next_link, _ = await graph.delta_round(token, delta_link)
    assert nothing == [] and next_link != delta_link


async def test_delta_link_gives_changes_and_removals(graph: Graph) -> None:
    world = graph.world
    series = weekly_series(world)
    moved = world.create_event(GRACE, "Moved", at(8, 14), at(8, 15))
    doomed = world.create_event(GRACE, "Doomed", at(9, 14), at(9, 15))
    leaving = world.create_event(GRACE, "Leaving", at(10, 14), at(10, 15))
    world.create_event(GRACE, "Untouched", at(11, 14), at(11, 15))
    token = await graph.access_token()
    _, delta_link, _ = await graph.delta_round(token, "/me/calendarView/delta", WINDOW)

    world.move_event(moved, at(8, 16), at(8, 17))
    world.delete_event(doomed)
    world.move_event(leaving, at(10, 14) + timedelta(days=60), at(10, 15) + timedelta(days=60))
    world.cancel_instance(series, at(14, 9))
    world.move_instance(series, at(21, 9), at(22, 11), at(22, 12))
    added = world.create_event(GRACE, "Added", at(12, 9), at(12, 10))
    world.create_event(
        GRACE, "Far away", at(12, 9) + timedelta(days=90), at(12, 10) + timedelta(days=90)
    )

    changes, next_link, _ = await graph.delta_round(token, delta_link, page_size=3)
    full = {v["id"]: v for v in changes if "@removed" not in v}
    removed = {v["id"] for v in changes if "@removed" in v}
    assert set(full) == {
        event_graph_id(moved),
        event_graph_id(series, at(21, 9)),
        event_graph_id(added),
    }
    assert full[event_graph_id(moved)]["start"]["dateTime"] == "2030-01-08T15:00:00.0000000"
    exception = full[event_graph_id(series, at(21, 9))]
    assert exception["type"] == "exception"
    assert exception["start"]["dateTime"] == "2030-01-22T10:00:00.0000000"
    assert exception["originalStart"] == "2030-01-21T08:00:00Z"
    far_away = next(e.id for e in world.events(GRACE) if e.title == "Far away")
    assert removed == {
        event_graph_id(doomed),
        event_graph_id(leaving),
        event_graph_id(series, at(14, 9)),
        event_graph_id(far_away),  # changed outside the window: reported as removed
    }
    assert all(v["@removed"] == {"reason": "deleted"} for v in changes if "@removed" in v)

    world.cancel_event(added)
    changes, _, _ = await graph.delta_round(token, next_link)
    assert [(v["id"], v["isCancelled"]) for v in changes] == [(event_graph_id(added), True)]


async def test_invalid_delta_token_answers_410(graph: Graph) -> None:
    graph.world.create_event(GRACE, "One", at(8, 14), at(8, 15))
    token = await graph.access_token()
    _, delta_link, _ = await graph.delta_round(token, "/me/calendarView/delta", WINDOW)
    graph.emulator.invalidate_delta_tokens()
    status, body, headers = await graph.call("GET", delta_link, token)
    assert status == 410
    assert body["error"]["code"] == "SyncStateNotFound"
    assert headers["Location"].startswith(f"{graph.base_url}/v1.0/me/calendarView/delta?")
    assert "startDateTime=2030-01-01T00%3A00%3A00Z" in headers["Location"]
    status, body, _ = await graph.call(
        "GET", "/me/calendarView/delta", token, params={"$deltatoken": "R0usmc-nope"}
    )
    assert status == 410
    values, _, _ = await graph.delta_round(token, headers["Location"])
    assert [v["subject"] for v in values] == ["One"]
    status, body, _ = await graph.call("GET", "/me/calendarView/delta", token)
    assert status == 400 and body["error"]["code"] == "ErrorInvalidParameter"


def subscription_body(receiver: Receiver, graph: Graph, **extra: Any) -> dict[str, Any]:
    return {
        "changeType": "created,updated,deleted",
        "notificationUrl": receiver.url + "?tenant=42",
        "lifecycleNotificationUrl": receiver.url,
        "resource": "me/events",
        "expirationDateTime": graph_stamp(graph.world.now() + timedelta(days=2)),
        "clientState": "secret-client-state",
        **extra,
    }


async def test_subscription_handshake_notifications_and_renewal(graph: Graph) -> None:
    world = graph.world
    event = world.create_event(GRACE, "Standup", at(8, 9), at(8, 10))
    token = await graph.access_token()
    async with Receiver() as receiver:
        status, sub, _ = await graph.call(
            "POST", "/subscriptions", token, json=subscription_body(receiver, graph)
        )
        assert status == 201, sub
        assert sub["resource"] == "me/events" and sub["clientState"] == "secret-client-state"
        assert sub["changeType"] == "created,updated,deleted"
        assert sub["applicationId"] == graph.client.client_id
        assert sub["creatorId"] == world.user(GRACE).id
        notification_check = await receiver.validations.get()
        lifecycle_check = await receiver.validations.get()
        assert notification_check.query["tenant"] == "42"
        assert notification_check.query["validationToken"].startswith("Validation: ")
        assert notification_check.headers["Content-Type"].startswith("text/plain")
        assert "tenant" not in lifecycle_check.query

        world.move_event(event, at(8, 11), at(8, 12))
        added = world.create_event(GRACE, "Added", at(9, 9), at(9, 10))
        world.delete_event(event)
        user_id = world.user(GRACE).id
        for change_type, event_id in (
            ("updated", event),
            ("created", added),
            ("deleted", event),
        ):
            (item,) = (await receiver.next())["value"]
            graph_id = event_graph_id(event_id)
            assert item == {
                "subscriptionId": sub["id"],
                "subscriptionExpirationDateTime": sub["expirationDateTime"],
                "changeType": change_type,
                "resource": f"Users/{user_id}/Events/{graph_id}",
                "resourceData": {
                    "@odata.type": "#Microsoft.Graph.Event",
                    "@odata.id": f"Users/{user_id}/Events/{graph_id}",
                    "@odata.etag": item["resourceData"]["@odata.etag"],
                    "id": graph_id,
                },
                "clientState": "secret-client-state",
                "tenantId": world.tenant_id,
            }

        later = graph_stamp(world.now() + timedelta(days=2, hours=12))
        status, renewed, _ = await graph.call(
            "PATCH", f"/subscriptions/{sub['id']}", token, json={"expirationDateTime": later}
        )
        assert status == 200 and renewed["expirationDateTime"] == later
        too_late = graph_stamp(world.now() + timedelta(minutes=4231))
        status, body, _ = await graph.call(
            "PATCH", f"/subscriptions/{sub['id']}", token, json={"expirationDateTime": too_late}
        )
        assert status == 400 and "4230 minutes" in body["error"]["message"]

        status, _, _ = await graph.call("DELETE", f"/subscriptions/{sub['id']}", token)
        assert status == 204
        world.move_event(added, at(9, 11), at(9, 12))
        await asyncio.wrap_future(graph.emulator.flush())
        assert receiver.notifications.empty()
        status, body, _ = await graph.call("GET", f"/subscriptions/{sub['id']}", token)
        assert status == 404
        kinds = [p.kind for p in graph.emulator.pushes.all()]
        assert kinds == ["validation", "validation", "change", "change", "change"]


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("wrong", "Response must exactly match validationToken query parameter."),
        ("error", "Notification endpoint must respond with 200 OK to validation request."),
        ("hang", "Subscription validation request timed out."),
    ],
)
async def test_subscription_refused_when_validation_fails(
    graph: Graph, mode: str, message: str
) -> None:
    graph.emulator.validation_timeout = 0.3
    token = await graph.access_token()
    async with Receiver(mode) as receiver:
        status, body, _ = await graph.call(
            "POST", "/subscriptions", token, json=subscription_body(receiver, graph)
        )
    assert status == 400
    assert body["error"]["code"] == "InvalidRequest"
    assert body["error"]["message"].endswith(message)
    assert graph.emulator.subscriptions == {}


async def test_subscription_refused_before_any_request(graph: Graph) -> None:
    token = await graph.access_token()
    async with Receiver() as receiver:
        too_late = graph_stamp(graph.world.now() + timedelta(minutes=4231))
        for body in (
            subscription_body(receiver, graph, expirationDateTime=too_late),
            subscription_body(receiver, graph, notificationUrl="https://example.com/hook"),
            subscription_body(receiver, graph, resource="me/messages"),
        ):
            status, answer, _ = await graph.call("POST", "/subscriptions", token, json=body)
            assert status == 400, answer
        assert receiver.validations.empty()
    refused = graph.emulator.pushes.all()
    assert [(p.kind, p.sent) for p in refused] == [("validation", False)]


async def test_lifecycle_notifications(graph: Graph) -> None:
    world = graph.world
    event = world.create_event(GRACE, "Standup", at(8, 9), at(8, 10))
    token = await graph.access_token()
    async with Receiver() as receiver:
        status, sub, _ = await graph.call(
            "POST", "/subscriptions", token, json=subscription_body(receiver, graph)
        )
        assert status == 201

        record = await asyncio.wrap_future(
            graph.emulator.send_lifecycle(sub["id"], "reauthorizationRequired")
        )
        assert record is not None and record.status == 202
        (item,) = (await receiver.next())["value"]
        assert item == {
            "subscriptionId": sub["id"],
            "subscriptionExpirationDateTime": sub["expirationDateTime"],
            "tenantId": world.tenant_id,
            "clientState": "secret-client-state",
            "lifecycleEvent": "reauthorizationRequired",
        }
        world.move_event(event, at(8, 11), at(8, 12))  # paused until reauthorized
        await asyncio.wrap_future(graph.emulator.flush())
        assert receiver.notifications.empty()
        status, _, _ = await graph.call("POST", f"/subscriptions/{sub['id']}/reauthorize", token)
        assert status == 204
        world.move_event(event, at(8, 13), at(8, 14))
        assert (await receiver.next())["value"][0]["changeType"] == "updated"

        await asyncio.wrap_future(graph.emulator.send_lifecycle(sub["id"], "missed"))
        assert (await receiver.next())["value"][0]["lifecycleEvent"] == "missed"

        await asyncio.wrap_future(graph.emulator.send_lifecycle(sub["id"], "subscriptionRemoved"))
        assert (await receiver.next())["value"][0]["lifecycleEvent"] == "subscriptionRemoved"
        status, _, _ = await graph.call("GET", f"/subscriptions/{sub['id']}", token)
        assert status == 404
        world.move_event(event, at(8, 15), at(8, 16))
        await asyncio.wrap_future(graph.emulator.flush())
        assert receiver.notifications.empty()


async def test_get_event_occurrence_and_series_master(graph: Graph) -> None:
    series = weekly_series(graph.world)
    token = await graph.access_token()
    status, occurrence, _ = await graph.call(
        "GET", f"/me/events/{event_graph_id(series, at(14, 9))}", token
    )
    assert status == 200 and occurrence["type"] == "occurrence"
    assert occurrence["originalStart"] == "2030-01-14T08:00:00Z"
    status, master, _ = await graph.call("GET", f"/me/events/{event_graph_id(series)}", token)
    assert status == 200 and master["type"] == "seriesMaster"
    assert master["recurrence"]["pattern"]["type"] == "weekly"
    assert master["recurrence"]["pattern"]["daysOfWeek"] == ["monday"]
    assert master["recurrence"]["range"] == {
        "type": "numbered",
        "endDate": "0001-01-01",
        "numberOfOccurrences": 10,
        "startDate": "2030-01-07",
        "recurrenceTimeZone": "Europe/Paris",
    }
    paris = {"Prefer": 'outlook.timezone="Europe/Paris"'}
    status, local, _ = await graph.call(
        "GET", f"/me/events/{event_graph_id(series)}", token, headers=paris
    )
    assert local["start"] == {"dateTime": "2030-01-07T09:00:00.0000000", "timeZone": "Europe/Paris"}
    status, instances, _ = await graph.call(
        "GET", f"/me/events/{event_graph_id(series)}/instances", token, params=WINDOW
    )
    assert status == 200 and len(instances["value"]) == 4

    graph.world.cancel_instance(series, at(14, 9))
    status, body, _ = await graph.call(
        "GET", f"/me/events/{event_graph_id(series, at(14, 9))}", token
    )
    assert status == 404 and body["error"]["code"] == "ErrorItemNotFound"


async def test_failure_knobs(graph: Graph) -> None:
    token = await graph.access_token()
    graph.emulator.down = True
    status, body, headers = await graph.call("GET", "/me", token)
    assert status == 503 and body["error"]["code"] == "serviceNotAvailable"
    assert headers["Retry-After"] == "1"
    status, body = await graph.token()
    assert status == 503 and body["error"] == "temporarily_unavailable" and body["error_codes"]
    graph.emulator.down = False
    graph.emulator.fail_next = 1
    assert (await graph.call("GET", "/me", token))[0] == 503
    assert (await graph.call("GET", "/me", token))[0] == 200
    assert [r.status for r in graph.emulator.requests.matching("GET", "/v1.0/me")] == [
        503,
        503,
        200,
    ]
