"""Local emulator of a Runpod serverless (queue-based) endpoint running the faster-whisper worker.

The HTTP side follows docs.runpod.io, "Serverless -> Endpoints -> Operation reference":
``POST /v2/{endpoint_id}/run`` and ``/runsync``, ``GET /v2/{endpoint_id}/status/{job_id}``,
``POST /v2/{endpoint_id}/cancel/{job_id}`` and ``GET /v2/{endpoint_id}/health``, with the key in
``Authorization`` (``Bearer <key>`` or the bare key).

The worker side follows the public worker "runpod-workers/worker-faster_whisper" (its README's
input table and ``src/predict.py``'s output): input ``audio`` (a URL, fetched by the emulator,
loopback only) or ``audio_base64``, ``model``, ``transcription`` format, ``language``,
``word_timestamps``, decoding options...; output ``segments``, ``detected_language``,
``transcription``, ``translation``, ``device``, ``model`` and, when asked, ``word_timestamps``.
Every Whisper model name the worker offers is accepted, but the emulator always transcribes with
the one model it was given (the base model in this repository) and reports the requested name.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from provider_emulators.common import DownloadError, EmulatorBase, download_loopback
from provider_emulators.whisper import Transcription, TranscriptionCancelled

DEFAULT_API_KEY = "test-runpod-key"
DEFAULT_ENDPOINT_ID = "test-endpoint"

#: The worker's model choices (its README).
MODEL_CHOICES = (
    "tiny",
    "base",
    "small",
    "medium",
    "large-v1",
    "large-v2",
    "large-v3",
    "distil-large-v2",
    "distil-large-v3",
    "turbo",
)
FORMAT_CHOICES = ("plain_text", "formatted_text", "srt", "vtt")

#: The worker's input schema: name -> (accepted types, default).
INPUT_SCHEMA: dict[str, tuple[tuple[type, ...], Any]] = {
    "audio": ((str,), None),
    "audio_base64": ((str,), None),
    "model": ((str,), "base"),
    "transcription": ((str,), "plain_text"),
    "translate": ((bool,), False),
    "translation": ((str,), "plain_text"),
    "language": ((str,), None),
    "temperature": ((float, int), 0),
    "best_of": ((int,), 5),
    "beam_size": ((int,), 5),
    "patience": ((float, int), 1.0),
    "length_penalty": ((float, int), 0),
    "suppress_tokens": ((str,), "-1"),
    "initial_prompt": ((str,), None),
    "condition_on_previous_text": ((bool,), True),
    "temperature_increment_on_fallback": ((float, int), 0.2),
    "compression_ratio_threshold": ((float, int), 2.4),
    "logprob_threshold": ((float, int), -1.0),
    "no_speech_threshold": ((float, int), 0.6),
    "enable_vad": ((bool,), False),
    "word_timestamps": ((bool,), False),
}

TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"})


def validate_input(job_input: Any) -> tuple[dict[str, Any], list[str]]:
    """The worker's validation: types, unknown names, and one of ``audio``/``audio_base64``."""
    if not isinstance(job_input, dict):
        return {}, ["input must be a JSON object"]
    errors: list[str] = []
    for name in job_input:
        if name not in INPUT_SCHEMA:
            errors.append(f"Unexpected input. {name} is not a valid input option.")
    validated: dict[str, Any] = {}
    for name, (types, default) in INPUT_SCHEMA.items():
        value = job_input.get(name, default)
        bad_bool = isinstance(value, bool) and bool not in types
        if value is not None and (bad_bool or not isinstance(value, types)):
            errors.append(f"{name} should be {types[0].__name__} type, not {type(value).__name__}.")
        validated[name] = value
    if not errors:
        if validated["audio"] is None and validated["audio_base64"] is None:
            errors.append("Must provide either audio or audio_base64")
        elif validated["audio"] is not None and validated["audio_base64"] is not None:
            errors.append("Must provide either audio or audio_base64, not both")
        if validated["model"] not in MODEL_CHOICES:
            errors.append(f"Model '{validated['model']}' not found.")
        for name in ("transcription", "translation"):
            if validated[name] not in FORMAT_CHOICES:
                errors.append(f"{name} must be one of {', '.join(FORMAT_CHOICES)}")
        try:
            validated["suppress_tokens"] = [
                int(t) for t in validated["suppress_tokens"].split(",") if t.strip()
            ]
        except ValueError:
            errors.append("suppress_tokens must be comma-separated token ids")
    return validated, errors


