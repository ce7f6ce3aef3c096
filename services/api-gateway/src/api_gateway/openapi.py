"""The gateway's OpenAPI 3.1 document (`GET /openapi.json`) and its HTML rendering (`GET /docs`).

The document is generated from the code: request bodies from the pydantic models the handlers
validate with, response bodies from the models in `api_gateway.responses` the handlers build their
answers with, and the query and path parameters, statuses and links from `OPERATIONS` below, one
entry per route of the application keyed by (method, path) (a test checks that every route has
an entry and every entry a route). Settings that bound what a request may carry (the
`automatic_leave` ranges) are read from the running gateway's settings.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from api_gateway import meetings as m
from api_gateway import responses as r
from api_gateway.accounts_routes import PostWebhookUrlRequest
from api_gateway.calendars import (
    CreateCalendarParams,
    EventBotParam,
    EventBotPatch,
    GraphNotifications,
    ListRawCalendarsParams,
    UpdateCalendarParams,
)
from api_gateway.operations import RetranscribeBody
from api_gateway.schemas import WEBHOOK_URL_PATTERN, JoinRequest
from api_gateway.settings import GatewaySettings
from api_gateway.webhook_docs import BOT_EVENTS, CALENDAR_EVENTS
from api_gateway.zoom_connections import CreateConnectionRequest

API_KEY_HEADER = "x-meeting-baas-api-key"
OPENAPI_PATH = "/openapi.json"
DOCS_PATH = "/docs"

# --- the registry -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    name: str
    where: Literal["query", "path"]
    schema: dict[str, Any]
    required: bool = False
    description: str = ""

    def document(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "in": self.where,
                               "required": self.required or self.where == "path",
                               "schema": self.schema}
        if self.description:
            out["description"] = self.description
        return out


@dataclass(frozen=True)
class Operation:
    operation_id: str
    summary: str
    tag: str
    response: type[BaseModel] | dict[str, Any] | None
    """The success body: a model of `api_gateway.responses`, or a plain schema."""
    description: str = ""
    status: int = 200
    params: tuple[Param, ...] = ()
    body: type[BaseModel] | None = None
    body_refinements: dict[str, dict[str, Any]] = field(default_factory=dict)
    """JSON-schema keywords added to body properties, for checks the handler makes itself (a 400
    rather than the model's 422) on a model this module does not own."""
    errors: tuple[int, ...] = ()
    public: bool = False
    media_type: str = "application/json"
    links: dict[str, dict[str, Any]] = field(default_factory=dict)
    alias_of: str | None = None
    """Another path serving the same operation, left out of the document (`/bots` for `/bots/`)."""
    body_required: bool = True
    other_successes: tuple[tuple[int, str, str], ...] = ()
    """Further success answers: (status, media type, description)."""


UUID_SCHEMA = {"type": "string", "format": "uuid"}
BOT_UUID = Param("uuid", "path", UUID_SCHEMA, True, "The bot's UUID (`bot_id` of `POST /bots/`)")
DATE_TIME = {"type": "string", "format": "date-time"}
CALENDAR_UUID = Param("uuid", "path", UUID_SCHEMA, True, "The calendar's UUID")
EVENT_UUID = Param("uuid", "path", UUID_SCHEMA, True, "The calendar event's UUID")
CONNECTION_UUID = Param("uuid", "path", UUID_SCHEMA, True, "The connection's UUID")
ALL_OCCURRENCES = Param("all_occurrences", "query", {"type": "boolean", "default": False},
                        description="Every occurrence of the recurring event, not only this one.")
EVENTS_LIST = {"type": "array", "items": {"$ref": "#/components/schemas/Event"}}
NATS = (500, 503)  # routes that ask the services over NATS may find them failing or away
_WS = r"[ \t\n\r\f\v]"  # not `\s`, which differs between Python and ECMAScript
_CONDITION = rf"({_WS}*|[^,:]*[^ \t\n\r\f\v,:][^,:]*:[^,]*)"
FILTER_BY_EXTRA_PATTERN = rf"^{_CONDITION}(,{_CONDITION})*$"
SORT_BY_EXTRA_PATTERN = (rf"^([^:]*[^ \t\n\r\f\v:][^:]*(:{_WS}*([aA][sS][cC]|[dD][eE][sS][cC])?"
                         rf"{_WS}*)?)?$")


def _bot_link(operation_id: str, where: str, name: str) -> dict[str, Any]:
    return {"operationId": operation_id, "parameters": {f"{where}.{name}": "$response.body#/bot_id"}}


JOIN_LINKS = {
    "GetBot": _bot_link("get_bot", "path", "uuid"),
    "GetMeetingData": _bot_link("get_meeting_data", "query", "bot_id"),
    "GetScreenshots": _bot_link("get_screenshots", "path", "uuid"),
    "Leave": _bot_link("leave", "path", "uuid"),
    "DeleteData": _bot_link("delete_data", "path", "uuid"),
    "RetryWebhook": _bot_link("retry_webhook", "query", "bot_uuid"),
}
NEXT_PAGE = {"operationId": "bots_with_metadata",
             "description": "The next page: `next_cursor` as `cursor`, with the same ordering.",
             "parameters": {"query.cursor": "$response.body#/next_cursor"}}

BOTS = "Bots"
CALENDARS = "Calendars"
ZOOM = "Zoom OAuth connections"
WEBHOOKS = "Webhooks"
ACCOUNTS = "Accounts"
PLATFORM = "Platform"
PROVIDERS = "Provider notifications"
MEETINGS = "Meetings"
MEETING_ID = Param("meeting_id", "path", {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                   True, "The meeting's id")
TRUE_OR_FALSE = {"type": "string", "enum": ["true", "false"]}
ORGANIZATION_ID = Param(
    "organization_id", "query", {"type": "integer", "minimum": 1},
    description="Your organisation (your account id); another one is a 403.")
MEETING_ERRORS = (400, 401, 404, *NATS)
MEETINGS_NEXT_PAGE = {"operationId": "list_meetings",
                      "description": "The next page (`next` is its whole URL)."}


def _meeting_operation(operation_id: str, summary: str, response: type[BaseModel],
                       description: str) -> Operation:
    return Operation(operation_id, summary, MEETINGS, response, params=(MEETING_ID,),
                     description=description, errors=MEETING_ERRORS)



OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "/bots/"): Operation(
        "join", "Join", BOTS, r.JoinResponse, body=JoinRequest,
        description="Have a bot join a meeting, now or at `start_time`. `webhook_url` overrides "
        "the account's webhook URL for this bot. A second bot of the account to the same meeting "
        "within 5 minutes is refused (409) unless its `deduplication_key` differs. The meeting "
        "URL is checked (400 `InvalidMeetingUrl`), and so are `bot_name` (not blank) and the "
        "`automatic_leave` ranges (400); a body that does not fit the schema is a 422. "
        "`webhook_url` must be an absolute http(s) URL (400 `InvalidWebhookUrl`); it, "
        "`bot_image`, the Zoom token URLs and `streaming.input`/`output` (ws or wss) must point "
        "at a public host (400 `UnsafeUrl` naming the field).",
        errors=(400, 401, 409, 422, *NATS), links=JOIN_LINKS),
    ("POST", "/bots"): Operation("join", "Join", BOTS, r.JoinResponse, alias_of="/bots/"),
    ("DELETE", "/bots/{uuid}"): Operation(
        "leave", "Leave", BOTS, r.OkResponse, params=(BOT_UUID,),
        description="Make the bot leave the meeting (a bot still queued is cancelled); it "
        "delivers what it recorded. The bot and its data stay readable.",
        errors=(400, 401, 404, *NATS)),
    ("GET", "/bots/{uuid}"): Operation(
        "get_bot", "Get Bot", BOTS, r.BotDetails, params=(BOT_UUID,),
        description="The bot, its parameters (without secrets), its current status and its "
        "status history.", errors=(400, 401, 404, *NATS)),
    ("GET", "/bots/meeting_data"): Operation(
        "get_meeting_data", "Get Meeting Data", BOTS, r.Metadata,
        params=(
            Param("bot_id", "query", UUID_SCHEMA, True, "The bot's UUID"),
            Param("include_transcripts", "query", {"type": "boolean", "default": True},
                  description="Whether to include the transcript; true when not given."),
        ),
        description="The recording, its files (URLs presigned for one hour, `\"\"` where there "
        "is no file), the bot and its transcript.", errors=(400, 401, 404, *NATS)),
    ("POST", "/bots/{uuid}/delete_data"): Operation(
        "delete_data", "Delete Data", BOTS, r.DeleteResponse, params=(BOT_UUID,),
        description="Delete the bot's recording, audio, transcripts, screenshots and logs "
        "everywhere; its metadata stays. 5 requests per minute per API key, then 429 with "
        "`Retry-After`. A bot still in its meeting is a 409.",
        errors=(400, 401, 404, 409, 429, *NATS)),
    ("GET", "/bots/bots_with_metadata"): Operation(
        "bots_with_metadata", "List Bots with Metadata", BOTS, r.ListRecentBotsResponse,
        params=(
            Param("bot_name", "query", {"type": "string"},
                  description="Bots whose name contains this (case-insensitive)."),
            Param("created_after", "query", DATE_TIME,
                  description="Bots created at or after this ISO-8601 date-time."),
            Param("created_before", "query", DATE_TIME,
                  description="Bots created at or before this ISO-8601 date-time."),
            Param("cursor", "query", {"type": "string"},
                  description="`next_cursor` of the previous page."),
            Param("ended_after", "query", DATE_TIME,
                  description="Bots that ended at or after this ISO-8601 date-time."),
            Param("filter_by_extra", "query",
                  {"type": "string", "pattern": FILTER_BY_EXTRA_PATTERN},
                  description="`field:value[,field:value...]`: bots whose `extra` has all of "
                  "these values (exact, case-sensitive)."),
            Param("limit", "query",
                  {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
                  description="Bots per page, 1 to 50."),
            Param("meeting_url", "query", {"type": "string"},
                  description="Bots whose meeting URL contains this (case-insensitive)."),
            Param("sort_by_extra", "query", {"type": "string", "pattern": SORT_BY_EXTRA_PATTERN},
                  description="`field`, `field:asc` or `field:desc`: order by a field of `extra` "
                  "(bots with the field first)."),
            Param("speaker_name", "query", {"type": "string"},
                  description="Bots with a speaker whose name contains this "
                  "(case-insensitive)."),
        ),
        description="The account's bots, newest first, a page at a time.",
        errors=(400, 401, *NATS),
        links={"NextPage": NEXT_PAGE}),
    ("POST", "/bots/retranscribe"): Operation(
        "retranscribe_bot", "Retranscribe Bot", BOTS, None, status=202,
        body=RetranscribeBody,
        body_refinements={"bot_uuid": {"format": "uuid"},
                          "webhook_url": {"pattern": WEBHOOK_URL_PATTERN}},
        description="Transcribe a completed bot's audio again: 202 with no content once the "
        "request is recorded; a `transcription_complete` webhook follows. 409 when the bot is not completed or has no audio. A `webhook_url` "
        "that is not public is a 400 `UnsafeUrl`.",
        errors=(400, 401, 404, 409, 422, *NATS)),
    ("POST", "/bots/retry_webhook"): Operation(
        "retry_webhook", "Retry Webhook", BOTS, r.OkResponse,
        params=(
            Param("bot_uuid", "query", UUID_SCHEMA, True, "The bot's UUID"),
            Param("webhook_url", "query", {"type": "string", "pattern": WEBHOOK_URL_PATTERN},
                  description="Send there instead of the bot's webhook URL."),
        ),
        description="Send the bot's final webhook event (`complete` or `failed`) again. 409 "
        "when it has none yet, or no webhook URL. A `webhook_url` that is not public is a 400 "
        "`UnsafeUrl`.", errors=(400, 401, 404, 409, *NATS)),
    ("GET", "/bots/{uuid}/screenshots"): Operation(
        "get_screenshots", "Get Screenshots", BOTS, r.ScreenshotsList, params=(BOT_UUID,),
        description="The screenshots the bot took, oldest first (URLs presigned for one hour).",
        errors=(400, 401, 404, *NATS)),
    ("GET", "/bots/webhooks"): Operation(
        "webhook_documentation", "Webhook Events Documentation", WEBHOOKS, {"type": "object"},
        description="What this platform sends to webhook URLs, how it signs and retries.",
        errors=(401, 500)),
    ("GET", "/bots/webhooks/bot"): Operation(
        "bot_webhook_documentation", "Bot Webhook Events Documentation", WEBHOOKS,
        {"type": "object"}, errors=(401, 500)),
    ("GET", "/bots/webhooks/calendar"): Operation(
        "calendar_webhook_documentation", "Calendar Webhook Events Documentation", WEBHOOKS,
        {"type": "object"}, errors=(401, 500)),
    ("POST", "/calendars/raw"): Operation(
        "list_raw_calendars", "List Raw Calendars", CALENDARS, r.ListRawCalendarsResponse,
        body=ListRawCalendarsParams,
        description="The calendars the OAuth credentials give access to, straight from the "
        "provider (Google or Microsoft), to choose one for `POST /calendars/`; nothing is "
        "stored. Credentials the provider refuses are a 400 `InvalidOAuthCredentials` naming "
        "the field (`oauth_client_id`, `oauth_client_secret` or `oauth_refresh_token`); a "
        "provider that cannot be reached is a 503.",
        errors=(400, 401, 422, 502, *NATS)),
    ("GET", "/calendars/"): Operation(
        "list_calendars", "List Calendars", CALENDARS,
        {"type": "array", "items": {"$ref": "#/components/schemas/Calendar"}},
        description="The account's connected calendars.", errors=(401, *NATS)),
    ("GET", "/calendars"): Operation("list_calendars", "List Calendars", CALENDARS, None,
                                     alias_of="/calendars/"),
    ("POST", "/calendars/"): Operation(
        "create_calendar", "Create Calendar", CALENDARS, r.CreateCalendarResponse,
        body=CreateCalendarParams,
        description="Connect a Google or Microsoft calendar with the customer's OAuth client id, "
        "secret and refresh token (checked with the provider first: a refusal is a 400 naming "
        "the field and nothing is stored). Its events of the next 30 days are synced, and "
        "kept in sync by the provider's push notifications and a periodic sync; each sync "
        "that changes events sends a `calendar.sync_events` webhook. The secret and token "
        "are stored encrypted. The same provider calendar twice is a 409.",
        errors=(400, 401, 409, 422, 502, *NATS)),
    ("POST", "/calendars"): Operation("create_calendar", "Create Calendar", CALENDARS,
                                      r.CreateCalendarResponse, alias_of="/calendars/"),
    ("POST", "/calendars/resync_all"): Operation(
        "resync_all_calendars", "Resync All Calendars", CALENDARS,
        r.ResyncAllCalendarsResponse,
        params=(Param("days", "query", {"type": "integer", "minimum": 1, "maximum": 365},
                      description="Days ahead to sync from now on (30 when never given)."),),
        description="Sync every calendar of the account with its provider now. A calendar "
        "whose credentials were refused is listed in `errors` with the reason.",
        errors=(400, 401, *NATS)),
    ("GET", "/calendars/{uuid}"): Operation(
        "get_calendar", "Get Calendar", CALENDARS, r.Calendar, params=(CALENDAR_UUID,),
        errors=(400, 401, 404, *NATS)),
    ("PATCH", "/calendars/{uuid}"): Operation(
        "update_calendar", "Update Calendar", CALENDARS, r.CreateCalendarResponse,
        params=(CALENDAR_UUID,), body=UpdateCalendarParams,
        description="Replace the calendar's OAuth credentials (checked with the provider "
        "first) and sync it again from scratch. A calendar marked `refresh_failed` syncs again.",
        errors=(400, 401, 404, 422, 502, *NATS)),
    ("DELETE", "/calendars/{uuid}"): Operation(
        "delete_calendar", "Delete Calendar", CALENDARS, None, params=(CALENDAR_UUID,),
        description="Disconnect the calendar: its push channels are stopped at the provider, "
        "it and its events are forgotten. Answers 200 with no body.",
        errors=(400, 401, 404, *NATS)),
    ("GET", "/calendar_events/"): Operation(
        "list_events", "List Events", CALENDARS, r.ListEventResponse,
        params=(
            Param("calendar_id", "query", UUID_SCHEMA, True, "The calendar's UUID"),
            Param("attendee_email", "query", {"type": "string"},
                  description="Events with this attendee (case-insensitive)."),
            Param("organizer_email", "query", {"type": "string"},
                  description="Events with this organizer (case-insensitive)."),
            Param("start_date_gte", "query", DATE_TIME,
                  description="Events starting at or after this ISO-8601 date-time."),
            Param("start_date_lte", "query", DATE_TIME,
                  description="Events starting at or before this ISO-8601 date-time."),
            Param("updated_at_gte", "query", DATE_TIME,
                  description="Events that changed at or after this ISO-8601 date-time."),
            Param("status", "query", {"type": "string", "enum": ["upcoming", "past", "all"],
                                      "default": "upcoming"},
                  description="`upcoming` (from now on), `past` or `all`."),
            Param("cursor", "query", {"type": "string"},
                  description="From the `next` URL of the previous page."),
        ),
        description="The calendar's events by start time, 100 a page; `next` is the URL of the "
        "next page. Deleted events stay listed with `deleted: true`.",
        errors=(400, 401, 404, *NATS)),
    ("GET", "/calendar_events"): Operation("list_events", "List Events", CALENDARS,
                                           r.ListEventResponse, alias_of="/calendar_events/"),
    ("GET", "/calendar_events/{uuid}"): Operation(
        "get_event", "Get Event", CALENDARS, r.Event, params=(EVENT_UUID,),
        errors=(400, 401, 404, *NATS)),
    ("POST", "/calendar_events/{uuid}/bot"): Operation(
        "schedule_record_event", "Schedule Record Event", CALENDARS, EVENTS_LIST,
        params=(EVENT_UUID, ALL_OCCURRENCES), body=EventBotParam,
        description="Have a bot record the event: it joins at the event's start, with these "
        "parameters (checked as for `POST /bots/`: a 400 names the field), on the event's "
        "meeting link. With `all_occurrences`, every instance of the series gets one, those "
        "later syncs bring too. A moved event moves its bot, a cancelled or deleted one "
        "cancels it; the bot's webhooks carry `event_uuid`. An event without a meeting link is "
        "a 400, a cancelled one a 409. Answers the events as they now are.",
        errors=(400, 401, 404, 409, 422, *NATS)),
    ("PATCH", "/calendar_events/{uuid}/bot"): Operation(
        "patch_bot", "Patch Bot", CALENDARS, EVENTS_LIST,
        params=(EVENT_UUID, ALL_OCCURRENCES), body=EventBotPatch,
        description="Change the scheduled bot's parameters: the fields given replace the bot's "
        "(a provider key not given again is kept). 409 when no bot is scheduled.",
        errors=(400, 401, 404, 409, 422, *NATS)),
    ("DELETE", "/calendar_events/{uuid}/bot"): Operation(
        "unschedule_record_event", "Unschedule Record Event", CALENDARS, EVENTS_LIST,
        params=(EVENT_UUID, ALL_OCCURRENCES),
        description="No bot for the event (or, with `all_occurrences`, its series) any more; a "
        "bot already on its way is cancelled. Idempotent.",
        errors=(400, 401, 404, *NATS)),
    ("GET", "/zoom_oauth_connections/"): Operation(
        "list_zoom_oauth_connections", "List Zoom OAuth Connections", ZOOM,
        {"type": "array", "items": {"$ref": "#/components/schemas/ZoomOAuthConnectionResponse"}},
        description="The Zoom users who authorized your Zoom app; their `zoom_user_id` is what "
        "a bot's `zoom_obf_token_user_id` names. Tokens are never shown.",
        errors=(401, *NATS)),
    ("GET", "/zoom_oauth_connections"): Operation(
        "list_zoom_oauth_connections", "List Zoom OAuth Connections", ZOOM, None,
        alias_of="/zoom_oauth_connections/"),
    ("POST", "/zoom_oauth_connections/"): Operation(
        "create_zoom_oauth_connection", "Create Zoom OAuth Connection", ZOOM,
        r.ZoomOAuthConnectionResponse, status=201, body=CreateConnectionRequest,
        description="Exchange a Zoom authorization code (single use, about 10 minutes) for "
        "tokens, read the user's profile and keep the tokens encrypted, refreshed as needed. A "
        "code or app Zoom refuses is a 400 naming the field (`authorization_code`, "
        "`zoom_client_secret`); the same user again replaces the connection's tokens.",
        errors=(400, 401, 422, 502, *NATS)),
    ("POST", "/zoom_oauth_connections"): Operation(
        "create_zoom_oauth_connection", "Create Zoom OAuth Connection", ZOOM,
        r.ZoomOAuthConnectionResponse, alias_of="/zoom_oauth_connections/"),
    ("GET", "/zoom_oauth_connections/{uuid}"): Operation(
        "get_zoom_oauth_connection", "Get Zoom OAuth Connection", ZOOM,
        r.ZoomOAuthConnectionResponse, params=(CONNECTION_UUID,), errors=(400, 401, 404, *NATS)),
    ("DELETE", "/zoom_oauth_connections/{uuid}"): Operation(
        "delete_zoom_oauth_connection", "Delete Zoom OAuth Connection", ZOOM, None,
        params=(CONNECTION_UUID,), status=204,
        description="Forget the connection and its tokens.", errors=(400, 401, 404, *NATS)),
    ("POST", "/calendar_push/google"): Operation(
        "google_calendar_push", "Google Calendar Push", PROVIDERS, None, public=True,
        description="Where Google Calendar watch channels notify (headers `X-Goog-Channel-ID`, "
        "`X-Goog-Channel-Token`, `X-Goog-Resource-State`). Not for API clients. An unknown "
        "channel or a wrong token is a 404.", errors=(404, *NATS)),
    ("POST", "/calendar_push/microsoft"): Operation(
        "microsoft_calendar_push", "Microsoft Graph Notifications", PROVIDERS, None,
        public=True, status=202, body=GraphNotifications, body_required=False,
        other_successes=((200, "text/plain", "The validation handshake: `validationToken` "
                          "echoed (a request without a body)"),),
        params=(Param("validationToken", "query", {"type": "string"},
                      description="Graph's validation handshake: echoed as text/plain (the "
                      "body is then not read)."),),
        description="Where Microsoft Graph subscriptions notify: the validation handshake "
        "(`validationToken` and no body: the token echoed as text), change and lifecycle "
        "notifications. Not for API "
        "clients. Notifications for no known subscription (or with a wrong `clientState`) are "
        "a 404; a body that is not a notification list is a 422.",
        errors=(400, 404, 422, *NATS)),
    ("GET", "/accounts/webhook_url"): Operation(
        "get_webhook_url", "Get Webhook URL", ACCOUNTS, r.GetWebhookUrlResponse,
        description="The account's default webhook URL.", errors=(401, 500)),
    ("POST", "/accounts/webhook_url"): Operation(
        "post_webhook_url", "Set Webhook URL", ACCOUNTS, r.GetWebhookUrlResponse,
        body=PostWebhookUrlRequest,
        description="Set the account's default webhook URL: an http or https URL (400 "
        "`InvalidWebhookUrl`) on a public host (400 `UnsafeUrl`).",
        errors=(400, 401, 422, 500)),
    ("GET", "/accounts/webhook_secret"): Operation(
        "get_webhook_secret", "Get Webhook Signing Secret", ACCOUNTS, r.WebhookSecretResponse,
        description="The secret that signs webhooks (Standard Webhooks).", errors=(401, 500)),
    ("POST", "/accounts/webhook_secret/rotate"): Operation(
        "rotate_webhook_secret", "Rotate Webhook Signing Secret", ACCOUNTS,
        r.WebhookSecretResponse, errors=(401, 500)),
    ("GET", "/accounts/api_keys"): Operation(
        "list_api_keys", "List API Keys", ACCOUNTS, r.ApiKeyList,
        description="The account's API keys, by prefix (a key itself is shown only once).",
        errors=(401, 500)),
    ("POST", "/accounts/api_keys"): Operation(
        "create_api_key", "Create API Key", ACCOUNTS, r.ApiKeyResponse, status=201,
        description="A new key, shown this once; the others stay active, so that keys rotate "
        "without downtime.", errors=(401, 500),
        links={"Revoke": {"operationId": "revoke_api_key",
                          "parameters": {"path.prefix": "$response.body#/prefix"}}}),
    ("DELETE", "/accounts/api_keys/{prefix}"): Operation(
        "revoke_api_key", "Revoke API Key", ACCOUNTS, r.OkResponse,
        params=(Param("prefix", "path", {"type": "string"}, True, "The key's prefix"),),
        description="Revoke a key. The account's last active key cannot be revoked (409).",
        errors=(400, 401, 404, 409, 500)),
    ("GET", "/meetings/"): Operation(
        "list_meetings", "List Meetings", MEETINGS, m.MeetingListResponse,
        params=(
            ORGANIZATION_ID,
            Param("title", "query", {"type": "string"},
                  description="Meetings whose title contains this (case-insensitive)."),
            Param("participants", "query",
                  {"type": "string", "pattern": m.PARTICIPANT_IDS_PATTERN},
                  description="Participant ids, comma-separated: meetings with any of them."),
            Param("created_after", "query", {"type": "string", "format": "date"},
                  description="Meetings created on or after this day (YYYY-MM-DD, UTC)."),
            Param("created_before", "query", {"type": "string", "format": "date"},
                  description="Meetings created on or before this day (YYYY-MM-DD, UTC)."),
            Param("summary_complete", "query", TRUE_OR_FALSE,
                  description="Meetings whose summary is (or is not) made."),
            Param("from_calendar", "query", TRUE_OR_FALSE,
                  description="true: made for a calendar event; false: created directly."),
            Param("page", "query", {"type": "integer", "minimum": 1, "maximum": m.MAX_ID,
                                    "default": 1},
                  description="Page number, from 1."),
            Param("size", "query", {"type": "integer", "minimum": 1,
                                    "maximum": m.MAX_PAGE_SIZE, "default": 10},
                  description=f"Meetings per page, 1 to {m.MAX_PAGE_SIZE}."),
        ),
        description="The organisation's meetings, latest start first, a page at a time. Every "
        "bot is a meeting, and so is every meeting created here.",
        errors=(400, 401, 403, *NATS)),
    ("GET", "/meetings"): Operation("list_meetings", "List Meetings", MEETINGS,
                                    m.MeetingListResponse, alias_of="/meetings/"),
    ("POST", "/meetings/"): Operation(
        "create_meeting", "Create Meeting", MEETINGS, m.MeetingDetail, status=201,
        body=m.CreateMeetingRequest,
        description="A meeting: a bot joins `bot_meeting_url` now or at `bot_join_at` (in the "
        "future); or the audio or video at `file_url` is fetched (a public URL, checked like "
        "every URL the platform calls), transcribed with its speakers found, and summarised; "
        "or, with neither, a record of `calendar_event`. Both URLs, `speaker_count` < 1, "
        "`bot_join_at` without a meeting URL or in the past, an unknown `topic_id` and a "
        "value of the wrong type are 400s naming the field; another organisation is a 403.",
        errors=(400, 401, 403, *NATS)),
    ("POST", "/meetings"): Operation("create_meeting", "Create Meeting", MEETINGS,
                                     m.MeetingDetail, alias_of="/meetings/"),
    ("GET", "/meetings/{meeting_id}"): _meeting_operation(
        "get_meeting", "Get Meeting Details", m.MeetingDetail,
        "The meeting, with its status, keywords and host."),
    ("GET", "/meetings/{meeting_id}/transcript"): _meeting_operation(
        "get_meeting_transcript", "Get Meeting Transcript", m.TranscriptResponse,
        "What each speaker said, in timed segments; empty until transcribed."),
    ("GET", "/meetings/{meeting_id}/summary"): _meeting_operation(
        "get_meeting_summary", "Get Meeting Summary", m.SummaryResponse,
        "The Markdown summary, notes and keywords; null until `summary_complete`."),
    ("GET", "/meetings/{meeting_id}/participants"): _meeting_operation(
        "get_meeting_participants", "Get Meeting Participants", m.ParticipantsResponse,
        "Who took part: invited by email, in the calendar event, or heard speaking."),
    ("GET", "/meetings/{meeting_id}/recording"): _meeting_operation(
        "get_meeting_recording", "Get Meeting Recording", m.RecordingResponse,
        "The recording's URL (presigned for one hour), duration and format; nulls until "
        "there is one."),
    ("GET", "/topics/"): Operation(
        "list_topics", "List Topics", MEETINGS, m.TopicListResponse,
        params=(ORGANIZATION_ID,),
        description="The topics a meeting can be given (`topic_id`): each sets its language "
        "and the context of its summary.", errors=(400, 401, 403, *NATS)),
    ("GET", "/topics"): Operation("list_topics", "List Topics", MEETINGS, None,
                                  alias_of="/topics/"),
    ("GET", "/health"): Operation(
        "health", "Health", PLATFORM, r.Health, public=True,
        description="The gateway is up."),
    ("GET", OPENAPI_PATH): Operation(
        "openapi", "OpenAPI Document", PLATFORM, {"type": "object"}, public=True,
        description="This document."),
    ("GET", DOCS_PATH): Operation(
        "docs", "API Documentation", PLATFORM, {"type": "string"}, public=True,
        media_type="text/html", description="This document as a web page."),
}

ERROR_DESCRIPTIONS = {
    400: "The request is malformed or a value is not acceptable; `field` names it",
    401: "The `x-meeting-baas-api-key` header is missing, or the key unknown or revoked",
    403: "The API key has no access to the organisation it names",
    404: "No such resource for this account",
    409: "The request conflicts with the resource's state",
    422: "The body does not fit the schema; `errors` lists every problem",
    429: "Too many requests; retry after `Retry-After` seconds",
    500: "The platform failed; retry later",
    502: "The calendar provider answered with an error; `message` quotes it",
    503: "The platform, or the calendar provider, could not answer in time; retry after "
         "`Retry-After` seconds",
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying",
                               "schema": {"type": "integer", "minimum": 0}}}


