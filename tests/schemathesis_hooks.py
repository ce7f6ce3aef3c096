"""Schemathesis hooks for tests/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

They keep generated requests from reaching outside this machine, starting real bots or locking
the run out, and send only what the document calls valid as valid, without changing whether a
request is valid:

- every bot created by `POST /bots/` gets the test's local webhook receiver as `webhook_url` and a
  `start_time` in 2100, so that the scheduler keeps it queued and no browser starts, unless the
  generated `start_time` is already later or is not a number (then the gateway's answer is the
  thing under test);
- `POST /bots/retry_webhook` (query), `POST /bots/retranscribe` and `POST /accounts/webhook_url`
  (body) send to the local receiver instead of any `webhook_url` of the documented shape: a bot
  cancelled by the run has a final event that a retry delivers;
- the SSRF guard refuses, with a 400 `UnsafeUrl`, customer URLs that JSON Schema cannot tell
  apart (a private address, a single-label name): in a schema-valid `POST /bots/` body, a
  `bot_image`, `streaming.input`/`output` or Zoom token URL that it would refuse is left out
  (they are optional). tests/test_ssrf.py tests those refusals;
- `DELETE /accounts/api_keys/{prefix}` never names the key the run authenticates with (its
  prefix can be read from `GET /accounts/api_keys`); such a case names a spare key created for
  it instead, so that it still revokes a key that exists;
- a calendar event's bot (`POST`/`PATCH /calendar_events/{uuid}/bot`, flat `BotParam`) is
  treated like `POST /bots/`'s: the local receiver as `webhook_url`, and in a schema-valid body
  the URLs the SSRF guard would refuse are left out;
- a link that takes a resource's UUID from a response field that is null (a bot's `event_uuid`
  when no calendar event scheduled it) asks for a resource that does not exist: the path gets a
  fresh UUID instead of the text "None" that Schemathesis makes of the null (a 404 either way, but
  "None" is not the UUID the document promises);
- a meeting (`POST /meetings/`) with a `bot_meeting_url` gets `bot_join_at` in 2100 (as a bot's
  `start_time`), a `file_url` becomes the local receiver, and in a schema-valid case every
  `organization_id` (body or query) is the run's own account;
- `cursor` of `GET /bots/bots_with_metadata` (and of `GET /calendar_events/`) is opaque: only a `next_cursor` the API returned is
  valid (with the same ordering), which no JSON Schema can say. A schema-valid case keeps such a
  cursor (it comes through the document's `NextPage` link) and drops any other; a
  schema-violating case goes as generated.
"""

from __future__ import annotations

import json
import os
import urllib.request
import uuid

import schemathesis

FAR_FUTURE = 4102444800  # 2100-01-01T00:00:00Z
JOIN_PATHS = ("/bots/", "/bots")
MEETING_PATHS = ("/meetings/", "/meetings")


def _positive(case) -> bool:
    return case.meta is not None and case.meta.generation.mode.is_positive


@schemathesis.hook
def before_call(context, case, kwargs):
    method = case.method.upper()
    parameters = case.path_parameters or {}
    if "uuid" in parameters and parameters["uuid"] in (None, "None"):
        parameters["uuid"] = str(uuid.uuid4())
    if method == "POST" and case.path in JOIN_PATHS and isinstance(case.body, dict):
        _queued_with_local_webhook(case)
    elif method == "POST" and case.path == "/bots/retry_webhook" and case.query:
        if "webhook_url" in case.query:
            case.query["webhook_url"] = _local_if_taken(case.query["webhook_url"])
    elif (method == "POST" and case.path in ("/bots/retranscribe", "/accounts/webhook_url")
          and isinstance(case.body, dict)):
        if "webhook_url" in case.body:
            case.body["webhook_url"] = _local_if_taken(case.body["webhook_url"])
    elif method == "DELETE" and case.path == "/accounts/api_keys/{prefix}":
        _not_the_runs_key(case)
    elif method == "GET" and case.path == "/bots/bots_with_metadata":
        _only_issued_cursors(case)
    elif method == "GET" and case.path in ("/calendar_events/", "/calendar_events"):
        _only_issued_event_cursors(case)
    elif (method in ("POST", "PATCH") and case.path == "/calendar_events/{uuid}/bot"
          and isinstance(case.body, dict)):
        _event_bot_with_local_webhook(case)
    elif method == "POST" and case.path in MEETING_PATHS and isinstance(case.body, dict):
        _meeting_stays_local(case)
    if _positive(case) and case.query and isinstance(case.query.get("organization_id"), int):
        case.query["organization_id"] = int(os.environ["MB_SCHEMATHESIS_ORG_ID"])


