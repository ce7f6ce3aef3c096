"""`client.calendars`: the Meeting BaaS v1 `/calendars` and `/calendar_events` operations
(connect Google or Microsoft calendars, read their events, schedule bots for them)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel

from meetingbots.models.calendars import (
    Calendar,
    CreateCalendarResponse,
    Event,
    ListEventResponse,
    ListRawCalendarsResponse,
    ResyncAllCalendarsResponse,
)
from meetingbots.resources._base import Resource
from meetingbots.transport import ExtraHeaders, Request, path, without_none

CALENDAR = "/calendars/{uuid}"
EVENT_BOT = "/calendar_events/{uuid}/bot"
CALENDARS = list[Calendar]
EVENTS = list[Event]
Platform = Literal["Google", "Microsoft"]
EventBotParam = Mapping[str, Any] | BaseModel
"""The flat bot parameters of a calendar event (`bot_name`, `webhook_url`, `speech_to_text`,
`recording_mode`, `extra`, ...)."""


def _oauth(oauth_client_id: str, oauth_client_secret: str, oauth_refresh_token: str,
           platform: Platform) -> dict[str, Any]:
    return {"oauth_client_id": oauth_client_id, "oauth_client_secret": oauth_client_secret,
            "oauth_refresh_token": oauth_refresh_token, "platform": platform}


class Calendars(Resource):
    def list_raw_calendars(self, oauth_client_id: str, oauth_client_secret: str,
                           oauth_refresh_token: str, platform: Platform,
                           extra_headers: ExtraHeaders | None = None) -> ListRawCalendarsResponse:
        """The calendars these OAuth credentials reach, straight from the provider."""
        body = _oauth(oauth_client_id, oauth_client_secret, oauth_refresh_token, platform)
        return self._send(Request("POST", "/calendars/raw", ListRawCalendarsResponse, body=body,
                                  extra_headers=extra_headers))

    def create(self, oauth_client_id: str, oauth_client_secret: str, oauth_refresh_token: str,
               platform: Platform, raw_calendar_id: str | None = None,
               extra_headers: ExtraHeaders | None = None) -> CreateCalendarResponse:
        """Connect a calendar (`raw_calendar_id` from `list_raw_calendars`, else the primary
        one); its next 30 days are synced."""
        body = without_none({**_oauth(oauth_client_id, oauth_client_secret, oauth_refresh_token,
                                      platform), "raw_calendar_id": raw_calendar_id})
        return self._send(Request("POST", "/calendars/", CreateCalendarResponse, body=body,
                                  extra_headers=extra_headers))

    def list(self, extra_headers: ExtraHeaders | None = None) -> CALENDARS:
        """The account's connected calendars."""
        return self._send(Request("GET", "/calendars/", CALENDARS, extra_headers=extra_headers))

    def get(self, uuid: UUID | str, extra_headers: ExtraHeaders | None = None) -> Calendar:
        return self._send(Request("GET", path(CALENDAR, uuid=uuid), Calendar,
                                  extra_headers=extra_headers))

    def update(self, uuid: UUID | str, oauth_client_id: str, oauth_client_secret: str,
               oauth_refresh_token: str, platform: Platform,
               extra_headers: ExtraHeaders | None = None) -> CreateCalendarResponse:
        """Replace the calendar's OAuth credentials and sync it again from scratch."""
        body = _oauth(oauth_client_id, oauth_client_secret, oauth_refresh_token, platform)
        return self._send(Request("PATCH", path(CALENDAR, uuid=uuid), CreateCalendarResponse,
                                  body=body, extra_headers=extra_headers))

    def delete(self, uuid: UUID | str, extra_headers: ExtraHeaders | None = None) -> None:
        """Disconnect the calendar and forget its events."""
        return self._send(Request("DELETE", path(CALENDAR, uuid=uuid), None,
                                  extra_headers=extra_headers))

    def resync_all(self, days: int | None = None,
                   extra_headers: ExtraHeaders | None = None) -> ResyncAllCalendarsResponse:
        """Sync every calendar of the account now, `days` ahead (1 to 365)."""
        return self._send(Request("POST", "/calendars/resync_all", ResyncAllCalendarsResponse,
                                  query={"days": days}, extra_headers=extra_headers))

    def list_events(
        self,
        calendar_id: UUID | str,
        *,
        attendee_email: str | None = None,
        organizer_email: str | None = None,
        start_date_gte: str | datetime | None = None,
        start_date_lte: str | datetime | None = None,
        updated_at_gte: str | datetime | None = None,
        status: Literal["upcoming", "past", "all"] | None = None,
        cursor: str | None = None,
        extra_headers: ExtraHeaders | None = None,
    ) -> ListEventResponse:
        """The calendar's events by start time, 100 a page; the answer's `next_cursor`, given
        as `cursor`, is the next page. Date-times need a time zone."""
        return self._send(Request("GET", "/calendar_events/", ListEventResponse, query={
            "calendar_id": calendar_id, "attendee_email": attendee_email,
            "organizer_email": organizer_email, "start_date_gte": start_date_gte,
            "start_date_lte": start_date_lte, "updated_at_gte": updated_at_gte,
            "status": status, "cursor": cursor,
        }, extra_headers=extra_headers))

    def get_event(self, uuid: UUID | str, extra_headers: ExtraHeaders | None = None) -> Event:
        return self._send(Request("GET", path("/calendar_events/{uuid}", uuid=uuid), Event,
                                  extra_headers=extra_headers))

    def schedule_bot(self, event_uuid: UUID | str, bot_param: EventBotParam,
                     all_occurrences: bool = False,
                     extra_headers: ExtraHeaders | None = None) -> EVENTS:
        """A bot records the event (every occurrence of its series with `all_occurrences`);
        answers the events as they now are."""
        return self._send(Request("POST", path(EVENT_BOT, uuid=event_uuid), EVENTS,
                                  query={"all_occurrences": all_occurrences}, body=bot_param,
                                  extra_headers=extra_headers))

    def update_bot(self, event_uuid: UUID | str, bot_param: EventBotParam,
                   all_occurrences: bool = False,
                   extra_headers: ExtraHeaders | None = None) -> EVENTS:
        """Change the scheduled bot's parameters: those given replace the bot's."""
        return self._send(Request("PATCH", path(EVENT_BOT, uuid=event_uuid), EVENTS,
                                  query={"all_occurrences": all_occurrences}, body=bot_param,
                                  extra_headers=extra_headers))

    def unschedule_bot(self, event_uuid: UUID | str, all_occurrences: bool = False,
                       extra_headers: ExtraHeaders | None = None) -> EVENTS:
        """No bot for the event (or its series) any more."""
        return self._send(Request("DELETE", path(EVENT_BOT, uuid=event_uuid), EVENTS,
                                  query={"all_occurrences": all_occurrences},
                                  extra_headers=extra_headers))
