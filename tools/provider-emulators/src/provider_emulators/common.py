"""Plumbing shared by the emulators: request log, audio probing, loopback downloads, job worker."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import av
from aiohttp import web

from provider_emulators.whisper import Transcription, WhisperEngine, shared_engine

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# Request log
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as the emulator saw it (test knob, not part of any provider's API)."""

    method: str
    path: str
    api_key: str | None  # the key as sent (None when no key was sent), valid or not
    status: int  # the status the emulator answered with
    at: float  # time.time() when it arrived
    query: dict[str, str]
    json: Any  # the JSON body when there was one, else None


class RequestLog:
    """Thread-safe list of :class:`RecordedRequest`, readable from the test's thread."""

    def __init__(self) -> None:
        self._items: list[RecordedRequest] = []
        self._lock = threading.Lock()

    def append(self, item: RecordedRequest) -> None:
        with self._lock:
            self._items.append(item)

    def all(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._items)

    def matching(
        self, method: str | None = None, path: str | None = None, *, prefix: str | None = None
    ) -> list[RecordedRequest]:
        """Requests with this method and exact ``path`` (or path starting with ``prefix``)."""
        return [
            r
            for r in self.all()
            if (method is None or r.method == method.upper())
            and (path is None or r.path == path)
            and (prefix is None or r.path.startswith(prefix))
        ]

    def count(
        self, method: str | None = None, path: str | None = None, *, prefix: str | None = None
    ) -> int:
        return len(self.matching(method, path, prefix=prefix))

    def keys_used(self) -> set[str | None]:
        return {r.api_key for r in self.all()}

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def log_middleware(
    log: RequestLog, key_of: Callable[[web.Request], str | None]
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """aiohttp middleware recording every request with the status it was answered with."""

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        arrived = time.time()
        body: Any = None
        if request.content_type == "application/json" and request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                body = None
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            log.append(
                RecordedRequest(
                    method=request.method,
                    path=request.path,
                    api_key=key_of(request),
                    status=status,
                    at=arrived,
                    query=dict(request.query),
                    json=body,
                )
            )

    return middleware


# --------------------------------------------------------------------------------------------
# Audio files
# --------------------------------------------------------------------------------------------


class AudioProbeError(ValueError):
    """The file holds no decodable audio."""


@dataclass(frozen=True)
class AudioInfo:
    duration: float  # seconds
    channels: int


def probe_audio(path: Path) -> AudioInfo:
    """Duration and channel count of the first audio stream; decodes the stream to be sure."""
    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise AudioProbeError(f"not a media file: {exc}") from exc
    try:
        if not container.streams.audio:
            raise AudioProbeError("the file has no audio stream")
        stream = container.streams.audio[0]
        channels = int(stream.codec_context.channels or 1)
        samples = 0
        rate = int(stream.codec_context.sample_rate or 0)
        try:
            for frame in container.decode(stream):
                samples += frame.samples
                rate = frame.sample_rate or rate
        except av.FFmpegError as exc:
            if samples == 0:
                raise AudioProbeError(f"the audio cannot be decoded: {exc}") from exc
        if samples == 0 or rate <= 0:
            raise AudioProbeError("the audio stream is empty")
        return AudioInfo(duration=samples / rate, channels=channels)
    finally:
        container.close()


class DownloadError(RuntimeError):
    """An audio URL could not be fetched (or points off this machine)."""


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name other than localhost: never resolved, never fetched


async def download_loopback(
    session: aiohttp.ClientSession, url: str, dest: Path, *, timeout: float = 60.0
) -> int:
    """Fetch ``url`` into ``dest`` (returns its size). Only loopback http(s) URLs are fetched."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise DownloadError(f"unsupported URL scheme {parts.scheme!r}")
    if not is_loopback_host(parts.hostname):
        raise DownloadError(
            f"the emulator only fetches URLs on this machine (loopback), not {parts.hostname!r}"
        )
    size = 0
    try:
        async with session.get(
            url, timeout=aiohttp.ClientTimeout(total=timeout), allow_redirects=False
        ) as response:
            if response.status != 200:
                raise DownloadError(f"GET {url} answered HTTP {response.status}")
            with dest.open("wb") as fh:
                async for chunk in response.content.iter_chunked(1 << 16):
                    fh.write(chunk)
                    size += len(chunk)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise DownloadError(f"GET {url} failed: {exc!r}") from exc
    return size


# --------------------------------------------------------------------------------------------
# Emulator base: keys, request log, work directory, one-job-at-a-time worker
# --------------------------------------------------------------------------------------------


class EmulatorBase:
    """What both emulators share. Subclasses add routes and implement :meth:`_run_job`.

    Test knobs (plain attributes, changeable while the server runs):

    * ``api_keys``: the accepted keys (a set; anything else is answered 401);
    * ``fail_jobs``: every job fails; ``fail_next``: the next N jobs fail;
    * ``queue_delay``: seconds a job waits in the queue before it is started;
    * ``delay``: extra seconds a job stays in progress after its transcription, before it ends.
    """

    def __init__(
        self,
        model_dir: Path | str | None = None,
        *,
        engine: WhisperEngine | None = None,
        api_keys: Iterable[str],
        fail_jobs: bool = False,
        fail_next: int = 0,
        queue_delay: float = 0.0,
        delay: float = 0.0,
        work_dir: Path | str | None = None,
        cpu_threads: int = 2,
    ) -> None:
        if engine is None:
            if model_dir is None:
                raise ValueError("give model_dir (a faster-whisper model directory) or engine")
            engine = shared_engine(model_dir, cpu_threads=cpu_threads)
        self.engine = engine
        self.api_keys: set[str] = set(api_keys)
        self.fail_jobs = fail_jobs
        self.fail_next = fail_next
        self.queue_delay = queue_delay
        self.delay = delay
        self.requests = RequestLog()
        self._own_work_dir = work_dir is None
        self.work_dir = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="emu-"))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._queue: asyncio.Queue[str] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._closing = False

    # -- hooks for subclasses ------------------------------------------------------------------

    def _key_of(self, request: web.Request) -> str | None:
        raise NotImplementedError

    def _add_routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def _run_job(self, job_id: str) -> None:
        raise NotImplementedError

    # -- application ---------------------------------------------------------------------------

    def app(self) -> web.Application:
        """A fresh aiohttp application serving this emulator (its state lives on ``self``)."""
        app = web.Application(
            middlewares=[log_middleware(self.requests, self._key_of)],
            client_max_size=64 * 1024 * 1024,
        )
        self._add_routes(app)
        app.on_startup.append(self._on_startup)
        app.on_cleanup.append(self._on_cleanup)
        return app

    async def _on_startup(self, app: web.Application) -> None:
        self._closing = False
        self._queue = asyncio.Queue()
        self._session = aiohttp.ClientSession()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="emulator-stt")
        self._worker = asyncio.get_running_loop().create_task(self._work())

    async def _on_cleanup(self, app: web.Application) -> None:
        self._closing = True
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
        if self._executor is not None:
            # A transcription in flight sees _closing and stops after its current segment.
            await asyncio.to_thread(self._executor.shutdown, True)
        if self._session is not None:
            await self._session.close()
        if self._own_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "the application is not running"
        return self._session

    def _enqueue(self, job_id: str) -> None:
        assert self._queue is not None, "the application is not running"
        self._queue.put_nowait(job_id)

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            job_id = await self._queue.get()
            try:
                await self._run_job(job_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug in the emulator must not stop the queue
                log.exception("job %s crashed the emulator", job_id)

    def _take_failure(self) -> bool:
        """Whether the job being started is to fail (consumes one ``fail_next``)."""
        if self.fail_jobs:
            return True
        if self.fail_next > 0:
            self.fail_next -= 1
            return True
        return False

    async def _transcribe(
        self, audio_path: Path, should_stop: Callable[[], bool], **options: Any
    ) -> Transcription:
        """Run the engine in a worker thread so the server keeps answering meanwhile."""
        call = functools.partial(
            self.engine.transcribe,
            audio_path,
            should_stop=lambda: self._closing or should_stop(),
            **options,
        )
        return await asyncio.get_running_loop().run_in_executor(self._executor, call)


# --------------------------------------------------------------------------------------------
# Running an emulator from synchronous code
# --------------------------------------------------------------------------------------------


class BackgroundEmulator:
    """Serve an emulator (or any aiohttp app) on 127.0.0.1 in its own thread and event loop.

    ``with BackgroundEmulator(GladiaEmulator(model_dir=...)) as server: server.base_url``.
    The port is chosen by the OS unless ``port`` is given.
    """

    def __init__(self, target: EmulatorBase | web.Application, *, port: int = 0) -> None:
        self.emulator = target if isinstance(target, EmulatorBase) else None
        self._app = target.app() if isinstance(target, EmulatorBase) else target
        self._requested_port = port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="provider-emulator", daemon=True
        )
        self._runner: web.AppRunner | None = None
        self.port = 0

    def start(self) -> BackgroundEmulator:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    async def _start(self) -> None:
        self._runner = web.AppRunner(self._app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._requested_port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(60)
            self._runner = None
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(30)
        if not self._thread.is_alive():
            self._loop.close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> BackgroundEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
