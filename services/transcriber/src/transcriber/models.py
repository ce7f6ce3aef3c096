"""The transcriber's tables: one transcript per run, its segments and words."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Column, DateTime
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class TranscriberModel(SQLModel, registry=registry()):
    pass


class Transcript(TranscriberModel, table=True):
    __tablename__ = "transcripts"

    id: int | None = Field(default=None, primary_key=True)
    bot_id: UUID = Field(index=True)
    provider: str
    is_current: bool = True
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class TranscriptSegmentRow(TranscriberModel, table=True):
    __tablename__ = "transcript_segments"

    id: int | None = Field(default=None, primary_key=True)
    transcript_id: int = Field(foreign_key="transcripts.id", index=True)
    position: int
    speaker: str
    start_time: float
    end_time: float


class TranscriptWordRow(TranscriberModel, table=True):
    __tablename__ = "transcript_words"

    id: int | None = Field(default=None, primary_key=True)
    segment_id: int = Field(foreign_key="transcript_segments.id", index=True)
    position: int
    start: float
    end: float
    word: str
