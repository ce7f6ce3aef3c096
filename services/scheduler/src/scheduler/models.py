"""The scheduler's tables: bots, their status history, transcription requests and the outbox
(its own metadata, its own database)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Column, DateTime, Index
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from mb_shared.outbox import outbox_table


class SchedulerModel(SQLModel, registry=registry()):
    pass


OUTBOX = outbox_table(SchedulerModel.metadata)


def _tz(**kwargs: Any) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), **kwargs))


class Bot(SchedulerModel, table=True):
    __tablename__ = "bots"
    __table_args__ = (Index("ix_bots_account_created", "account_id", "created_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    bot_id: UUID = Field(unique=True, index=True)
    account_id: int = Field(index=True)
    params: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    status: str = Field(index=True)
    error: str | None = None
    reason: str | None = None
    message: str | None = None
    created_at: datetime = _tz(nullable=False)
    due_at: datetime = _tz(nullable=False, index=True)
    dispatched_at: datetime | None = _tz(nullable=True)
    joined_at: datetime | None = _tz(nullable=True)
    exited_at: datetime | None = _tz(nullable=True)
    ended_at: datetime | None = _tz(nullable=True)
    last_seen_at: datetime | None = _tz(nullable=True)
    runner_id: str | None = None
    artifacts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    duration_s: float = 0.0
    speakers: list[str] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    recording_uploaded: bool = False
    data_deleted_at: datetime | None = _tz(nullable=True)
    transcription_finished: bool = False
    has_transcript: bool = False
    transcription_error: str | None = None
    trace_context: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSONB, nullable=False)
    )
    api_key_prefix: str | None = None
    """The API key the bot was created with (its webhooks carry it)."""
    speech_api_key: str | None = None
    """The provider key of its first transcript, sealed; forgotten once that transcript is done."""
    join_secrets: dict[str, str] | None = Field(
        default=None, sa_column=Column(JSONB(none_as_null=True), nullable=True))
    """The customer's Zoom secrets (`zoom_obf_token`, `zoom_sdk_pwd`), sealed; given to the runner
    that holds the bot as it joins, forgotten once the bot has ended."""
    leave_requested_at: datetime | None = _tz(nullable=True)
    event_revision: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    """For a bot calendar-sync scheduled for a calendar event: the event's revision last applied."""


class BotStatusHistory(SchedulerModel, table=True):
    __tablename__ = "bot_status_history"

    id: int | None = Field(default=None, primary_key=True)
    bot_pk: int = Field(foreign_key="bots.id", index=True)
    status: str
    at: datetime = _tz(nullable=False)
    error: str | None = None
    reason: str | None = None
    message: str | None = None


class TranscriptionRequest(SchedulerModel, table=True):
    """One ask for a transcript of a bot (its first, or a rerun); `id` is the event's id."""

    __tablename__ = "transcription_requests"

    id: UUID = Field(primary_key=True)
    bot_pk: int = Field(foreign_key="bots.id", index=True)
    provider: str
    sealed_api_key: str | None = None
    """Forgotten once the transcriber answered."""
    rerun: bool = False
    webhook_url: str | None = None
    created_at: datetime = _tz(nullable=False)
    done_at: datetime | None = _tz(nullable=True)


class Runner(SchedulerModel, table=True):
    """A bot-runner that has sent a heartbeat: when it was last heard."""

    __tablename__ = "runners"

    runner_id: str = Field(primary_key=True)
    last_seen_at: datetime = _tz(nullable=False)
