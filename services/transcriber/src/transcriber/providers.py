"""Speech-to-text providers a bot can ask for: the local model (`Default`), Gladia and Runpod.

Every provider turns one recording into timed words; speakers come afterwards from the bot's own
speaker timeline, whoever recognised the words. Gladia and Runpod are called through their public
HTTP APIs with the API key the bot was created with, which is never logged:

- Gladia v2 pre-recorded: the audio is uploaded (`POST /v2/upload`), a job is created
  (`POST /v2/pre-recorded`) and polled until `done`, then deleted so that Gladia keeps nothing.
- Runpod serverless, faster-whisper worker: a job is run on the endpoint (`POST /v2/{id}/run`) with
  a presigned URL of the audio (and what was said before it as `initial_prompt`) and polled
  (`GET /v2/{id}/status/{job}`); a job that overruns the time limit is cancelled.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from mb_shared.contracts.provider_data import answer
from transcriber.speech import RecognizedWord, SpeechToText

log = logging.getLogger(__name__)


class ProviderError(Exception):
    """The provider could not transcribe; the message is meant for the user."""


@dataclass(frozen=True)
class AudioSource:
    """One recording's audio: a local copy, and a presigned URL for providers that fetch it."""

    path: Path
    url: Callable[[], Awaitable[str]]
    said_before: str = ""
    """What was said just before this audio (a piece of a call), for a model that takes it as
    context the way it does across the windows of one file."""
    answers: list[dict[str, Any]] = field(default_factory=list)
    """Every raw answer the provider gave about this audio, as it gave it
    (`mb_shared.contracts.provider_data.answer`; offsets within this audio)."""
    language: str | None = None
    """The language spoken, when the requester knows it (the platform's own model uses it)."""


class Recognizer(Protocol):
    async def recognize(self, audio: AudioSource, api_key: str | None) -> list[RecognizedWord]: ...


class LocalRecognizer:
    """The `Default` provider: the platform's own faster-whisper model, one recording at a time."""

    def __init__(self, model: SpeechToText) -> None:
        self._model = model
        self._one_at_a_time = asyncio.Lock()

    async def recognize(self, audio: AudioSource, api_key: str | None) -> list[RecognizedWord]:
        async with self._one_at_a_time:
            return await asyncio.to_thread(self._model.transcribe, audio.path,
                                           said_before=audio.said_before, answers=audio.answers,
                                           language=audio.language)


@dataclass(frozen=True)
class HttpPolicy:
    """How long a provider may take, how often it is polled, how transient errors are retried."""

    timeout_s: float = 1800.0
    poll_s: float = 2.0
    request_timeout_s: float = 60.0
    attempts: int = 4
    backoff_s: float = 1.0


TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class _HttpProvider:
    name: str

    def __init__(self, base_url: str, policy: HttpPolicy, operator_key: str | None) -> None:
        self._base_url = base_url.rstrip("/")
        self._policy = policy
        self._operator_key = operator_key

    def _key(self, api_key: str | None) -> str:
        """The bot's key, else the operator's; the user is told how to give one."""
        key = api_key or self._operator_key
        if not key:
            raise ProviderError(
                f"the {self.name} provider needs an API key: pass speech_to_text.api_key "
                f"(this platform has no {self.name} key of its own)"
            )
        return key

    def _session(self, headers: dict[str, str]) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=self._policy.request_timeout_s),
        )

    async def _call(self, session: aiohttp.ClientSession, method: str, url: str,
                    answers: list[dict[str, Any]], **kwargs: Any) -> Any:
        """One API call with retries on transient failures; JSON answer or ProviderError. Every
        response is noted in `answers`."""
        body_factory: Callable[[], Any] | None = kwargs.pop("body_factory", None)
        for attempt in range(1, self._policy.attempts + 1):
            if body_factory is not None:
                kwargs["data"] = body_factory()
            try:
                async with session.request(method, url, allow_redirects=False, **kwargs) as resp:
                    await self._note(answers, method, url, resp)
                    if resp.status in (401, 403):
                        raise ProviderError(
                            f"{self.name} refused the API key (HTTP {resp.status})"
                        )
                    if resp.status in TRANSIENT_STATUSES and attempt < self._policy.attempts:
                        await asyncio.sleep(self._retry_delay(resp, attempt))
                        continue
                    if resp.status >= 300:
                        raise ProviderError(
                            f"{self.name} answered HTTP {resp.status} to {method} "
                            f"{_path_of(url)}: {_short(await resp.text())}"
                        )
                    if resp.content_length == 0 or resp.status == 204:
                        return {}
                    return await resp.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError) as exc:
                if attempt == self._policy.attempts:
                    raise ProviderError(
                        f"{self.name} could not be reached ({type(exc).__name__})"
                    ) from exc
                await asyncio.sleep(self._policy.backoff_s * attempt)
        raise ProviderError(f"{self.name} kept failing")  # unreachable: the loop returns or raises

    @staticmethod
    async def _note(answers: list[dict[str, Any]], method: str, url: str,
                    resp: aiohttp.ClientResponse) -> None:
        text = await resp.text()
        try:
            body: Any = json.loads(text) if text else None
        except ValueError:
            body = text
        answers.append(answer("http_response", {"method": method, "url": url,
                                                "status_code": resp.status, "body": body}))

    def _retry_delay(self, resp: aiohttp.ClientResponse, attempt: int) -> float:
        retry_after = resp.headers.get("Retry-After", "")
        if retry_after.isdigit():
            return min(float(retry_after), 60.0)
        return self._policy.backoff_s * attempt

    async def _poll(self, fetch: Callable[[], Awaitable[tuple[bool, Any]]],
                    on_timeout: Callable[[], Awaitable[None]]) -> Any:
        """Call `fetch` until it reports done; cancel with `on_timeout` past the time limit."""
        deadline = time.monotonic() + self._policy.timeout_s
        while True:
            done, value = await fetch()
            if done:
                return value
            if time.monotonic() > deadline:
                try:
                    await on_timeout()
                except ProviderError:
                    log.warning("could not cancel the %s job after its time limit", self.name)
                raise ProviderError(
                    f"{self.name} did not finish within {self._policy.timeout_s:.0f} s"
                )
            await asyncio.sleep(self._policy.poll_s)


