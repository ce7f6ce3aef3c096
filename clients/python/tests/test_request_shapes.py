"""Every operation of `meetings`, `bots` and `calendars` sends the method, path, query string
and JSON body the REST API reads, through the sync and the async client alike, and reads the
answer as its model."""

from __future__ import annotations

import re
import types
import typing
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import httpx
import pytest
from pydantic import BaseModel, RootModel

from meetingbots import (
    BotDetails,
    Calendar,
    Client,
    CreateCalendarResponse,
    CreateMeetingCalendarEvent,
    DeleteResponse,
    Event,
    JoinResponse,
    ListEventResponse,
    ListRawCalendarsResponse,
    ListRecentBotsResponse,
    MeetingDetail,
    MeetingListResponse,
    Metadata,
    OkResponse,
    ParticipantsResponse,
    RecordingResponse,
    ResyncAllCalendarsResponse,
    Screenshot,
    SummaryResponse,
    Topic,
    TranscriptResponse,
)

BOT = "5d7c6a8e-1b4f-4f36-a0e2-3c9d3f1e8b21"
CAL = "a3c1f8e2-7d4b-4e69-8f0a-2b6e9c1d4f57"
EVT = "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b"
OAUTH = {"oauth_client_id": "id", "oauth_client_secret": "secret",
         "oauth_refresh_token": "refresh", "platform": "Google"}
NOON = datetime(2026, 5, 6, 12, 0, tzinfo=UTC)


def op(call, method, path, answer, query=None, body=None, id=None):
    return pytest.param(call, method, path, answer, query or {}, body, id=id)


