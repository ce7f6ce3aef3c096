"""calendar-sync's tables: calendars (with their sealed OAuth credentials and sync cursor), their
events, the push channels providers notify us on, and the outbox (its own metadata, its own
database)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Column, DateTime, Index, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from mb_shared.outbox import outbox_table


class CalendarSyncModel(SQLModel, registry=registry()):
    pass


OUTBOX = outbox_table(CalendarSyncModel.metadata)

ACTIVE = "active"
REFRESH_FAILED = "refresh_failed"


def _tz(nullable: bool = False, **kwargs: Any) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), nullable=nullable, **kwargs))


class Calendar(CalendarSyncModel, table=True):
    __tablename__ = "calendars"
    __table_args__ = (
        UniqueConstraint("account_id", "platform", "provider_calendar_id",
                         name="uq_calendars_account_provider_calendar"),
    )

    uuid: UUID = Field(primary_key=True)
    account_id: int = Field(index=True)
    platform: str
    provider_calendar_id: str
    name: str
    email: str
    client_id: str
    sealed_client_secret: str
    sealed_refresh_token: str
    status: str = ACTIVE
    status_message: str | None = None
    window_days: int = 30
    sync_cursor: str | None = None
    """Google's nextSyncToken or Microsoft's deltaLink: where the next incremental sync starts."""
    cursor_window_end: datetime | None = _tz(nullable=True)
    """The end of the window the cursor's full sync listed; the window rolls by a full sync."""
    sync_requested_at: datetime | None = _tz(nullable=True, index=True)
    """A sync is wanted (connection, push, resync); cleared by the sync that follows."""
    full_sync_wanted: bool = False
    sync_failures: int = 0
    last_sync_error: str | None = None
    next_sync_at: datetime = _tz(index=True)
    last_synced_at: datetime | None = _tz(nullable=True)
    created_at: datetime = _tz()


class PushChannel(CalendarSyncModel, table=True):
    """A Google watch channel or a Microsoft Graph subscription of a calendar."""

    __tablename__ = "push_channels"

    channel_id: str = Field(primary_key=True)
    calendar_uuid: UUID = Field(foreign_key="calendars.uuid", index=True, ondelete="CASCADE")
    token_sha256: str
    resource_id: str | None = None
    expires_at: datetime = _tz()
    created_at: datetime = _tz()


class CalendarEvent(CalendarSyncModel, table=True):
    __tablename__ = "calendar_events"
    __table_args__ = (
        UniqueConstraint("calendar_uuid", "provider_event_id",
                         name="uq_calendar_events_provider_event"),
        Index("ix_calendar_events_calendar_start", "calendar_uuid", "start_time", "uuid"),
    )

    uuid: UUID = Field(primary_key=True)
    calendar_uuid: UUID = Field(foreign_key="calendars.uuid", ondelete="CASCADE")
    account_id: int = Field(index=True)
    provider_event_id: str
    name: str
    start_time: datetime = _tz()
    end_time: datetime = _tz()
    meeting_url: str = ""
    attendees: list[dict[str, Any]] = Field(default_factory=list,
                                            sa_column=Column(JSONB, nullable=False))
    organizer_email: str | None = None
    is_organizer: bool = False
    is_recurring: bool = False
    recurring_event_id: str | None = None
    deleted: bool = False
    raw: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    last_updated_at: datetime = _tz(index=True)
    """When this platform last saw the event change (what `updated_at_gte` filters on)."""
    bot_param: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    """The bot asked for this event: `BotParams` without the meeting (provider key sealed)."""
    bot_api_key_prefix: str | None = None
    bot_id: UUID | None = None
    """The scheduler's bot, once handed over (shortly before the event starts)."""
    bot_revision: int = 0
    """Bumped by every change the bot must follow (moved, new link, new parameters, cancelled)."""
    bot_synced_revision: int = 0
    """The revision the scheduler has acknowledged."""
    bot_cancelled: bool = False
    """The scheduler was told to cancel `bot_id`: a new bot is made if one is asked again."""
    bot_attempts: int = 0
    bot_retry_at: datetime | None = _tz(nullable=True)
    bot_error: str | None = None


class SeriesBot(CalendarSyncModel, table=True):
    """`all_occurrences`: every instance of the series gets the bot, those of later syncs too."""

    __tablename__ = "series_bots"

    calendar_uuid: UUID = Field(foreign_key="calendars.uuid", primary_key=True, ondelete="CASCADE")
    recurring_event_id: str = Field(primary_key=True)
    bot_param: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    api_key_prefix: str | None = None


CONNECTED = "connected"


class ZoomConnection(CalendarSyncModel, table=True):
    """A Zoom user's OAuth grant to the customer's Zoom app; tokens sealed, refreshed as needed."""

    __tablename__ = "zoom_connections"
    __table_args__ = (
        UniqueConstraint("account_id", "zoom_user_id", name="uq_zoom_connections_account_user"),
    )

    uuid: UUID = Field(primary_key=True)
    account_id: int = Field(index=True)
    zoom_user_id: str
    zoom_account_id: str | None = None
    client_id: str
    sealed_client_secret: str
    sealed_access_token: str
    sealed_refresh_token: str
    access_expires_at: datetime = _tz()
    scopes: str | None = None
    state: str = CONNECTED
    connection_failure_data: dict[str, Any] | None = Field(
        default=None, sa_column=Column(JSONB, nullable=True))
    created_at: datetime = _tz()
    updated_at: datetime = _tz()
