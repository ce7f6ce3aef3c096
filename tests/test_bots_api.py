"""`GET /bots/{uuid}` and deduplication of bots sent to the same meeting."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

REFERENCE = Path(__file__).resolve().parents[2] / "shared/reference/meeting-baas-openapi.json"
FUTURE = 4102444800  # 2100-01-01: the bot stays queued


def test_get_bot_shows_parameters_status_and_history(api, meeting_code):
    created = api.join(meeting_url=f"https://meet.google.com/{meeting_code}", bot_name="Reader",
                       start_time=FUTURE, extra={"ticket": 7},
                       speech_to_text={"provider": "Default", "api_key": "secret-stt-key"})
    bot_id = created.body["bot_id"]
    response = api.request("GET", f"/bots/{bot_id}")
    assert response.status == 200
    body = response.body
    assert body["bot"]["uuid"] == bot_id and body["bot"]["bot_name"] == "Reader"
    assert body["bot"]["extra"] == {"ticket": 7}
    assert body["status"]["code"] == "queued"
    assert [h["code"] for h in body["status_history"]] == ["queued"]
    params = body["params"]
    assert params["start_time"] == FUTURE and params["bot_name"] == "Reader"
    bot_param = json.loads(REFERENCE.read_text())["components"]["schemas"]["BotParam"]
    assert set(bot_param["properties"]) <= set(params), "the reference's flat BotParam"
    assert params["speech_to_text_provider"] == "Default"
    assert params["speech_to_text_api_key"] is None and params["extra"] == {"ticket": 7}
    assert "secret-stt-key" not in str(body)
    api.request("DELETE", f"/bots/{bot_id}")
    after = api.request("GET", f"/bots/{bot_id}").body
    assert [h["code"] for h in after["status_history"]] == ["queued", "failed"]
    assert after["status"]["reason"] == "cancelled"


def test_get_bot_errors(api):
    assert api.request("GET", f"/bots/{uuid.uuid4()}").status == 404
    assert api.request("GET", "/bots/not-a-uuid").body["field"] == "uuid"


def test_a_second_bot_to_the_same_meeting_within_5_minutes_is_refused(api, meeting_code):
    url = f"https://meet.google.com/{meeting_code}"
    first = api.join(meeting_url=url, bot_name="One", start_time=FUTURE)
    assert first.status == 200
    second = api.join(meeting_url=url + "?authuser=0", bot_name="Two", start_time=FUTURE)
    assert second.status == 200, "a different URL (query string kept) is a different meeting"
    again = api.join(meeting_url=url, bot_name="Three", start_time=FUTURE)
    assert again.status == 409
    assert again.body["code"] == "DuplicateBot"
    assert first.body["bot_id"] in again.body["message"]
    assert "deduplication_key" in again.body["message"]
    override = api.join(meeting_url=url, bot_name="Four", start_time=FUTURE,
                        deduplication_key="second-recorder")
    assert override.status == 200


def test_a_cancelled_bot_does_not_block_a_new_one(api, meeting_code):
    url = f"https://meet.google.com/{meeting_code}"
    first = api.join(meeting_url=url, bot_name="One", start_time=FUTURE)
    api.request("DELETE", f"/bots/{first.body['bot_id']}")
    assert api.join(meeting_url=url, bot_name="Two", start_time=FUTURE).status == 200


def test_silence_timeout_has_its_own_range(api, meeting_code):
    url = f"https://meet.google.com/{meeting_code}"
    too_short = api.join(meeting_url=url, bot_name="B", automatic_leave={"silence_timeout": 7})
    assert too_short.status == 400
    assert too_short.body["field"] == "automatic_leave.silence_timeout"
    fine = api.join(meeting_url=url, bot_name="B", start_time=FUTURE,
                    automatic_leave={"waiting_room_timeout": 7, "noone_joined_timeout": 7})
    assert fine.status == 200, fine.body


def test_webhook_documentation_describes_the_events_we_send(api):
    everything = api.request("GET", "/bots/webhooks")
    assert everything.status == 200
    events = {e["event"] for e in everything.body["bot_events"]}
    assert {"bot.status_change", "complete", "failed", "transcription_complete"} <= events
    bot = api.request("GET", "/bots/webhooks/bot").body
    assert "webhook-signature" in bot["delivery"]["headers"]
    calendar = api.request("GET", "/bots/webhooks/calendar").body["events"]
    assert [e["event"] for e in calendar] == ["calendar.sync_events"]
    assert everything.body["calendar_events"] == calendar
    assert api.request("GET", "/bots/webhooks", api_key=None).status == 401
