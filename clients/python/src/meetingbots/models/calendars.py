"""Models of the `/calendars` and `/calendar_events` answers (Meeting BaaS API v1)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit
from uuid import UUID

from meetingbots.models._base import ApiModel, Extra, Timestamp
from meetingbots.models.bots import BotParam


class Calendar(ApiModel):
    uuid: UUID
    name: str
    email: str
    google_id: str
    """The calendar's id at its provider (Google or Microsoft)."""
    resource_id: str | None


class CreateCalendarResponse(ApiModel):
    calendar: Calendar


class CalendarListEntry(ApiModel):
    """A calendar at the provider, not connected yet (`list_raw_calendars`)."""

    id: str
    email: str
    is_primary: bool


class ListRawCalendarsResponse(ApiModel):
    calendars: list[CalendarListEntry]


class ResyncAllCalendarsResponse(ApiModel):
    synced_calendars: list[UUID]
    errors: list[list[str]]
    """Calendars that could not be synced: each a pair of the calendar's UUID and the reason."""


class Attendee(ApiModel):
    email: str
    name: str | None


class Event(ApiModel):
    """An event of a connected calendar; `bot_param` is the bot scheduled for it, if any."""

    uuid: UUID
    calendar_uuid: UUID
    google_id: str
    name: str
    start_time: Timestamp
    end_time: Timestamp
    meeting_url: str
    """The Meet, Teams or Zoom link found in the event, `""` when it has none."""
    attendees: list[Attendee]
    is_organizer: bool
    is_recurring: bool
    recurring_event_id: str | None
    deleted: bool
    raw: Extra
    last_updated_at: Timestamp
    bot_param: BotParam | None


class ListEventResponse(ApiModel):
    """A page of events (100 at most); `next` is the URL of the next page."""

    data: list[Event]
    next: str | None

    @property
    def next_cursor(self) -> str | None:
        """The `cursor` of the next page (from `next`), None on the last page."""
        cursors = parse_qs(urlsplit(self.next).query).get("cursor") if self.next else None
        return cursors[0] if cursors else None
