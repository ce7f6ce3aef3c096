"""`GET /bots/{uuid}/screenshots`: what the bot saw, as dated, downloadable PNGs, for its owner only."""

from __future__ import annotations

import urllib.request
from datetime import datetime
from pathlib import PurePosixPath
from urllib.parse import urlparse

import pytest

from support import Api, account_api

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def send_bot(api, webhooks, code, **extra) -> str:
    response = api.join(meeting_url=f"https://meet.google.com/{code}", bot_name="Notetaker",
                        webhook_url=webhooks.url + "/screenshots", **extra)
    assert response.status == 200, response.body
    return response.body["bot_id"]


def label_of(url: str) -> str:
    """`.../screenshots/20250131T140203.123456Z-waiting-room.png?X-Amz-...` -> `waiting-room`."""
    name = PurePosixPath(urlparse(url).path).name
    assert name.endswith(".png"), url
    return name.removesuffix(".png").split("-", 1)[1]


def screenshots(api, bot_id: str) -> list[dict]:
    response = api.request("GET", f"/bots/{bot_id}/screenshots")
    assert response.status == 200, response.body
    assert isinstance(response.body, list), response.body
    for item in response.body:
        assert set(item) == {"date", "url"}, item
        assert isinstance(item["date"], str) and isinstance(item["url"], str), item
    return response.body


def assert_dated_pngs(items: list[dict]) -> None:
    dates = [datetime.fromisoformat(item["date"]) for item in items]
    assert all(d.tzinfo is not None for d in dates), items
    assert dates == sorted(dates), [item["date"] for item in items]
    for item in items:
        with urllib.request.urlopen(item["url"], timeout=30) as response:
            assert response.status == 200
            assert response.read(8) == PNG_MAGIC, item["url"]


@pytest.fixture(scope="module")
def other_api(api, platform) -> Api:

    return account_api(platform, "screenshots-other")


def test_a_denied_bot_shows_joining_and_failure(api, other_api, simulator, webhooks, meeting_code):
    simulator.create_meeting(meeting_code, participants=[{"name": "Alice"}],
                             admission={"action": "deny", "after": 2.0})
    bot_id = send_bot(api, webhooks, meeting_code)
    final = webhooks.wait_final(bot_id, timeout=120)
    assert final.body["event"] == "failed", final.body
    items = screenshots(api, bot_id)
    labels = [label_of(item["url"]) for item in items]
    assert "joining" in labels and "failure" in labels, labels
    assert labels[0] == "joining" and labels[-1] == "failure", labels
    assert_dated_pngs(items)
    hidden = other_api.request("GET", f"/bots/{bot_id}/screenshots")
    assert hidden.status == 404, hidden.body
    assert hidden.body["code"] and hidden.body["message"], hidden.body


def test_an_admitted_bot_shows_every_stage_of_its_call(api, other_api, simulator, webhooks,
                                                       meeting_code):
    # In tests the bot shoots `in-call` every 5 s after it starts recording; a 10 s meeting
    # leaves a few seconds of margin for a loaded machine.
    simulator.create_meeting(
        meeting_code, participants=[{"name": "Alice"}],
        script=[{"speaker": "Alice", "text": "Let us keep this one short.", "at": 1.0}],
        admission={"action": "admit", "after": 2.0}, end_after=10,
    )
    bot_id = send_bot(api, webhooks, meeting_code)
    final = webhooks.wait_final(bot_id, timeout=180)
    assert final.body["event"] == "complete", final.body
    items = screenshots(api, bot_id)
    labels = [label_of(item["url"]) for item in items]
    assert {"joining", "admitted", "in-call"} <= set(labels), labels
    assert labels.index("joining") < labels.index("admitted") < labels.index("in-call"), labels
    if "waiting-room" in labels:
        assert labels.index("joining") < labels.index("waiting-room") < labels.index("admitted")
    assert "failure" not in labels, labels
    assert_dated_pngs(items)
    assert other_api.request("GET", f"/bots/{bot_id}/screenshots").status == 404


def test_a_bot_that_has_not_joined_yet_has_no_screenshots(api, other_api):
    created = api.join(meeting_url="https://meet.google.com/zzz-zzzz-zzz", bot_name="Later",
                       start_time=4102444800)
    assert created.status == 200, created.body
    bot_id = created.body["bot_id"]
    try:
        assert screenshots(api, bot_id) == []
        assert other_api.request("GET", f"/bots/{bot_id}/screenshots").status == 404
    finally:
        assert api.request("DELETE", f"/bots/{bot_id}").status == 200


def test_unknown_and_malformed_bot_ids(api):
    unknown = api.request("GET", "/bots/00000000-0000-4000-8000-000000000000/screenshots")
    assert unknown.status == 404, unknown.body
    assert unknown.body["code"] and unknown.body["message"], unknown.body
    malformed = api.request("GET", "/bots/not-a-uuid/screenshots")
    assert malformed.status == 400, malformed.body
    assert malformed.body["field"] == "uuid", malformed.body
    assert "not-a-uuid" in malformed.body["message"]
    assert api.request("GET", "/bots/00000000-0000-4000-8000-000000000000/screenshots",
                       api_key=None).status == 401
