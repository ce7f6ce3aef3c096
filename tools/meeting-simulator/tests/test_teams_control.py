"""Teams meetings through the control API and the Teams hosts, without a browser."""

from __future__ import annotations

import asyncio
import ssl
import urllib.parse
from collections.abc import AsyncIterator

import aiohttp
import pytest

from meeting_simulator import (
    MeetingSimulator,
    SimulatorClient,
    new_teams_meeting_id,
    new_teams_numeric_id,
)
from meeting_simulator.meetings import normalize_teams_id


@pytest.fixture
async def simulator() -> AsyncIterator[MeetingSimulator]:
    async with MeetingSimulator(host="127.0.0.1", no_response_after=600.0) as sim:
        yield sim


class _Loopback(aiohttp.abc.AbstractResolver):
    """Resolves every name to the simulator, as Chromium's --host-resolver-rules does."""

    def __init__(self, port: int) -> None:
        self.port = port

    async def resolve(self, host, port=0, family=0):
        return [
            {
                "hostname": host,
                "host": "127.0.0.1",
                "port": self.port,
                "family": 2,
                "proto": 0,
                "flags": 0,
            }
        ]

    async def close(self) -> None:
        return None


async def fetch(sim: MeetingSimulator, url: str) -> tuple[int, str, str]:
    assert sim.certificate is not None
    context = ssl.create_default_context(cafile=str(sim.certificate.cert_path))
    connector = aiohttp.TCPConnector(ssl=context, resolver=_Loopback(sim.https_port))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.get(url, allow_redirects=False) as response,
    ):
        return response.status, response.headers.get("Location", ""), await response.text()


def test_generated_ids_are_teams_ids():
    thread = new_teams_meeting_id()
    assert thread.startswith("19:meeting_") and thread.endswith("@thread.v2")
    assert normalize_teams_id(thread) == thread
    numeric = new_teams_numeric_id()
    assert numeric.isdigit() and len(numeric) == 13 and numeric[0] != "0"
    assert normalize_teams_id("123 4567 8901") == "12345678901"
    for bad in ("abc-defg-hij", "123456789", "19:meeting_x@thread.v2", "19:abcdefgh@thread.v2"):
        assert normalize_teams_id(bad) is None


async def test_teams_meetings_in_the_control_api(simulator):
    thread = new_teams_meeting_id()
    client = SimulatorClient(simulator.control_url)

    def scenario() -> None:
        created = client.create_meeting(
            thread, platform="teams", participants=["Alice"], guest_chat=True
        )
        assert created["platform"] == "teams" and created["code"] == thread
        assert created["guest_chat"] is True and created["captcha"] is False
        assert created["prejoin_modal"] in ("before", "after")
        assert created["passcode"] is None and created["toasts"] is True
        assert client.meeting(thread)["code"] == thread
        assert client.chat(thread, "Alice", "hi")["text"] == "hi"
        assert client.end(thread)["status"] == "ended"

        numeric = new_teams_numeric_id()
        state = client.create_meeting(
            numeric, platform="teams", passcode="abc123", prejoin_modal="none"
        )
        assert (state["passcode"], state["prejoin_modal"]) == ("abc123", "none")
        assert "guest_chat" not in client.create_meeting("abc-defg-hij")
        client.delete(numeric)

    await asyncio.to_thread(scenario)

    base = simulator.control_url
    async with aiohttp.ClientSession() as http:
        encoded = urllib.parse.quote(thread, safe="")
        async with http.get(f"{base}/meetings/{encoded}") as response:
            assert response.status == 200 and (await response.json())["code"] == thread
        async with http.get(f"{base}/meetings/{thread}") as response:
            assert response.status == 200
        for body, complaint in (
            ({"code": "abc-defg-hij", "platform": "teams"}, "code"),
            ({"code": thread, "platform": "skype"}, "platform"),
            ({"code": new_teams_meeting_id(), "platform": "teams", "passcode": 12}, "passcode"),
            (
                {"code": new_teams_meeting_id(), "platform": "teams", "prejoin_modal": "x"},
                "prejoin_modal",
            ),
        ):
            async with http.post(f"{base}/meetings", json=body) as response:
                assert response.status == 400
                assert complaint in (await response.json())["error"]


async def test_teams_hosts(simulator):
    thread = new_teams_meeting_id()
    async with aiohttp.ClientSession() as http:
        body = {"code": thread, "platform": "teams", "participants": ["Alice"]}
        async with http.post(f"{simulator.control_url}/meetings", json=body) as response:
            assert response.status == 201
        meet = {"code": "abc-defg-hij"}
        async with http.post(f"{simulator.control_url}/meetings", json=meet) as response:
            assert response.status == 201

    encoded = urllib.parse.quote(thread, safe="")
    for host in ("teams.microsoft.com", "teams.live.com"):
        status, _, text = await fetch(simulator, f"https://{host}/l/meetup-join/{encoded}/0")
        assert status == 200 and "launcher.js" in text
        status, _, text = await fetch(simulator, f"https://{host}/meet/1234567890123?p=x")
        assert status == 200 and "launcher.js" in text
        status, _, text = await fetch(simulator, f"https://{host}/v2/?meetingjoin=true")
        assert status == 200 and "teams.js" in text and "mixed-audio.js" in text
    status, location, _ = await fetch(simulator, "https://teams.microsoft.com/v2")
    assert status == 302 and location == "/v2/?meetingjoin=true"

    status, _, text = await fetch(
        simulator, f"https://teams.microsoft.com/_sim/api/{encoded}/meeting"
    )
    assert status == 200 and '"ok": true' in text
    status, _, text = await fetch(
        simulator, "https://teams.microsoft.com/_sim/api/abc-defg-hij/meeting"
    )
    assert '"reason": "not_found"' in text, "a Meet meeting is not a Teams meeting"

    status, _, text = await fetch(
        simulator, "https://login.microsoftonline.com/common/oauth2/v2.0/authorize?x=1"
    )
    assert status == 200 and "Sign in" in text and 'name="loginfmt"' in text
    status, _, text = await fetch(
        simulator, f"https://login.microsoftonline.com/l/meetup-join/{encoded}/0"
    )
    assert "Sign in" in text and "launcher.js" not in text
