"""Transcribing a recording: speech to text, words to speakers, the transcript stored."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from pathlib import Path

from mb_shared.contracts.bot import SpeechToTextProvider
from mb_shared.contracts.recording import RecordingUploaded
from mb_shared.contracts.transcription import TranscriptionDone
from transcriber.attribution import (
    attribute_words,
    group_into_segments,
    parse_speaker_timeline,
    speakers_of,
)
from transcriber.ports import Files, TranscriptRepository
from transcriber.speech import SpeechToText

log = logging.getLogger(__name__)


class TranscriptionService:
    def __init__(
        self,
        default_provider: SpeechToText,
        repository: TranscriptRepository,
        files: Files,
        work_dir: Path,
    ) -> None:
        self._default = default_provider
        self._repository = repository
        self._files = files
        self._work_dir = work_dir
        self._one_at_a_time = asyncio.Lock()

    async def transcribe(self, event: RecordingUploaded) -> TranscriptionDone | None:
        """None when the bot asked for no transcript."""
        if event.speech_to_text is None:
            return None
        provider = event.speech_to_text.provider
        if provider != SpeechToTextProvider.DEFAULT:
            return TranscriptionDone(
                bot_id=event.bot_id,
                transcript_id=None,
                provider=provider,
                speakers=event.speakers,
                word_count=0,
                error=f"the {provider} provider is not available on this platform yet",
            )
        if not event.artifacts.audio:
            return TranscriptionDone(
                bot_id=event.bot_id,
                transcript_id=None,
                provider=provider,
                speakers=event.speakers,
                word_count=0,
                error="the recording has no audio",
            )
        self._work_dir.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix=f"{event.bot_id}-", dir=self._work_dir))
        try:
            audio = workdir / Path(event.artifacts.audio).name
            await self._files.download(event.artifacts.audio, audio)
            timeline = []
            if event.artifacts.speaker_timeline:
                timeline = parse_speaker_timeline(
                    await self._files.get_bytes(event.artifacts.speaker_timeline)
                )
            async with self._one_at_a_time:
                words = await asyncio.to_thread(self._default.transcribe, audio)
            segments = group_into_segments(attribute_words(words, timeline))
            transcript_id = await self._repository.replace(event.bot_id, provider, segments)
            speakers = speakers_of(timeline) or event.speakers
            return TranscriptionDone(
                bot_id=event.bot_id,
                transcript_id=transcript_id,
                provider=provider,
                speakers=speakers,
                word_count=len(words),
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
