"""What calendar-sync needs of a calendar provider, and what it gets back, in provider-neutral
terms. Google and Microsoft implement `CalendarApi`; their errors map onto the exceptions
here so that the sync decides the same way for both."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class ProviderError(Exception):
    """The provider refused or failed; `str()` says why in words a customer can act on."""


class CredentialsRefused(ProviderError):
    """The OAuth client or refresh token was refused: retrying will not help. `field` names the
    request field at fault (`oauth_client_id`, `oauth_client_secret`, `oauth_refresh_token`)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class ProviderUnavailable(ProviderError):
    """The provider could not be reached or answered 429/5xx: try again later."""


class SyncStateLost(ProviderError):
    """The incremental-sync cursor is no longer valid (Google's and Graph's 410): sync fully."""


class NotFound(ProviderError):
    """The calendar (or channel) is unknown to the provider."""


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    client_secret: str
    refresh_token: str


@dataclass(frozen=True)
class ProviderCalendar:
    id: str
    name: str
    email: str
    is_primary: bool


@dataclass(frozen=True)
class ProviderEvent:
    """One event, or one instance of a recurring series, as the provider describes it."""

    id: str
    name: str
    start: datetime
    end: datetime
    cancelled: bool
    attendees: list[dict[str, Any]]
    organizer_email: str | None
    is_organizer: bool
    recurring_event_id: str | None
    link_sources: list[str]
    """Where a meeting link may be, best first (conference data, the provider's own link,
    location, description)."""
    raw: dict[str, Any]


@dataclass
class Changes:
    """What a sync brought: changed (or, in a full sync, all) events, ids of removed ones, and
    the cursor for the next incremental sync."""

    events: list[ProviderEvent] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    cursor: str | None = None
    full: bool = False


@dataclass(frozen=True)
class Channel:
    """A push channel (Google) or subscription (Microsoft) as the provider granted it."""

    id: str
    resource_id: str | None
    expires_at: datetime


class CalendarApi(Protocol):
    async def access_token(self, client: OAuthClient) -> str: ...

    async def calendars(self, token: str) -> list[ProviderCalendar]: ...

    async def changes(self, token: str, calendar_id: str, window: tuple[datetime, datetime],
                      cursor: str | None) -> Changes:
        """Every event of the window (`cursor` None), or what changed since `cursor`."""
        ...

    async def watch(self, token: str, calendar_id: str, address: str, channel_id: str,
                    channel_token: str, expires_at: datetime) -> Channel: ...

    async def renew(self, token: str, channel: Channel, expires_at: datetime) -> Channel | None:
        """The channel with a later end, or None where the provider cannot extend one (Google:
        a new channel is made instead)."""
        ...

    async def stop(self, token: str, channel: Channel) -> None: ...