# --- the document -------------------------------------------------------------------------------

INFO_DESCRIPTION = """\
A self-hosted, drop-in implementation of the Meeting BaaS API v1: send a bot into a meeting,
receive its recording, transcript and events by webhook and by API.

Authenticate with the `x-meeting-baas-api-key` header. Every error is JSON:
`{"code": "InvalidMeetingUrl", "message": "meeting_url: ...", "field": "meeting_url"}`; a body
that does not fit its schema is a 422 listing every problem in `errors`. Text may not contain the
NUL character (U+0000): a request carrying one is a 400 `InvalidCharacter`.

URLs the platform calls for you (webhooks, `bot_image`, streaming sockets, Zoom token URLs) must
point at public hosts: loopback, private, link-local (cloud metadata), CGNAT, multicast, reserved
and documentation addresses in any spelling, local names (`localhost`, `*.internal`, `*.local`,
`*.svc`, ...) and single-label names are a 400 `UnsafeUrl` naming the field, and the addresses
are checked again, after resolution, when the platform connects.
"""


def _version() -> str:
    try:
        return version("mb-api-gateway")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def documented() -> dict[tuple[str, str], Operation]:
    return {key: op for key, op in OPERATIONS.items() if op.alias_of is None}


def _model_schemas() -> tuple[dict[tuple[type[BaseModel], str], dict[str, Any]], dict[str, Any]]:
    models: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        (r.ErrorBody, "serialization")]
    for op in documented().values():
        if op.body is not None:
            models.append((op.body, "validation"))
        if isinstance(op.response, type):
            models.append((op.response, "serialization"))
    refs, defs = models_json_schema(list(dict.fromkeys(models)),
                                    ref_template="#/components/schemas/{model}")
    return refs, defs.get("$defs", {})


