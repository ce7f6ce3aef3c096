"""The bot's camera: the picture other participants see, written as the video file that Chromium
presents as its camera (`--use-file-for-fake-video-capture`).

A caller's `bot_image` is fetched with a size limit and a time limit, through the platform's SSRF
guard (`mb_shared.url_guard`: public addresses only, checked on the URL, on every redirect and on
the addresses connected), decoded and fitted to the frame. Without one, or when it cannot be used,
the camera shows a plain card with the bot's name.
"""

from __future__ import annotations

import asyncio
import io
import logging
import subprocess
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError
from yarl import URL

from mb_shared.url_guard import (
    AddressNotPublic,
    OutboundPolicy,
    UnsafeUrl,
    check_url,
    guarded_session,
)

log = logging.getLogger(__name__)

FRAME_SIZE = (640, 360)
FRAME_RATE = 5
IMAGE_BACKGROUND = (32, 33, 36)
CARD_BACKGROUND = (60, 64, 67)
CARD_TEXT = (232, 234, 237)
IMAGE_FORMATS = {"PNG", "JPEG", "WEBP", "GIF", "BMP"}
MAX_PIXELS = 40_000_000
MAX_REDIRECTS = 3
REDIRECTS = {301, 302, 303, 307, 308}


class ImageUnavailable(Exception):
    """The bot_image cannot be shown; the message says why, without the URL's path or query."""


@dataclass(frozen=True)
class ImagePolicy:
    max_bytes: int = 5 * 1024 * 1024
    timeout_s: float = 10.0
    outbound: OutboundPolicy = field(default_factory=OutboundPolicy)


def _checked(url: str, policy: ImagePolicy) -> URL:
    """The URL to fetch, if it is an http(s) URL that the SSRF guard lets through (the guard
    checks the addresses again when connecting)."""
    try:
        target = URL(url)
    except ValueError:
        target = None
    if target is None or target.scheme not in ("http", "https") or not target.host:
        raise ImageUnavailable("bot_image is not an http(s) URL")
    try:
        check_url(url, policy=policy.outbound)
    except UnsafeUrl as exc:
        raise ImageUnavailable(f"bot_image refused: {exc}") from None
    return target


def _redirected(target: URL, location: str, policy: ImagePolicy) -> URL:
    try:
        joined = str(target.join(URL(location)))
    except ValueError:
        raise ImageUnavailable("bot_image redirects to something that is not a URL") from None
    return _checked(joined, policy)


async def fetch_image(url: str, policy: ImagePolicy) -> bytes:
    """The image's bytes; ImageUnavailable if it is not public, too big, too slow or not 200."""
    target = _checked(url, policy)
    try:
        async with asyncio.timeout(policy.timeout_s), guarded_session(
                policy.outbound, connector_kwargs={"force_close": True}) as session:
            for _ in range(MAX_REDIRECTS + 1):
                async with session.get(target, allow_redirects=False,
                                       headers={"Accept": "image/*"}) as response:
                    if response.status in REDIRECTS and "Location" in response.headers:
                        target = _redirected(target, response.headers["Location"], policy)
                        continue
                    if response.status != 200:
                        raise ImageUnavailable(
                            f"bot_image at {target.host} answered HTTP {response.status}")
                    return await _body(response, policy.max_bytes, target.host or "")
            raise ImageUnavailable(f"bot_image at {target.host} redirects more than "
                                   f"{MAX_REDIRECTS} times")
    except TimeoutError:
        raise ImageUnavailable(f"bot_image did not arrive within {policy.timeout_s:g} s") from None
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, AddressNotPublic):
            raise ImageUnavailable(f"bot_image host {exc.host} has no public address") from None
        raise ImageUnavailable(f"bot_image host {exc.host} could not be reached") from None
    except aiohttp.ClientError as exc:
        raise ImageUnavailable(f"bot_image could not be fetched ({type(exc).__name__})") from None


async def _body(response: aiohttp.ClientResponse, max_bytes: int, host: str) -> bytes:
    too_big = ImageUnavailable(f"bot_image at {host} is larger than {max_bytes} bytes")
    if (response.content_length or 0) > max_bytes:
        raise too_big
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > max_bytes:
            raise too_big
    return bytes(body)


def image_frame(data: bytes) -> Image.Image:
    """The picture fitted inside the camera frame (aspect kept, the rest a dark background)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in IMAGE_FORMATS:
                    raise ImageUnavailable(f"bot_image is a {image.format} file, not one of "
                                           f"{', '.join(sorted(IMAGE_FORMATS))}")
                if image.width * image.height > MAX_PIXELS:
                    raise ImageUnavailable(f"bot_image has more than {MAX_PIXELS} pixels")
                picture = ImageOps.exif_transpose(image).convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError,
            Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageUnavailable("bot_image is not an image the bot can read") from None
    picture = ImageOps.contain(picture, FRAME_SIZE)
    frame = Image.new("RGB", FRAME_SIZE, IMAGE_BACKGROUND)
    frame.paste(picture, ((FRAME_SIZE[0] - picture.width) // 2,
                          (FRAME_SIZE[1] - picture.height) // 2), picture)
    return frame


def name_card(name: str) -> Image.Image:
    """A plain card with the bot's name, centred, shrunk (then shortened) to fit."""
    width, height = FRAME_SIZE
    frame = Image.new("RGB", FRAME_SIZE, CARD_BACKGROUND)
    draw = ImageDraw.Draw(frame)
    text, size = name.strip() or "Bot", 48
    font = ImageFont.load_default(size=size)
    while draw.textlength(text, font=font) > width * 0.85:
        if size > 20:
            size -= 4
            font = ImageFont.load_default(size=size)
        else:
            text = text[:-2] + "…"
    draw.text((width / 2, height / 2), text, font=font, fill=CARD_TEXT, anchor="mm")
    return frame


def write_camera_video(frame: Image.Image, path: Path) -> Path:
    """One frame as a Y4M file, which Chromium's file camera repeats for as long as it runs."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
         "-s", f"{frame.width}x{frame.height}", "-r", str(FRAME_RATE), "-i", "pipe:0",
         "-frames:v", "1", "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", str(path)],
        input=frame.convert("RGB").tobytes(), check=True, capture_output=True, timeout=60,
    )
    return path


def prepare_camera(bot_image: str | None, bot_name: str, directory: Path,
                   policy: ImagePolicy) -> Path:
    """The camera video for a bot: its image when one is given and usable, else its name card."""
    frame = None
    if bot_image:
        try:
            frame = image_frame(asyncio.run(fetch_image(bot_image, policy)))
        except ImageUnavailable as exc:
            log.warning("%s; the camera shows the bot's name instead", exc)
    return write_camera_video(frame or name_card(bot_name), directory / "camera.y4m")


def camera_chromium_flags(video: Path) -> list[str]:
    return [f"--use-file-for-fake-video-capture={video}"]
