"""Measures calendars on the real platform, the provider emulators and the meeting simulator.

- the initial sync of a Google calendar holding `--events` events (1,000 by default): seconds for
  `POST /calendars/` (which syncs before it answers) and for listing them all, 100 a page;
- push-to-webhook latency: an event changed at the provider, until the `calendar.sync_events`
  webhook naming it arrives (`--pushes` times);
- how late bots scheduled from events join: the simulator's admission time minus the event's
  start, for `--bots` events starting together (negative: admitted before the start).

Run with `uv run python benchmarks/calendar_benchmark.py`. Not a test: nothing is asserted, the
machine may be shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from devstack.platform import PlatformStack
from devstack.receivers import BackgroundServer, WebhookReceiver
from devstack.sockets import find_free_ports
from meeting_simulator.client import SimulatorClient, new_meet_code
from provider_emulators import BackgroundEmulator
from provider_emulators.calendar_world import CalendarWorld
from provider_emulators.google_calendar import GoogleCalendarEmulator

HOOK_PATH = "/calendar-bench"


class Client:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url, self.api_key = base_url, api_key

    def request(self, method: str, path: str, body: Any = None) -> Any:
        url = path if path.startswith("http") else self.base_url + path
        request = urllib.request.Request(
            url, method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "x-meeting-baas-api-key": self.api_key})
        with urllib.request.urlopen(request, timeout=300) as response:
            raw = response.read()
        return json.loads(raw) if raw else None


def minute(offset_s: float) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=offset_s)


def initial_sync(api: Client, world: CalendarWorld, google: GoogleCalendarEmulator, email: str,
                 count: int) -> tuple[dict, str]:
    world.create_user(email, "Bench User")
    client = world.create_client()
    refresh_token = google.issue_refresh_token(client.client_id, email)
    first = minute(3600)
    for n in range(count):  # spread over the 30-day window
        start = first + timedelta(minutes=40 * n)
        world.create_event(email, f"Meeting {n}", start, start + timedelta(minutes=30),
                           meeting_url=f"https://meet.google.com/{new_meet_code()}")
    started = time.monotonic()
    calendar = api.request("POST", "/calendars/", {
        "oauth_client_id": client.client_id, "oauth_client_secret": client.client_secret,
        "oauth_refresh_token": refresh_token, "platform": "Google"})["calendar"]
    connected = time.monotonic() - started
    started = time.monotonic()
    listed, page = 0, f"/calendar_events/?calendar_id={calendar['uuid']}&status=all"
    while page:
        body = api.request("GET", page)
        listed += len(body["data"])
        page = body["next"]
    listing = time.monotonic() - started
    return {"events": count, "listed": listed, "connect_and_sync_s": round(connected, 2),
            "list_all_s": round(listing, 2)}, calendar["uuid"]


def push_latency(api: Client, world: CalendarWorld, receiver: WebhookReceiver,
                 calendar_uuid: str, email: str, pushes: int) -> dict:
    latencies = []
    for n in range(pushes):
        start = minute(1800 + 60 * n)
        changed = time.time()
        provider_id = world.create_event(email, f"Pushed {n}", start,
                                         start + timedelta(minutes=30),
                                         meeting_url=f"https://meet.google.com/{new_meet_code()}")
        event = find_event(api, calendar_uuid, provider_id)
        hook = receiver.wait_on_path(
            HOOK_PATH, lambda w, uuid=event["uuid"]: w.body["event"] == "calendar.sync_events"
            and uuid in w.body["data"]["affected_event_uuids"], timeout=60)
        latencies.append(hook.received_at - changed)
    return {"pushes": pushes, "median_s": round(statistics.median(latencies), 3),
            "max_s": round(max(latencies), 3)}


def find_event(api: Client, calendar_uuid: str, provider_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        page: str | None = f"/calendar_events/?calendar_id={calendar_uuid}&status=all"
        while page:
            body = api.request("GET", page)
            for event in body["data"]:
                if event["google_id"] == provider_id:
                    return event
            page = body["next"]
        if time.monotonic() > deadline:
            raise TimeoutError(f"event {provider_id} was never listed")
        time.sleep(0.2)


def join_lateness(api: Client, world: CalendarWorld, simulator: SimulatorClient,
                  calendar_uuid: str, email: str, bots: int, lead_s: float) -> dict:
    start = minute(lead_s)
    scheduled = []
    for n in range(bots):
        code = new_meet_code()
        simulator.create_meeting(code, participants=[{"name": "Alice"}],
                                 admission={"action": "admit", "after": 0.5},
                                 end_after=lead_s + 40)
        provider_id = world.create_event(email, f"Join {n}", start, start + timedelta(minutes=30),
                                         meeting_url=f"https://meet.google.com/{code}")
        event = find_event(api, calendar_uuid, provider_id)
        api.request("POST", f"/calendar_events/{event['uuid']}/bot", {"bot_name": f"Bench {n}"})
        scheduled.append(code)
    offsets = []
    deadline = time.monotonic() + lead_s + 240
    for code in scheduled:
        while time.monotonic() < deadline:
            guests = simulator.meeting(code)["guests"]
            if guests and guests[0].get("admitted_at"):
                offsets.append(guests[0]["admitted_at"] - start.timestamp())
                break
            time.sleep(0.5)
    return {"bots": bots, "admitted": len(offsets),
            "admitted_after_start_s": [round(o, 1) for o in offsets]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--pushes", type=int, default=10)
    parser.add_argument("--bots", type=int, default=2)
    parser.add_argument("--lead", type=float, default=90.0,
                        help="seconds from scheduling to the bots' event start")
    args = parser.parse_args()
    receiver = WebhookReceiver()
    server = BackgroundServer(receiver.app())
    server.start()
    receiver.url = server.url
    world = CalendarWorld()
    try:
        with BackgroundEmulator(GoogleCalendarEmulator(world)) as google, \
                tempfile.TemporaryDirectory(prefix="mb-calendar-bench-") as base:
            (gateway_port,) = find_free_ports(1)
            settings = {"CALENDAR_GOOGLE_TOKEN_URL": f"{google.base_url}/token",
                        "CALENDAR_GOOGLE_API_URL": f"{google.base_url}/calendar/v3",
                        "CALENDAR_PUSH_URL": f"http://127.0.0.1:{gateway_port}"}
            with PlatformStack(Path(base), settings=settings, gateway_port=gateway_port) as stack:
                api = Client(stack.endpoints.gateway_url, stack.endpoints.api_key)
                api.request("POST", "/accounts/webhook_url",
                            {"webhook_url": receiver.url + HOOK_PATH})
                email = "bench@acme.test"
                figures, calendar_uuid = initial_sync(api, world, google.emulator, email,
                                                      args.events)
                print(json.dumps({"initial_sync": figures}), flush=True)
                print(json.dumps({"push_to_webhook": push_latency(
                    api, world, receiver, calendar_uuid, email, args.pushes)}), flush=True)
                simulator = SimulatorClient(stack.endpoints.simulator_control_url)
                print(json.dumps({"join_lateness": join_lateness(
                    api, world, simulator, calendar_uuid, email, args.bots, args.lead)}),
                    flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