OPERATIONS = [
    op(lambda c: c.meetings.list_meetings(), "GET", "/meetings/", MeetingListResponse,
       id="list_meetings-bare"),
    op(lambda c: c.meetings.list_meetings(
        organization_id=3, title="Weekly sync", participants=[4, 9],
        created_after=date(2026, 1, 2),
        created_before=datetime(2026, 2, 3, 23, 0, tzinfo=timezone(timedelta(hours=-5))),
        summary_complete=True, from_calendar=False, page=2, size=50),
       "GET", "/meetings/", MeetingListResponse,
       query={"organization_id": "3", "title": "Weekly sync", "participants": "4,9",
              "created_after": "2026-01-02", "created_before": "2026-02-04",
              "summary_complete": "true", "from_calendar": "false", "page": "2", "size": "50"},
       id="list_meetings-filters"),
    op(lambda c: c.meetings.list_meetings(participants="4, 9", created_after="2026-01-02"),
       "GET", "/meetings/", MeetingListResponse,
       query={"participants": "4, 9", "created_after": "2026-01-02"},
       id="list_meetings-as-text"),
    op(lambda c: c.meetings.get_meeting(42), "GET", "/meetings/42", MeetingDetail,
       id="get_meeting"),
    op(lambda c: c.meetings.create_meeting(
        3, "Planning", start_time=NOON, topic_id=1, participants=["ann@acme.example"],
        bot_meeting_url="https://meet.google.com/abc-defg-hij", bot_join_at="2026-05-06T12:00:00Z",
        speaker_count=2, user_token="tok",
        calendar_event={"event_id": "evt-1", "summary": "Planning",
                        "attendees": [{"email": "bo@acme.example"}],
                        "start_time": "2026-05-06T12:00:00Z"}),
       "POST", "/meetings/", MeetingDetail,
       body={"organization_id": 3, "title": "Planning", "start_time": "2026-05-06T12:00:00+00:00",
             "user_token": "tok", "topic_id": 1, "participants": ["ann@acme.example"],
             "bot_meeting_url": "https://meet.google.com/abc-defg-hij",
             "bot_join_at": "2026-05-06T12:00:00Z", "speaker_count": 2,
             "calendar_event": {"event_id": "evt-1", "summary": "Planning",
                                "attendees": [{"email": "bo@acme.example"}],
                                "start_time": "2026-05-06T12:00:00Z"}},
       id="create_meeting"),
    op(lambda c: c.meetings.create_meeting(
        3, "Import", file_url="https://files.example.org/a.mp3",
        calendar_event=CreateMeetingCalendarEvent(event_id="evt-2")),
       "POST", "/meetings/", MeetingDetail,
       body={"organization_id": 3, "title": "Import", "file_url": "https://files.example.org/a.mp3",
             "calendar_event": {"event_id": "evt-2"}},
       id="create_meeting-minimal"),
    op(lambda c: c.meetings.get_transcript(42), "GET", "/meetings/42/transcript",
       TranscriptResponse, id="get_transcript"),
    op(lambda c: c.meetings.get_summary(42), "GET", "/meetings/42/summary", SummaryResponse,
       id="get_summary"),
    op(lambda c: c.meetings.get_participants(42), "GET", "/meetings/42/participants",
       ParticipantsResponse, id="get_participants"),
    op(lambda c: c.meetings.get_recording(42), "GET", "/meetings/42/recording",
       RecordingResponse, id="get_recording"),
    op(lambda c: c.meetings.list_topics(), "GET", "/topics/", list[Topic], id="list_topics"),
    op(lambda c: c.meetings.list_topics(organization_id=3), "GET", "/topics/", list[Topic],
       query={"organization_id": "3"}, id="list_topics-organization"),

    op(lambda c: c.bots.join("https://meet.google.com/abc-defg-hij", "Notetaker",
                             start_time=4102444800, speech_to_text={"provider": "Default"},
                             deduplication_key=None, reserved=False),
       "POST", "/bots/", JoinResponse,
       body={"meeting_url": "https://meet.google.com/abc-defg-hij", "bot_name": "Notetaker",
             "start_time": 4102444800, "speech_to_text": {"provider": "Default"},
             "reserved": False},
       id="join"),
    op(lambda c: c.bots.get(UUID(BOT)), "GET", f"/bots/{BOT}", BotDetails, id="get_bot"),
    op(lambda c: c.bots.leave(BOT), "DELETE", f"/bots/{BOT}", OkResponse, id="leave"),
    op(lambda c: c.bots.meeting_data(BOT), "GET", "/bots/meeting_data", Metadata,
       query={"bot_id": BOT, "include_transcripts": "true"}, id="meeting_data"),
    op(lambda c: c.bots.meeting_data(UUID(BOT), include_transcripts=False),
       "GET", "/bots/meeting_data", Metadata,
       query={"bot_id": BOT, "include_transcripts": "false"}, id="meeting_data-no-transcripts"),
    op(lambda c: c.bots.list_bots_with_metadata(
        bot_name="Note", created_after=NOON, created_before="2026-06-01T00:00:00Z",
        ended_after=NOON, cursor="abc", filter_by_extra={"team": "sales", "tier": "gold"},
        limit=20, meeting_url="meet.google", sort_by_extra="tier:desc", speaker_name="Ann"),
       "GET", "/bots/bots_with_metadata", ListRecentBotsResponse,
       query={"bot_name": "Note", "created_after": "2026-05-06T12:00:00+00:00",
              "created_before": "2026-06-01T00:00:00Z", "cursor": "abc",
              "ended_after": "2026-05-06T12:00:00+00:00",
              "filter_by_extra": "team:sales,tier:gold", "limit": "20",
              "meeting_url": "meet.google", "sort_by_extra": "tier:desc",
              "speaker_name": "Ann"},
       id="bots_with_metadata"),
    op(lambda c: c.bots.delete_data(BOT), "POST", f"/bots/{BOT}/delete_data", DeleteResponse,
       id="delete_data"),
    op(lambda c: c.bots.retranscribe(BOT, speech_to_text="Gladia",
                                     webhook_url="https://hooks.example.org/x"),
       "POST", "/bots/retranscribe", None,
       body={"bot_uuid": BOT, "speech_to_text": "Gladia",
             "webhook_url": "https://hooks.example.org/x"},
       id="retranscribe"),
    op(lambda c: c.bots.retry_webhook(BOT, webhook_url="https://hooks.example.org/x"),
       "POST", "/bots/retry_webhook", OkResponse,
       query={"bot_uuid": BOT, "webhook_url": "https://hooks.example.org/x"},
       id="retry_webhook"),
    op(lambda c: c.bots.screenshots(BOT), "GET", f"/bots/{BOT}/screenshots", list[Screenshot],
       id="screenshots"),

    op(lambda c: c.calendars.list_raw_calendars("id", "secret", "refresh", "Google"),
       "POST", "/calendars/raw", ListRawCalendarsResponse, body=OAUTH,
       id="list_raw_calendars"),
    op(lambda c: c.calendars.create("id", "secret", "refresh", "Google", raw_calendar_id="c1"),
       "POST", "/calendars/", CreateCalendarResponse, body={**OAUTH, "raw_calendar_id": "c1"},
       id="create_calendar"),
    op(lambda c: c.calendars.list(), "GET", "/calendars/", list[Calendar], id="list_calendars"),
    op(lambda c: c.calendars.get(CAL), "GET", f"/calendars/{CAL}", Calendar,
       id="get_calendar"),
    op(lambda c: c.calendars.update(CAL, "id", "secret", "refresh", "Google"),
       "PATCH", f"/calendars/{CAL}", CreateCalendarResponse, body=OAUTH, id="update_calendar"),
    op(lambda c: c.calendars.delete(CAL), "DELETE", f"/calendars/{CAL}", None,
       id="delete_calendar"),
    op(lambda c: c.calendars.resync_all(days=7), "POST", "/calendars/resync_all",
       ResyncAllCalendarsResponse, query={"days": "7"}, id="resync_all"),
    op(lambda c: c.calendars.list_events(CAL, attendee_email="ann@acme.example",
                                         organizer_email="bo@acme.example",
                                         start_date_gte=NOON, start_date_lte="2026-06-01T00:00:00Z",
                                         updated_at_gte=NOON, status="all", cursor="xyz"),
       "GET", "/calendar_events/", ListEventResponse,
       query={"calendar_id": CAL, "attendee_email": "ann@acme.example",
              "organizer_email": "bo@acme.example", "start_date_gte": "2026-05-06T12:00:00+00:00",
              "start_date_lte": "2026-06-01T00:00:00Z",
              "updated_at_gte": "2026-05-06T12:00:00+00:00", "status": "all", "cursor": "xyz"},
       id="list_events"),
    op(lambda c: c.calendars.get_event(EVT), "GET", f"/calendar_events/{EVT}", Event,
       id="get_event"),
    op(lambda c: c.calendars.schedule_bot(EVT, {"bot_name": "Notetaker"}, all_occurrences=True),
       "POST", f"/calendar_events/{EVT}/bot", list[Event],
       query={"all_occurrences": "true"}, body={"bot_name": "Notetaker"}, id="schedule_bot"),
    op(lambda c: c.calendars.update_bot(EVT, {"webhook_url": None, "extra": {"a": 1}}),
       "PATCH", f"/calendar_events/{EVT}/bot", list[Event],
       query={"all_occurrences": "false"}, body={"webhook_url": None, "extra": {"a": 1}},
       id="update_bot"),
    op(lambda c: c.calendars.unschedule_bot(EVT), "DELETE", f"/calendar_events/{EVT}/bot",
       list[Event], query={"all_occurrences": "false"}, id="unschedule_bot"),
]
FIELDS = ("call", "method", "path", "answer", "query", "body")


