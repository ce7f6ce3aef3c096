"""What every simulated platform's pages share: the application's keys, static and audio files, and
the page API's common calls (the long-polled view, leave, dialog, utterance reports).

A platform builds its application with `platform_app`, saying how it finds its meetings and what
its page sees, then adds its own pages and calls.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any

from aiohttp import web

from ..meetings import ConfigError, Guest, Meeting, MeetingStore
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
    """An application with the shared routes: favicon, static and audio files, view, leave and
    dialog. Utterance reports are the platform's to add (`api_utterance` or its own)."""
    app = web.Application(middlewares=list(middlewares))
    app[STORE] = store
    app[SYNTH] = synthesizer
    app[FIND] = find
    app[PAGE_VIEW] = page_view
    app[STATIC] = (static_folder, static_files)
    r = app.router
    r.add_get("/favicon.ico", favicon)
    r.add_get("/_sim/static/{name}", static_file)
    r.add_get(AUDIO_PATH + "/{key:[0-9a-f]+}.wav", audio_file)
    r.add_get("/_sim/api/{code}/view", api_view)
    r.add_post("/_sim/api/{code}/guests/{guest}/leave", api_leave)
    r.add_post("/_sim/api/{code}/guests/{guest}/dialog", api_dialog)
    return app
