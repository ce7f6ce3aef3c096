"""The dispatcher's tables: where each bot's events go, each delivery, and every attempt.

No secret is stored here: the API key and signing secret of an account are looked up, sealed,
from the api-gateway at each attempt.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Column, DateTime, Index
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class DispatcherModel(SQLModel, registry=registry()):
    pass


def _tz(nullable: bool = False, **kwargs: Any) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), nullable=nullable, **kwargs))


class BotTarget(DispatcherModel, table=True):
    """A bot's delivery facts, learnt from the scheduler the first time the bot has an event; or
    a calendar's (`bot_id` is then the calendar's id: its deliveries go in order by it too)."""

    __tablename__ = "bot_targets"

    bot_id: UUID = Field(primary_key=True)
    account_id: int = Field(index=True)
    url: str | None = None
    """The bot's own webhook URL; None means the account's."""
    api_key_prefix: str | None = None
    """The API key the bot was created with; its webhooks carry that key."""
    extra: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    final_at: datetime | None = _tz(nullable=True)
    """When the bot's final event (complete or failed) happened: later statuses are not sent."""


class Delivery(DispatcherModel, table=True):
    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_bot_order", "bot_id", "occurred_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    webhook_id: UUID = Field(unique=True, index=True)
    bot_id: UUID = Field(index=True)
    account_id: int | None = Field(default=None, index=True)
    event: str
    url: str | None
    payload: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    file_keys: dict[str, str | None] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    needs_transcript: bool = False
    """The payload's transcript is still to be read from the transcriber (at the first attempt)."""
    state: str = Field(default="pending", index=True)  # pending|delivered|failed|no_url|endpoint_gone
    attempts: int = 0
    deferrals: int = 0
    """Attempts put off because a service the delivery needs did not answer (not sent)."""
    last_error: str | None = None
    occurred_at: datetime = _tz()
    created_at: datetime = _tz()
    next_attempt_at: datetime | None = _tz(nullable=True, index=True)
    delivered_at: datetime | None = _tz(nullable=True)


class DeliveryAttempt(DispatcherModel, table=True):
    __tablename__ = "delivery_attempts"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="deliveries.id", index=True)
    number: int
    started_at: datetime = _tz()
    duration_ms: int
    status_code: int | None = None
    error: str | None = None
    response_excerpt: str | None = None


class GoneEndpoint(DispatcherModel, table=True):
    """An account's webhook URL that answered 410 Gone: nothing more is sent there for that account."""

    __tablename__ = "gone_endpoints"

    account_id: int = Field(primary_key=True)
    url: str = Field(primary_key=True)
    gone_at: datetime = _tz()
    webhook_id: UUID  # the delivery that received the 410