def _queued_with_local_webhook(case) -> None:
    body = case.body
    if body.get("webhook_url") is None or isinstance(body["webhook_url"], str):
        body["webhook_url"] = os.environ["MB_SCHEMATHESIS_WEBHOOK_URL"]
    start = body.get("start_time")
    if start is None or (type(start) in (int, float) and start < FAR_FUTURE):
        body["start_time"] = FAR_FUTURE
    if case.meta is not None and case.meta.generation.mode.is_positive:
        _without_urls_the_guard_refuses(body)


def _without_urls_the_guard_refuses(body: dict) -> None:
    from mb_shared.url_guard import OutboundPolicy, UnsafeUrl, check_socket_url, check_url

    def refused(url, check=check_url) -> bool:
        try:
            check(url, policy=OutboundPolicy(allow_loopback=True))
        except UnsafeUrl:
            return True
        return False

    for name in ("bot_image", "zoom_access_token_url", "zoom_obf_token_url"):
        if isinstance(body.get(name), str) and body[name] and refused(body[name]):
            del body[name]
    streaming = body.get("streaming")
    if isinstance(streaming, dict):
        for name in ("input", "output"):
            if isinstance(streaming.get(name), str) and streaming[name] and refused(
                    streaming[name], check_socket_url):
                del streaming[name]


def _local_if_taken(url):
    """The local receiver for a URL of the shape the gateway takes; anything else as it is."""
    from api_gateway.errors import ApiError
    from api_gateway.urls import webhook_url_shape

    try:
        taken = webhook_url_shape(url)
    except (ApiError, ValueError):  # refused (or failing): the gateway's answer is under test
        return url
    return os.environ["MB_SCHEMATHESIS_WEBHOOK_URL"] if taken else url


def _not_the_runs_key(case) -> None:
    prefix = (case.path_parameters or {}).get("prefix")
    if prefix == os.environ["MB_SCHEMATHESIS_KEY_PREFIX"]:
        case.path_parameters["prefix"] = _spare_key_prefix()


def _spare_key_prefix() -> str:
    request = urllib.request.Request(
        os.environ["MB_SCHEMATHESIS_BASE_URL"] + "/accounts/api_keys", method="POST",
        headers={"x-meeting-baas-api-key": os.environ["MB_SCHEMATHESIS_API_KEY"]})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["prefix"]


def _only_issued_cursors(case) -> None:
    from api_gateway.bots import decode_cursor
    from api_gateway.errors import ApiError

    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not case.query:
        return
    cursor = case.query.get("cursor")
    if not isinstance(cursor, str) or not cursor:
        return
    try:
        after = decode_cursor(cursor)
    except ApiError:
        del case.query["cursor"]
        return
    if (len(after) == 4) != bool(case.query.get("sort_by_extra")):  # issued for another order
        del case.query["cursor"]


def _event_bot_with_local_webhook(case) -> None:
    body = case.body
    if body.get("webhook_url") is None or isinstance(body["webhook_url"], str):
        body["webhook_url"] = os.environ["MB_SCHEMATHESIS_WEBHOOK_URL"]
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    nested = {"bot_image": body.get("bot_image"),
              "zoom_access_token_url": body.get("zoom_access_token_url"),
              "zoom_obf_token_url": body.get("zoom_obf_token_url"),
              "streaming": {"input": body.get("streaming_input"),
                            "output": body.get("streaming_output")}}
    _without_urls_the_guard_refuses(nested)
    for name in ("bot_image", "zoom_access_token_url", "zoom_obf_token_url"):
        if name in body and name not in nested:
            del body[name]
    for name in ("input", "output"):
        if f"streaming_{name}" in body and name not in nested["streaming"]:
            del body[f"streaming_{name}"]


def _meeting_stays_local(case) -> None:
    """A meeting's bot waits for 2100 and its file comes from the local receiver; a valid
    body names the run's own organisation (another one is a 403 the document promises)."""
    body = case.body
    if isinstance(body.get("bot_meeting_url"), str) and (
            body.get("bot_join_at") is None or isinstance(body["bot_join_at"], str)):
        body["bot_join_at"] = "2100-01-01T00:00:00Z"
    if isinstance(body.get("file_url"), str):
        body["file_url"] = os.environ["MB_SCHEMATHESIS_WEBHOOK_URL"] + "/file"
    if _positive(case) and isinstance(body.get("organization_id"), int):
        body["organization_id"] = int(os.environ["MB_SCHEMATHESIS_ORG_ID"])


def _only_issued_event_cursors(case) -> None:
    from api_gateway.calendars import _cursor
    from api_gateway.errors import ApiError

    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not case.query:
        return
    cursor = case.query.get("cursor")
    if not isinstance(cursor, str):
        return
    try:
        _cursor(cursor)
    except ApiError:
        del case.query["cursor"]