def _path_of(url: str) -> str:
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def _words(raw: list[dict[str, Any]]) -> list[RecognizedWord]:
    """Timed words from a provider's list of {word, start, end}, in spoken order."""
    words = []
    for item in raw:
        text = str(item.get("word") or "").strip()
        start, end = item.get("start"), item.get("end")
        if not text or not isinstance(start, int | float) or not isinstance(end, int | float):
            continue
        words.append(RecognizedWord(start=float(start), end=max(float(end), float(start)),
                                    text=text))
    words.sort(key=lambda w: w.start)
    return words


class GladiaRecognizer(_HttpProvider):
    name = "Gladia"

    def __init__(self, base_url: str, policy: HttpPolicy, operator_key: str | None,
                 language: str | None) -> None:
        super().__init__(base_url, policy, operator_key)
        self._language = language

    async def recognize(self, audio: AudioSource, api_key: str | None) -> list[RecognizedWord]:
        async with self._session({"x-gladia-key": self._key(api_key)}) as session:
            uploaded = await self._call(
                session, "POST", f"{self._base_url}/v2/upload", audio.answers,
                body_factory=lambda: _audio_form(audio.path),
            )
            request: dict[str, Any] = {"audio_url": uploaded["audio_url"], "diarization": False}
            if self._language:
                request["language_config"] = {"languages": [self._language],
                                              "code_switching": False}
            job = await self._call(session, "POST", f"{self._base_url}/v2/pre-recorded",
                                   audio.answers, json=request)
            result_url = job.get("result_url") or f"{self._base_url}/v2/pre-recorded/{job['id']}"
            try:
                result = await self._poll(
                    lambda: self._job_state(session, result_url, audio.answers),
                    lambda: asyncio.sleep(0),
                )
            finally:
                await self._forget(session, result_url, audio.answers)
        utterances = ((result or {}).get("transcription") or {}).get("utterances") or []
        return _words([word for utterance in utterances for word in utterance.get("words") or []])

    async def _job_state(self, session: aiohttp.ClientSession, url: str,
                         answers: list[dict[str, Any]]) -> tuple[bool, Any]:
        job = await self._call(session, "GET", url, answers)
        status = job.get("status")
        if status == "done":
            return True, job.get("result")
        if status == "error":
            raise ProviderError(f"Gladia could not transcribe the audio "
                                f"(error_code {job.get('error_code')})")
        return False, None

    async def _forget(self, session: aiohttp.ClientSession, url: str,
                      answers: list[dict[str, Any]]) -> None:
        try:
            await self._call(session, "DELETE", url, answers)
        except ProviderError as exc:
            log.warning("could not delete the Gladia job: %s", exc)


def _audio_form(path: Path) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("audio", path.open("rb"), filename=path.name,
                   content_type="audio/wav" if path.suffix == ".wav" else "application/octet-stream")
    return form


class RunpodRecognizer(_HttpProvider):
    name = "Runpod"

    def __init__(self, base_url: str, policy: HttpPolicy, operator_key: str | None,
                 endpoint_id: str, model: str, language: str | None) -> None:
        super().__init__(base_url, policy, operator_key)
        self._endpoint = f"{self._base_url}/v2/{endpoint_id}"
        self._model = model
        self._language = language

    async def recognize(self, audio: AudioSource, api_key: str | None) -> list[RecognizedWord]:
        key = self._key(api_key)
        job_input: dict[str, Any] = {"audio": await audio.url(), "model": self._model,
                                     "word_timestamps": True, "enable_vad": True}
        if self._language:
            job_input["language"] = self._language
        if audio.said_before:
            job_input["initial_prompt"] = audio.said_before
        async with self._session({"Authorization": f"Bearer {key}"}) as session:
            job = await self._call(session, "POST", f"{self._endpoint}/run", audio.answers,
                                   json={"input": job_input})
            job_id = job["id"]
            output = await self._poll(
                lambda: self._job_state(session, job_id, audio.answers),
                lambda: self._call(session, "POST", f"{self._endpoint}/cancel/{job_id}",
                                   audio.answers),
            )
        if not isinstance(output, dict) or "word_timestamps" not in output:
            raise ProviderError("the Runpod endpoint's output has no word_timestamps: it must "
                                "run the faster-whisper worker")
        return _words(output["word_timestamps"] or [])

    async def _job_state(self, session: aiohttp.ClientSession, job_id: str,
                         answers: list[dict[str, Any]]) -> tuple[bool, Any]:
        job = await self._call(session, "GET", f"{self._endpoint}/status/{job_id}", answers)
        status = job.get("status")
        if status == "COMPLETED":
            return True, job.get("output")
        if status in ("FAILED", "CANCELLED", "TIMED_OUT"):
            detail = f": {_short(str(job['error']))}" if job.get("error") else ""
            raise ProviderError(f"the Runpod job ended {status}{detail}")
        return False, None

