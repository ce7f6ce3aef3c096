"""One real platform per test session: NATS, PostgreSQL, the object store, two replicas of every
service (as in Kubernetes: two of each worker, two gateways), the meeting simulator; a webhook
receiver, a trace collector, the Gladia and Runpod emulators and the Google Calendar and
Microsoft Graph emulators on loopback."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack.platform import PlatformStack
from devstack.sockets import find_free_ports
from meeting_simulator.client import SimulatorClient, new_meet_code
from provider_emulators import BackgroundEmulator, GladiaEmulator, RunpodEmulator
from provider_emulators.calendar_world import CalendarWorld
from provider_emulators.google_calendar import GoogleCalendarEmulator
from provider_emulators.microsoft_graph import MicrosoftGraphEmulator
from provider_emulators.zoom_oauth import ZoomOAuthEmulator
from support import (
    BOT_MEETING_SCRIPT,
    BOT_MEETING_TOKEN,
    FRENCH_LINES,
    FRENCH_TOPIC,
    FRENCH_VOICES,
    Api,
    BackgroundServer,
    SpeechProviders,
    TraceCollector,
    WebhookReceiver,
    wait_for,
)
from transcriber.whisper_model import ensure_whisper_model

TEST_SETTINGS = {
    "SCHEDULER_HEARTBEAT_TIMEOUT_S": "12",
    "SCHEDULER_PICKUP_TIMEOUT_S": "180",
    "GATEWAY_MIN_WAITING_ROOM_TIMEOUT_S": "5",
    "GATEWAY_MIN_SILENCE_TIMEOUT_S": "10",
    "WEBHOOK_RETRY_SCHEDULE_S": "0,1,2,4",
    "WEBHOOK_ATTEMPT_TIMEOUT_S": "2",
    "RUNNER_EVERYONE_LEFT_GRACE_S": "5",
    "RUNNER_SCREENSHOT_INTERVAL_S": "5",
    "RUNNER_MAX_CONCURRENT_BOTS": "1",
    "MB_RETRY_DELAYS_S": "0.5,1,2,4",
    "MEETINGS_IMPORT_MAX_MB": "20",
}


@pytest.fixture(scope="session")
def webhooks():
    receiver = WebhookReceiver()
    server = BackgroundServer(receiver.app())
    server.start()
    receiver.url = server.url
    yield receiver
    server.stop()


@pytest.fixture(scope="session")
def traces():
    collector = TraceCollector()
    server = BackgroundServer(collector.app())
    server.start()
    collector.url = server.url
    yield collector
    server.stop()


@pytest.fixture(scope="session")
def platform_dir() -> Iterator[Path]:
    """Outside pytest's temporary root, which another pytest session makes private (0700) when it
    starts: that would lock out PostgreSQL, which runs as its own system user under root.
    `MB_TEST_STACK_DIR` names a directory to use instead, kept afterwards (its logs, to debug)."""
    kept = os.environ.get("MB_TEST_STACK_DIR")
    if kept:
        Path(kept).mkdir(parents=True, exist_ok=True)
        yield Path(kept)
        return
    with tempfile.TemporaryDirectory(prefix="mb-platform-", ignore_cleanup_errors=True) as path:
        yield Path(path)


@pytest.fixture(scope="session")
def speech_providers(platform_dir):
    """Gladia and Runpod as their public docs describe them, transcribing with the platform's
    own model files (assembled here once; the transcriber then finds them ready)."""
    model_dir = ensure_whisper_model(platform_dir / "models")
    providers = SpeechProviders()
    gladia = GladiaEmulator(model_dir, api_keys=[providers.gladia_key])
    runpod = RunpodEmulator(model_dir, api_keys=[providers.runpod_key],
                            endpoint_ids=[providers.runpod_endpoint])
    with BackgroundEmulator(gladia) as gladia_server, BackgroundEmulator(runpod) as runpod_server:
        providers.gladia, providers.gladia_url = gladia, gladia_server.base_url
        providers.runpod, providers.runpod_url = runpod, runpod_server.base_url
        yield providers


class CalendarProviders:
    """Google and Microsoft as their public docs describe them, over one shared world of users,
    calendars and events that tests create, move and cancel; and Zoom's OAuth."""

    def __init__(self, world: CalendarWorld, google: BackgroundEmulator,
                 microsoft: BackgroundEmulator, zoom: ZoomOAuthEmulator,
                 zoom_server: BackgroundEmulator) -> None:
        self.world, self.google, self.microsoft = world, google, microsoft
        self.zoom, self.zoom_server = zoom, zoom_server

    def settings(self) -> dict[str, str]:
        return {"CALENDAR_GOOGLE_TOKEN_URL": f"{self.google.base_url}/token",
                "CALENDAR_GOOGLE_API_URL": f"{self.google.base_url}/calendar/v3",
                "CALENDAR_MICROSOFT_LOGIN_URL": self.microsoft.base_url,
                "CALENDAR_GRAPH_URL": f"{self.microsoft.base_url}/v1.0",
                "CALENDAR_ZOOM_OAUTH_URL": self.zoom_server.base_url,
                "CALENDAR_ZOOM_API_URL": f"{self.zoom_server.base_url}/v2"}