def check_request(server, method, path, query, body):
    sent = server.last
    assert sent.method == method
    assert sent.url.scheme + "://" + sent.url.host == "http://api.test"
    assert sent.url.path == path
    assert dict(sent.url.params) == query
    assert len(sent.url.params.multi_items()) == len(query)
    if body is None:
        assert sent.content == b""
    else:
        assert sent.headers["content-type"] == "application/json"
        assert server.last_json() == body
    assert sent.headers["x-meeting-baas-api-key"] == "mb_test_key"
    assert sent.headers["x-tenant"] == "acme"


def check_answer(result, answer, reply):
    if answer is None:
        assert result is None
    else:
        items = result if isinstance(result, list) else [result]
        kind = answer.__args__[0] if isinstance(result, list) else answer
        assert all(isinstance(item, kind) for item in items)
        dumped = ([item.model_dump(mode="json") for item in result] if isinstance(result, list)
                  else result.model_dump(mode="json"))
        assert dumped == reply


@pytest.mark.parametrize(FIELDS, OPERATIONS)
def test_sync_request(server, client, sample, call, method, path, answer, query, body):
    reply = sample(answer) if answer is not None else None
    server.reply(200, reply)
    result = call(client)
    check_request(server, method, path, query, body)
    check_answer(result, answer, reply)


@pytest.mark.parametrize(FIELDS, OPERATIONS)
async def test_async_request(server, async_client, sample, call, method, path, answer, query,
                             body):
    reply = sample(answer) if answer is not None else None
    server.reply(200, reply)
    result = await call(async_client)
    check_request(server, method, path, query, body)
    check_answer(result, answer, reply)


def test_a_202_without_content_is_none(server, client):
    server.reply(202)
    assert client.bots.retranscribe(BOT) is None
    assert server.last_json() == {"bot_uuid": BOT}


