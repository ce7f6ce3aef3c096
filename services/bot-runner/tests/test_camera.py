"""The bot's camera picture: what is fetched (public addresses only, size and time limits,
redirects), how the picture is fitted, and the name card that replaces an unusable image."""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web
from PIL import Image

from bot_runner.camera import (
    CARD_BACKGROUND,
    FRAME_SIZE,
    IMAGE_BACKGROUND,
    ImagePolicy,
    ImageUnavailable,
    fetch_image,
    image_frame,
    name_card,
    prepare_camera,
)
from mb_shared.url_guard import OutboundPolicy

LOCAL = ImagePolicy(max_bytes=64 * 1024, timeout_s=2.0,
                    outbound=OutboundPolicy(allow_loopback=True))
PUBLIC_ONLY = ImagePolicy(max_bytes=64 * 1024, timeout_s=2.0, outbound=OutboundPolicy())


def png(size: tuple[int, int], color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "PNG")
    return out.getvalue()


RED_SQUARE = png((90, 90), (220, 20, 20))


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.Response(body=RED_SQUARE, content_type="image/png")


async def endless(request: web.Request) -> web.StreamResponse:
    """A body with no length that never stops: only the size limit ends it."""
    response = web.StreamResponse()
    await response.prepare(request)
    for _ in range(1000):
        await response.write(b"\0" * 8192)
    return response


@pytest.fixture(scope="module")
async def image_server() -> AsyncIterator[str]:
    app = web.Application()
    r = app.router
    r.add_get("/red.png", lambda _: web.Response(body=RED_SQUARE, content_type="image/png"))
    r.add_get("/text", lambda _: web.Response(text="not a picture"))
    r.add_get("/huge.png", lambda _: web.Response(body=b"\0" * (LOCAL.max_bytes + 1),
                                                  content_type="image/png"))
    r.add_get("/endless", endless)
    r.add_get("/slow.png", slow)
    r.add_get("/missing.png", lambda _: web.Response(status=404))
    r.add_get("/moved", lambda _: web.HTTPFound("/red.png"))
    r.add_get("/loop", lambda _: web.HTTPFound("/loop"))
    r.add_get("/to-file", lambda _: web.HTTPFound("file:///etc/passwd"))
    r.add_get("/to-private", lambda _: web.HTTPFound("http://10.0.0.1/x.png"))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_a_local_image_is_fetched_when_private_addresses_are_allowed(image_server):
    assert await fetch_image(f"{image_server}/red.png", LOCAL) == RED_SQUARE
    assert await fetch_image(f"{image_server}/moved", LOCAL) == RED_SQUARE


@pytest.mark.parametrize(("url", "reason"), [
    ("http://127.0.0.1:9/x.png", "127.0.0.1 is not a public address"),
    ("http://[::1]:9/x.png", r"\[::1\] is not a public address"),
    ("http://localhost:9/x.png", "localhost is a local or internal name"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is not a public address"),
    ("http://camera/x.png", "camera is a single-label name"),
])
async def test_private_addresses_are_refused_by_default(url, reason):
    with pytest.raises(ImageUnavailable, match=f"bot_image refused: the host {reason}"):
        await fetch_image(url, PUBLIC_ONLY)


async def test_a_redirect_to_a_private_address_is_refused(image_server):
    with pytest.raises(ImageUnavailable, match="10.0.0.1 is not a public address"):
        await fetch_image(f"{image_server}/to-private", LOCAL)


@pytest.mark.parametrize(("path", "reason"), [
    ("/missing.png", "answered HTTP 404"),
    ("/huge.png", "larger than"),
    ("/endless", "larger than"),
    ("/slow.png", "did not arrive within 2 s"),
    ("/loop", "redirects more than 3 times"),
    ("/to-file", "not an http"),
])
async def test_every_unusable_answer_is_a_reason(image_server, path, reason):
    with pytest.raises(ImageUnavailable, match=reason):
        await fetch_image(f"{image_server}{path}", LOCAL)


@pytest.mark.parametrize("url", ["ftp://example.com/a.png", "file:///etc/passwd", "data:,x"])
async def test_only_http_urls_are_fetched(url):
    with pytest.raises(ImageUnavailable, match="not an http"):
        await fetch_image(url, LOCAL)


def test_a_picture_is_fitted_inside_the_frame_with_its_aspect_kept():
    frame = np.asarray(image_frame(RED_SQUARE))
    assert frame.shape == (FRAME_SIZE[1], FRAME_SIZE[0], 3)
    assert tuple(frame[180, 320]) == (220, 20, 20)
    assert tuple(frame[180, 20]) == IMAGE_BACKGROUND  # a square leaves bars left and right
    assert tuple(frame[180, 620]) == IMAGE_BACKGROUND


@pytest.mark.parametrize("data", [b"not a picture", b"%PDF-1.4\n", b"\x89PNG\r\n\x1a\n broken"])
def test_what_is_not_a_picture_is_refused(data):
    with pytest.raises(ImageUnavailable, match="not an image"):
        image_frame(data)


def test_the_name_card_is_plain_with_the_name_in_the_middle():
    card = np.asarray(name_card("Notetaker"))
    background = np.all(card == CARD_BACKGROUND, axis=2)
    assert background[:100].all() and background[-100:].all()
    assert not background[150:210, 200:440].all()  # the text


def y4m_frame(path: Path) -> np.ndarray:
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", str(path)],
        capture_output=True, check=True).stdout)["streams"][0]
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-frames:v", "1", "-f",
                          "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True)
    return np.frombuffer(raw.stdout, np.uint8).reshape(probe["height"], probe["width"], 3)


async def test_the_camera_shows_the_image_or_else_the_name(image_server, tmp_path):
    def prepare(url: str | None, folder: str) -> np.ndarray:
        (tmp_path / folder).mkdir()
        return y4m_frame(prepare_camera(url, "Notetaker", tmp_path / folder, LOCAL))

    image = await asyncio.to_thread(prepare, f"{image_server}/red.png", "image")
    assert np.abs(image[180, 320].astype(int) - (220, 20, 20)).max() < 12
    for folder, url in (("none", None), ("missing", f"{image_server}/missing.png"),
                        ("text", f"{image_server}/text")):
        card = await asyncio.to_thread(prepare, url, folder)
        assert card.shape == (360, 640, 3)
        assert np.abs(card[10, 10].astype(int) - CARD_BACKGROUND).max() < 12