@pytest.fixture(scope="session")
def calendar_providers():
    world = CalendarWorld()
    zoom = ZoomOAuthEmulator()
    with BackgroundEmulator(GoogleCalendarEmulator(world)) as google, \
            BackgroundEmulator(MicrosoftGraphEmulator(world)) as microsoft, \
            BackgroundEmulator(zoom.app()) as zoom_server:
        yield CalendarProviders(world, google, microsoft, zoom, zoom_server)


@pytest.fixture(scope="session")
def platform(platform_dir, traces, speech_providers, calendar_providers):
    base = platform_dir
    (gateway_port,) = find_free_ports(1)
    settings = {**TEST_SETTINGS, "OTEL_EXPORTER_OTLP_ENDPOINT": traces.url,
                "OTEL_BSP_SCHEDULE_DELAY": "500",
                "TRANSCRIBER_GLADIA_URL": speech_providers.gladia_url,
                "TRANSCRIBER_RUNPOD_URL": speech_providers.runpod_url,
                "TRANSCRIBER_RUNPOD_ENDPOINT_ID": speech_providers.runpod_endpoint,
                "TRANSCRIBER_PROVIDER_POLL_S": "0.5",
                "CALENDAR_PUSH_URL": f"http://127.0.0.1:{gateway_port}",
                **calendar_providers.settings()}
    stack = PlatformStack(base, settings=settings, gateway_port=gateway_port, replicas=2,
                          gateway_replicas=2)
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def api(platform) -> Api:
    return Api(platform.endpoints.gateway_url, platform.endpoints.api_key)


@pytest.fixture(scope="session")
def simulator(platform) -> SimulatorClient:
    return SimulatorClient(platform.endpoints.simulator_control_url)


@pytest.fixture(scope="session")
def bot_meetings(api, simulator, platform) -> dict[str, dict]:
    """Meetings created with a bot (`POST /meetings/`), once per session, at once, completed:

    * `english`: Alice and Bob speak BOT_MEETING_SCRIPT; Carol was invited;
    * `french`: of the French topic; Alice and Bob speak FRENCH_LINES.

    test_meetings.py deletes the English one's data last, so the modules that read it
    (test_meeting_client.py) run before it."""
    org = platform.endpoints.account_id
    french_voices = [{"name": name, "voice": voice, "pitch": pitch}
                     for name, (voice, pitch) in FRENCH_VOICES.items()]
    meetings = {
        "english": ("mtg-sumr-ize", [{"name": "Alice"}, {"name": "Bob"}], BOT_MEETING_SCRIPT,
                    25.0, {"title": f"Budget review {BOT_MEETING_TOKEN}",
                           "participants": ["carol@acme.example"], "topic_id": 1}),
        "french": ("frn-cais-mtg", french_voices,
                   [{"speaker": speaker, "text": text, "at": 2.0 + 5.5 * index}
                    for index, (speaker, text) in enumerate(FRENCH_LINES)],
                   20.0, {"title": f"Point projet {BOT_MEETING_TOKEN}",
                          "topic_id": FRENCH_TOPIC}),
    }
    created = {}
    for name, (code, participants, script, end_after, body) in meetings.items():
        simulator.create_meeting(code, participants=participants, script=script,
                                 admission={"action": "admit", "after": 2.0},
                                 end_after=end_after)
        response = api.request("POST", "/meetings/", {
            "organization_id": org, "bot_meeting_url": f"https://meet.google.com/{code}",
            **body})
        assert response.status == 201, response.body
        assert response.body["status"] == "scheduled" and response.body["bot_id"], response.body
        created[name] = response.body["id"]

    def done(meeting_id: int) -> dict | None:
        meeting = api.request("GET", f"/meetings/{meeting_id}").body
        finished = meeting["status"] in ("completed", "failed") and meeting["summary_complete"]
        return meeting if finished else None

    finished = {}
    for name, meeting_id in created.items():
        finished[name] = wait_for(lambda meeting_id=meeting_id: done(meeting_id), timeout=300,
                                  step=1.0)
        assert finished[name], api.request("GET", f"/meetings/{meeting_id}").body
    return finished


@pytest.fixture(scope="session")
def bot_meeting(bot_meetings) -> dict:
    return bot_meetings["english"]


@pytest.fixture
def meeting_code() -> str:
    return new_meet_code()
