"""`TranscriptionService.retranscribe` over fakes: the stored audio and timeline, a rerun reply."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import uuid4

import pytest

from mb_shared.contracts.bot import SpeechToText, SpeechToTextProvider
from mb_shared.contracts.recording import RecordingArtifacts
from mb_shared.contracts.transcription import TranscriptionRequested
from transcriber.providers import AudioSource, ProviderError
from transcriber.service import TranscriptionService
from transcriber.speech import RecognizedWord

TIMELINE = json.dumps([
    {"participant": {"id": 1, "name": "Alice", "is_host": None, "platform": "google_meet",
                     "extra_data": None},
     "start_timestamp": {"absolute": None, "relative": 0.0},
     "end_timestamp": {"absolute": None, "relative": 5.0}},
]).encode()


class FakeSpeech:
    def __init__(self) -> None:
        self.heard: list[tuple[bytes, str | None]] = []

    async def recognize(self, audio: AudioSource, api_key: str | None) -> list[RecognizedWord]:
        self.heard.append((audio.path.read_bytes(), api_key))
        return [RecognizedWord(1.0, 1.5, "Hello"), RecognizedWord(1.6, 2.0, "again.")]


class RefusingProvider:
    async def recognize(self, audio: AudioSource, api_key: str | None) -> list[RecognizedWord]:
        raise ProviderError("Gladia refused the API key (HTTP 401)")


class FakeRepository:
    def __init__(self) -> None:
        self.stored: list[tuple] = []

    async def replace(self, bot_id, provider, segments) -> int:
        self.stored.append((bot_id, provider, segments))
        return len(self.stored) + 40

    async def current(self, bot_id):
        return None


class FakeFiles:
    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects

    async def download(self, key: str, path: Path) -> None:
        path.write_bytes(self.objects[key])

    async def get_bytes(self, key: str) -> bytes:
        return self.objects[key]

    async def exists(self, key: str) -> bool:
        return key in self.objects

    def presigned_url(self, key: str) -> str:
        return f"http://127.0.0.1:1/{key}"


@pytest.fixture
def parts(tmp_path):
    files = FakeFiles({"bots/x/audio.wav": b"RIFF-audio", "bots/x/speaker_timeline.json": TIMELINE})
    speech, repository = FakeSpeech(), FakeRepository()
    recognizers = {SpeechToTextProvider.DEFAULT: speech,
                   SpeechToTextProvider.GLADIA: RefusingProvider()}
    return speech, repository, files, TranscriptionService(recognizers, repository, files,
                                                           tmp_path)


def request(**kw) -> TranscriptionRequested:
    return TranscriptionRequested(
        bot_id=kw.pop("bot_id", uuid4()), account_id=1,
        artifacts=RecordingArtifacts(audio="bots/x/audio.wav",
                                     speaker_timeline="bots/x/speaker_timeline.json"),
        speech_to_text=kw.pop("speech_to_text", SpeechToText()), **kw)


async def test_the_stored_audio_is_transcribed_with_the_stored_timeline(parts):
    speech, repository, _, service = parts
    event = request(webhook_url="https://customer.test/rerun")
    done = await service.retranscribe(event)
    assert speech.heard == [(b"RIFF-audio", None)]
    ((bot_id, provider, segments),) = repository.stored
    assert bot_id == event.bot_id and provider == SpeechToTextProvider.DEFAULT
    assert [(s.speaker, [w.text for w in s.words]) for s in segments] == [
        ("Alice", ["Hello", "again."])]
    assert done.rerun and done.webhook_url == "https://customer.test/rerun"
    assert (done.bot_id, done.transcript_id, done.error) == (event.bot_id, 41, None)
    assert done.speakers == ["Alice"] and done.word_count == 2


async def test_a_provider_refusal_is_a_rerun_error_and_keeps_the_transcript(parts):
    _, repository, _, service = parts
    done = await service.retranscribe(
        request(speech_to_text=SpeechToText(provider=SpeechToTextProvider.GLADIA, api_key="k")))
    assert done.rerun and done.transcript_id is None
    assert done.error == "Gladia refused the API key (HTTP 401)"
    assert repository.stored == []


async def test_a_provider_not_configured_is_a_rerun_error(parts):
    _, repository, _, service = parts
    done = await service.retranscribe(
        request(speech_to_text=SpeechToText(provider=SpeechToTextProvider.RUNPOD, api_key="k")))
    assert done.error == "the Runpod provider is not available on this platform"
    assert repository.stored == []


async def test_audio_no_longer_stored_is_a_rerun_error(parts):
    _, repository, files, service = parts
    del files.objects["bots/x/audio.wav"]
    done = await service.retranscribe(request())
    assert done.rerun and done.error == "the recording's audio is no longer stored"
    assert repository.stored == []
