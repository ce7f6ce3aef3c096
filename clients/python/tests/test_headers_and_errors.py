"""Headers (the client's, a call's own over them, the API key always the client's) and what
an answer that is not a success becomes: the `ApiError` subclass of its status, with the
error body's code, message and field, never retried."""

from __future__ import annotations

import httpx
import pytest

from meetingbots import (
    ApiConnectionError,
    ApiError,
    ApiTimeoutError,
    AsyncClient,
    AuthenticationError,
    BadRequestError,
    Client,
    ConflictError,
    MeetingBotsError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnexpectedResponseError,
)


def test_a_calls_headers_go_over_the_clients(server, client):
    client.meetings.list_topics(extra_headers={"X-Tenant": "globex", "x-request-id": "r1"})
    sent = server.last.headers
    assert sent["x-tenant"] == "globex" and sent["x-request-id"] == "r1"
    assert sent["x-meeting-baas-api-key"] == "mb_test_key"
    client.meetings.list_topics()
    assert server.last.headers["x-tenant"] == "acme" and "x-request-id" not in server.last.headers


def test_none_leaves_a_clients_header_out(server, client):
    client.meetings.list_topics(extra_headers={"x-tenant": None})
    assert "x-tenant" not in server.last.headers


@pytest.mark.parametrize("value", [None, "", "mb_other_key"])
@pytest.mark.parametrize("name", ["x-meeting-baas-api-key", "X-Meeting-Baas-Api-Key"])
def test_extra_headers_cannot_change_or_remove_the_api_key(server, name, value):
    transport = httpx.MockTransport(server)
    with Client("mb_key", "http://api.test", extra_headers={name: value},
                http_client=httpx.Client(transport=transport)) as client:
        client.meetings.list_topics(extra_headers={name: value})
    assert server.last.headers.get_list("x-meeting-baas-api-key") == ["mb_key"]


def test_an_api_key_is_required():
    with pytest.raises(ValueError, match="api_key"):
        Client("")


def test_every_request_says_it_wants_json(server, client):
    client.meetings.list_topics()
    assert server.last.headers["accept"] == "application/json"
    assert server.last.headers["user-agent"].startswith("meetingbots-python/")


ERROR = {"code": "InvalidParameter", "message": "file_url: give bot_meeting_url or file_url, "
         "not both", "field": "file_url"}


@pytest.mark.parametrize(("status", "kind"), [
    (400, BadRequestError), (401, AuthenticationError), (403, PermissionDeniedError),
    (404, NotFoundError), (409, ConflictError), (422, BadRequestError), (429, RateLimitError),
    (500, ServerError), (502, ServerError), (503, ServerError), (405, ApiError),
])
def test_each_status_is_its_error(server, client, status, kind):
    server.reply(status, ERROR)
    with pytest.raises(kind) as caught:
        client.meetings.get_meeting(1)
    error = caught.value
    assert type(error) is kind and isinstance(error, ApiError)
    assert (error.status, error.code, error.field) == (status, "InvalidParameter", "file_url")
    assert error.message == ERROR["message"]
    assert str(error) == f"{status} InvalidParameter: {ERROR['message']}"
    assert error.method == "GET" and error.url == "http://api.test/meetings/1"
    assert error.body == ERROR and error.retry_after is None


def test_a_422_lists_every_problem(server, client):
    body = {"code": "InvalidRequest", "message": "reserved: Input should be a valid boolean",
            "field": "reserved", "errors": [
                {"field": "reserved", "message": "Input should be a valid boolean"},
                {"field": "nope", "message": "Extra inputs are not permitted"}]}
    server.reply(422, body)
    with pytest.raises(BadRequestError) as caught:
        client.bots.join("https://meet.google.com/abc-defg-hij", "B", reserved="maybe", nope=1)
    assert caught.value.errors == body["errors"] and caught.value.field == "reserved"


def test_a_429_says_when_to_retry_and_is_not_retried(server, client):
    server.reply(429, {"code": "TooManyRequests", "message": "delete_data is limited"},
                 headers={"Retry-After": "12"})
    with pytest.raises(RateLimitError) as caught:
        client.bots.delete_data("5d7c6a8e-1b4f-4f36-a0e2-3c9d3f1e8b21")
    assert caught.value.retry_after == 12.0 and caught.value.field is None
    assert len(server.requests) == 1


def test_a_503_is_not_retried(server, client):
    server.reply(503, {"code": "ServiceUnavailable", "message": "retry"},
                 headers={"Retry-After": "5"})
    with pytest.raises(ServerError) as caught:
        client.meetings.get_meeting(1)
    assert caught.value.retry_after == 5.0 and len(server.requests) == 1


def test_an_error_without_a_json_body_is_named_by_its_status(server, client):
    server.reply(502, text="<html>Bad Gateway</html>")
    with pytest.raises(ServerError) as caught:
        client.meetings.get_meeting(1)
    assert caught.value.code == "Http502" and caught.value.message == "Bad Gateway"
    assert caught.value.body == "<html>Bad Gateway</html>"


def test_no_answer_is_a_connection_error(server, client):
    server.fail(httpx.ConnectError("connection refused"))
    with pytest.raises(ApiConnectionError) as caught:
        client.meetings.get_meeting(1)
    assert not isinstance(caught.value, ApiTimeoutError)
    assert caught.value.url == "http://api.test/meetings/1"
    server.fail(httpx.ReadTimeout("too slow"))
    with pytest.raises(ApiTimeoutError):
        client.meetings.get_meeting(1)
    assert len(server.requests) == 2


async def test_the_async_client_raises_the_same(server, async_client):
    server.reply(404, {"code": "MeetingNotFound", "message": "meeting_id: no meeting 9",
                       "field": "meeting_id"})
    with pytest.raises(NotFoundError) as caught:
        await async_client.meetings.get_transcript(9)
    assert caught.value.code == "MeetingNotFound" and caught.value.field == "meeting_id"
    server.fail(httpx.ConnectTimeout("too slow"))
    with pytest.raises(ApiTimeoutError):
        await async_client.meetings.get_transcript(9)


def test_a_success_that_is_not_the_answer_is_unexpected(server, client):
    server.reply(200, {"id": "not a number"})
    with pytest.raises(UnexpectedResponseError) as caught:
        client.meetings.get_meeting(1)
    assert caught.value.status == 200 and caught.value.body == {"id": "not a number"}
    server.reply(200, text="not json")
    with pytest.raises(UnexpectedResponseError):
        client.meetings.get_meeting(1)
    assert isinstance(caught.value, MeetingBotsError)


def test_the_timeout_goes_with_every_request(server):
    with Client("k", "http://api.test", timeout=4.5,
                http_client=httpx.Client(transport=httpx.MockTransport(server))) as client:
        client.meetings.list_topics()
    assert server.last.extensions["timeout"] == {"connect": 4.5, "read": 4.5, "write": 4.5,
                                                 "pool": 4.5}


def test_a_client_closes_what_it_opened_only(server):
    own = httpx.Client(transport=httpx.MockTransport(server))
    with Client("k", http_client=own):
        pass
    assert not own.is_closed
    own.close()
    with Client("k") as client:
        pass
    assert client._transport.http.is_closed


async def test_an_async_client_closes_what_it_opened():
    async with AsyncClient("k") as client:
        pass
    assert client._transport.http.is_closed
