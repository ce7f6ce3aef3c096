"""Meetings through the REST surface, on the real stack: a meeting created with a bot for a
simulated Google Meet call ends with a transcript, a summary, notes, keywords, participants and a
playable recording; a meeting whose topic is French is heard and summarised in French; every bot
is a meeting without a call of its own; every list filter narrows; bad input is a 400 naming the field and leaves nothing behind; another account's meeting is a 404.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from support import (
    BOT_MEETING_SCRIPT,
    BOT_MEETING_TOKEN,
    ENGLISH_WORDS,
    FRENCH_WORDS,
    Api,
    account_api,
    decodes,
    ffprobe,
    normalize,
    wait_for,
)

SCRIPT = BOT_MEETING_SCRIPT
SUBJECTS = {"budget", "marketing", "storage", "database", "report", "finance", "engineers"}
TOKEN = BOT_MEETING_TOKEN
"""In the title of every meeting this module creates (and of the session's bot meeting), to find
them among the account's others."""


def create(api: Api, org: int, **body) -> tuple[int, dict]:
    response = api.request("POST", "/meetings/", {"organization_id": org, **body})
    return response.status, response.body


@pytest.fixture(scope="module")
def org(platform) -> int:
    return platform.endpoints.account_id


def test_a_bot_meeting_is_completed_with_its_bot(api, bot_meeting):
    assert bot_meeting["status"] == "completed", bot_meeting
    assert bot_meeting["error"] is None
    assert bot_meeting["location"].endswith("/mtg-sumr-ize")
    assert bot_meeting["language"] == "en"
    assert bot_meeting["num_cluster"] == 2
    bot = api.request("GET", f"/bots/{bot_meeting['bot_id']}")
    assert bot.status == 200, bot.body
    assert bot.body["bot"]["meeting_url"].endswith("/mtg-sumr-ize")


def test_its_transcript_is_what_was_said_by_whom(api, bot_meeting):
    body = api.request("GET", f"/meetings/{bot_meeting['id']}/transcript").body
    assert body["meeting_id"] == bot_meeting["id"] and body["title"] == bot_meeting["title"]
    assert body["total_segments"] == len(body["transcripts"]) >= 2
    heard = {(s["speaker"], w) for s in body["transcripts"] for w in normalize(s["text"])}
    for line in SCRIPT:
        words = set(normalize(line["text"]))
        mine = {w for speaker, w in heard if speaker == line["speaker"]}
        assert len(words & mine) >= 0.8 * len(words), (line, body["transcripts"])
    starts = [s["start_time"] for s in body["transcripts"]]
    assert starts == sorted(starts)


def test_its_summary_notes_and_keywords_hold_the_main_subjects(api, bot_meeting):
    body = api.request("GET", f"/meetings/{bot_meeting['id']}/summary").body
    assert body["summary_complete"] is True
    assert body["summary"] and "Alice" in body["summary"] and "Bob" in body["summary"]
    assert body["notes"] and "Alice" in body["notes"]
    found = {word for keyword in body["keywords"] for word in normalize(keyword)} & SUBJECTS
    assert len(found) >= 3, body["keywords"]
    assert body["keywords"] == bot_meeting["keywords"]


def test_its_participants_are_the_invited_and_the_heard(api, bot_meeting):
    body = api.request("GET", f"/meetings/{bot_meeting['id']}/participants").body
    names = {p["name"] for p in body["participants"]}
    emails = {p["email"] for p in body["participants"]}
    assert {"Alice", "Bob"} <= names and "carol@acme.example" in emails, body
    assert body["total_participants"] == len(body["participants"]) == \
        bot_meeting["participant_count"]


def test_its_recording_plays(api, bot_meeting):
    body = api.request("GET", f"/meetings/{bot_meeting['id']}/recording").body
    assert body["format"] == "mp4" and body["recording_url"].startswith("http")
    probe = ffprobe(body["recording_url"])
    assert abs(float(probe["format"]["duration"]) - body["duration"]) <= 3.0
    assert decodes(body["recording_url"])


def test_a_french_meeting_is_transcribed_and_summarised_in_french(api, bot_meetings):
    meeting = bot_meetings["french"]
    assert meeting["status"] == "completed", meeting
    assert meeting["language"] == "fr"
    body = api.request("GET", f"/meetings/{meeting['id']}/transcript").body
    heard = {w for s in body["transcripts"] for w in normalize(s["text"])}
    print(f"\nheard in French: {sorted(heard & FRENCH_WORDS)}")
    assert len(heard & FRENCH_WORDS) >= 5 and not heard & ENGLISH_WORDS, body["transcripts"]
    summary = api.request("GET", f"/meetings/{meeting['id']}/summary").body
    keywords = {w for keyword in summary["keywords"] for w in normalize(keyword)}
    assert keywords and not keywords & {"nous", "avons", "tout", "plus", "pour"}, summary


def test_a_bot_sent_with_post_bots_is_a_meeting(api, org):
    response = api.join(meeting_url="https://meet.google.com/far-futu-rex", bot_name="Later",
                        start_time=4102444800)
    assert response.status == 200, response.body
    bot_id = response.body["bot_id"]

    def listed():
        page = api.request("GET", "/meetings/?title=Google%20Meet&size=100").body
        return next((m for m in page["results"] if m["bot_id"] == bot_id), None)

    meeting = wait_for(listed, timeout=30)
    assert meeting, f"bot {bot_id} has no meeting"
    assert meeting["title"] == "Google Meet meeting" and meeting["status"] == "scheduled"
    assert meeting["organization_id"] == org and meeting["from_calendar"] is False
    api.request("DELETE", f"/bots/{bot_id}")


def test_a_meeting_with_bot_join_at_schedules_its_bot(api, org):
    join_at = datetime.now(UTC) + timedelta(days=30)
    status, body = create(api, org, title=f"Later call {TOKEN}",
                          bot_meeting_url="https://meet.google.com/lat-erca-llx",
                          bot_join_at=join_at.isoformat())
    assert status == 201, body
    assert datetime.fromisoformat(body["start_time"]) == join_at
    bot = wait_for(lambda: (lambda r: r if r.status == 200 else None)(
        api.request("GET", f"/bots/{body['bot_id']}")), timeout=30)
    assert bot, f"no bot {body['bot_id']}"
    assert bot.body["bot"]["meeting_url"] == "https://meet.google.com/lat-erca-llx"
    assert bot.body["bot"]["bot_name"] == "Meeting notes"
    api.request("DELETE", f"/bots/{body['bot_id']}")


def test_a_calendar_event_snapshot_makes_a_meeting_from_the_calendar(api, org):
    status, body = create(api, org, title=f"Planning {TOKEN}", calendar_event={
        "event_id": "evt-1", "summary": "Planning", "organizer_email": "dana@acme.example",
        "attendees": [{"email": "erin@acme.example", "display_name": "Erin",
                       "response_status": "accepted"}],
        "meeting_link": "https://meet.google.com/abc-defg-hij",
        "start_time": "2026-12-10T09:00:00Z", "end_time": "2026-12-10T10:00:00Z"})
    assert status == 201, body
    assert body["from_calendar"] is True and body["summary_complete"] is False
    assert body["host"]["email"] == "dana@acme.example"
    assert body["calendar_event"]["event_id"] == "evt-1"
    assert body["start_time"].startswith("2026-12-10T09:00:00")
    people = api.request("GET", f"/meetings/{body['id']}/participants").body["participants"]
    assert {p["email"] for p in people} == {"dana@acme.example", "erin@acme.example"}
    assert api.request("GET", f"/meetings/{body['id']}/transcript").body["transcripts"] == []
    recording = api.request("GET", f"/meetings/{body['id']}/recording").body
    assert recording["recording_url"] is None and recording["duration"] is None


def listed_ids(api: Api, query: str, title: str = TOKEN) -> list[int]:
    response = api.request("GET", f"/meetings/?title={title}&size=100{query}")
    assert response.status == 200, response.body
    return [m["id"] for m in response.body["results"]]


def test_every_filter_narrows(api, org, bot_meeting):
    _, calendar = create(api, org, title=f"Filter cal {TOKEN}", calendar_event={
        "event_id": "evt-2", "organizer_email": "frank@acme.example"})
    _, plain = create(api, org, title=f"Filter plain {TOKEN.upper()}",
                      participants=["grace@acme.example", "carol@acme.example"])
    everything = listed_ids(api, "")
    assert {bot_meeting["id"], calendar["id"], plain["id"]} <= set(everything)

    complete = {m["id"] for m in api.request(
        "GET", f"/meetings/?title={TOKEN}&size=100").body["results"] if m["summary_complete"]}
    assert bot_meeting["id"] in complete and calendar["id"] not in complete
    assert set(listed_ids(api, "&summary_complete=true")) == complete
    assert set(listed_ids(api, "&summary_complete=false")) == set(everything) - complete
    assert calendar["id"] in listed_ids(api, "&from_calendar=true")
    assert calendar["id"] not in listed_ids(api, "&from_calendar=false")
    assert plain["id"] in listed_ids(api, "&from_calendar=false")

    people = {p["email"]: p["id"] for p in
              api.request("GET", f"/meetings/{plain['id']}/participants").body["participants"]}
    grace, carol = people["grace@acme.example"], people["carol@acme.example"]
    assert listed_ids(api, f"&participants={grace}") == [plain["id"]]
    assert set(listed_ids(api, f"&participants={grace},{carol}")) == {plain["id"],
                                                                       bot_meeting["id"]}
    frank = api.request("GET", f"/meetings/{calendar['id']}").body["host"]["id"]
    assert listed_ids(api, f"&participants={frank}") == [calendar["id"]]

    today = datetime.now(UTC).date()
    assert set(listed_ids(api, f"&created_after={today}&created_before={today}")) == \
        set(everything)
    assert listed_ids(api, f"&created_after={today + timedelta(days=1)}") == []
    assert listed_ids(api, f"&created_before={today - timedelta(days=1)}") == []
    assert listed_ids(api, "", title="no-such-title-anywhere") == []
    assert set(listed_ids(api, "", title=f"filter%20plain%20{TOKEN}")) == {plain["id"]}
    assert listed_ids(api, f"&organization_id={org}") == everything


def test_pages_follow_each_other(api, org):
    ids = listed_ids(api, "")
    assert len(ids) >= 3
    first = api.request("GET", f"/meetings/?title={TOKEN}&size=2").body
    assert first["count"] == len(ids) and first["previous"] is None
    assert [m["id"] for m in first["results"]] == ids[:2]
    assert first["next"].startswith(api.base_url + "/meetings/")
    second = api.request("GET", first["next"].removeprefix(api.base_url)).body
    assert [m["id"] for m in second["results"]] == ids[2:4]
    assert second["previous"] is not None


def test_topics_name_a_language_each(api, org):
    response = api.request("GET", "/topics/")
    assert response.status == 200
    by_alias = {t["alias"]: t for t in response.body}
    assert by_alias["general-en"]["language"] == "en"
    assert by_alias["general-fr"]["language"] == "fr"
    assert {"id", "name", "alias", "language"} == set(response.body[0])
    assert api.request("GET", f"/topics/?organization_id={org + 1000}").status == 403


FUTURE = (datetime.now(UTC) + timedelta(days=1)).isoformat()
PAST = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()


@pytest.mark.parametrize(("body", "field"), [
    ({"bot_meeting_url": "https://meet.google.com/abc-defg-hij",
      "file_url": "https://files.example.org/a.mp3"}, "file_url"),
    ({"speaker_count": 0, "file_url": "https://files.example.org/a.mp3"}, "speaker_count"),
    ({"speaker_count": "two"}, "speaker_count"),
    ({"bot_join_at": FUTURE}, "bot_join_at"),
    ({"bot_meeting_url": "https://meet.google.com/abc-defg-hij", "bot_join_at": PAST},
     "bot_join_at"),
    ({"bot_meeting_url": "https://example.org/not-a-meeting"}, "bot_meeting_url"),
    ({"file_url": "http://10.0.0.7/recording.mp4"}, "file_url"),
    ({"file_url": "ftp://files.example.org/a.mp3"}, "file_url"),
    ({"topic_id": 999}, "topic_id"),
    ({"participants": ["not-an-email"]}, "participants[0]"),
    ({"title": "   "}, "title"),
    ({"title": None}, "title"),
    ({"organization_id": "1"}, "organization_id"),
    ({"organization_id": 0}, "organization_id"),
    ({"calendar_event": {"summary": "no id"}}, "calendar_event.event_id"),
    ({"start_time": "next tuesday"}, "start_time"),
    ({"calendar_event": {"event_id": "e", "end_time": 0}}, "calendar_event.end_time"),
    ({"speaker_count": 184745840604121, "file_url": "https://files.example.org/a.mp3"},
     "speaker_count"),
])
def test_bad_input_is_a_400_naming_the_field_and_makes_nothing(api, org, body, field):
    before = listed_ids(api, "")
    response = api.request("POST", "/meetings/", {"organization_id": org,
                                                  "title": f"Bad {TOKEN}", **body})
    assert response.status == 400, response.body
    assert response.body["field"] == field, response.body
    assert response.body["message"].startswith(field), response.body
    assert listed_ids(api, "") == before


def test_another_organisation_is_a_403(api, org):
    status, body = create(api, org + 1000, title="Elsewhere")
    assert status == 403 and body["field"] == "organization_id", body
    assert api.request("GET", f"/meetings/?organization_id={org + 1000}").status == 403


def test_another_accounts_meeting_is_a_404(platform, api, bot_meeting):
    other = account_api(platform, "meetings-other")
    for path in ("", "/transcript", "/summary", "/participants", "/recording"):
        response = other.request("GET", f"/meetings/{bot_meeting['id']}{path}")
        assert response.status == 404, (path, response.body)
        assert response.body["code"] == "MeetingNotFound"
    assert bot_meeting["id"] not in [m["id"] for m in other.request(
        "GET", "/meetings/?size=100").body["results"]]


@pytest.mark.parametrize(("path", "field"), [
    ("/meetings/987654321", None),
    ("/meetings/abc", "meeting_id"),
    ("/meetings/?page=0", "page"),
    ("/meetings/?size=101", "size"),
    ("/meetings/?created_after=2026-13-01", "created_after"),
    ("/meetings/?summary_complete=maybe", "summary_complete"),
    ("/meetings/?participants=a,b", "participants"),
    ("/meetings/?organization_id=x", "organization_id"),
])
def test_bad_reads_are_clear(api, path, field):
    response = api.request("GET", path)
    assert response.status == (404 if field is None else 400), response.body
    assert response.body["field"] == (field or "meeting_id")


def test_without_a_key_it_is_a_401(api):
    assert api.request("GET", "/meetings/", api_key=None).status == 401
    assert api.request("POST", "/meetings/", {"title": "x"}, api_key="mb_wrong").status == 401


def test_deleting_the_bots_data_empties_its_meeting(api, bot_meeting):
    response = api.request("POST", f"/bots/{bot_meeting['bot_id']}/delete_data")
    assert response.status == 200 and response.body["status"] == "deleted", response.body
    meeting = api.request("GET", f"/meetings/{bot_meeting['id']}").body
    assert meeting["summary_complete"] is False and meeting["keywords"] == []
    assert meeting["title"] == bot_meeting["title"]
    assert api.request("GET", f"/meetings/{bot_meeting['id']}/transcript").body[
        "transcripts"] == []
    summary = api.request("GET", f"/meetings/{bot_meeting['id']}/summary").body
    assert summary["summary"] is None and summary["notes"] is None
    assert api.request("GET", f"/meetings/{bot_meeting['id']}/recording").body[
        "recording_url"] is None
    names = {p["name"] for p in api.request(
        "GET", f"/meetings/{bot_meeting['id']}/participants").body["participants"]}
    assert "Alice" not in names and "Bob" not in names
