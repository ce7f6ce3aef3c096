"""Calendar contracts: the gateway's queries to calendar-sync, and the event a sync that changed
something causes (`calendar.synced`, delivered to customers as `calendar.sync_events`).

OAuth client secrets and refresh tokens cross the bus sealed (`mb_shared.secrets`): only
calendar-sync opens them. Push notifications carry the sha256 of the channel's token, never the
token itself.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from mb_shared.contracts.base import Event, Message
from mb_shared.contracts.bot import BotParams
from mb_shared.contracts.queries import Query


class CalendarProvider(StrEnum):
    GOOGLE = "Google"
    MICROSOFT = "Microsoft"


class OAuthCredentials(Message):
    platform: CalendarProvider
    client_id: str
    sealed_client_secret: str
    sealed_refresh_token: str


class ListRawCalendars(Query):
    """`POST /calendars/raw`: the provider's calendars, nothing stored."""

    SUBJECT = "calendars.raw"

    account_id: int
    credentials: OAuthCredentials


class RawCalendar(Message):
    id: str
    email: str
    is_primary: bool


class RawCalendarList(Message):
    ok: Literal[True] = True
    calendars: list[RawCalendar]


class CreateCalendar(Query):
    """`POST /calendars/`: `raw_calendar_id` None means the primary calendar."""

    SUBJECT = "calendars.create"

    account_id: int
    credentials: OAuthCredentials
    raw_calendar_id: str | None = None


class UpdateCalendar(Query):
    """`PATCH /calendars/{uuid}`: new credentials, then a full sync."""

    SUBJECT = "calendars.update"

    account_id: int
    calendar_uuid: UUID
    credentials: OAuthCredentials


class GetCalendar(Query):
    SUBJECT = "calendars.get"

    account_id: int
    calendar_uuid: UUID


class DeleteCalendar(Query):
    SUBJECT = "calendars.delete"

    account_id: int
    calendar_uuid: UUID


class ListCalendars(Query):
    SUBJECT = "calendars.list"

    account_id: int


class CalendarView(Message):
    ok: Literal[True] = True
    uuid: UUID
    account_id: int
    platform: CalendarProvider
    provider_calendar_id: str
    name: str
    email: str
    resource_id: str | None = None
    status: str
    """`active`, or `refresh_failed` once the provider refused the refresh token."""
    status_message: str | None = None
    last_synced_at: datetime | None = None


class CalendarList(Message):
    ok: Literal[True] = True
    calendars: list[CalendarView]


class ResyncCalendars(Query):
    """`POST /calendars/resync_all`: a full sync of every calendar of the account."""

    SUBJECT = "calendars.resync_all"

    account_id: int
    days: int | None = None


class ResyncReply(Message):
    ok: Literal[True] = True
    synced_calendars: list[UUID]
    errors: list[tuple[UUID, str]]


class CalendarPush(Query):
    """A provider's push notification, as the gateway received it: the channel (Google) or
    subscription (Microsoft) it names and the sha256 of the token it carried."""

    SUBJECT = "calendars.push"

    platform: CalendarProvider
    channel_id: str
    token_sha256: str
    state: str
    """Google's X-Goog-Resource-State; Microsoft's changeType or lifecycleEvent."""


class Attendee(Message):
    email: str
    name: str | None = None


class CalendarEventView(Message):
    ok: Literal[True] = True
    uuid: UUID
    calendar_uuid: UUID
    provider_event_id: str
    name: str
    start_time: datetime
    end_time: datetime
    meeting_url: str
    attendees: list[Attendee]
    organizer_email: str | None = None
    is_organizer: bool
    is_recurring: bool
    recurring_event_id: str | None = None
    deleted: bool
    raw: dict[str, Any]
    last_updated_at: datetime
    bot_param: dict[str, Any] | None = None


class GetCalendarEvent(Query):
    SUBJECT = "calendar_events.get"

    account_id: int
    event_uuid: UUID


class ListCalendarEvents(Query):
    """`GET /calendar_events/`: `status` is upcoming, past or all; `after` the cursor."""

    SUBJECT = "calendar_events.list"

    account_id: int
    calendar_uuid: UUID
    attendee_email: str | None = None
    organizer_email: str | None = None
    start_date_gte: datetime | None = None
    start_date_lte: datetime | None = None
    updated_at_gte: datetime | None = None
    status: Literal["upcoming", "past", "all"] = "upcoming"
    after: tuple[datetime, UUID] | None = None
    limit: int = Field(default=100, ge=1, le=100)


class CalendarEventList(Message):
    ok: Literal[True] = True
    events: list[CalendarEventView]
    next_after: tuple[datetime, UUID] | None = None


class CalendarSynced(Event):
    """A sync that changed events of the calendar (created, moved, edited, cancelled, deleted)."""

    SUBJECT = "calendar.synced"
    STREAM = "EVENTS"

    calendar_uuid: UUID
    account_id: int
    last_updated_ts: datetime
    affected_event_uuids: list[UUID]


class ScheduleEventBot(Query):
    """`POST /calendar_events/{uuid}/bot` (and `PATCH`, with the merged parameters): the bot's
    parameters as for `POST /bots/` (validated by the gateway, provider key sealed), the meeting
    being the event's. `keep_secrets`: a parameter given without its key keeps the stored one."""

    SUBJECT = "calendar_events.bot.schedule"

    account_id: int
    event_uuid: UUID
    all_occurrences: bool = False
    params: BotParams
    api_key_prefix: str | None = None
    keep_secrets: bool = False


class UnscheduleEventBot(Query):
    SUBJECT = "calendar_events.bot.unschedule"

    account_id: int
    event_uuid: UUID
    all_occurrences: bool = False


class CalendarEventsReply(Message):
    ok: Literal[True] = True
    events: list[CalendarEventView]


class CreateZoomConnection(Query):
    """`POST /zoom_oauth_connections/`: the authorization code and the app's secret sealed."""

    SUBJECT = "zoom_connections.create"

    account_id: int
    client_id: str
    sealed_client_secret: str
    sealed_authorization_code: str
    redirect_uri: str


class GetZoomConnection(Query):
    SUBJECT = "zoom_connections.get"

    account_id: int
    connection_uuid: UUID


class DeleteZoomConnection(Query):
    SUBJECT = "zoom_connections.delete"

    account_id: int
    connection_uuid: UUID


class ListZoomConnections(Query):
    SUBJECT = "zoom_connections.list"

    account_id: int


class GetZoomObfToken(Query):
    """The bot-runner, at join: an On-Behalf-Of token of the account's connected Zoom user for
    the meeting, sealed to the runner's one-time key (`recipient_key`, see
    `mb_shared.secrets.OneTimeRecipient`): the token never crosses the bus in the clear."""

    SUBJECT = "zoom_connections.obf_token"

    account_id: int
    zoom_user_id: str
    meeting_id: str
    recipient_key: str


class SealedObfToken(Message):
    ok: Literal[True] = True
    sealed_token: str


class ZoomConnectionView(Message):
    ok: Literal[True] = True
    uuid: UUID
    zoom_user_id: str
    zoom_account_id: str | None
    scopes: str | None
    state: str
    """`connected`, or `refresh_failed` once Zoom refused to refresh the tokens."""
    connection_failure_data: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime


class ZoomConnectionList(Message):
    ok: Literal[True] = True
    connections: list[ZoomConnectionView]
