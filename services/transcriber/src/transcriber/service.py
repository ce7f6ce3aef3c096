"""Transcribing a recording on request: speech to text, words to speakers, the transcript stored
with the answer (`transcription.done`) in one transaction.

A bot's first transcript is made of the words of the pieces transcribed while it recorded
(`transcriber.live`), when its runner sent them all and its provider transcribed every one;
otherwise, and for reruns, from the stored audio.

A recording that names no speakers (an imported file) has them found in its audio
(`transcriber.diarisation`), as `Speaker 1`, `Speaker 2`, ...

A request is handled once: a second delivery of it (a redelivery after a crash, a replay) finds
its run recorded and does nothing. The provider's key, when the request has one, is asked of the
scheduler with the request's id and used only in memory.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from uuid import UUID

from mb_shared.contracts.provider_data import dump_provider_data
from mb_shared.contracts.recording import RecordingArtifacts
from mb_shared.contracts.timeline import SpeakerTimelineEntry
from mb_shared.contracts.transcription import TranscriptionDone, TranscriptionRequested
from transcriber.attribution import (
    Segment,
    attribute_words,
    group_into_segments,
    parse_speaker_timeline,
    speakers_of,
    transcript_document,
)
from transcriber.found_speakers import speaker_timeline
from transcriber.live import LiveTranscription
from transcriber.ports import Files, TranscriptRepository
from transcriber.providers import AudioSource, ProviderError, Recognizer

log = logging.getLogger(__name__)

_DONE_NAMESPACE = uuid.UUID("2d5c7a61-0f4e-4b8a-9d3c-6e1f2a7b9c04")

ProviderKeys = Callable[[UUID], Awaitable[str | None]]
"""The provider key of a request (by its id), opened; None when it has none."""


def done_event_id(request_id: UUID) -> UUID:
    """The answer to a request always has the same id, so a second copy is dropped."""
    return uuid.uuid5(_DONE_NAMESPACE, str(request_id))


class TranscriptionService:
    def __init__(
        self,
        recognizers: dict[str, Recognizer],
        repository: TranscriptRepository,
        files: Files,
        work_dir: Path,
        provider_keys: ProviderKeys,
        live: LiveTranscription | None = None,
    ) -> None:
        self._live = live
        self._recognizers = recognizers
        self._repository = repository
        self._files = files
        self._work_dir = work_dir
        self._provider_keys = provider_keys

    async def handle(self, request: TranscriptionRequested) -> TranscriptionDone | None:
        """Transcribe and store; the answer, or None when this request was handled before."""
        if await self._repository.handled(request.event_id):
            return None
        answers: list[dict] = []
        segments, speakers, word_count, error = await self._transcribe(request, answers)
        if error is not None:
            log.warning("%s could not transcribe bot %s: %s", request.provider, request.bot_id,
                        error)
        files: dict[str, str] = {}
        if segments is not None:
            files = {"transcript_provider_data":
                     f"bots/{request.bot_id}/transcript_provider_data.json",
                     "transcript_document": f"bots/{request.bot_id}/transcript.json"}
            await self._files.put_bytes(files["transcript_provider_data"],
                                        dump_provider_data(answers), "application/json")
            document = transcript_document(segments, await self._timeline(request.artifacts))
            await self._files.put_bytes(files["transcript_document"], document,
                                        "application/json")

        def done(transcript_id: int | None) -> TranscriptionDone:
            return TranscriptionDone(
                event_id=done_event_id(request.event_id),
                bot_id=request.bot_id,
                request_id=request.event_id,
                transcript_id=transcript_id,
                provider=request.provider,
                speakers=speakers,
                word_count=word_count,
                error=error,
                rerun=request.rerun,
                webhook_url=request.webhook_url,
                files=files,
            )

        return await self._repository.finish(request.event_id, request.bot_id, request.provider,
                                             segments, done)

    async def _transcribe(self, request: TranscriptionRequested, answers: list[dict]
                          ) -> tuple[list[Segment] | None, list[str], int, str | None]:
        """(segments or None, speakers, word count, error or None); `answers` receives the
        provider's raw answers the words come from."""
        provider, artifacts = request.provider, request.artifacts
        recognizer = self._recognizers.get(provider)
        if recognizer is None:
            return None, request.speakers, 0, (
                f"the {provider} provider is not available on this platform")
        api_key = await self._provider_keys(request.event_id) if request.has_key else None
        if self._live is not None and artifacts.pieces and not request.rerun:
            heard = await self._live.words_of(request.bot_id, artifacts.pieces, provider, api_key)
            if heard is not None:
                words, answers[:] = heard
                timeline = await self._timeline(artifacts)
                segments = group_into_segments(attribute_words(words, timeline))
                return segments, speakers_of(timeline) or request.speakers, len(words), None
        if not artifacts.audio:
            return None, request.speakers, 0, "the recording has no audio"
        if not await self._files.exists(artifacts.audio):
            return None, request.speakers, 0, "the recording's audio is no longer stored"
        self._work_dir.mkdir(parents=True, exist_ok=True)
        workdir = Path(tempfile.mkdtemp(prefix=f"{request.bot_id}-", dir=self._work_dir))
        try:
            audio = workdir / Path(artifacts.audio).name
            await self._files.download(artifacts.audio, audio)
            timeline = await self._timeline(artifacts)

            async def url() -> str:
                return self._files.presigned_url(artifacts.audio)

            source = AudioSource(audio, url, language=request.language)
            try:
                words = await recognizer.recognize(source, api_key)
            except ProviderError as exc:
                return None, request.speakers, 0, str(exc)
            answers[:] = source.answers
            if request.find_speakers and words:
                timeline = await asyncio.to_thread(speaker_timeline, audio, words,
                                                   request.speaker_count)
            segments = group_into_segments(attribute_words(words, timeline))
            return segments, speakers_of(timeline) or request.speakers, len(words), None
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    async def _timeline(self, artifacts: RecordingArtifacts) -> list[SpeakerTimelineEntry]:
        if not artifacts.speaker_timeline:
            return []
        return parse_speaker_timeline(await self._files.get_bytes(artifacts.speaker_timeline))