def _timestamp(seconds: float, decimal: str) -> str:
    millis = int(round(max(0.0, seconds) * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


def format_segments(fmt: str, segments: list[Any]) -> str:
    """The worker's text formats: plain_text, formatted_text, srt, vtt."""
    if fmt == "plain_text":
        return " ".join(s.text.lstrip() for s in segments)
    if fmt == "formatted_text":
        return "\n".join(s.text.lstrip() for s in segments)
    lines: list[str] = []
    for index, s in enumerate(segments, start=1):
        text = s.text.strip().replace("-->", "->")
        if fmt == "srt":
            start, end = _timestamp(s.start, ","), _timestamp(s.end, ",")
            lines += [str(index), f"{start} --> {end}", text, ""]
        else:
            lines += [f"{_timestamp(s.start, '.')} --> {_timestamp(s.end, '.')}", text, ""]
    return "\n".join(lines) + ("\n" if lines else "")


def build_output(
    validated: dict[str, Any], transcription: Transcription, translation: Transcription | None
) -> dict[str, Any]:
    """The worker's output for one prediction."""
    segments = transcription.segments
    output: dict[str, Any] = {
        "segments": [
            {
                "id": s.id,
                "seek": s.seek,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "tokens": list(s.tokens),
                "temperature": s.temperature,
                "avg_logprob": s.avg_logprob,
                "compression_ratio": s.compression_ratio,
                "no_speech_prob": s.no_speech_prob,
            }
            for s in segments
        ],
        "detected_language": transcription.language,
        "transcription": format_segments(validated["transcription"], segments),
        "translation": (
            format_segments(validated["translation"], translation.segments)
            if translation is not None
            else None
        ),
        "device": "cpu",
        "model": validated["model"],
    }
    if validated["word_timestamps"]:
        output["word_timestamps"] = [
            {"word": w.word, "start": w.start, "end": w.end}
            for s in segments
            for w in (s.words or [])
        ]
    return output


def _handler_error(exc_type: str, message: str) -> str:
    """An ``error`` string shaped like the one the Runpod SDK reports for a raising handler."""
    return json.dumps(
        {
            "error_type": f"<class '{exc_type}'>",
            "error_message": message,
            "error_traceback": f"Traceback (most recent call last):\n{exc_type}: {message}\n",
        }
    )


@dataclass
class RunpodJob:
    id: str
    endpoint_id: str
    input: Any
    request: dict[str, Any]  # the whole body that was posted (webhook, policy... recorded)
    status: str = "IN_QUEUE"
    submitted_at: float = field(default_factory=time.monotonic)
    started_at: float | None = None
    finished_at: float | None = None
    output: Any = None
    error: str | None = None
    worker_id: str = "emulator-worker-1"
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def _ms(self, start: float | None, end: float | None) -> int:
        if start is None:
            return 0
        return int(round(((end if end is not None else time.monotonic()) - start) * 1000))

    def view(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.started_at is not None:
            body["delayTime"] = self._ms(self.submitted_at, self.started_at)
            body["workerId"] = self.worker_id
        if self.status in ("COMPLETED", "FAILED"):
            body["executionTime"] = self._ms(self.started_at, self.finished_at)
        if self.status == "COMPLETED":
            body["output"] = self.output
        if self.status == "FAILED":
            body["error"] = self.error
        return body

    def finish(self, status: str) -> None:
        self.status = status
        self.finished_at = time.monotonic()
        self.finished.set()


class RunpodEmulator(EmulatorBase):
    """Runpod serverless endpoint(s) serving the faster-whisper worker.

    Beyond :class:`~provider_emulators.common.EmulatorBase`'s knobs and ``requests`` log:

    * ``endpoint_ids``: the endpoints that exist (others are answered 404);
    * ``jobs``: id -> :class:`RunpodJob`;
    * ``cancelled_jobs``: ids of the jobs cancelled through ``/cancel``, in order.
    """

    def __init__(
        self,
        model_dir: Path | str | None = None,
        *,
        api_keys: Iterable[str] = (DEFAULT_API_KEY,),
        endpoint_ids: Iterable[str] = (DEFAULT_ENDPOINT_ID,),
        **knobs: Any,
    ) -> None:
        super().__init__(model_dir, api_keys=api_keys, **knobs)
        self.endpoint_ids: set[str] = set(endpoint_ids)
        self.jobs: dict[str, RunpodJob] = {}
        self.cancelled_jobs: list[str] = []

    # -- plumbing ------------------------------------------------------------------------------

    def _key_of(self, request: web.Request) -> str | None:
        header = request.headers.get("Authorization")
        if header is None:
            return None
        scheme, _, rest = header.strip().partition(" ")
        if scheme.lower() == "bearer" and rest:
            return rest.strip()
        return header.strip()

    def _add_routes(self, app: web.Application) -> None:
        app.middlewares.append(self._auth_middleware)
        app.router.add_post("/v2/{endpoint_id}/run", self._run)
        app.router.add_post("/v2/{endpoint_id}/runsync", self._runsync)
        app.router.add_get("/v2/{endpoint_id}/status/{job_id}", self._status)
        app.router.add_post("/v2/{endpoint_id}/status/{job_id}", self._status)
        app.router.add_post("/v2/{endpoint_id}/cancel/{job_id}", self._cancel)
        app.router.add_get("/v2/{endpoint_id}/health", self._health)

    @web.middleware
    async def _auth_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        key = self._key_of(request)
        if not key or key not in self.api_keys:
            return web.json_response({"error": "Unauthorized"}, status=401)
        endpoint_id = request.match_info.get("endpoint_id")
        if endpoint_id is not None and endpoint_id not in self.endpoint_ids:
            return web.json_response({"error": f"endpoint {endpoint_id} not found"}, status=404)
        return await handler(request)

    # -- operations ----------------------------------------------------------------------------

    async def _submit(self, request: web.Request, prefix: str) -> RunpodJob | web.Response:
        try:
            body = await request.json()
        except ValueError:
            return web.json_response({"error": "the body is not valid JSON"}, status=400)
        if not isinstance(body, dict) or "input" not in body:
            return web.json_response({"error": "the body must have an 'input'"}, status=400)
        job = RunpodJob(
            id=f"{prefix}{uuid.uuid4()}-u1",
            endpoint_id=request.match_info["endpoint_id"],
            input=body["input"],
            request=body,
        )
        self.jobs[job.id] = job
        self._enqueue(job.id)
        return job

    async def _run(self, request: web.Request) -> web.StreamResponse:
        job = await self._submit(request, "")
        if isinstance(job, web.Response):
            return job
        return web.json_response({"id": job.id, "status": job.status})

    async def _runsync(self, request: web.Request) -> web.StreamResponse:
        try:
            wait_ms = int(request.query.get("wait", "90000"))
        except ValueError:
            return web.json_response({"error": "wait must be milliseconds"}, status=400)
        wait_ms = min(max(wait_ms, 1000), 300_000)
        job = await self._submit(request, "sync-")
        if isinstance(job, web.Response):
            return job
        try:
            await asyncio.wait_for(job.finished.wait(), wait_ms / 1000)
        except TimeoutError:
            pass
        return web.json_response(job.view())

    def _job_or_404(self, request: web.Request) -> RunpodJob | web.Response:
        job = self.jobs.get(request.match_info["job_id"])
        if job is None or job.endpoint_id != request.match_info["endpoint_id"]:
            return web.json_response({"error": "request does not exist"}, status=404)
        return job

    async def _status(self, request: web.Request) -> web.StreamResponse:
        job = self._job_or_404(request)
        if isinstance(job, web.Response):
            return job
        return web.json_response(job.view())

    async def _cancel(self, request: web.Request) -> web.StreamResponse:
        job = self._job_or_404(request)
        if isinstance(job, web.Response):
            return job
        if job.status not in TERMINAL:
            job.finish("CANCELLED")
            self.cancelled_jobs.append(job.id)
        return web.json_response({"id": job.id, "status": job.status})

    async def _health(self, request: web.Request) -> web.StreamResponse:
        endpoint_id = request.match_info["endpoint_id"]
        mine = [j for j in self.jobs.values() if j.endpoint_id == endpoint_id]
        running = sum(j.status == "IN_PROGRESS" for j in mine)
        return web.json_response(
            {
                "jobs": {
                    "completed": sum(j.status == "COMPLETED" for j in mine),
                    "failed": sum(j.status == "FAILED" for j in mine),
                    "inProgress": running,
                    "inQueue": sum(j.status == "IN_QUEUE" for j in mine),
                    "retried": 0,
                },
                "workers": {"idle": 0 if running else 1, "running": 1 if running else 0},
            }
        )

    # -- the worker ----------------------------------------------------------------------------

    async def _run_job(self, job_id: str) -> None:
        job = self.jobs.get(job_id)
        if job is None:
            return
        if self.queue_delay > 0:
            await asyncio.sleep(self.queue_delay)
        if job.status != "IN_QUEUE":
            return  # cancelled while queued
        job.status = "IN_PROGRESS"
        job.started_at = time.monotonic()
        audio_path = self.work_dir / f"{job.id}.audio"
        try:
            outcome = await self._predict(job, audio_path)
        finally:
            audio_path.unlink(missing_ok=True)
        if outcome is None or job.status != "IN_PROGRESS":
            return  # cancelled meanwhile
        if self.delay > 0:
            await asyncio.sleep(self.delay)
            if job.status != "IN_PROGRESS":
                return
        status, payload = outcome
        if status == "COMPLETED":
            job.output = payload
        else:
            job.error = payload
        job.finish(status)

    async def _predict(self, job: RunpodJob, audio_path: Path) -> tuple[str, Any] | None:
        """Run the worker's handler: ``("COMPLETED", output)``, ``("FAILED", error)`` or None."""
        if self._take_failure():
            return "FAILED", _handler_error("RuntimeError", "forced failure (emulator knob)")
        validated, errors = validate_input(job.input)
        if errors:
            return "FAILED", "; ".join(errors)
        try:
            if validated["audio_base64"] is not None:
                audio_path.write_bytes(base64.b64decode(validated["audio_base64"], validate=True))
            else:
                await download_loopback(self.session, validated["audio"], audio_path)
        except (DownloadError, binascii.Error, ValueError) as exc:
            return "FAILED", _handler_error(type(exc).__name__, str(exc))

        temperature = float(validated["temperature"])
        increment = validated["temperature_increment_on_fallback"]
        temperatures: list[float] = [temperature]
        if increment:
            step = float(increment)
            while temperatures[-1] + step <= 1.0 + 1e-6:
                temperatures.append(round(temperatures[-1] + step, 6))
        options: dict[str, Any] = {
            "language": validated["language"],
            "beam_size": validated["beam_size"],
            "best_of": validated["best_of"],
            "patience": float(validated["patience"]),
            "length_penalty": float(validated["length_penalty"] or 1.0),
            "temperature": temperatures,
            "compression_ratio_threshold": float(validated["compression_ratio_threshold"]),
            "log_prob_threshold": float(validated["logprob_threshold"]),
            "no_speech_threshold": float(validated["no_speech_threshold"]),
            "condition_on_previous_text": validated["condition_on_previous_text"],
            "initial_prompt": validated["initial_prompt"],
            "suppress_tokens": validated["suppress_tokens"],
            "word_timestamps": validated["word_timestamps"],
            "vad_filter": validated["enable_vad"],
        }

        def stop() -> bool:
            return job.status != "IN_PROGRESS"

        try:
            transcription = await self._transcribe(audio_path, stop, **options)
            translation = None
            if validated["translate"]:
                translation = await self._transcribe(
                    audio_path, stop, task="translate", temperature=temperatures
                )
        except TranscriptionCancelled:
            return None
        except Exception as exc:  # what the worker would raise: the job fails with it
            return "FAILED", _handler_error(type(exc).__name__, str(exc))
        return "COMPLETED", build_output(validated, transcription, translation)
