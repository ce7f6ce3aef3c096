"""The envelope of messages on the bus: events carry id, time, schema version, subject, stream."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field


def utcnow() -> datetime:
    return datetime.now(UTC)


class Message(BaseModel):
    """A payload on the bus; consumers ignore fields they do not know."""

    model_config = ConfigDict(extra="ignore")


class Event(Message):
    """A fact that happened, kept on the JetStream stream `STREAM` (see the catalogue).

    `event_id` travels as the `Nats-Msg-Id` header, so a stream drops a second copy within its
    duplicate window; consumers stay idempotent beyond it."""

    SUBJECT: ClassVar[str]
    STREAM: ClassVar[str]
    SCHEMA_VERSION: ClassVar[int] = 1

    event_id: UUID = Field(default_factory=uuid4)
    occurred_at: datetime = Field(default_factory=utcnow)
    schema_version: int = 1
