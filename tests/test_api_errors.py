"""Bad requests get a clear JSON error naming the field, and create nothing."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from meeting_simulator.client import new_meet_code
from support import account_api

MEET = "https://meet.google.com/abc-defg-hij"


@pytest.fixture
def bot_count(platform):
    dsn = platform.infra_endpoints.database_dsn("scheduler")

    def count() -> int:
        with psycopg.connect(dsn) as conn:
            return conn.execute("SELECT count(*) FROM bots").fetchone()[0]

    return count


@pytest.mark.parametrize(
    "meeting_url",
    ["https://example.com/abc-defg-hij", "https://meet.google.com/", "not a url", ""],
)
def test_a_non_meeting_url_is_refused_and_no_bot_is_created(api, bot_count, meeting_url):
    before = bot_count()
    response = api.join(meeting_url=meeting_url, bot_name="Bot")
    assert response.status == 400
    assert response.body["code"] == "InvalidMeetingUrl"
    assert response.body["field"] == "meeting_url"
    assert "meeting_url" in response.body["message"]
    assert bot_count() == before


def test_a_missing_api_key_is_refused(api):
    response = api.request("POST", "/bots/", {"meeting_url": MEET, "bot_name": "B"}, api_key=None)
    assert response.status == 401
    assert response.body["code"] == "MissingApiKey"


def test_an_unknown_api_key_is_refused(api):
    response = api.request("POST", "/bots/", {"meeting_url": MEET, "bot_name": "B"},
                           api_key="mb_not-a-real-key")
    assert response.status == 401
    assert response.body["code"] == "InvalidApiKey"


def test_every_route_needs_a_key(api):
    for method, path in (("DELETE", f"/bots/{uuid.uuid4()}"),
                         ("GET", f"/bots/meeting_data?bot_id={uuid.uuid4()}")):
        assert api.request(method, path, api_key=None).status == 401


def test_malformed_json_is_a_400_naming_the_body(api, bot_count):
    before = bot_count()
    response = api.request("POST", "/bots/", raw=b'{"meeting_url": ')
    assert response.status == 400
    assert response.body["code"] == "MalformedJson"
    assert response.body["field"] == "body"
    assert bot_count() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"meeting_url": MEET, "bot_name": 42}, "bot_name"),
        ({"bot_name": "Bot"}, "meeting_url"),
        ({"meeting_url": MEET, "bot_name": "Bot", "start_time": "soon"}, "start_time"),
        ({"meeting_url": MEET, "bot_name": "Bot", "recording_mode": "film"}, "recording_mode"),
        ({"meeting_url": MEET, "bot_name": "Bot", "speech_to_text": {"provider": "Nope"}},
         "speech_to_text"),
        ({"meeting_url": MEET, "bot_name": "Bot", "surprise": True}, "surprise"),
    ],
)
def test_a_wrong_type_or_missing_field_is_a_422_naming_it(api, bot_count, body, field):
    before = bot_count()
    response = api.request("POST", "/bots/", body)
    assert response.status == 422, response.body
    assert response.body["field"].startswith(field)
    assert field in response.body["message"]
    assert bot_count() == before


def test_unknown_fields_inside_a_join_request_and_in_other_bodies_are_ignored(api):
    """Only JoinRequest sets `additionalProperties: false` in the reference; the objects inside it
    and the other bodies leave room for fields a newer client may send."""
    response = api.join(meeting_url=f"https://meet.google.com/{new_meet_code()}", bot_name="Later",
                        start_time=4102444800, deduplication_key=str(uuid.uuid4()),
                        automatic_leave={"waiting_room_timeout": 30, "from_the_future": 1},
                        speech_to_text={"provider": "Default", "model": "next"},
                        streaming={"audio_frequency": "16khz", "channels": 2})
    assert response.status == 200, response.body
    bot_id = response.body["bot_id"]
    try:
        details = api.request("GET", f"/bots/{bot_id}").body
        assert details["params"]["waiting_room_timeout"] == 30
        assert details["params"]["speech_to_text_provider"] == "Default"
        assert "from_the_future" not in str(details) and "channels" not in str(details)
    finally:
        api.request("DELETE", f"/bots/{bot_id}")
    hook = api.request("POST", "/accounts/webhook_url",
                       {"webhook_url": "https://example.org/hook", "format": "v2"})
    assert hook.status == 200, hook.body


def test_an_out_of_range_timeout_is_a_400_naming_it(api, bot_count):
    before = bot_count()
    response = api.join(meeting_url=MEET, bot_name="Bot",
                        automatic_leave={"waiting_room_timeout": 99999})
    assert response.status == 400
    assert response.body["field"] == "automatic_leave.waiting_room_timeout"
    assert bot_count() == before


def test_an_unknown_bot_is_a_404(api):
    missing = uuid.uuid4()
    assert api.request("DELETE", f"/bots/{missing}").status == 404
    response = api.request("GET", f"/bots/meeting_data?bot_id={missing}")
    assert response.status == 404
    assert response.body["code"] == "BotNotFound"


def test_a_malformed_bot_id_is_a_400_naming_it(api):
    response = api.request("GET", "/bots/meeting_data?bot_id=not-a-uuid")
    assert response.status == 400
    assert response.body["field"] == "bot_id"
    assert api.request("GET", "/bots/meeting_data").body["field"] == "bot_id"


def test_another_accounts_bot_is_invisible(api, platform):


    other = account_api(platform, "other")
    created = api.join(meeting_url="https://meet.google.com/zzz-zzzz-zzz", bot_name="Mine",
                       start_time=4102444800)
    assert created.status == 200
    bot_id = created.body["bot_id"]
    assert other.request("GET", f"/bots/meeting_data?bot_id={bot_id}").status == 404
    assert other.request("DELETE", f"/bots/{bot_id}").status == 404
    assert api.request("DELETE", f"/bots/{bot_id}").status == 200
