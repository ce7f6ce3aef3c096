"""The Python client (`meetingbots`) against the real stack: for the session's completed bot
meeting, every `client.meetings` method answers exactly what the REST API does; creating a
meeting from a calendar event dict, the API's errors as the client's exceptions, the async
client, bots sent, read and recalled, and calendars listed.

Runs before test_meetings.py, which deletes the bot meeting's data last."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest

from meetingbots import (
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Calendar,
    Client,
    CreateMeetingCalendarEvent,
    MeetingDetail,
    NotFoundError,
    PermissionDeniedError,
    Topic,
)
from support import BOT_MEETING_TOKEN, Api, wait_for

TOKEN = BOT_MEETING_TOKEN
FAR_FUTURE = 4102444800
"""2100-01-01: a bot that stays queued until it is recalled."""


@pytest.fixture(scope="module")
def client(platform):
    with Client(platform.endpoints.api_key, platform.endpoints.gateway_url) as made:
        yield made


@pytest.fixture(scope="module")
def org(platform) -> int:
    return platform.endpoints.account_id


def rest(api: Api, path: str):
    response = api.request("GET", path)
    assert response.status == 200, (path, response.body)
    return response.body


@pytest.mark.parametrize(("method", "suffix"), [
    ("get_meeting", ""),
    ("get_transcript", "/transcript"),
    ("get_summary", "/summary"),
    ("get_participants", "/participants"),
])
def test_a_meetings_reads_are_the_rest_answers(client, api, bot_meeting, method, suffix):
    answer = getattr(client.meetings, method)(bot_meeting["id"])
    assert answer.model_dump(mode="json") == rest(api, f"/meetings/{bot_meeting['id']}{suffix}")


def test_its_details_hold_what_the_bot_made(client, bot_meeting):
    meeting = client.meetings.get_meeting(bot_meeting["id"])
    assert meeting.status == "completed" and meeting.summary_complete
    assert isinstance(meeting.created_at, datetime) and meeting.created_at.tzinfo is not None
    assert str(meeting.bot_id) == bot_meeting["bot_id"]
    transcript = client.meetings.get_transcript(bot_meeting["id"])
    assert transcript.total_segments == len(transcript.transcripts) >= 2
    assert {segment.speaker for segment in transcript.transcripts} == {"Alice", "Bob"}


def test_the_recording_is_the_rest_answer_but_for_its_signature(client, api, bot_meeting):
    answer = client.meetings.get_recording(bot_meeting["id"]).model_dump(mode="json")
    body = rest(api, f"/meetings/{bot_meeting['id']}/recording")
    mine, theirs = answer.pop("recording_url"), body.pop("recording_url")
    assert answer == body and body["format"] == "mp4"
    assert mine and theirs
    assert urlsplit(mine)[:3] == urlsplit(theirs)[:3]


def test_listed_meetings_are_the_rest_list(client, api, org, bot_meeting):
    people = client.meetings.get_participants(bot_meeting["id"]).participants
    heard = sorted(p.id for p in people if p.name in ("Alice", "Bob"))
    assert len(heard) >= 2, people
    today = datetime.now(UTC).date()
    answer = client.meetings.list_meetings(
        organization_id=org, title=TOKEN, participants=heard, created_after=today,
        summary_complete=True, from_calendar=False, page=1, size=5)
    body = rest(api, f"/meetings/?organization_id={org}&title={TOKEN}"
                     f"&participants={','.join(map(str, heard))}&created_after={today}"
                     "&summary_complete=true&from_calendar=false&page=1&size=5")
    assert answer.model_dump(mode="json") == body
    assert [m.id for m in answer.results] == [bot_meeting["id"]]
    assert client.meetings.list_meetings(title=TOKEN, summary_complete=False,
                                         from_calendar=True).model_dump(mode="json") == \
        rest(api, f"/meetings/?title={TOKEN}&summary_complete=false&from_calendar=true")


def test_topics_are_the_rest_list(client, api, org):
    topics = client.meetings.list_topics(organization_id=org)
    assert topics and all(isinstance(topic, Topic) for topic in topics)
    assert [topic.model_dump(mode="json") for topic in topics] == rest(api, "/topics/")


def test_a_meeting_from_a_calendar_event_dict_is_what_get_answers(client, api, org):
    created = client.meetings.create_meeting(
        org, f"Client planning {TOKEN}", participants=["ivy@acme.example"], topic_id=1,
        calendar_event={
            "event_id": "client-evt-1", "summary": "Planning", "organizer_email":
            "dana@acme.example", "attendees": [{"email": "erin@acme.example",
                                                "display_name": "Erin",
                                                "response_status": "accepted"}],
            "meeting_link": "https://meet.google.com/abc-defg-hij",
            "start_time": "2026-12-10T09:00:00Z", "end_time": "2026-12-10T10:00:00Z"})
    assert isinstance(created, MeetingDetail)
    assert created.from_calendar and created.calendar_event.event_id == "client-evt-1"
    assert created.host.email == "dana@acme.example" and created.topic_id == 1
    assert created.model_dump(mode="json") == rest(api, f"/meetings/{created.id}")
    assert client.meetings.get_meeting(created.id) == created

    second = client.meetings.create_meeting(
        org, f"Client second {TOKEN}",
        calendar_event=CreateMeetingCalendarEvent(event_id="client-evt-2"))
    page = client.meetings.list_meetings(title=TOKEN, page=2, size=1)
    assert page.model_dump(mode="json") == rest(api, f"/meetings/?title={TOKEN}&page=2&size=1")
    assert page.count >= 3 and page.previous and page.next
    assert second.id in [m.id for m in client.meetings.list_meetings(
        title=TOKEN, from_calendar=True, size=100).results]


def test_both_urls_are_a_bad_request_naming_file_url(client, org):
    with pytest.raises(BadRequestError) as caught:
        client.meetings.create_meeting(org, f"Both {TOKEN}",
                                       bot_meeting_url="https://meet.google.com/abc-defg-hij",
                                       file_url="https://files.example.org/a.mp3")
    assert caught.value.status == 400 and caught.value.field == "file_url"
    assert caught.value.code == "InvalidParameter"
    assert caught.value.message.startswith("file_url")


def test_another_organisation_is_permission_denied(client, org):
    with pytest.raises(PermissionDeniedError) as caught:
        client.meetings.create_meeting(org + 1000, "Elsewhere")
    assert caught.value.status == 403 and caught.value.field == "organization_id"
    with pytest.raises(PermissionDeniedError):
        client.meetings.list_meetings(organization_id=org + 1000)
    with pytest.raises(PermissionDeniedError):
        client.meetings.list_topics(organization_id=org + 1000)


def test_an_unknown_meeting_is_not_found(client):
    for read in (client.meetings.get_meeting, client.meetings.get_recording):
        with pytest.raises(NotFoundError) as caught:
            read(987654321)
        assert caught.value.status == 404 and caught.value.field == "meeting_id"


def test_a_wrong_key_is_an_authentication_error(platform):
    with Client("mb_wrong", platform.endpoints.gateway_url) as stranger:
        with pytest.raises(AuthenticationError) as caught:
            stranger.meetings.list_meetings()
    assert caught.value.status == 401 and caught.value.code == "InvalidApiKey"
    assert caught.value.field == "x-meeting-baas-api-key"


async def test_the_async_client_answers_as_the_sync_one(platform, client, bot_meeting):
    async with AsyncClient(platform.endpoints.api_key, platform.endpoints.gateway_url) as aio:
        assert await aio.meetings.get_meeting(bot_meeting["id"]) == \
            client.meetings.get_meeting(bot_meeting["id"])
        assert await aio.meetings.get_transcript(bot_meeting["id"]) == \
            client.meetings.get_transcript(bot_meeting["id"])
        assert await aio.meetings.list_topics() == client.meetings.list_topics()
        with pytest.raises(NotFoundError):
            await aio.meetings.get_summary(987654321)


def test_a_bot_is_sent_read_and_recalled(client, api, meeting_code):
    sent = client.bots.join(f"https://meet.google.com/{meeting_code}", "Client bot",
                            start_time=FAR_FUTURE, extra={"via": "meetingbots"})
    bot_id = str(sent.bot_id)

    def same_as_rest():
        try:
            answer = client.bots.get(sent.bot_id).model_dump(mode="json")
        except NotFoundError:
            return None
        return answer == api.request("GET", f"/bots/{bot_id}").body and answer

    details = wait_for(same_as_rest, timeout=15)
    assert details, (client.bots.get(bot_id), api.request("GET", f"/bots/{bot_id}").body)
    bot = client.bots.get(bot_id)
    assert str(bot.bot.uuid) == bot_id and bot.bot.extra == {"via": "meetingbots"}
    assert bot.params.start_time == FAR_FUTURE and bot.params.bot_name == "Client bot"
    listed = client.bots.list_bots_with_metadata(bot_name="Client bot", limit=5,
                                                 filter_by_extra={"via": "meetingbots"})
    assert bot_id in [str(entry.uuid) for entry in listed.bots]
    assert client.bots.leave(bot_id).ok is True


def test_the_bot_meetings_bot_data_and_screenshots_read(client, api, bot_meeting):
    data = client.bots.meeting_data(bot_meeting["bot_id"], include_transcripts=False)
    body = rest(api, f"/bots/meeting_data?bot_id={bot_meeting['bot_id']}"
                     "&include_transcripts=false")
    assert data.bot_data.model_dump(mode="json") == body["bot_data"]
    assert data.bot_data.transcripts == [] and data.mp4.startswith("http")
    assert isinstance(client.bots.screenshots(bot_meeting["bot_id"]), list)


def test_calendars_are_a_list(client, api):
    calendars = client.calendars.list()
    assert isinstance(calendars, list) and all(isinstance(c, Calendar) for c in calendars)
    assert [c.model_dump(mode="json") for c in calendars] == rest(api, "/calendars/")
