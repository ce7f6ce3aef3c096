"""Contracts of the transcription aggregate."""

from __future__ import annotations

from uuid import UUID

from mb_shared.contracts.base import Event, Message
from mb_shared.contracts.bot import SpeechToText
from mb_shared.contracts.recording import RecordingArtifacts


class TranscriptWord(Message):
    id: int | None = None
    start: float
    end: float
    word: str


class TranscriptSegment(Message):
    id: int | None = None
    lang: str | None = None
    speaker: str
    start_time: float
    end_time: float
    words: list[TranscriptWord]


class TranscriptionDone(Event):
    """A transcript of the bot's recording is stored (or failed, with `error`)."""

    SUBJECT = "transcription.done"
    STREAM = "EVENTS"

    bot_id: UUID
    transcript_id: int | None
    provider: str
    speakers: list[str]
    word_count: int
    error: str | None = None
    rerun: bool = False
    webhook_url: str | None = None


class TranscriptionRequested(Event):
    """Transcribe a stored recording again (`POST /bots/retranscribe`); the new transcript
    replaces the current one only once it is stored."""

    SUBJECT = "transcription.requested"
    STREAM = "EVENTS"

    bot_id: UUID
    account_id: int
    artifacts: RecordingArtifacts
    speech_to_text: SpeechToText
    webhook_url: str | None = None