def _body_schema_name(ref: dict[str, Any]) -> str:
    return ref["$ref"].rsplit("/", 1)[-1]


def _bound_integers(schema: dict[str, Any], minimum: int, maximum: int) -> None:
    """Set the bounds on the integer branch of an `int | None` property."""
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "integer":
            branch["minimum"], branch["maximum"] = minimum, maximum


def _apply_settings(schemas: dict[str, Any], settings: GatewaySettings) -> None:
    leave = schemas.get("AutomaticLeaveRequest", {}).get("properties", {})
    for name, minimum in (("waiting_room_timeout", settings.min_waiting_room_timeout_s),
                          ("noone_joined_timeout", settings.min_waiting_room_timeout_s),
                          ("silence_timeout", settings.min_silence_timeout_s)):
        if name in leave:
            _bound_integers(leave[name], minimum, settings.max_automatic_leave_s)
            leave[name]["description"] = (
                f"Seconds, from {minimum} to {settings.max_automatic_leave_s} (checked: a 400); "
                "600 when not given.")


def _refine(schema: dict[str, Any], keywords: dict[str, Any]) -> None:
    """Add keywords to the string branch of a property (`str` or `str | None`)."""
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "string":
            branch.update(keywords)


def _error(status: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "description": ERROR_DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    if status in (429, 500, 503):
        out["headers"] = RETRY_AFTER
    return out


def build_document(settings: GatewaySettings) -> dict[str, Any]:
    refs, schemas = _model_schemas()
    _apply_settings(schemas, settings)
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), op in documented().items():
        entry: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary,
                                 "tags": [op.tag]}
        if op.description:
            entry["description"] = op.description
        if op.params:
            entry["parameters"] = [p.document() for p in op.params]
        if op.body is not None:
            ref = refs[(op.body, "validation")]
            if op.body_refinements:
                properties = schemas[_body_schema_name(ref)]["properties"]
                for name, keywords in op.body_refinements.items():
                    _refine(properties[name], keywords)
            entry["requestBody"] = {"required": op.body_required,
                                    "content": {"application/json": {"schema": ref}}}
        schema = (refs[(op.response, "serialization")] if isinstance(op.response, type)
                  else op.response)
        success: dict[str, Any] = {"description": "Success"}
        if schema is not None:
            success["content"] = {op.media_type: {"schema": schema}}
        if op.links:
            success["links"] = op.links
        entry["responses"] = {str(op.status): success}
        for status, media_type, text in op.other_successes:
            entry["responses"][str(status)] = {
                "description": text, "content": {media_type: {"schema": {"type": "string"}}}}
        for status in op.errors:
            entry["responses"][str(status)] = _error(status)
        entry["security"] = [] if op.public else [{"ApiKeyAuth": []}]
        paths.setdefault(path, {})[method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "Meeting BaaS API (self-hosted)", "version": _version(),
                 "description": INFO_DESCRIPTION},
        "tags": [{"name": tag} for tag in (BOTS, CALENDARS, ZOOM, MEETINGS, WEBHOOKS,
                                            ACCOUNTS, PLATFORM, PROVIDERS)],
        "paths": dict(sorted(paths.items())),
        "webhooks": _webhooks(),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"ApiKeyAuth": {"type": "apiKey", "in": "header",
                                               "name": API_KEY_HEADER,
                                               "description": "API key for authentication"}},
        },
        "security": [{"ApiKeyAuth": []}],
    }


