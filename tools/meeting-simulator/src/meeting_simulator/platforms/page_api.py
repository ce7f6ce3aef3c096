"""What every simulated platform's pages share: the application's keys, static and audio files, and
the page API's common calls (the long-polled view, leave, dialog, utterance reports, camera frames,
microphone recordings).

A platform builds its application with `platform_app`, saying how it finds its meetings and what
its page sees, then adds its own pages and calls.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any

from aiohttp import web
from PIL import Image, UnidentifiedImageError

from ..meetings import CameraFrame, ConfigError, Guest, Meeting, MeetingStore
from ..speech import SpeechSynthesizer

STORE = web.AppKey("store", MeetingStore)
SYNTH = web.AppKey("synthesizer", SpeechSynthesizer)
FIND = web.AppKey("find_meeting", Callable[[web.Request], Meeting | None])
PAGE_VIEW = web.AppKey("page_view", Callable[[Meeting, Guest | None], dict[str, Any]])
STATIC = web.AppKey("static", tuple[str, dict[str, str]])

AUDIO_PATH = "/_sim/audio"
LONG_POLL_SECONDS = 15.0
NO_STORE = {"Cache-Control": "no-store"}
UTTERANCE_ROUTE = "/_sim/api/{code}/guests/{guest}/utterances/{index:\\d+}"
CAMERA_ROUTE = "/_sim/api/{code}/guests/{guest}/camera"
MICROPHONE_ROUTE = "/_sim/api/{code}/guests/{guest}/microphone"
COMMON_PATH = "/_sim/common"
COMMON_FILES = {"camera.js": "application/javascript", "microphone.js": "application/javascript",
                "video.js": "application/javascript"}
COMMON_SCRIPTS = "".join(
    f'<script src="{COMMON_PATH}/{name}" defer></script>' for name in COMMON_FILES
)
"""The shared camera, microphone and remote video modules (`static/common/`); a page loads them
before its own script."""
CAMERA_MAX_BYTES = 2 * 1024 * 1024
CAMERA_TYPES = ("image/jpeg", "image/png")
MICROPHONE_MAX_BYTES = 64 * 1024 * 1024
"""The most a guest's microphone recording keeps; chunks that would go beyond are refused."""
MICROPHONE_TYPE = "audio/webm"
WEBM_MAGIC = b"\x1a\x45\xdf\xa3"
"""The EBML header every WebM file, and so a microphone recording's first chunk, begins with."""


def static_text(folder: str, name: str) -> str:
    return resources.files("meeting_simulator").joinpath("static", folder, name).read_text("utf-8")


def meeting_of(request: web.Request) -> Meeting:
    meeting = request.app[FIND](request)
    if meeting is None:
        raise web.HTTPNotFound()
    return meeting


def guest_of(meeting: Meeting, guest_id: str | None) -> Guest:
    guest = meeting.guest(guest_id or "")
    if guest is None:
        raise web.HTTPNotFound()
    return guest


async def json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest()
    if not isinstance(body, dict):
        raise web.HTTPBadRequest()
    return body


def view(request: web.Request, meeting: Meeting, guest: Guest | None) -> web.Response:
    """What the page of `guest` sees now."""
    return web.json_response(request.app[PAGE_VIEW](meeting, guest), headers=NO_STORE)


async def static_file(request: web.Request) -> web.Response:
    folder, files = request.app[STATIC]
    name = request.match_info["name"]
    if name not in files:
        raise web.HTTPNotFound()
    return web.Response(text=static_text(folder, name), content_type=files[name], headers=NO_STORE)


async def common_file(request: web.Request) -> web.Response:
    """The scripts every platform's pages share (`static/common/`)."""
    name = request.match_info["name"]
    if name not in COMMON_FILES:
        raise web.HTTPNotFound()
    return web.Response(
        text=static_text("common", name), content_type=COMMON_FILES[name], headers=NO_STORE
    )


