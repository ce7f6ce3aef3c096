"""Contracts of the recording aggregate."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from mb_shared.contracts.base import Event, Message
from mb_shared.contracts.bot import EndReason


class RecordingArtifacts(Message):
    """Object-store keys of what the runner uploaded (None where nothing was produced)."""

    mp4: str | None = None
    mp3: str | None = None
    audio: str | None = None
    speaker_timeline: str | None = None
    participants: str | None = None

    @property
    def recording(self) -> str | None:
        """The recording users download: the mp4, or the mp3 of an audio-only bot."""
        return self.mp4 or self.mp3


class RecordingUploaded(Event):
    """Everything the bot recorded is in the object store."""

    SUBJECT = "recording.uploaded"
    STREAM = "EVENTS"
    SCHEMA_VERSION = 2

    bot_id: UUID
    artifacts: RecordingArtifacts
    started_at: datetime | None
    duration_s: float
    end_reason: EndReason
    speakers: list[str]
    schema_version: int = 2
