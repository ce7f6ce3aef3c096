"""`TranscriptionService.handle` over fakes: the stored audio and timeline, once per request,
the provider key asked by request id, errors as answers."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import uuid4

import pytest

from mb_shared.contracts.bot import SpeechToTextProvider
from mb_shared.contracts.provider_data import answer
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
        audio.answers.append(answer("http_response", {
            "url": "https://provider.test/v2/jobs/1?X-Amz-Signature=secret", "status_code": 200,
            "body": {"words": ["Hello", "again."], "score": float("nan")}}))
        return [RecognizedWord(1.0, 1.5, "Hello"), RecognizedWord(1.6, 2.0, "again.")]


class RefusingProvider:
    async def recognize(self, audio: AudioSource, api_key: str | None) -> list[RecognizedWord]:
        raise ProviderError("Gladia refused the API key (HTTP 401)")


class FakeRepository:
    """Runs and transcripts in memory, with the SQL repository's once-per-request rule."""

    def __init__(self) -> None:
        self.runs: dict = {}
        self.stored: list[tuple] = []
        self.staged: list = []

    async def handled(self, request_id) -> bool:
        return request_id in self.runs

    async def finish(self, request_id, bot_id, provider, segments, done):
        if request_id in self.runs:
            return None
        transcript_id = None
        if segments is not None:
            self.stored.append((bot_id, provider, segments))
            transcript_id = len(self.stored) + 40
        answer = done(transcript_id)
        self.runs[request_id] = answer
        self.staged.append(answer)
        return answer

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

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self.objects[key] = data

    def presigned_url(self, key: str) -> str:
        return f"http://127.0.0.1:1/{key}"


class Keys:
    def __init__(self) -> None:
        self.asked: list = []

    async def __call__(self, request_id):
        self.asked.append(request_id)
        return "gladia-key-in-memory"


@pytest.fixture
def keys() -> Keys:
    return Keys()


@pytest.fixture
def parts(tmp_path, keys):
    files = FakeFiles({"bots/x/audio.wav": b"RIFF-audio", "bots/x/speaker_timeline.json": TIMELINE})
    speech, repository = FakeSpeech(), FakeRepository()
    recognizers = {SpeechToTextProvider.DEFAULT: speech,
                   SpeechToTextProvider.GLADIA: RefusingProvider()}
    return speech, repository, files, TranscriptionService(recognizers, repository, files,
                                                           tmp_path, keys)


def request(**kw) -> TranscriptionRequested:
    return TranscriptionRequested(
        bot_id=kw.pop("bot_id", uuid4()), account_id=1,
        artifacts=RecordingArtifacts(audio="bots/x/audio.wav",
                                     speaker_timeline="bots/x/speaker_timeline.json"),
        provider=kw.pop("provider", SpeechToTextProvider.DEFAULT), **kw)


@pytest.mark.parametrize("rerun", [False, True])
async def test_the_stored_audio_is_transcribed_with_the_stored_timeline(parts, keys, rerun):
    speech, repository, files, service = parts
    event = request(rerun=rerun, webhook_url="https://customer.test/rerun" if rerun else None)
    done = await service.handle(event)
    assert speech.heard == [(b"RIFF-audio", None)] and keys.asked == []
    ((bot_id, provider, segments),) = repository.stored
    assert bot_id == event.bot_id and provider == SpeechToTextProvider.DEFAULT
    assert [(s.speaker, [w.text for w in s.words]) for s in segments] == [
        ("Alice", ["Hello", "again."])]
    assert repository.staged == [done]
    assert done.rerun == rerun and done.webhook_url == event.webhook_url
    assert done.request_id == event.event_id
    assert (done.bot_id, done.transcript_id, done.error) == (event.bot_id, 41, None)
    assert done.speakers == ["Alice"] and done.word_count == 2
    stored = json.loads(files.objects[done.files["transcript_provider_data"]])
    assert done.files["transcript_provider_data"] == (
        f"bots/{event.bot_id}/transcript_provider_data.json")
    assert json.loads(files.objects[done.files["transcript_document"]]) == [
        {"participant": {"id": 1, "name": "Alice"},
         "words": [{"text": "Hello", "start_timestamp": {"relative": 1.0},
                    "end_timestamp": {"relative": 1.5}},
                   {"text": "again.", "start_timestamp": {"relative": 1.6},
                    "end_timestamp": {"relative": 2.0}}]}]
    ((part,),) = [stored["parts"]]
    assert part["type"] == "http_response" and part["source_audio"] == {
        "type": "mixed", "offset": 0.0, "participant": None}
    assert part["data"] == {"url": "https://provider.test/v2/jobs/1", "status_code": 200,
                            "body": {"words": ["Hello", "again."], "score": None}}


async def test_a_request_delivered_twice_is_handled_once_with_the_same_answer_id(parts):
    speech, repository, _, service = parts
    event = request()
    first = await service.handle(event)
    assert await service.handle(event) is None
    assert len(speech.heard) == 1 and len(repository.stored) == 1
    other = await service.handle(request())
    assert first.event_id != other.event_id


async def test_the_key_is_asked_with_the_request_id_only_when_there_is_one(parts, keys):
    speech, _, _, service = parts
    event = request(has_key=True)
    await service.handle(event)
    assert keys.asked == [event.event_id]
    assert speech.heard == [(b"RIFF-audio", "gladia-key-in-memory")]


async def test_a_provider_refusal_is_an_error_and_keeps_the_transcript(parts):
    _, repository, _, service = parts
    done = await service.handle(request(provider=SpeechToTextProvider.GLADIA, has_key=True))
    assert done.transcript_id is None
    assert done.error == "Gladia refused the API key (HTTP 401)"
    assert repository.stored == [] and repository.staged == [done]


async def test_a_provider_not_configured_is_an_error(parts):
    _, repository, _, service = parts
    done = await service.handle(request(provider=SpeechToTextProvider.RUNPOD))
    assert done.error == "the Runpod provider is not available on this platform"
    assert repository.stored == []


async def test_audio_no_longer_stored_is_an_error(parts):
    _, repository, files, service = parts
    del files.objects["bots/x/audio.wav"]
    done = await service.handle(request(rerun=True))
    assert done.rerun and done.error == "the recording's audio is no longer stored"
    assert repository.stored == []
