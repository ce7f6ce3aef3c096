"""One real platform per test session: NATS, PostgreSQL, the object store, every service, the
meeting simulator; a webhook receiver and a trace collector on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack.platform import PlatformStack
from meeting_simulator.client import SimulatorClient, new_meet_code
from support import Api, BackgroundServer, TraceCollector, WebhookReceiver

TEST_SETTINGS = {
    "SCHEDULER_HEARTBEAT_TIMEOUT_S": "12",
    "SCHEDULER_PICKUP_TIMEOUT_S": "180",
    "GATEWAY_MIN_WAITING_ROOM_TIMEOUT_S": "5",
    "WEBHOOK_RETRY_SCHEDULE_S": "0,1,2,4",
    "WEBHOOK_ATTEMPT_TIMEOUT_S": "2",
    "RUNNER_EVERYONE_LEFT_GRACE_S": "5",
    "RUNNER_SCREENSHOT_INTERVAL_S": "5",
    "RUNNER_MAX_CONCURRENT_BOTS": "2",
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
def platform(tmp_path_factory, traces):
    base = Path(tmp_path_factory.mktemp("platform"))
    settings = {**TEST_SETTINGS, "OTEL_EXPORTER_OTLP_ENDPOINT": traces.url,
                "OTEL_BSP_SCHEDULE_DELAY": "500"}
    stack = PlatformStack(base, settings=settings)
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def api(platform) -> Api:
    return Api(platform.endpoints.gateway_url, platform.endpoints.api_key)


@pytest.fixture(scope="session")
def simulator(platform) -> SimulatorClient:
    return SimulatorClient(platform.endpoints.simulator_control_url)


@pytest.fixture
def meeting_code() -> str:
    return new_meet_code()