async def audio_file(request: web.Request) -> web.StreamResponse:
    clip = request.app[SYNTH].clip(request.match_info["key"])
    if clip is None:
        raise web.HTTPNotFound()
    return web.FileResponse(clip.path, headers={"Content-Type": "audio/wav"})


async def favicon(request: web.Request) -> web.Response:
    return web.Response(status=204)


async def api_view(request: web.Request) -> web.Response:
    """The page's view; with `since`, long-polled until the meeting changes."""
    meeting = meeting_of(request)
    guest_id = request.query.get("guest")
    guest = guest_of(meeting, guest_id) if guest_id else None
    since = request.query.get("since")
    if since is not None and since.lstrip("-").isdigit():
        if guest is not None:
            meeting.guest_seen(guest)
        await meeting.wait_changed(int(since), LONG_POLL_SECONDS)
        if request.app[STORE].find(meeting.code) is not meeting:
            raise web.HTTPNotFound()
    if guest is not None:
        meeting.guest_seen(guest)
    return view(request, meeting, guest)


async def api_leave(request: web.Request) -> web.Response:
    meeting = meeting_of(request)
    guest = guest_of(meeting, request.match_info["guest"])
    meeting.guest_leaves(guest)
    return view(request, meeting, guest)


async def api_dialog(request: web.Request) -> web.Response:
    meeting = meeting_of(request)
    guest = guest_of(meeting, request.match_info["guest"])
    meeting.accept_dialog(guest)
    return view(request, meeting, guest)


async def report_utterance(request: web.Request, meeting: Meeting) -> web.Response:
    """Record when the page played an utterance (the ground truth of speaker timings)."""
    body = await json_object(request)
    start, end = body.get("actual_start"), body.get("actual_end")
    for value in (start, end):
        if value is not None and not isinstance(value, (int, float)):
            raise web.HTTPBadRequest()
    try:
        meeting.report_utterance(int(request.match_info["index"]), start, end)
    except ConfigError:
        raise web.HTTPNotFound()
    return web.json_response({"ok": True})


async def api_utterance(request: web.Request) -> web.Response:
    meeting = meeting_of(request)
    guest_of(meeting, request.match_info["guest"])
    return await report_utterance(request, meeting)


IMAGE_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}


def image_size(data: bytes, content_type: str) -> tuple[int, int] | None:
    """Width and height of a JPEG or PNG (read from its header); None if `data` is not one."""
    try:
        with Image.open(io.BytesIO(data), formats=[IMAGE_FORMATS[content_type]]) as image:
            return image.size
    except (UnidentifiedImageError, OSError, ValueError, KeyError, SyntaxError):
        return None


async def api_camera(request: web.Request) -> web.Response:
    """The page posts what its camera shows now (`static/common/camera.js`): only the latest is kept.

    404 unknown meeting or guest, 415 not `image/jpeg` / `image/png`, 413 above 2 MiB, 400 not
    that image, 409 the guest is not in the call (nobody would see the camera)."""
    meeting = meeting_of(request)
    guest = guest_of(meeting, request.match_info["guest"])
    content_type = request.content_type
    if content_type not in CAMERA_TYPES:
        raise web.HTTPUnsupportedMediaType()
    length = request.content_length
    if length is not None and length > CAMERA_MAX_BYTES:
        raise web.HTTPRequestEntityTooLarge(CAMERA_MAX_BYTES, length)
    data = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > CAMERA_MAX_BYTES:
            raise web.HTTPRequestEntityTooLarge(CAMERA_MAX_BYTES, len(data))
    size = image_size(bytes(data), content_type)
    if size is None:
        raise web.HTTPBadRequest(text=f"the body is not a {content_type} image")
    if not guest.in_call:
        raise web.HTTPConflict(text="the guest is not in the call")
    guest.store_camera_frame(
        CameraFrame(
            data=bytes(data),
            content_type=content_type,
            width=size[0],
            height=size[1],
            received_at=time.time(),
            received_monotonic=time.monotonic(),
        )
    )
    return web.json_response({"ok": True, "width": size[0], "height": size[1]}, headers=NO_STORE)


