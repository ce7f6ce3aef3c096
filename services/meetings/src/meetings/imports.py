"""Importing a meeting from a file URL: the file fetched through the SSRF guard within a size and
a time limit, checked to be audio or video that ffmpeg reads, and turned into the recording
(the file as it came) and the 16 kHz mono audio the transcriber works from.

A refusal the customer can act on (not found, too big, not media, not a public address) is an
`ImportRefused`; what may pass (the host unreachable, a 5xx, a timeout) is `ImportUnavailable`,
tried again with backoff before the import fails.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from yarl import URL

from mb_shared.processes import die_with_parent
from mb_shared.storage import ObjectStore
from mb_shared.url_guard import AddressNotPublic, OutboundPolicy, UnsafeUrl, check_url
from meetings.ports import StoredImport

log = logging.getLogger(__name__)

CHUNK = 1 << 16
MAX_REDIRECTS = 5
AUDIO_RATE = 16_000


class ImportRefused(Exception):
    """The file cannot be imported, and asking again will not change that."""


class ImportUnavailable(Exception):
    """The file could not be fetched this time."""


@dataclass(frozen=True)
class Media:
    duration_s: float
    format: str
    """The file's kind as a file extension: mp4, webm, mp3, wav, ogg, ..."""
    content_type: str


_FORMATS = {  # ffprobe's format names, first of each list, to an extension and a content type
    "mov": ("mp4", "video/mp4"), "mp4": ("mp4", "video/mp4"), "matroska": ("mkv", "video/x-matroska"),
    "webm": ("webm", "video/webm"), "mp3": ("mp3", "audio/mpeg"), "wav": ("wav", "audio/wav"),
    "ogg": ("ogg", "audio/ogg"), "flac": ("flac", "audio/flac"), "aac": ("aac", "audio/aac"),
    "avi": ("avi", "video/x-msvideo"), "asf": ("wma", "audio/x-ms-wma"),
}


async def fetch(session: aiohttp.ClientSession, url: str, dest: Path, *, max_bytes: int,
                timeout_s: float, policy: OutboundPolicy) -> None:
    """`url` into `dest`, or a refusal saying why. Redirects are followed by hand, each target
    checked as the first URL was; the session's guarded connector checks every address it
    connects to."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    try:
        for hop in range(MAX_REDIRECTS + 1):
            _check(url, redirected=hop > 0, policy=policy)
            left = deadline - asyncio.get_running_loop().time()
            timeout = aiohttp.ClientTimeout(total=max(left, 0.001),
                                            sock_connect=min(30.0, timeout_s))
            async with session.get(url, timeout=timeout, allow_redirects=False) as response:
                if response.status in (301, 302, 303, 307, 308) and "Location" in response.headers:
                    url = str(response.url.join(URL(response.headers["Location"])))
                    continue
                _check_status(response)
                await _save(response, dest, max_bytes)
                return
        raise ImportRefused(f"file_url: more than {MAX_REDIRECTS} redirects")
    except (ImportRefused, ImportUnavailable):
        raise
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, AddressNotPublic):
            raise ImportRefused(f"file_url: {exc.os_error}") from None
        raise ImportUnavailable(f"file_url could not be reached: {exc.os_error}") from None
    except TimeoutError:
        raise ImportUnavailable(f"file_url: not fetched within {timeout_s:g} s") from None
    except aiohttp.ClientError as exc:
        raise ImportUnavailable(f"file_url could not be fetched: {exc}") from None


def _check(url: str, *, redirected: bool, policy: OutboundPolicy) -> None:
    try:
        check_url(url, policy=policy)
    except UnsafeUrl as exc:
        where = "file_url redirected to a URL that is not allowed" if redirected else "file_url"
        raise ImportRefused(f"{where}: {exc}") from None


def _check_status(response: aiohttp.ClientResponse) -> None:
    if response.status >= 500 or response.status in (408, 429):
        raise ImportUnavailable(f"file_url answered {response.status}")
    if response.status >= 300:
        raise ImportRefused(f"file_url answered {response.status} {response.reason}")


async def _save(response: aiohttp.ClientResponse, dest: Path, max_bytes: int) -> None:
    if response.content_length is not None and response.content_length > max_bytes:
        raise ImportRefused(_too_big(max_bytes, response.content_length))
    size = 0
    with dest.open("wb") as out:
        async for chunk in response.content.iter_chunked(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise ImportRefused(_too_big(max_bytes))
            out.write(chunk)
    if size == 0:
        raise ImportRefused("file_url: the file is empty")


def _too_big(max_bytes: int, size: int | None = None) -> str:
    limit = f"{max_bytes / 1e6:g} MB"
    return (f"file_url: the file is {size / 1e6:.1f} MB, over the {limit} limit" if size
            else f"file_url: the file is over the {limit} limit")


async def _run(*command: str, timeout_s: float) -> tuple[int, str, str]:
    """ffmpeg or ffprobe on a fetched file: killed when it overruns, when the import is
    cancelled, and when this service dies. Overrunning is the file's doing: a refusal."""
    process = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        preexec_fn=die_with_parent)  # noqa: PLW1509 - prctl only, no locks taken
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout_s)
    except TimeoutError:
        raise ImportRefused(f"file_url: the file could not be read within {timeout_s:g} s"
                            ) from None
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return process.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


