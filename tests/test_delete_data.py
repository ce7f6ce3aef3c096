"""`POST /bots/{uuid}/delete_data` removes a bot's data from every service and keeps its metadata."""

from __future__ import annotations

import uuid

import psycopg
from minio import Minio

from support import Api, account_api


def stored_objects(platform, bot_id: str) -> list[str]:
    infra = platform.infra_endpoints
    store = Minio(infra.s3_endpoint, infra.s3_access_key, infra.s3_secret_key, secure=False)
    return [o.object_name for o in store.list_objects("meeting-bots", prefix=f"bots/{bot_id}/",
                                                      recursive=True)]


def rows(platform, database: str, sql: str, bot_id: str) -> int:
    with psycopg.connect(platform.infra_endpoints.database_dsn(database)) as conn:
        return conn.execute(sql, (bot_id,)).fetchone()[0]


def data_rows(platform, bot_id: str) -> dict[str, int]:
    return {
        "transcripts": rows(platform, "transcriber",
                            "SELECT count(*) FROM transcripts WHERE bot_id = %s", bot_id),
        "words": rows(platform, "transcriber",
                      "SELECT count(*) FROM transcript_words w JOIN transcript_segments s "
                      "ON s.id = w.segment_id JOIN transcripts t ON t.id = s.transcript_id "
                      "WHERE t.bot_id = %s", bot_id),
        "deliveries": rows(platform, "webhooks",
                           "SELECT count(*) FROM deliveries WHERE bot_id = %s", bot_id),
        "attempts": rows(platform, "webhooks",
                         "SELECT count(*) FROM delivery_attempts a JOIN deliveries d "
                         "ON d.id = a.delivery_id WHERE d.bot_id = %s", bot_id),
    }


def test_data_is_refused_in_a_call_then_deleted_everywhere(api, simulator, webhooks, platform,
                                                           meeting_code):
    simulator.create_meeting(
        meeting_code, participants=[{"name": "Alice"}],
        script=[{"speaker": "Alice", "text": "Please delete this recording afterwards.", "at": 2.0}],
        admission={"action": "admit", "after": 1.0}, end_after=12.0,
    )
    bot_id = api.join(meeting_url=f"https://meet.google.com/{meeting_code}", bot_name="Forgetful",
                      webhook_url=webhooks.url + "/delete", speech_to_text="Default").body["bot_id"]
    webhooks.wait_for(bot_id, lambda w: w.body["data"].get("status", {}).get("code")
                      == "in_call_recording", timeout=120)
    in_call = api.request("POST", f"/bots/{bot_id}/delete_data")
    assert in_call.status == 409 and in_call.body["code"] == "BotInCall"

    assert webhooks.wait_final(bot_id, timeout=180).body["event"] == "complete"
    assert stored_objects(platform, bot_id)
    assert all(data_rows(platform, bot_id).values()), data_rows(platform, bot_id)

    deleted = api.request("POST", f"/bots/{bot_id}/delete_data")
    assert deleted.status == 200 and deleted.body == {"ok": True, "status": "deleted"}
    assert stored_objects(platform, bot_id) == []
    assert data_rows(platform, bot_id) == {"transcripts": 0, "words": 0, "deliveries": 0,
                                           "attempts": 0}
    metadata = api.request("GET", f"/bots/meeting_data?bot_id={bot_id}").body
    assert metadata["mp4"] == "" and metadata["audio"] == ""
    assert metadata["bot_data"]["transcripts"] == []
    assert metadata["bot_data"]["bot"]["bot_name"] == "Forgetful"
    assert api.request("GET", f"/bots/{bot_id}").body["status"]["code"] == "completed"
    listed = api.request("GET", "/bots/bots_with_metadata?bot_name=Forgetful").body["bots"]
    assert [(b["id"], b["content_deleted"]) for b in listed] == [(bot_id, True)]

    again = api.request("POST", f"/bots/{bot_id}/delete_data")
    assert again.body == {"ok": True, "status": "alreadyDeleted"}


def test_a_bot_without_data_answers_no_data_found(api, meeting_code):
    bot_id = api.join(meeting_url=f"https://meet.google.com/{meeting_code}", bot_name="Idle",
                      start_time=4102444800).body["bot_id"]
    response = api.request("POST", f"/bots/{bot_id}/delete_data")
    assert response.body == {"ok": True, "status": "noDataFound"}


def test_delete_data_is_limited_to_5_per_minute_per_key_across_gateway_replicas(api, platform):
    urls = platform.endpoints.gateway_urls
    assert len(urls) == 2, "the suite runs two replicas of the gateway"
    key = account_api(platform, "deleter").api_key
    replicas = [Api(url, key) for url in urls]
    for n in range(5):
        deleter = replicas[n % 2]
        assert deleter.request("POST", f"/bots/{uuid.uuid4()}/delete_data").status == 404
    limited = replicas[1].request("POST", f"/bots/{uuid.uuid4()}/delete_data")
    assert limited.status == 429
    assert limited.body["code"] == "TooManyRequests"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert api.request("POST", f"/bots/{uuid.uuid4()}/delete_data").status == 404, \
        "another key is not limited"


def test_another_accounts_bot_is_not_found(api, platform, meeting_code):
    bot_id = api.join(meeting_url=f"https://meet.google.com/{meeting_code}", bot_name="Mine",
                      start_time=4102444800).body["bot_id"]
    stranger = account_api(platform, "stranger")
    assert stranger.request("POST", f"/bots/{bot_id}/delete_data").status == 404
