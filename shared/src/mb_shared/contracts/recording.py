"""Contracts of the recording aggregate."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from mb_shared.contracts.base import Event, Message
from mb_shared.contracts.bot import EndReason, SpeechToTextProvider
from mb_shared.contracts.separate_parts import StoredAudioPart, StoredVideoPart
from mb_shared.contracts.timeline import SpeakerTimelineEntry


class RecordingArtifacts(Message):
    """Object-store keys of the bot's files (None where nothing was produced): what the runner
    uploaded, and the transcriber's `transcript_provider_data` and `transcript_document`."""

    mp4: str | None = None
    mp3: str | None = None
    audio: str | None = None
    speaker_timeline: str | None = None
    participants: str | None = None
    participant_events: str | None = None
    speaker_diarization: str | None = None
    transcript_provider_data: str | None = None
    transcript_document: str | None = None
    separate_audio: list[StoredAudioPart] = []
    """Each participant's own audio, where the platform plays voices apart (Meet)."""
    separate_video: list[StoredVideoPart] = []
    """Each webcam and screenshare on its own, where the page plays them on elements of their
    own (Meet, Teams)."""
    pieces: int | None = None
    """How many `recording.piece` events the runner published for the transcript made during the
    call (None: none, the transcript is made from `audio`)."""

    @property
    def recording(self) -> str | None:
        """The recording users download: the mp4, or the mp3 of an audio-only bot."""
        return self.mp4 or self.mp3


def data_files(artifacts: RecordingArtifacts) -> dict[str, str | None]:
    """The meeting's data files by the field of `complete` and `GET /bots/meeting_data` that
    carries each one's download URL."""
    return {
        "speaker_diarization_file": artifacts.speaker_diarization,
        "speaker_timeline_file": artifacts.speaker_timeline,
        "meeting_participants_file": artifacts.participants,
        "participant_events_file": artifacts.participant_events,
        "transcript_provider_data_file": artifacts.transcript_provider_data,
        "transcript_file": artifacts.transcript_document,
    }


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


class RecordingPiece(Event):
    """A piece of the meeting's audio, cut at a pause while the bot records, so that the
    transcript is made during the call. A bot's pieces are numbered from 0 and tile the audio the
    runner had; `audio` is the object key of the piece as a 16 kHz mono WAV, None for a piece
    without sound (nothing to transcribe). `timeline` holds who spoke during it (open intervals
    end with the piece); `provider` is the one the bot's transcript is made with;
    `live_transcript` says whether the bot's owner asked for its transcript during the call
    (`bot.live_transcript` webhooks); `language` is the one spoken, when known."""

    SUBJECT = "recording.piece"
    STREAM = "EVENTS"

    bot_id: UUID
    index: int
    offset_s: float
    duration_s: float
    audio: str | None = None
    timeline: list[SpeakerTimelineEntry] = []
    provider: SpeechToTextProvider = SpeechToTextProvider.DEFAULT
    live_transcript: bool = False
    language: str | None = None