async def probe(path: Path) -> Media:
    """What the file holds, or a refusal when ffmpeg cannot read sound from it."""
    code, out, _ = await _run("ffprobe", "-v", "error", "-show_format", "-show_streams",
                              "-of", "json", str(path), timeout_s=120)
    info = json.loads(out or "{}") if code == 0 else {}
    streams = info.get("streams", [])
    if not streams or not info.get("format"):
        raise ImportRefused("file_url: not an audio or video file")
    if not any(s.get("codec_type") == "audio" for s in streams):
        raise ImportRefused("file_url: the file has no sound to transcribe")
    names = info["format"].get("format_name", "").split(",")
    extension, content_type = next((_FORMATS[n] for n in names if n in _FORMATS),
                                   (names[0] or "bin", "application/octet-stream"))
    try:
        duration = float(info["format"].get("duration") or 0.0)
    except ValueError:
        duration = 0.0
    return Media(duration_s=duration, format=extension, content_type=content_type)


async def extract_audio(source: Path, dest: Path, timeout_s: float) -> None:
    """The file's sound as 16 kHz mono WAV, what the transcriber and speaker finding read."""
    code, _, err = await _run("ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(source),
                              "-vn", "-ac", "1", "-ar", str(AUDIO_RATE), "-c:a", "pcm_s16le",
                              str(dest), timeout_s=timeout_s)
    if code != 0:
        raise ImportRefused(f"file_url: its sound could not be decoded ({err.strip()[:200]})")


class FileImporter:
    """Fetches, checks and stores imported files (`meetings.ports.Importer`)."""

    def __init__(self, files: ObjectStore, session: Callable[[], aiohttp.ClientSession],
                 policy: OutboundPolicy, work_dir: Path, *, max_bytes: int,
                 timeout_s: float) -> None:
        self._files = files
        self._session = session
        self._policy = policy
        self._work_dir = work_dir
        self._max_bytes = max_bytes
        self._timeout_s = timeout_s

    async def store(self, url: str, prefix: str) -> StoredImport:
        self._work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self._work_dir) as work:
            source, audio = Path(work) / "source", Path(work) / "audio.wav"
            await fetch(self._session(), url, source, max_bytes=self._max_bytes,
                        timeout_s=self._timeout_s, policy=self._policy)
            media = await probe(source)
            await extract_audio(source, audio, timeout_s=max(120.0, media.duration_s))
            recording = f"{prefix}recording.{media.format}"
            await self._files.put_file(recording, source, media.content_type)
            await self._files.put_file(f"{prefix}audio.wav", audio, "audio/wav")
        return StoredImport(recording=recording, audio=f"{prefix}audio.wav",
                            format=media.format, duration_s=media.duration_s)

    async def forget(self, prefix: str) -> None:
        await self._files.delete_prefix(prefix)
