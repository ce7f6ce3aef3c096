"""The Google Calendar emulator over real HTTP: tokens, listing, paging, sync tokens, push."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web

from provider_emulators.calendar_world import Attendee, CalendarWorld, OAuthClient
from provider_emulators.common import BackgroundEmulator
from provider_emulators.google_calendar import GoogleCalendarEmulator

PARIS = ZoneInfo("Europe/Paris")
ADA = "ada@example.com"
WINDOW = {"timeMin": "2030-01-01T00:00:00Z", "timeMax": "2030-02-01T00:00:00Z"}


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in January 2030, Paris."""
    return datetime(2030, 1, day, hour, minute, tzinfo=PARIS)


@dataclass
class Received:
    headers: dict[str, str]
    query: dict[str, str]
    body: bytes


class Receiver:
    """A loopback endpoint in the test's event loop that queues what it is sent."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[Received] = asyncio.Queue()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        await self.received.put(Received(dict(request.headers), dict(request.query), body))
        return web.Response(status=200)

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def next(self, timeout: float = 5.0) -> Received:
        return await asyncio.wait_for(self.received.get(), timeout)


@dataclass
class Google:
    base_url: str
    emulator: GoogleCalendarEmulator
    world: CalendarWorld
    client: OAuthClient
    refresh_token: str
    session: aiohttp.ClientSession

    @property
    def api(self) -> str:
        return f"{self.base_url}/calendar/v3"

    async def token(self, refresh_token: str | None = None, **form: str) -> aiohttp.ClientResponse:
        data = {
            "grant_type": "refresh_token",
            "client_id": self.client.client_id,
            "client_secret": self.client.client_secret,
            "refresh_token": refresh_token or self.refresh_token,
            **form,
        }
        return await self.session.post(f"{self.base_url}/token", data=data)

    async def access_token(self) -> str:
        async with await self.token() as response:
            assert response.status == 200, await response.text()
            return (await response.json())["access_token"]

    async def get(self, path: str, token: str, **params: str) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        async with self.session.get(self.api + path, params=params, headers=headers) as response:
            return response.status, await response.json()

    async def post(self, path: str, token: str, body: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        async with self.session.post(self.api + path, json=body, headers=headers) as response:
            text = await response.text()
            return response.status, (await response.json() if text else None)

    async def list_all(self, token: str, **params: str) -> tuple[list[dict[str, Any]], str]:
        """Every page of events.list; returns the items and the nextSyncToken."""
        items: list[dict[str, Any]] = []
        page_token = None
        while True:
            query = dict(params, **({"pageToken": page_token} if page_token else {}))
            status, body = await self.get("/calendars/primary/events", token, **query)
            assert status == 200, body
            items.extend(body["items"])
            page_token = body.get("nextPageToken")
            if not page_token:
                return items, body.get("nextSyncToken")


@pytest.fixture
def world() -> CalendarWorld:
    world = CalendarWorld()
    world.create_user(ADA, "Ada Lovelace", time_zone="Europe/Paris")
    return world


@pytest.fixture
def google_server(world: CalendarWorld) -> Iterator[BackgroundEmulator]:
    with BackgroundEmulator(GoogleCalendarEmulator(world)) as server:
        yield server


@pytest.fixture
async def google(google_server: BackgroundEmulator, world: CalendarWorld) -> AsyncIterator[Google]:
    emulator = google_server.emulator
    assert isinstance(emulator, GoogleCalendarEmulator)
    client = world.create_client()
    refresh_token = emulator.issue_refresh_token(client.client_id, ADA)
    async with aiohttp.ClientSession() as session:
        yield Google(google_server.base_url, emulator, world, client, refresh_token, session)


def series_and_single(world: CalendarWorld) -> tuple[str, str]:
    series = world.create_event(
        ADA,
        "Weekly sync",
        at(7, 9),
        at(7, 10),
        rrule="FREQ=WEEKLY;BYDAY=MO;COUNT=10",
        meeting_url="https://meet.google.com/abc-defg-hij",
        attendees=[Attendee(ADA, "Ada Lovelace", "accepted"), Attendee("bob@example.com")],
    )
    single = world.create_event(
        ADA,
        "Design review",
        at(9, 14),
        at(9, 15),
        organizer="carol@example.com",
        attendees=[Attendee("carol@example.com", "Carol"), Attendee(ADA, response="tentative")],
        meeting_url="https://zoom.us/j/123456789",
        passcode="4242",
    )
    return series, single


async def test_refresh_token_grant_and_bearer_access(google: Google) -> None:
    async with await google.token() as response:
        assert response.status == 200
        grant = await response.json()
    assert grant["token_type"] == "Bearer" and grant["expires_in"] == 3599
    assert grant["access_token"].startswith("ya29.")
    assert grant["scope"] == "https://www.googleapis.com/auth/calendar.readonly"
    assert "refresh_token" not in grant

    status, body = await google.get("/users/me/calendarList", grant["access_token"])
    assert status == 200
    assert body["kind"] == "calendar#calendarList"
    (primary,) = body["items"]
    assert primary["id"] == ADA and primary["primary"] is True
    assert primary["accessRole"] == "owner" and primary["timeZone"] == "Europe/Paris"
    assert google.emulator.requests.count("POST", "/token") == 1


async def test_refused_and_revoked_tokens(google: Google) -> None:
    async with await google.token(client_secret="wrong") as response:
        assert response.status == 401
        assert (await response.json())["error"] == "invalid_client"
    async with await google.token("1//0-not-a-token") as response:
        assert response.status == 400
        assert (await response.json())["error"] == "invalid_grant"
    async with await google.token(grant_type="authorization_code") as response:
        assert response.status == 400
        assert (await response.json())["error"] == "unsupported_grant_type"

    access = await google.access_token()
    google.world.revoke_refresh_token(google.refresh_token)
    async with await google.token() as response:
        assert response.status == 400
        assert await response.json() == {
            "error": "invalid_grant",
            "error_description": "Token has been expired or revoked.",
        }
    status, body = await google.get("/users/me/calendarList", access)
    assert status == 401
    (error,) = body["error"]["errors"]
    assert body["error"]["code"] == 401 and error["reason"] == "authError"


async def test_bearer_missing_or_expired(google: Google) -> None:
    async with google.session.get(f"{google.api}/users/me/calendarList") as response:
        assert response.status == 401
        assert (await response.json())["error"]["errors"][0]["reason"] == "required"
    access = await google.access_token()
    assert (await google.get("/users/me/calendarList", access))[0] == 200
    google.world.advance(3600)
    status, body = await google.get("/users/me/calendarList", access)
    assert status == 401 and body["error"]["message"] == "Invalid Credentials"
    fresh = await google.access_token()
    assert (await google.get("/users/me/calendarList", fresh))[0] == 200


async def test_window_expands_weekly_series_into_instances(google: Google) -> None:
    series, single = series_and_single(google.world)
    token = await google.access_token()

    status, body = await google.get(
        "/calendars/primary/events", token, singleEvents="true", orderBy="startTime", **WINDOW
    )
    assert status == 200 and body["kind"] == "calendar#events"
    assert "nextSyncToken" not in body  # Google gives none for an ordered query
    items = body["items"]
    assert [i["start"]["dateTime"] for i in items] == [
        "2030-01-07T09:00:00+01:00",
        "2030-01-09T14:00:00+01:00",
        "2030-01-14T09:00:00+01:00",
        "2030-01-21T09:00:00+01:00",
        "2030-01-28T09:00:00+01:00",
    ]
    first = items[0]
    assert first["id"] == f"{series}_20300107T080000Z"
    assert first["recurringEventId"] == series and "recurrence" not in first
    assert first["originalStartTime"] == {
        "dateTime": "2030-01-07T09:00:00+01:00",
        "timeZone": "Europe/Paris",
    }
    assert first["status"] == "confirmed" and first["summary"] == "Weekly sync"
    assert first["organizer"] == {"email": ADA, "self": True}
    assert first["hangoutLink"] == "https://meet.google.com/abc-defg-hij"
    assert first["conferenceData"]["conferenceSolution"]["key"]["type"] == "hangoutsMeet"
    assert first["conferenceData"]["entryPoints"][0] == {
        "entryPointType": "video",
        "uri": "https://meet.google.com/abc-defg-hij",
        "label": "meet.google.com/abc-defg-hij",
    }
    assert first["attendees"][0] == {
        "email": ADA,
        "displayName": "Ada Lovelace",
        "organizer": True,
        "self": True,
        "responseStatus": "accepted",
    }
    zoom = items[1]
    assert zoom["id"] == single and "recurringEventId" not in zoom and "hangoutLink" not in zoom
    assert zoom["organizer"] == {"email": "carol@example.com"}
    assert zoom["conferenceData"]["entryPoints"][0]["passcode"] == "4242"
    assert zoom["attendees"][1] == {"email": ADA, "self": True, "responseStatus": "tentative"}

    status, body = await google.get("/calendars/primary/events", token, **WINDOW)
    assert status == 200 and body["nextSyncToken"]
    master = next(i for i in body["items"] if i["id"] == series)
    assert master["recurrence"] == ["RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10"]
    assert len(body["items"]) == 2

    status, body = await google.get(f"/calendars/{ADA}/events/{first['id']}", token)
    assert status == 200 and body == first
    status, body = await google.get("/calendars/primary/events/nosuchevent", token)
    assert status == 404 and body["error"]["errors"][0]["reason"] == "notFound"
    status, body = await google.get(
        "/calendars/primary/events", token, orderBy="startTime", **WINDOW
    )
    assert status == 400


async def test_paging_gives_the_sync_token_on_the_last_page(google: Google) -> None:
    for day in range(1, 6):
        google.world.create_event(ADA, f"Meeting {day}", at(day + 10, 9), at(day + 10, 10))
    token = await google.access_token()
    status, first = await google.get(
        "/calendars/primary/events", token, singleEvents="true", maxResults="2", **WINDOW
    )
    assert status == 200 and len(first["items"]) == 2
    assert "nextPageToken" in first and "nextSyncToken" not in first
    items, sync_token = await google.list_all(token, singleEvents="true", maxResults="2", **WINDOW)
    assert [i["summary"] for i in items] == [f"Meeting {day}" for day in range(1, 6)]
    assert sync_token

    google.world.cancel_event(items[0]["id"])
    shown, _ = await google.list_all(token, singleEvents="true", **WINDOW)
    assert [i["summary"] for i in shown] == [f"Meeting {day}" for day in range(2, 6)]
    everything, _ = await google.list_all(token, singleEvents="true", showDeleted="true", **WINDOW)
    assert [(i["summary"], i["status"]) for i in everything][:2] == [
        ("Meeting 1", "cancelled"),
        ("Meeting 2", "confirmed"),
    ]


async def test_incremental_sync_returns_only_changes(google: Google) -> None:
    world = google.world
    series, single = series_and_single(world)
    doomed = world.create_event(ADA, "Doomed", at(10, 9), at(10, 10))
    untouched = world.create_event(ADA, "Untouched", at(11, 9), at(11, 10))
    token = await google.access_token()
    items, sync_token = await google.list_all(token, singleEvents="true", **WINDOW)
    assert len(items) == 7 and sync_token

    world.move_event(single, at(9, 16), at(9, 17))
    world.cancel_instance(series, at(14, 9))
    world.move_instance(series, at(21, 9), at(22, 10), at(22, 11))
    world.delete_event(doomed)
    added = world.create_event(ADA, "Added", at(12, 9), at(12, 10))

    changes, next_token = await google.list_all(token, syncToken=sync_token, singleEvents="true")
    by_id = {item["id"]: item for item in changes}
    assert set(by_id) == {
        single,
        f"{series}_20300114T080000Z",
        f"{series}_20300121T080000Z",
        doomed,
        added,
    }
    assert untouched not in by_id
    assert by_id[single]["start"]["dateTime"] == "2030-01-09T16:00:00+01:00"
    assert by_id[single]["status"] == "confirmed"
    cancelled = by_id[f"{series}_20300114T080000Z"]
    assert cancelled["status"] == "cancelled" and cancelled["recurringEventId"] == series
    moved = by_id[f"{series}_20300121T080000Z"]
    assert moved["status"] == "confirmed"
    assert moved["start"]["dateTime"] == "2030-01-22T10:00:00+01:00"
    assert moved["originalStartTime"]["dateTime"] == "2030-01-21T09:00:00+01:00"
    assert by_id[doomed] == {
        "kind": "calendar#event",
        "etag": by_id[doomed]["etag"],
        "id": doomed,
        "status": "cancelled",
    }
    assert by_id[added]["summary"] == "Added"

    nothing, last_token = await google.list_all(token, syncToken=next_token, singleEvents="true")
    assert nothing == [] and last_token

    world.move_event(series, at(7, 10), at(7, 11))  # the whole series moves an hour later
    changes, _ = await google.list_all(token, syncToken=last_token, singleEvents="true")
    cancelled_ids = {i["id"] for i in changes if i["status"] == "cancelled"}
    confirmed_ids = {i["id"] for i in changes if i["status"] == "confirmed"}
    assert f"{series}_20300107T080000Z" in cancelled_ids  # the 9:00 instances are gone
    assert f"{series}_20300128T080000Z" in cancelled_ids
    assert f"{series}_20300107T090000Z" in confirmed_ids  # the 10:00 ones replace them
    assert f"{series}_20300114T090000Z" in confirmed_ids


async def test_invalid_sync_tokens_answer_410(google: Google) -> None:
    google.world.create_event(ADA, "One", at(10, 9), at(10, 10))
    token = await google.access_token()
    _, sync_token = await google.list_all(token, singleEvents="true", **WINDOW)

    status, body = await google.get(
        "/calendars/primary/events", token, syncToken=sync_token, timeMin=WINDOW["timeMin"]
    )
    assert status == 400
    google.emulator.expire_sync_tokens()
    for candidate in (sync_token, "CPnot-a-token"):
        status, body = await google.get("/calendars/primary/events", token, syncToken=candidate)
        assert status == 410
        assert body == {
            "error": {
                "errors": [
                    {
                        "domain": "calendar",
                        "reason": "fullSyncRequired",
                        "message": "Sync token is no longer valid, a full sync is required.",
                    }
                ],
                "code": 410,
                "message": "Sync token is no longer valid, a full sync is required.",
            }
        }
    _, fresh = await google.list_all(token, singleEvents="true", **WINDOW)
    status, _ = await google.get("/calendars/primary/events", token, syncToken=fresh)
    assert status == 200


async def test_watch_sends_sync_then_a_push_per_change(google: Google) -> None:
    event = google.world.create_event(ADA, "Standup", at(10, 9), at(10, 10))
    token = await google.access_token()
    async with Receiver() as receiver:
        status, channel = await google.post(
            "/calendars/primary/events/watch",
            token,
            {
                "id": "channel-1",
                "type": "web_hook",
                "address": receiver.url,
                "token": "account=42",
                "params": {"ttl": "3600"},
            },
        )
        assert status == 200, channel
        assert channel["kind"] == "api#channel" and channel["id"] == "channel-1"
        assert channel["token"] == "account=42" and channel["resourceId"]
        assert channel["resourceUri"].startswith(f"{google.api}/calendars/primary/events")
        expiration = datetime.fromtimestamp(int(channel["expiration"]) / 1000, UTC)
        assert abs(expiration - (google.world.now() + timedelta(seconds=3600))) < timedelta(
            seconds=5
        )

        sync = await receiver.next()
        assert sync.body == b""
        assert sync.headers["X-Goog-Resource-State"] == "sync"
        assert sync.headers["X-Goog-Message-Number"] == "1"
        assert sync.headers["X-Goog-Channel-ID"] == "channel-1"
        assert sync.headers["X-Goog-Channel-Token"] == "account=42"
        assert sync.headers["X-Goog-Resource-ID"] == channel["resourceId"]
        assert sync.headers["X-Goog-Resource-URI"] == channel["resourceUri"]
        assert sync.headers["X-Goog-Channel-Expiration"].endswith(" GMT")

        google.world.move_event(event, at(10, 11), at(10, 12))
        google.world.delete_event(event)
        for number in ("2", "3"):
            push = await receiver.next()
            assert push.headers["X-Goog-Resource-State"] == "exists"
            assert push.headers["X-Goog-Message-Number"] == number

        status, _ = await google.post(
            "/channels/stop", token, {"id": "channel-1", "resourceId": channel["resourceId"]}
        )
        assert status == 204
        google.world.create_event(ADA, "After stop", at(12, 9), at(12, 10))
        await asyncio.wrap_future(google.emulator.flush())
        assert receiver.received.empty()
        assert [p.kind for p in google.emulator.pushes.all()] == ["sync", "exists", "exists"]
        assert all(p.status == 200 for p in google.emulator.pushes.all())

        status, body = await google.post(
            "/channels/stop", token, {"id": "channel-1", "resourceId": channel["resourceId"]}
        )
        assert status == 404


async def test_channel_expires(google: Google) -> None:
    event = google.world.create_event(ADA, "Standup", at(10, 9), at(10, 10))
    token = await google.access_token()
    async with Receiver() as receiver:
        watch = {
            "id": "short",
            "type": "web_hook",
            "address": receiver.url,
            "params": {"ttl": "60"},
        }
        status, channel = await google.post("/calendars/primary/events/watch", token, watch)
        assert status == 200
        assert (await receiver.next()).headers["X-Goog-Resource-State"] == "sync"
        google.world.advance(61)
        google.world.move_event(event, at(10, 11), at(10, 12))
        await asyncio.wrap_future(google.emulator.flush())
        assert receiver.received.empty()
        assert "short" not in google.emulator.channels
        token = await google.access_token()
        status, _ = await google.post(
            "/channels/stop", token, {"id": "short", "resourceId": channel["resourceId"]}
        )
        assert status == 404


async def test_push_disabled_sends_nothing_but_records(google: Google) -> None:
    event = google.world.create_event(ADA, "Standup", at(10, 9), at(10, 10))
    token = await google.access_token()
    async with Receiver() as receiver:
        watch = {"id": "quiet", "type": "web_hook", "address": receiver.url}
        assert (await google.post("/calendars/primary/events/watch", token, watch))[0] == 200
        assert (await receiver.next()).headers["X-Goog-Resource-State"] == "sync"
        google.emulator.push_enabled = False
        google.world.move_event(event, at(10, 11), at(10, 12))
        await asyncio.wrap_future(google.emulator.flush())
        assert receiver.received.empty()
        google.emulator.push_enabled = True
        google.world.move_event(event, at(10, 13), at(10, 14))
        push = await receiver.next()
        assert push.headers["X-Goog-Message-Number"] == "3"  # the unsent one kept its number
        await asyncio.wrap_future(google.emulator.flush())  # recorded once answered
    records = google.emulator.pushes.all()
    assert [(p.kind, p.sent) for p in records] == [
        ("sync", True),
        ("exists", False),
        ("exists", True),
    ]
    assert records[1].error == "suppressed: push_enabled is false"


async def test_watch_refuses_addresses_off_this_machine(google: Google) -> None:
    token = await google.access_token()
    status, body = await google.post(
        "/calendars/primary/events/watch",
        token,
        {"id": "c", "type": "web_hook", "address": "https://example.com/hook"},
    )
    assert status == 400
    assert body["error"]["errors"][0]["reason"] == "push.webhookUrlUnauthorized"
    assert google.emulator.pushes.all() == []


async def test_failure_knobs(google: Google) -> None:
    token = await google.access_token()
    google.emulator.down = True
    status, body = await google.get("/users/me/calendarList", token)
    assert status == 503 and body["error"]["errors"][0]["reason"] == "backendError"
    async with await google.token() as response:
        assert response.status == 503
    google.emulator.down = False
    google.emulator.fail_next, google.emulator.fail_status = 2, 500
    assert (await google.get("/users/me/calendarList", token))[0] == 500
    assert (await google.get("/users/me/calendarList", token))[0] == 500
    assert (await google.get("/users/me/calendarList", token))[0] == 200
    statuses = [r.status for r in google.emulator.requests.matching("GET", prefix="/calendar")]
    assert statuses == [503, 500, 500, 200]
    assert google.emulator.requests.keys_used() >= {token}
