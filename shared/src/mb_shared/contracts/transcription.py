"""Contracts of the transcription aggregate."""

from __future__ import annotations

from uuid import UUID

from mb_shared.contracts.base import Event, Message
from mb_shared.contracts.bot import SpeechToTextProvider
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


class TranscriptionRequested(Event):
    """The scheduler asks for a transcript of a bot's stored recording: its first one, once the
    recording is uploaded, or again (`rerun`, `POST /bots/retranscribe`), where the new transcript
    replaces the current one only once it is stored. This event's id names the request: the
    provider's key, when `has_key`, is asked of the scheduler with it (`scheduler.transcription.key`),
    and the answer (`transcription.done`) carries it."""

    SUBJECT = "transcription.requested"
    STREAM = "EVENTS"
    SCHEMA_VERSION = 2

    bot_id: UUID
    account_id: int
    artifacts: RecordingArtifacts
    provider: SpeechToTextProvider
    has_key: bool = False
    speakers: list[str] = []
    rerun: bool = False
    webhook_url: str | None = None
    schema_version: int = 2
    language: str | None = None
    """The language spoken (ISO 639-1), when the requester knows it; the transcriber's own
    setting otherwise."""
    find_speakers: bool = False
    """The recording names no speakers (an imported file): find them in the audio, as
    `Speaker 1`, `Speaker 2`, ..."""
    speaker_count: int | None = None
    """How many speakers to find, when the requester knows."""


class TranscriptionDone(Event):
    """A transcript of the bot's recording is stored (or failed, with `error`)."""

    SUBJECT = "transcription.done"
    STREAM = "EVENTS"

    bot_id: UUID
    request_id: UUID | None = None
    transcript_id: int | None
    provider: str
    speakers: list[str]
    word_count: int
    error: str | None = None
    rerun: bool = False
    webhook_url: str | None = None
    files: dict[str, str] = {}
    """The files written with the transcript, by `RecordingArtifacts` field
    (`transcript_provider_data`, `transcript_document`): object keys; empty when no transcript
    was made."""


class TranscriptionLive(Event):
    """What was said in some pieces of a bot's audio, transcribed during the call and attributed
    to speakers (from the pieces' timeline): `pieces` are their indexes, in order. Published only
    for bots whose owner asked for it; delivered as `bot.live_transcript`."""

    SUBJECT = "transcription.live"
    STREAM = "EVENTS"

    bot_id: UUID
    pieces: list[int]
    segments: list[TranscriptSegment]