def test_path_values_are_escaped_as_one_segment(server, client, sample):
    server.reply(200, sample(BotDetails))
    client.bots.get("../accounts/api_keys")
    assert server.last.url.raw_path == b"/bots/..%2Faccounts%2Fapi_keys"


def test_a_calendar_event_dict_without_event_id_is_refused_before_sending(server, client):
    with pytest.raises(ValueError, match="event_id"):
        client.meetings.create_meeting(3, "No id", calendar_event={"summary": "Planning"})
    assert server.requests == []


def test_the_next_events_page_is_named_by_its_cursor(sample):
    page = sample(ListEventResponse)
    page["next"] = f"http://api.test/calendar_events/?calendar_id={CAL}&cursor=WyIyMDI2Il0"
    assert ListEventResponse.model_validate(page).next_cursor == "WyIyMDI2Il0"
    page["next"] = None
    assert ListEventResponse.model_validate(page).next_cursor is None


def test_base_url_may_carry_a_path(server, sample):
    with Client("k", "https://gw.example.org/api/", http_client=httpx.Client(
            transport=httpx.MockTransport(server))) as client:
        server.reply(200, sample(MeetingDetail))
        client.meetings.get_meeting(1)
    assert str(server.last.url) == "https://gw.example.org/api/meetings/1"


def _documented(method: str, path: str):
    """The gateway's operation for a request: a fixed path before a templated one."""
    openapi = pytest.importorskip("api_gateway.openapi")
    candidates = [(template, operation) for (verb, template), operation
                  in openapi.OPERATIONS.items()
                  if verb == method and operation.alias_of is None
                  and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path)]
    candidates.sort(key=lambda found: "{" in found[0])
    assert candidates, f"{method} {path} is no operation of the gateway"
    return candidates[0][1]


def _unwrapped(annotation: Any) -> list[Any]:
    """The models (or scalars) a field's annotation holds, without Optional, list, Annotated."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _unwrapped(args[0])
    if origin in (typing.Union, types.UnionType, list):
        return [inner for arg in args if arg is not type(None) for inner in _unwrapped(arg)]
    return [annotation]


def _model(annotation: Any) -> type[BaseModel] | None:
    models = [a for a in _unwrapped(annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
    return models[0] if models else None


def assert_same_fields(client_model: type[BaseModel], server_model: type[BaseModel]) -> None:
    """The client's model names every field of the server's, nested models too."""
    assert set(client_model.model_fields) == set(server_model.model_fields), (
        client_model.__name__, server_model.__name__)
    for name, field in server_model.model_fields.items():
        inner = _model(field.annotation)
        if inner is not None:
            mine = _model(client_model.model_fields[name].annotation)
            assert mine is not None, (client_model.__name__, name)
            assert_same_fields(mine, inner)


def _server_answer(operation) -> type[BaseModel] | None:
    """The model of the documented success body (a list's item model for a list)."""
    responses = pytest.importorskip("api_gateway.responses")
    answer = operation.response
    if isinstance(answer, dict):
        reference = answer.get("items", {}).get("$ref")
        return getattr(responses, reference.rsplit("/", 1)[-1]) if reference else None
    if answer is not None and issubclass(answer, RootModel):
        return _model(answer.model_fields["root"].annotation)
    return answer


@pytest.mark.parametrize(FIELDS, OPERATIONS)
def test_each_request_is_a_documented_operation(server, client, sample, call, method, path,
                                                answer, query, body):
    """The gateway's own registry (`api_gateway.openapi.OPERATIONS`) knows the method and path,
    every query parameter and body field the client sends, and answers what the client reads."""
    operation = _documented(method, path)
    documented = {param.name for param in operation.params if param.where == "query"}
    assert set(query) <= documented, (operation.operation_id, set(query) - documented)
    if body is not None and operation.body is not None and method != "PATCH":
        assert set(body) <= set(operation.body.model_fields), operation.operation_id
    server_answer = _server_answer(operation)
    if answer is None:
        assert server_answer is None, operation.operation_id
    else:
        assert_same_fields(_model(answer), server_answer)


def test_the_calendar_event_a_meeting_takes_is_the_gateways():
    meetings = pytest.importorskip("api_gateway.meetings")
    assert set(CreateMeetingCalendarEvent.model_fields) == set(
        meetings.CreateMeetingCalendarEvent.model_fields)
