"""Owns the control API: plain-HTTP JSON endpoints that tests use to script meetings and read them back."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .meetings import (
    ConfigError,
    Guest,
    Meeting,
    MeetingExists,
    MeetingNotFound,
    MeetingStore,
    normalize_meet_code,
)

STORE = web.AppKey("store", MeetingStore)
INFO = web.AppKey("info", dict)


@web.middleware
async def json_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except ConfigError as exc:
        return _error(400, str(exc))
    except MeetingNotFound as exc:
        return _error(404, f"no meeting {exc.args[0]!r}")
    except MeetingExists as exc:
        return _error(409, f"meeting {exc.args[0]!r} already exists")
    except web.HTTPException as exc:
        if exc.status >= 400:
            return _error(exc.status, exc.reason)
        raise


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except json.JSONDecodeError as exc:
        raise ConfigError(f"invalid JSON: {exc}") from exc
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ConfigError("the body must be a JSON object")
    return body


def _code(request: web.Request) -> str:
    raw = request.match_info["code"]
    return normalize_meet_code(raw) or raw


def _meeting(request: web.Request) -> Meeting:
    return request.app[STORE].get(_code(request))


def _guest(request: web.Request) -> Guest:
    """The guest the path names (a 404 if the meeting has no such guest)."""
    meeting = _meeting(request)
    guest_id = request.match_info["guest_id"]
    guest = meeting.guest(guest_id)
    if guest is None:
        raise web.HTTPNotFound(reason=f"no guest {guest_id!r} in meeting {meeting.code!r}")
    return guest


def _optional_name(body: dict[str, Any]) -> str | None:
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise ConfigError("name must be a string")
    return name


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, **request.app[INFO]})


async def create_meeting(request: web.Request) -> web.Response:
    meeting = await request.app[STORE].create(await _body(request))
    return web.json_response(meeting.state(), status=201)


async def list_meetings(request: web.Request) -> web.Response:
    return web.json_response([m.state() for m in request.app[STORE].all()])


async def get_meeting(request: web.Request) -> web.Response:
    return web.json_response(_meeting(request).state())


async def end_meeting(request: web.Request) -> web.Response:
    meeting = _meeting(request)
    meeting.end("host_ended")
    return web.json_response(meeting.state())


async def remove_guest(request: web.Request) -> web.Response:
    meeting = _meeting(request)
    meeting.remove(_optional_name(await _body(request)))
    return web.json_response(meeting.state())


async def admit_guests(request: web.Request) -> web.Response:
    meeting = _meeting(request)
    meeting.admit_waiting(_optional_name(await _body(request)))
    return web.json_response(meeting.state())


async def deny_guests(request: web.Request) -> web.Response:
    meeting = _meeting(request)
    meeting.deny_waiting(_optional_name(await _body(request)))
    return web.json_response(meeting.state())


async def post_chat(request: web.Request) -> web.Response:
    meeting = _meeting(request)
    body = await _body(request)
    sender, text = body.get("sender"), body.get("text")
    if not isinstance(sender, str) or not isinstance(text, str) or not text:
        raise ConfigError("chat needs a sender and a non-empty text")
    message = meeting.post_chat(sender, text)
    return web.json_response(message.state(), status=201)


async def camera_frame(request: web.Request) -> web.Response:
    """The latest frame a guest's page posted of its camera: what the others see of it."""
    guest = _guest(request)
    frame = guest.camera
    if frame is None:
        return _error(404, f"guest {guest.id!r} has posted no camera frame")
    return web.Response(
        body=frame.data,
        content_type=frame.content_type,
        headers={
            "Cache-Control": "no-store",
            "X-Frame-At": repr(frame.received_at),
            "X-Frame-Width": str(frame.width),
            "X-Frame-Height": str(frame.height),
        },
    )


async def microphone_audio(request: web.Request) -> web.Response:
    """What a guest's page recorded of its microphone, all of it so far: what the others heard."""
    guest = _guest(request)
    if not guest.microphone:
        return _error(404, f"guest {guest.id!r} has posted no microphone audio")
    headers = {"Cache-Control": "no-store", "X-Microphone-Chunks": str(guest.microphone_chunks)}
    if guest.microphone_stopped_at is not None:
        headers["X-Microphone-Stopped-At"] = repr(guest.microphone_stopped_at)
    return web.Response(body=bytes(guest.microphone), content_type="audio/webm", headers=headers)


async def delete_meeting(request: web.Request) -> web.Response:
    request.app[STORE].delete(_code(request))
    return web.Response(status=204)


def create_control_app(store: MeetingStore, info: dict[str, Any]) -> web.Application:
    app = web.Application(middlewares=[json_errors])
    app[STORE] = store
    app[INFO] = info
    app.router.add_get("/health", health)
    app.router.add_post("/meetings", create_meeting)
    app.router.add_get("/meetings", list_meetings)
    app.router.add_get("/meetings/{code}", get_meeting)
    app.router.add_delete("/meetings/{code}", delete_meeting)
    app.router.add_post("/meetings/{code}/end", end_meeting)
    app.router.add_post("/meetings/{code}/remove", remove_guest)
    app.router.add_post("/meetings/{code}/admit", admit_guests)
    app.router.add_post("/meetings/{code}/deny", deny_guests)
    app.router.add_post("/meetings/{code}/chat", post_chat)
    app.router.add_get("/meetings/{code}/guests/{guest_id}/camera", camera_frame)
    app.router.add_get("/meetings/{code}/guests/{guest_id}/microphone", microphone_audio)
    return app
