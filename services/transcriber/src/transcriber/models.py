"""The transcriber's tables: the runs of transcription requests, one transcript per successful
run with its segments and words, the pieces of audio transcribed during calls, and the outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Column, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from mb_shared.outbox import outbox_table


class TranscriberModel(SQLModel, registry=registry()):
    pass


OUTBOX = outbox_table(TranscriberModel.metadata)


class TranscriptionRun(TranscriberModel, table=True):
    """A request handled (its id is the request's): what makes handling it twice a no-op."""

    __tablename__ = "transcription_runs"

    request_id: UUID = Field(primary_key=True)
    bot_id: UUID = Field(index=True)
    provider: str
    transcript_id: int | None = None
    error: str | None = None
    finished_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


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


class LivePiece(TranscriberModel, table=True):
    """A piece of a bot's audio sent while it records (`recording.piece`); `words` (absolute
    `[start, end, text]`) once transcribed, `[]` at once for a piece without sound; `error` when
    its provider could not transcribe it (the final transcript is then made from the file)."""

    __tablename__ = "live_pieces"

    bot_id: UUID = Field(primary_key=True)
    piece: int = Field(primary_key=True)
    offset_s: float
    duration_s: float
    audio: str | None = None
    timeline: list[Any] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    provider: str = "Default"
    live_transcript: bool = False
    language: str | None = None
    error: str | None = None
    words: list[Any] | None = Field(
        default=None, sa_column=Column(JSONB(none_as_null=True), nullable=True))
    answers: list[Any] | None = Field(
        default=None, sa_column=Column(JSONB(none_as_null=True), nullable=True))
    """On the first piece of each run: the provider's raw answers about the run, offsets on the
    recording's timeline."""
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