async def api_microphone(request: web.Request) -> web.Response:
    """The page posts the next chunk of what its microphone recorded (`static/common/microphone.js`):
    chunks are appended, in the order they arrive, to the guest's one recording; `?last=1` marks
    the last chunk and closes the recording.

    404 unknown meeting or guest, 415 not `audio/webm`, 409 the guest was never in the call or its
    recording is closed, 400 a recording that does not begin with a WebM header, 413 a chunk that
    would take the recording beyond 64 MiB, and every chunk after it (so that what is kept stays
    one unbroken stream; a refused last chunk still closes the recording)."""
    meeting = meeting_of(request)
    guest = guest_of(meeting, request.match_info["guest"])
    if request.content_type != MICROPHONE_TYPE:
        raise web.HTTPUnsupportedMediaType()
    if guest.admitted_at is None:
        raise web.HTTPConflict(text="the guest has not been in the call")
    if guest.microphone_stopped_at is not None:
        raise web.HTTPConflict(text="the guest's microphone recording is closed")
    last = request.query.get("last") == "1"
    room = guest.microphone_room(MICROPHONE_MAX_BYTES)
    length = request.content_length
    if length is not None and length > room:
        guest.refuse_microphone(last=last)
        raise web.HTTPRequestEntityTooLarge(MICROPHONE_MAX_BYTES, len(guest.microphone) + length)
    data = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > room:
            guest.refuse_microphone(last=last)
            raise web.HTTPRequestEntityTooLarge(MICROPHONE_MAX_BYTES, len(guest.microphone) + len(data))
    if not guest.microphone and data and not data.startswith(WEBM_MAGIC):
        raise web.HTTPBadRequest(text="the recording does not begin with a WebM header")
    if guest.microphone_stopped_at is not None:  # closed by another post while this one was read
        raise web.HTTPConflict(text="the guest's microphone recording is closed")
    if not guest.append_microphone(bytes(data), last=last, limit=MICROPHONE_MAX_BYTES):
        raise web.HTTPRequestEntityTooLarge(MICROPHONE_MAX_BYTES, len(guest.microphone) + len(data))
    return web.json_response(
        {"ok": True, "bytes": len(guest.microphone), "stopped": last}, headers=NO_STORE
    )


def platform_app(
    store: MeetingStore,
    synthesizer: SpeechSynthesizer,
    *,
    find: Callable[[web.Request], Meeting | None],
    page_view: Callable[[Meeting, Guest | None], dict[str, Any]],
    static_folder: str,
    static_files: dict[str, str],
    middlewares: Sequence[Any] = (),
) -> web.Application:
    """An application with the shared routes: favicon, static, common and audio files, view, leave,
    dialog, camera frames and microphone chunks. Utterance reports are the platform's to add (`api_utterance` or its
    own)."""
    app = web.Application(middlewares=list(middlewares))
    app[STORE] = store
    app[SYNTH] = synthesizer
    app[FIND] = find
    app[PAGE_VIEW] = page_view
    app[STATIC] = (static_folder, static_files)
    r = app.router
    r.add_get("/favicon.ico", favicon)
    r.add_get("/_sim/static/{name}", static_file)
    r.add_get(COMMON_PATH + "/{name}", common_file)
    r.add_get(AUDIO_PATH + "/{key:[0-9a-f]+}.wav", audio_file)
    r.add_get("/_sim/api/{code}/view", api_view)
    r.add_post("/_sim/api/{code}/guests/{guest}/leave", api_leave)
    r.add_post("/_sim/api/{code}/guests/{guest}/dialog", api_dialog)
    r.add_post(CAMERA_ROUTE, api_camera)
    r.add_post(MICROPHONE_ROUTE, api_microphone)
    return app
