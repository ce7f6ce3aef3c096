"""Local emulator of Gladia's API v2 for pre-recorded audio (docs.gladia.io, "API Reference").

Routes (every one needs the ``x-gladia-key`` header):

* ``POST /v2/upload``: multipart ``audio`` file (or JSON ``{"audio_url"}``) -> ``audio_url`` and
  ``audio_metadata``;
* ``GET /file/{id}``: the uploaded file (what ``audio_url`` points to);
* ``POST /v2/pre-recorded``: JSON options with ``audio_url`` -> 201 ``{"id", "result_url"}``;
* ``GET /v2/pre-recorded``: the jobs, newest first (``offset``/``limit``);
* ``GET /v2/pre-recorded/{id}``: the job, with ``result`` once ``status`` is ``done``;
* ``GET /v2/pre-recorded/{id}/file``: the job's audio;
* ``DELETE /v2/pre-recorded/{id}``: 202, the job and its audio are gone.

The deprecated ``/v2/transcription`` paths answer the same as ``/v2/pre-recorded``.

Jobs are transcribed for real with faster-whisper, one at a time, in a worker thread. Options
other than the language ones are accepted and echoed in ``request_params`` but have no effect
(no diarization: every utterance is ``speaker`` 0, ``channel`` 0).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from provider_emulators.common import (
    AudioProbeError,
    DownloadError,
    EmulatorBase,
    download_loopback,
    probe_audio,
)
from provider_emulators.whisper import Transcription, TranscriptionCancelled

log = logging.getLogger(__name__)

DEFAULT_API_KEY = "test-gladia-key"

#: Documented boolean options of a pre-recorded request, with their defaults (echoed back in
#: ``request_params``; none of them changes the emulator's output).
BOOLEAN_OPTIONS: dict[str, bool] = {
    "detect_language": True,
    "enable_code_switching": False,
    "callback": False,
    "subtitles": False,
    "diarization": False,
    "translation": False,
    "summarization": False,
    "moderation": False,
    "named_entity_recognition": False,
    "chapterization": False,
    "name_consistency": False,
    "custom_vocabulary": False,
    "custom_spelling": False,
    "structured_data_extraction": False,
    "sentiment_analysis": False,
    "audio_to_llm": False,
    "sentences": False,
    "display_mode": False,
    "punctuation_enhanced": False,
}

_UPLOAD_PATH = re.compile(r"^/file/(?P<id>[0-9a-fA-F-]{36})$")


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class UploadedFile:
    id: str
    filename: str
    extension: str
    size: int
    audio_duration: float
    number_of_channels: int
    path: Path
    source: str | None = None

    def metadata(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "filename": self.filename,
            "extension": self.extension,
            "size": self.size,
            "audio_duration": self.audio_duration,
            "number_of_channels": self.number_of_channels,
        }
        if self.source is not None:
            data["source"] = self.source
        return data


@dataclass
class GladiaJob:
    """A pre-recorded job; ``status`` is ``queued`` -> ``processing`` -> ``done`` | ``error``."""

    id: str
    request_params: dict[str, Any]
    file: UploadedFile
    language: str | None  # what faster-whisper is told (None: detect)
    custom_metadata: Any = None
    status: str = "queued"
    created_at: str = field(default_factory=_now_iso)
    completed_at: str | None = None
    error_code: int | None = None
    result: dict[str, Any] | None = None
    deleted: bool = False

    @property
    def request_id(self) -> str:
        return f"G-{self.id[:8]}"

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "request_id": self.request_id,
            "version": 2,
            "kind": "pre-recorded",
            "status": self.status,
            "created_at": self.created_at,
            "completed_at": self.completed_at,
            "custom_metadata": self.custom_metadata,
            "error_code": self.error_code,
            "post_session_metadata": {},
            "file": {
                "id": self.file.id,
                "filename": self.file.filename,
                "source": self.file.source,
                "audio_duration": self.file.audio_duration,
                "number_of_channels": self.file.number_of_channels,
            },
            "request_params": self.request_params,
            "result": self.result,
        }


class GladiaEmulator(EmulatorBase):
    """Gladia v2 pre-recorded API on an aiohttp application (see the module docstring).

    Beyond :class:`~provider_emulators.common.EmulatorBase`'s knobs and ``requests`` log:

    * ``jobs``: id -> :class:`GladiaJob` (deleted jobs are removed);
    * ``uploads``: id -> :class:`UploadedFile`;
    * ``deleted_jobs``: ids of the jobs deleted through ``DELETE``, in order;
    * ``beam_size``: faster-whisper's beam size.
    """

    def __init__(
        self,
        model_dir: Path | str | None = None,
        *,
        api_keys: Iterable[str] = (DEFAULT_API_KEY,),
        beam_size: int = 5,
        **knobs: Any,
    ) -> None:
        super().__init__(model_dir, api_keys=api_keys, **knobs)
        self.beam_size = beam_size
        self.jobs: dict[str, GladiaJob] = {}
        self.uploads: dict[str, UploadedFile] = {}
        self.deleted_jobs: list[str] = []

    # -- plumbing ------------------------------------------------------------------------------

    def _key_of(self, request: web.Request) -> str | None:
        return request.headers.get("x-gladia-key")

    def _add_routes(self, app: web.Application) -> None:
        app.middlewares.append(self._auth_middleware)
        app.router.add_post("/v2/upload", self._upload)
        app.router.add_get("/file/{file_id}", self._get_upload)
        for base in ("/v2/pre-recorded", "/v2/transcription"):
            app.router.add_post(base, self._create_job)
            app.router.add_get(base, self._list_jobs)
            app.router.add_get(base + "/{job_id}", self._get_job)
            app.router.add_get(base + "/{job_id}/file", self._get_job_file)
            app.router.add_delete(base + "/{job_id}", self._delete_job)

    @staticmethod
    def error(
        request: web.Request,
        status: int,
        message: str,
        validation_errors: list[str] | None = None,
    ) -> web.Response:
        """An error body shaped like Gladia's."""
        body: dict[str, Any] = {
            "timestamp": _now_iso(),
            "path": request.path,
            "request_id": f"G-{uuid.uuid4().hex[:8]}",
            "statusCode": status,
            "message": message,
        }
        if validation_errors is not None:
            body["validation_errors"] = validation_errors
        return web.json_response(body, status=status)

    @web.middleware
    async def _auth_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        key = request.headers.get("x-gladia-key")
        if not key:
            return self.error(request, 401, "Unauthorized: the x-gladia-key header is missing")
        if key not in self.api_keys:
            return self.error(request, 401, "Unauthorized: invalid x-gladia-key")
        return await handler(request)

    @staticmethod
    def _origin(request: web.Request) -> str:
        return f"{request.scheme}://{request.host}"

    def _new_upload_path(self, filename: str) -> tuple[str, Path]:
        file_id = str(uuid.uuid4())
        suffix = PurePosixPath(filename).suffix[:16]
        return file_id, self.work_dir / f"{file_id}{suffix}"

    def _register_upload(
        self, file_id: str, path: Path, filename: str, size: int, source: str | None
    ) -> UploadedFile:
        info = probe_audio(path)
        extension = PurePosixPath(filename).suffix.lstrip(".").lower()
        upload = UploadedFile(
            id=file_id,
            filename=filename,
            extension=extension,
            size=size,
            audio_duration=round(info.duration, 6),
            number_of_channels=info.channels,
            path=path,
            source=source,
        )
        self.uploads[file_id] = upload
        return upload

    async def _fetch_url(self, url: str) -> UploadedFile:
        filename = PurePosixPath(urlsplit(url).path).name or "audio"
        file_id, path = self._new_upload_path(filename)
        try:
            size = await download_loopback(self.session, url, path)
            return await asyncio.to_thread(
                self._register_upload, file_id, path, filename, size, url
            )
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    # -- upload --------------------------------------------------------------------------------

    async def _upload(self, request: web.Request) -> web.StreamResponse:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                return self.error(request, 400, "Invalid JSON body")
            url = body.get("audio_url") if isinstance(body, dict) else None
            if not isinstance(url, str) or not url:
                return self.error(request, 400, "Bad Request", ["audio_url must be a URL address"])
            try:
                upload = await self._fetch_url(url)
            except (DownloadError, AudioProbeError) as exc:
                return self.error(request, 400, f"Cannot use audio_url: {exc}")
        else:
            if not request.content_type.startswith("multipart/"):
                return self.error(
                    request, 400, "Bad Request", ["send multipart/form-data with an audio file"]
                )
            upload_or_error = await self._receive_multipart(request)
            if isinstance(upload_or_error, web.Response):
                return upload_or_error
            upload = upload_or_error
        return web.json_response(
            {
                "audio_url": f"{self._origin(request)}/file/{upload.id}",
                "audio_metadata": upload.metadata(),
            }
        )

    async def _receive_multipart(self, request: web.Request) -> UploadedFile | web.Response:
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                return self.error(request, 400, "Bad Request", ["audio file is required"])
            if getattr(part, "name", None) != "audio" or not hasattr(part, "read_chunk"):
                if hasattr(part, "release"):
                    await part.release()
                continue
            filename = part.filename or "audio"
            file_id, path = self._new_upload_path(filename)
            size = 0
            with path.open("wb") as fh:
                while chunk := await part.read_chunk(1 << 16):
                    fh.write(chunk)
                    size += len(chunk)
            if size == 0:
                path.unlink(missing_ok=True)
                return self.error(request, 400, "Bad Request", ["audio file is empty"])
            try:
                return await asyncio.to_thread(
                    self._register_upload, file_id, path, filename, size, None
                )
            except AudioProbeError as exc:
                path.unlink(missing_ok=True)
                return self.error(request, 400, f"Invalid audio file: {exc}")

    async def _get_upload(self, request: web.Request) -> web.StreamResponse:
        upload = self.uploads.get(request.match_info["file_id"])
        if upload is None or not upload.path.is_file():
            return self.error(request, 404, "File not found")
        return web.FileResponse(upload.path)

    # -- jobs ----------------------------------------------------------------------------------

    def _validate_options(self, body: dict[str, Any]) -> list[str]:
        errors: list[str] = []
        url = body.get("audio_url")
        if not isinstance(url, str) or not url:
            errors.append("audio_url must be a URL address")
        for name in BOOLEAN_OPTIONS:
            if name in body and not isinstance(body[name], bool):
                errors.append(f"{name} must be a boolean value")
        if "language" in body and not isinstance(body["language"], str | None):
            errors.append("language must be a string")
        config = body.get("language_config")
        if config is not None:
            languages = config.get("languages") if isinstance(config, dict) else None
            if not isinstance(config, dict) or not (
                languages is None
                or (isinstance(languages, list) and all(isinstance(x, str) for x in languages))
            ):
                errors.append("language_config.languages must be an array of language codes")
        return errors

    @staticmethod
    def _whisper_language(body: dict[str, Any]) -> str | None:
        config = body.get("language_config")
        if isinstance(config, dict):
            languages = config.get("languages") or []
            if len(languages) == 1:
                return languages[0]
            if languages:
                return None  # several candidates: let Whisper detect
        language = body.get("language")
        return language or None

    async def _resolve_audio(self, url: str, own_host: str) -> UploadedFile:
        parts = urlsplit(url)
        match = _UPLOAD_PATH.match(parts.path)
        if match and match["id"] in self.uploads:
            return self.uploads[match["id"]]
        if match and parts.netloc == own_host:
            raise DownloadError("audio_url is not a file uploaded to /v2/upload")
        if parts.scheme in ("http", "https"):
            return await self._fetch_url(url)
        raise DownloadError("audio_url is neither an uploaded file nor an http(s) URL")

    async def _create_job(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
        except ValueError:
            return self.error(request, 400, "Invalid JSON body")
        if not isinstance(body, dict):
            return self.error(request, 400, "Bad Request", ["the body must be a JSON object"])
        errors = self._validate_options(body)
        if errors:
            return self.error(request, 400, "Bad Request", errors)
        try:
            audio = await self._resolve_audio(body["audio_url"], request.host)
        except (DownloadError, AudioProbeError) as exc:
            return self.error(request, 400, "Bad Request", [f"audio_url: {exc}"])
        params = {**BOOLEAN_OPTIONS, **body}
        custom_metadata = params.pop("custom_metadata", None)
        job = GladiaJob(
            id=str(uuid.uuid4()),
            request_params=params,
            file=audio,
            language=self._whisper_language(body),
            custom_metadata=custom_metadata,
        )
        self.jobs[job.id] = job
        self._enqueue(job.id)
        return web.json_response(
            {"id": job.id, "result_url": f"{self._origin(request)}/v2/pre-recorded/{job.id}"},
            status=201,
        )

    def _job_or_404(self, request: web.Request) -> GladiaJob | web.Response:
        job = self.jobs.get(request.match_info["job_id"])
        if job is None:
            return self.error(request, 404, "Transcription not found")
        return job

    async def _get_job(self, request: web.Request) -> web.StreamResponse:
        job = self._job_or_404(request)
        if isinstance(job, web.Response):
            return job
        return web.json_response(job.view())

    async def _list_jobs(self, request: web.Request) -> web.StreamResponse:
        try:
            offset = max(0, int(request.query.get("offset", "0")))
            limit = max(1, int(request.query.get("limit", "20")))
        except ValueError:
            return self.error(request, 400, "Bad Request", ["offset and limit must be integers"])
        ordered = sorted(self.jobs.values(), key=lambda j: j.created_at, reverse=True)
        page = ordered[offset : offset + limit]
        base = f"{self._origin(request)}{request.path}"
        following = offset + limit < len(ordered)
        return web.json_response(
            {
                "first": f"{base}?offset=0&limit={limit}",
                "current": f"{base}?offset={offset}&limit={limit}",
                "next": f"{base}?offset={offset + limit}&limit={limit}" if following else None,
                "items": [job.view() for job in page],
            }
        )

    async def _get_job_file(self, request: web.Request) -> web.StreamResponse:
        job = self._job_or_404(request)
        if isinstance(job, web.Response):
            return job
        if not job.file.path.is_file():
            return self.error(request, 404, "File not found")
        return web.FileResponse(job.file.path)

    async def _delete_job(self, request: web.Request) -> web.StreamResponse:
        job = self._job_or_404(request)
        if isinstance(job, web.Response):
            return job
        job.deleted = True
        del self.jobs[job.id]
        self.deleted_jobs.append(job.id)
        still_used = any(other.file.id == job.file.id for other in self.jobs.values())
        if not still_used:
            self.uploads.pop(job.file.id, None)
            job.file.path.unlink(missing_ok=True)
        return web.Response(status=202)

    # -- the worker ----------------------------------------------------------------------------

    async def _run_job(self, job_id: str) -> None:
        job = self.jobs.get(job_id)
        if job is None:
            return
        if self.queue_delay > 0:
            await asyncio.sleep(self.queue_delay)
        if job.deleted:
            return
        job.status = "processing"
        failing = self._take_failure()
        started = time.monotonic()
        transcription: Transcription | None = None
        if not failing:
            try:
                transcription = await self._transcribe(
                    job.file.path,
                    lambda: job.deleted,
                    language=job.language,
                    beam_size=self.beam_size,
                    word_timestamps=True,
                    vad_filter=False,
                )
            except TranscriptionCancelled:
                return
            except Exception:
                log.exception("transcription of job %s failed", job.id)
                failing = True
        elapsed = time.monotonic() - started
        if self.delay > 0:
            await asyncio.sleep(self.delay)
        if job.deleted:
            return
        job.completed_at = _now_iso()
        if failing or transcription is None:
            job.status = "error"
            job.error_code = 500
        else:
            job.result = build_result(job, transcription, elapsed)
            job.status = "done"


def build_result(job: GladiaJob, transcription: Transcription, elapsed: float) -> dict[str, Any]:
    """Gladia's ``result`` object from a faster-whisper transcription (one utterance a segment)."""
    language = transcription.language
    utterances: list[dict[str, Any]] = []
    for segment in transcription.segments:
        words = []
        for word in segment.words or []:
            text = word.word if word.word.startswith(" ") else " " + word.word
            words.append(
                {
                    "word": text,
                    "start": round(word.start, 3),
                    "end": round(word.end, 3),
                    "confidence": round(word.probability, 3),
                }
            )
        text = segment.text.strip()
        if not words and not text:
            continue
        confidence = sum(w["confidence"] for w in words) / len(words) if words else 0.0
        utterances.append(
            {
                "language": language,
                "start": words[0]["start"] if words else round(segment.start, 3),
                "end": words[-1]["end"] if words else round(segment.end, 3),
                "confidence": round(confidence, 3),
                "channel": 0,
                "speaker": 0,
                "text": text,
                "words": words,
            }
        )
    duration = job.file.audio_duration
    return {
        "metadata": {
            "audio_duration": duration,
            "number_of_distinct_channels": 1,
            "billing_time": duration,
            "transcription_time": round(elapsed, 3),
        },
        "transcription": {
            "full_transcript": " ".join(u["text"] for u in utterances),
            "languages": [language],
            "utterances": utterances,
        },
    }
