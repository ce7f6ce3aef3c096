"""The control API and the HTTPS host dispatch, without a browser (async, on the test's loop)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ssl
from collections.abc import AsyncIterator

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from meeting_simulator import MeetingSimulator


@pytest.fixture
async def simulator() -> AsyncIterator[MeetingSimulator]:
    async with MeetingSimulator(host="127.0.0.1", no_response_after=600.0) as sim:
        yield sim


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def trusting(sim: MeetingSimulator) -> ssl.SSLContext:
    assert sim.certificate is not None
    context = ssl.create_default_context(cafile=str(sim.certificate.cert_path))
    return context


async def test_create_and_read_a_meeting(simulator, http):
    body = {
        "code": "abc-defg-hij",
        "participants": [{"name": "Alice"}, {"name": "Bob"}],
        "script": [
            {"speaker": "Alice", "text": "Good morning.", "at": 2.0},
            {"speaker": "Bob", "text": "Good morning.", "at": 4.0},
            {"speaker": "Alice", "text": "Good morning.", "at": 6.0},
            {"chat": "Bob", "text": "Agenda in the doc", "at": 1.0},
            {"leave": "Bob", "at": 20},
        ],
        "admission": {"action": "admit", "after": 1.5},
        "end_after": 30.0,
    }
    async with http.post(f"{simulator.control_url}/meetings", json=body) as response:
        assert response.status == 201
        created = await response.json()
    async with http.get(f"{simulator.control_url}/meetings/abc-defg-hij") as response:
        assert response.status == 200
        state = await response.json()
    assert state["code"] == created["code"] == "abc-defg-hij"
    assert state["status"] == "waiting" and state["started_at"] is None
    assert [p["name"] for p in state["participants"]] == ["Alice", "Bob"]
    assert all(p["present"] for p in state["participants"])
    assert state["participants"][0]["voice"] != state["participants"][1]["voice"]
    assert state["guests"] == [] and state["chat"] == []
    utterances = state["utterances"]
    assert [(u["speaker"], u["text"], u["at"]) for u in utterances] == [
        ("Alice", "Good morning.", 2.0),
        ("Bob", "Good morning.", 4.0),
        ("Alice", "Good morning.", 6.0),
    ]
    assert all(0.5 < u["duration"] < 3 for u in utterances)
    assert all(u["scheduled_start"] is None and u["actual_start"] is None for u in utterances)
    assert utterances[0]["duration"] == utterances[2]["duration"]
    assert utterances[0]["duration"] != utterances[1]["duration"]

    async with http.post(f"{simulator.control_url}/meetings", json=body) as response:
        assert response.status == 409
    async with http.delete(f"{simulator.control_url}/meetings/abc-defg-hij") as response:
        assert response.status == 204
    async with http.get(f"{simulator.control_url}/meetings/abc-defg-hij") as response:
        assert response.status == 404


@pytest.mark.parametrize(
    "body, complaint",
    [
        ({"code": "not a code"}, "code"),
        (
            {
                "code": "abc-defg-hij",
                "participants": [{"name": "A"}],
                "script": [{"speaker": "Z", "text": "x", "at": 1}],
            },
            "not a participant",
        ),
        ({"code": "abc-defg-hij", "admission": {"action": "maybe"}}, "admission.action"),
        ({"code": "abc-defg-hij", "participants": ["A", "A"]}, "own key"),
        ({"code": "abc-defg-hij", "participants": [{"name": "A", "host": True},
                                                   {"name": "B", "host": True}]}, "only one"),
        ({"code": "abc-defg-hij", "participants": [{"name": "A", "host": "yes"}]}, "host"),
        ({"code": "abc-defg-hij", "participants": ["A"], "script": [{"rename": "A", "at": 1}]},
         "script[0].to"),
        ({"code": "abc-defg-hij", "participants": ["A"],
          "script": [{"chat": "A", "text": "psst", "to": "guests", "at": 1}]}, "zoom only"),
        ({"code": "abc-defg-hij", "participants": ["A"],
          "script": [{"chat": "A", "text": "psst", "to": "nobody", "at": 1}]}, "script[0].to"),
        ({"code": "abc-defg-hij", "participants": [{"name": "A", "camera": "on"}]},
         "participants[0].camera"),
        ({"code": "abc-defg-hij", "participants": ["A"],
          "script": [{"camera": "A", "at": 1}]}, "script[0].on"),
        ({"code": "abc-defg-hij", "participants": ["A"],
          "script": [{"screenshare": "B", "on": True, "at": 1}]}, "not a participant"),
        ({"code": "abc-defg-hij", "end_after": -1}, "end_after"),
        (
            {
                "code": "abc-defg-hij",
                "participants": [{"name": "A"}],
                "script": [{"speaker": "A", "text": "x"}],
            },
            "at",
        ),
    ],
)
async def test_invalid_meetings_are_refused(simulator, http, body, complaint):
    async with http.post(f"{simulator.control_url}/meetings", json=body) as response:
        assert response.status == 400
        assert complaint in (await response.json())["error"]


async def test_host_header_dispatch_and_certificate(simulator, http):
    cert = x509.load_pem_x509_certificate(simulator.certificate.cert_path.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(sans.get_values_for_type(x509.DNSName)) == {
        "meet.google.com",
        "teams.microsoft.com",
        "teams.live.com",
        "login.microsoftonline.com",
        "zoom.us",
        "app.zoom.us",
        "*.zoom.us",
    }
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    expected = base64.b64encode(hashlib.sha256(spki).digest()).decode()
    args = simulator.chromium_args()
    assert f"--ignore-certificate-errors-spki-list={expected}" in args
    assert any(
        a.startswith("--host-resolver-rules=")
        and f"MAP meet.google.com 127.0.0.1:{simulator.https_port}" in a
        for a in args
    )
    assert not any(
        a.startswith("--ignore-certificate-errors=") or a == "--ignore-certificate-errors"
        for a in args
    )

    async def fetch(host: str, path: str) -> tuple[int, str]:
        connector = aiohttp.TCPConnector(
            ssl=trusting(simulator), resolver=_Loopback(simulator.https_port)
        )
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.get(f"https://{host}{path}") as response,
        ):
            return response.status, await response.text()

    status, text = await fetch("meet.google.com", "/zzz-zzzz-zzz")
    assert status == 200 and "Check your meeting code" in text
    status, text = await fetch("meet.google.com", "/")
    assert status == 200 and "Video calls and meetings for everyone" in text
    status, text = await fetch("app.zoom.us", "/wc/123456789/join")
    assert status == 200 and "This meeting link is invalid (3,001)" in text
    status, text = await fetch("us02web.zoom.us", "/j/123456789")
    assert status == 200 and "This meeting link is invalid (3,001)" in text
    status, _ = await fetch(f"127.0.0.1:{simulator.https_port}", "/")
    assert status == 421


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


async def test_admission_starts_the_clock_and_timeline(simulator, http):
    body = {
        "code": "qqq-wwww-eee",
        "participants": ["Alice", "Bob", "Carol"],
        "script": [
            {"chat": "Alice", "text": "hi", "at": 0.1},
            {"leave": "Bob", "at": 0.2},
            {"join": "Carol", "at": 0.2},
        ],
        "admission": {"action": "admit", "after": 0.1},
        "end_after": 1.5,
    }
    async with http.post(f"{simulator.control_url}/meetings", json=body) as response:
        assert response.status == 201
    meeting = simulator.store.get("qqq-wwww-eee")
    assert not meeting.participant("Carol").present
    guest = meeting.ask_to_join("API Bot")
    await asyncio.sleep(0.8)
    assert guest.status == "admitted"
    assert meeting.started_at == guest.admitted_at
    assert [m.text for m in meeting.chat] == ["hi"]
    assert not meeting.participant("Bob").present and meeting.participant("Alice").present
    assert meeting.participant("Carol").present
    assert meeting.status() == "active"
    await asyncio.sleep(1.2)
    async with http.get(f"{simulator.control_url}/meetings/qqq-wwww-eee") as response:
        state = await response.json()
    assert state["status"] == "ended" and state["end_reason"] == "end_after"
    assert state["guests"][0]["status"] == "ended"
    assert 1.45 < state["ended_at"] - state["started_at"] < 2.0


async def test_people_who_share_a_name_come_and_go_and_are_renamed_by_key(simulator, http):
    body = {
        "code": "kkk-wwww-eee",
        "participants": ["Alice", {"name": "Alex", "key": "alex-1", "host": True},
                         {"name": "Alex", "key": "alex-2"}],
        "script": [
            {"join": "alex-2", "at": 0.1},
            {"leave": "alex-2", "at": 0.2},
            {"join": "alex-2", "at": 0.3},
            {"rename": "Alice", "to": "Alice B.", "at": 0.3},
        ],
        "admission": {"action": "admit", "after": 0.1},
    }
    async with http.post(f"{simulator.control_url}/meetings", json=body) as response:
        assert response.status == 201
    meeting = simulator.store.get("kkk-wwww-eee")
    guest = meeting.ask_to_join("API Bot")
    await asyncio.sleep(0.9)
    async with http.get(f"{simulator.control_url}/meetings/kkk-wwww-eee") as response:
        state = await response.json()
    people = {p["key"]: p for p in state["participants"]}
    assert [(p["name"], p["host"]) for p in people.values()] == [
        ("Alice B.", False), ("Alex", True), ("Alex", False)]
    visits = people["alex-2"]["visits"]
    assert len(visits) == 2 and visits[0]["left_at"] is not None and visits[1]["left_at"] is None
    assert visits[0]["id"] != visits[1]["id"] == people["alex-2"]["id"]
    assert [r["to"] for r in people["Alice"]["renames"]] == ["Alice B."]
    view = meeting.page_view(guest, "/audio")
    assert sorted((p["name"], p["host"]) for p in view["participants"]) == [
        ("Alex", False), ("Alex", True), ("Alice B.", False)]


async def test_cameras_and_screenshares_switch_one_presenter_at_a_time(simulator, http):
    body = {
        "code": "ccc-wwww-sss",
        "participants": [{"name": "Ana", "camera": True}, "Ben"],
        "script": [
            {"screenshare": "Ana", "on": True, "at": 0.1},
            {"camera": "Ana", "on": False, "at": 0.2},
            {"screenshare": "Ben", "on": True, "at": 0.3},
            {"leave": "Ben", "at": 1.5},
        ],
        "admission": {"action": "admit", "after": 0.1},
    }
    async with http.post(f"{simulator.control_url}/meetings", json=body) as response:
        assert response.status == 201
    meeting = simulator.store.get("ccc-wwww-sss")
    guest = meeting.ask_to_join("API Bot")
    ben = meeting.participant("Ben")
    async with asyncio.timeout(10):
        while not ben.media:  # Ben presents from 0.3 s to his leaving at 1.5 s
            await meeting.wait_changed(meeting.version, 2.0)
    view = {p["name"]: p for p in meeting.page_view(guest, "/audio")["participants"]}
    assert view["Ana"]["camera"] is False and view["Ana"]["presentation_id"] is None
    assert view["Ben"]["presentation_id"] not in (None, view["Ben"]["id"])
    async with asyncio.timeout(10):
        while ben.present:
            await meeting.wait_changed(meeting.version, 2.0)
    async with http.get(f"{simulator.control_url}/meetings/ccc-wwww-sss") as response:
        state = await response.json()
    people = {p["key"]: p for p in state["participants"]}
    assert [(m["kind"], m["on"]) for m in people["Ana"]["media"]] == [
        ("screenshare", True), ("camera", False), ("screenshare", False)]
    assert [(m["kind"], m["on"]) for m in people["Ben"]["media"]] == [
        ("screenshare", True), ("screenshare", False)]
    assert people["Ben"]["sharing"] is False and people["Ben"]["present"] is False
