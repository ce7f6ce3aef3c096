"""The meetings service's tables: meetings, the lines of their transcripts, the people of each
organisation and who took part in which meeting, and the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Column, DateTime, Index, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from mb_shared.outbox import outbox_table


class MeetingsModel(SQLModel, registry=registry()):
    pass


OUTBOX = outbox_table(MeetingsModel.metadata)


def _at(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


class Meeting(MeetingsModel, table=True):
    __tablename__ = "meetings"
    __table_args__ = (Index("ix_meetings_account_created", "account_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int
    kind: str
    title: str
    status: str
    error: str | None = None
    start_time: datetime | None = _at()
    end_time: datetime | None = _at()
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    location: str | None = None
    language: str | None = None
    topic_id: int | None = None
    bot_id: UUID | None = Field(default=None, unique=True)
    from_calendar: bool = False
    calendar_event: dict | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    host_id: int | None = None
    file_url: str | None = None
    import_id: UUID | None = Field(default=None, unique=True)
    """The id its recording is transcribed under (an imported meeting's `bot_id`, as the
    transcriber knows recordings)."""
    import_attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    speaker_count: int | None = None
    duration_s: float | None = None
    num_cluster: int | None = None
    summary_complete: bool = False
    summary: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    notes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    keywords: list[str] = Field(default_factory=list,
                                sa_column=Column(JSONB, nullable=False, server_default="[]"))
    recording_key: str | None = None
    recording_format: str | None = None


class TranscriptLine(MeetingsModel, table=True):
    """What one speaker said without interruption, in order."""

    __tablename__ = "transcript_lines"

    meeting_id: int = Field(foreign_key="meetings.id", primary_key=True)
    position: int = Field(primary_key=True)
    speaker: str
    text: str = Field(sa_column=Column(Text, nullable=False))
    start_time: float
    end_time: float


class Person(MeetingsModel, table=True):
    """Someone of an organisation, known by email or, without one, by name (`identity`)."""

    __tablename__ = "people"
    __table_args__ = (UniqueConstraint("account_id", "identity"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int
    identity: str
    name: str | None = None
    email: str | None = None


class MeetingParticipant(MeetingsModel, table=True):
    __tablename__ = "meeting_participants"

    meeting_id: int = Field(foreign_key="meetings.id", primary_key=True)
    person_id: int = Field(foreign_key="people.id", primary_key=True, index=True)
