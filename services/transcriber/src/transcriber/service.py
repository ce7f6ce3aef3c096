"""Transcribing a recording: speech to text, words to speakers, the transcript stored."""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from uuid import UUID

from mb_shared.contracts.bot import SpeechToText as SpeechToTextParams
from mb_shared.contracts.bot import SpeechToTextProvider
from mb_shared.contracts.recording import RecordingArtifacts, RecordingUploaded
from mb_shared.contracts.transcription import TranscriptionDone, TranscriptionRequested
from transcriber.attribution import (
    attribute_words,
    group_into_segments,
    parse_speaker_timeline,
    speakers_of,
)
from transcriber.ports import Files, TranscriptRepository
from transcriber.providers import AudioSource, ProviderError, Recognizer

log = logging.getLogger(__name__)


class TranscriptionService:
    def __init__(
        self,
        recognizers: dict[SpeechToTextProvider, Recognizer],
        repository: TranscriptRepository,
        files: Files,
        work_dir: Path,
    ) -> None:
        self._recognizers = recognizers
        self._repository = repository
        self._files = files
        self._work_dir = work_dir

    async def transcribe(self, event: RecordingUploaded) -> TranscriptionDone | None:
        """None when the bot asked for no transcript."""
        if event.speech_to_text is None:
            return None
        return await self._run(event.bot_id, event.artifacts, event.speech_to_text,
                               event.speakers)

    async def retranscribe(self, event: TranscriptionRequested) -> TranscriptionDone:
        """Transcribe a stored recording again (`POST /bots/retranscribe`). The new transcript
        replaces the current one only once it is stored; on any refusal the current one stays.
        The answer is a rerun (`rerun=True`) carrying where its webhook goes."""
        audio = event.artifacts.audio
        if audio and not await self._files.exists(audio):
            done = self._refusal(event.bot_id, event.speech_to_text.provider, [],
                                 "the recording's audio is no longer stored")
        else:
            done = await self._run(event.bot_id, event.artifacts, event.speech_to_text, [])
        return done.model_copy(update={"rerun": True, "webhook_url": event.webhook_url})

    @staticmethod
    def _refusal(bot_id: UUID, provider: str, speakers: list[str], error: str) -> TranscriptionDone:
        return TranscriptionDone(bot_id=bot_id, transcript_id=None, provider=provider,
                                 speakers=speakers, word_count=0, error=error)

    async def _run(self, bot_id: UUID, artifacts: RecordingArtifacts,
                   speech_to_text: SpeechToTextParams, speakers: list[str]) -> TranscriptionDone:
        provider = speech_to_text.provider
        recognizer = self._recognizers.get(provider)
        if recognizer is None:
            return self._refusal(bot_id, provider, speakers,
                                 f"the {provider} provider is not available on this platform")
        if not artifacts.audio:
            return self._refusal(bot_id, provider, speakers, "the recording has no audio")
        self._work_dir.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix=f"{bot_id}-", dir=self._work_dir))
        try:
            audio = workdir / Path(artifacts.audio).name
            await self._files.download(artifacts.audio, audio)
            timeline = []
            if artifacts.speaker_timeline:
                timeline = parse_speaker_timeline(
                    await self._files.get_bytes(artifacts.speaker_timeline)
                )
            source = AudioSource(audio, lambda: self._files.presigned_url(artifacts.audio))
            try:
                words = await recognizer.recognize(source, speech_to_text.api_key)
            except ProviderError as exc:
                log.warning("%s could not transcribe bot %s: %s", provider, bot_id, exc)
                return self._refusal(bot_id, provider, speakers, str(exc))
            segments = group_into_segments(attribute_words(words, timeline))
            transcript_id = await self._repository.replace(bot_id, provider, segments)
            return TranscriptionDone(
                bot_id=bot_id,
                transcript_id=transcript_id,
                provider=provider,
                speakers=speakers_of(timeline) or speakers,
                word_count=len(words),
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