def _webhooks() -> dict[str, Any]:
    """What the platform POSTs to webhook URLs (as `GET /bots/webhooks` lists it)."""
    return {
        event["event"]: {"post": {
            "summary": event["event"],
            "description": event["when"],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"type": "object", "required": ["event", "data"]},
                "example": event["example"]}}},
            "responses": {"200": {"description": "Received (any 2xx)"}},
        }}
        for event in (*BOT_EVENTS, *CALENDAR_EVENTS)
    }


# --- the routes ---------------------------------------------------------------------------------

DOCUMENT = web.AppKey("openapi_document", dict)
DOCS_HTML = web.AppKey("openapi_docs_html", str)
routes = web.RouteTableDef()


def install(app: web.Application, settings: GatewaySettings) -> None:
    document = build_document(settings)
    app[DOCUMENT] = document
    app[DOCS_HTML] = render_html(document)
    app.router.add_routes(routes)


@routes.get(OPENAPI_PATH)
async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(request.app[DOCUMENT])


@routes.get(DOCS_PATH)
async def docs(request: web.Request) -> web.Response:
    return web.Response(text=request.app[DOCS_HTML], content_type="text/html")


# --- the HTML page ------------------------------------------------------------------------------

_e = html.escape


def _md(text: str) -> str:
    """Escaped text with `code` spans, the only markup the descriptions use."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", _e(text))

STYLE = """
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1d2330;background:#fafbfc}
main{max-width:1000px;margin:0 auto;padding:24px}
h1{margin-bottom:0}h2{border-bottom:1px solid #d8dde6;padding-bottom:4px;margin-top:40px}
nav a{display:block;text-decoration:none;color:#1d2330;font-family:ui-monospace,monospace;font-size:13px}
.op{background:#fff;border:1px solid #d8dde6;border-radius:6px;margin:16px 0;padding:12px 16px}
.op h3{margin:0;font-family:ui-monospace,monospace;font-size:15px}
.m{display:inline-block;min-width:64px;text-align:center;border-radius:4px;color:#fff;
   font-size:12px;padding:2px 6px;margin-right:8px}
.get{background:#2b6cb0}.post{background:#2f855a}.delete{background:#c53030}
table{border-collapse:collapse;width:100%;margin:8px 0;font-size:14px}
td,th{border-bottom:1px solid #eceff4;padding:4px 8px;text-align:left;vertical-align:top}
code,.t{font-family:ui-monospace,monospace;font-size:13px}.req{color:#c53030}
.schema{background:#fff;border:1px solid #d8dde6;border-radius:6px;margin:12px 0;padding:8px 16px}
"""


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type(schema: Any) -> str:
    """A short, linked description of a schema's type."""
    if schema is True or schema == {}:
        return "any"
    if not isinstance(schema, dict):
        return "never"
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return f'<a href="#schema-{_e(name)}">{_e(name)}</a>'
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(_type(s) for s in schema[key])
    if "allOf" in schema:
        return " &amp; ".join(_type(s) for s in schema["allOf"])
    if "enum" in schema:
        return " | ".join(f"<code>{_e(json.dumps(v))}</code>" for v in schema["enum"])
    if "const" in schema:
        return f"<code>{_e(json.dumps(schema['const']))}</code>"
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        kind = " | ".join(kind)
    if kind == "array":
        return f"array of {_type(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {_type(schema['additionalProperties'])}"
    text = _e(kind)
    details = [f"format {schema['format']}"] if "format" in schema else []
    for key, sign in (("minimum", "≥"), ("maximum", "≤"), ("minLength", "length ≥"),
                      ("maxLength", "length ≤")):
        if key in schema:
            details.append(f"{sign} {schema[key]}")
    if "pattern" in schema:
        details.append(f"pattern <code>{_e(schema['pattern'])}</code>")
    if "default" in schema:
        details.append(f"default <code>{_e(json.dumps(schema['default']))}</code>")
    return text + (f" ({', '.join(details)})" if details else "")


def _properties(schema: dict[str, Any]) -> str:
    props = schema.get("properties")
    if not props:
        return f"<p class=t>{_type(schema)}</p>"
    required = set(schema.get("required", []))
    rows = "".join(
        f"<tr><td><code>{_e(name)}</code>{' <span class=req>*</span>' if name in required else ''}"
        f"</td><td class=t>{_type(prop)}</td>"
        f"<td>{_md(prop.get('description', '') if isinstance(prop, dict) else '')}</td></tr>"
        for name, prop in props.items()
    )
    extra = ""
    if schema.get("additionalProperties") is False:
        extra = "<p>No other property is accepted.</p>"
    return f"<table><tr><th>property</th><th>type</th><th></th></tr>{rows}</table>{extra}"


def _operation_html(method: str, path: str, op: dict[str, Any],
                    schemas: dict[str, Any]) -> str:
    anchor = f"op-{op['operationId']}"
    parts = [f'<section class=op id="{_e(anchor)}"><h3><span class="m {method}">{method.upper()}'
             f"</span>{_e(path)}</h3><p><b>{_e(op.get('summary', ''))}</b>. "
             f"{_md(op.get('description', ''))}</p>"]
    if op.get("security") == []:
        parts.append("<p>No API key needed.</p>")
    if op.get("parameters"):
        rows = "".join(
            f"<tr><td><code>{_e(p['name'])}</code>"
            f"{' <span class=req>*</span>' if p.get('required') else ''}</td><td>{p['in']}</td>"
            f"<td class=t>{_type(p['schema'])}</td><td>{_md(p.get('description', ''))}</td></tr>"
            for p in op["parameters"]
        )
        parts.append("<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th>"
                     f"<th></th></tr>{rows}</table>")
    if "requestBody" in op:
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        parts.append(f"<h4>Body</h4><p class=t>application/json: {_type(schema)}</p>")
        if "$ref" in schema:
            parts.append(_properties(schemas[_ref_name(schema["$ref"])]))
    rows = ""
    for status, response in op["responses"].items():
        content = response.get("content", {})
        kinds = "; ".join(f"{_e(mt)}: {_type(c.get('schema', {}))}" for mt, c in content.items())
        rows += (f"<tr><td>{status}</td><td class=t>{kinds}</td>"
                 f"<td>{_md(response.get('description', ''))}</td></tr>")
    parts.append(f"<h4>Responses</h4><table><tr><th>status</th><th>body</th><th></th></tr>"
                 f"{rows}</table></section>")
    return "".join(parts)


def render_html(document: dict[str, Any]) -> str:
    """The document as one self-contained page (no script, no external resource)."""
    info = document["info"]
    ops = [(method, path, op) for path, item in document["paths"].items()
           for method, op in item.items()]
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for method, path, op in ops:
        by_tag.setdefault(op["tags"][0], []).append((method, path, op))
    nav = "".join(f'<a href="#op-{_e(op["operationId"])}">{method.upper()} {_e(path)}</a>'
                  for method, path, op in ops)
    body = []
    for tag in [t["name"] for t in document.get("tags", [])]:
        if tag in by_tag:
            body.append(f"<h2>{_e(tag)}</h2>")
            body.extend(_operation_html(m, p, op, document["components"]["schemas"])
                        for m, p, op in by_tag[tag])
    body.append("<h2>Schemas</h2>")
    for name, schema in document["components"]["schemas"].items():
        description = schema.get("description", "")
        body.append(f'<div class=schema id="schema-{_e(name)}"><h3>{_e(name)}</h3>'
                    f"<p>{_md(description)}</p>{_properties(schema)}</div>")
    description = "".join(f"<p>{_md(p)}</p>" for p in info.get("description", "").split("\n\n"))
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{_e(info['title'])}</title><style>{STYLE}</style></head><body><main>"
        f"<h1>{_e(info['title'])}</h1><p>Version {_e(info['version'])} · "
        f'<a href="{OPENAPI_PATH}">OpenAPI document</a></p>{description}'
        f"<nav>{nav}</nav>{''.join(body)}</main></body></html>"
    )
