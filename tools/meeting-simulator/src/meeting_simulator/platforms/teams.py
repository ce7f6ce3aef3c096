"""Owns the Microsoft Teams stand-in: the launcher, the web client and the sign-in host.

`teams.microsoft.com` and `teams.live.com` serve the launcher ("Continue on this browser") for
meetup-join, `dl/launcher` and `/meet/<digits>` links, and the web client under `/v2/`, which reads
the meeting from `location.hash` in `teams.js`, as the real client does. `login.microsoftonline.com`
answers every path with a sign-in page. The page talks to the simulator under `/_sim/` on the same
origin (join info, long-polled state, join requests, chat, audio reports).
"""

from __future__ import annotations

import html
import json
from importlib import resources
from typing import Any

from aiohttp import web

from ..meetings import TEAMS_NUMERIC_ID, ConfigError, Guest, Meeting, MeetingStore
from ..speech import SpeechSynthesizer

LOGIN_HOST = "login.microsoftonline.com"
HOSTS: tuple[str, ...] = ("teams.microsoft.com", "teams.live.com", LOGIN_HOST)

STORE = web.AppKey("store", MeetingStore)
SYNTH = web.AppKey("synthesizer", SpeechSynthesizer)

AUDIO_PATH = "/_sim/audio"
STATIC_FILES = {
    "teams.js": "application/javascript",
    "launcher.js": "application/javascript",
    "mixed-audio.js": "application/javascript",
    "teams.css": "text/css",
}
LONG_POLL_SECONDS = 15.0
NO_STORE = {"Cache-Control": "no-store"}


def _static(name: str) -> str:
    return resources.files("meeting_simulator").joinpath("static", "teams", name).read_text("utf-8")


def _document(title: str, body: str, *, scripts: tuple[str, ...] = ()) -> str:
    tags = "".join(f'<script src="/_sim/static/{name}" defer></script>' for name in scripts)
    return (
        "<!doctype html>\n"
        f'<html lang="en-US" dir="ltr"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="stylesheet" href="/_sim/static/teams.css">{tags}</head>'
        f"<body>{body}</body></html>"
    )


def _page(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", headers=NO_STORE)


def _is_login_host(request: web.Request) -> bool:
    return (request.url.host or "").lower() == LOGIN_HOST


@web.middleware
async def login_host(request: web.Request, handler: Any) -> web.StreamResponse:
    """Every path on login.microsoftonline.com is the sign-in page; nothing else is served there."""
    if _is_login_host(request):
        if request.path == "/favicon.ico":
            return web.Response(status=204)
        return _sign_in_page()
    return await handler(request)


def _sign_in_page() -> web.Response:
    body = (
        '<main class="signin"><div class="signin-card">'
        '<div class="signin-logo" aria-hidden="true">Microsoft</div>'
        '<div role="heading" aria-level="1" class="signin-title">Sign in</div>'
        '<input type="email" name="loginfmt" aria-label="Enter your email, phone, or Skype."'
        ' placeholder="Email, phone, or Skype" autocomplete="username">'
        '<div class="signin-links"><a href="#">No account? Create one!</a>'
        '<a href="#">Can\'t access your account?</a></div>'
        '<div class="signin-actions"><input type="submit" class="btn btn-primary" value="Next">'
        "</div></div></main>"
    )
    return _page(_document("Sign in to your account", body))


async def landing(request: web.Request) -> web.Response:
    body = (
        '<main class="message-screen"><div class="brand" aria-hidden="true">Microsoft Teams</div>'
        "<h1>Meet, chat, call, and collaborate in just one place.</h1>"
        '<div class="message-actions"><a class="btn btn-primary" href="https://'
        f'{LOGIN_HOST}/common/oauth2/v2.0/authorize">Sign in</a></div></main>'
    )
    return _page(_document("Microsoft Teams", body))


async def launcher(request: web.Request) -> web.Response:
    """The launcher for every link form; `launcher.js` works out the meeting from the URL."""
    body = '<div id="launcher" class="launcher-root"></div>'
    return _page(_document("Join conversation", body, scripts=("launcher.js",)))


async def web_client(request: web.Request) -> web.Response:
    body = '<div id="app" class="app"></div>'
    return _page(
        _document("Microsoft Teams", body, scripts=("mixed-audio.js", "teams.js")),
    )


async def to_web_client(request: web.Request) -> web.Response:
    """`/v2` and the old `/_#/…` form: the browser keeps the fragment across the redirect."""
    raise web.HTTPFound("/v2/?meetingjoin=true")


async def static_file(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    return web.Response(text=_static(name), content_type=STATIC_FILES[name], headers=NO_STORE)


async def audio_file(request: web.Request) -> web.StreamResponse:
    clip = request.app[SYNTH].clip(request.match_info["key"])
    if clip is None:
        raise web.HTTPNotFound()
    return web.FileResponse(clip.path, headers={"Content-Type": "audio/wav"})


async def favicon(request: web.Request) -> web.Response:
    return web.Response(status=204)


# -- the page's API ------------------------------------------------------------------------------


def _find(request: web.Request) -> Meeting | None:
    meeting = request.app[STORE].find(request.match_info["code"])
    return meeting if meeting is not None and meeting.platform == "teams" else None


def _meeting(request: web.Request) -> Meeting:
    meeting = _find(request)
    if meeting is None:
        raise web.HTTPNotFound()
    return meeting


def _guest(meeting: Meeting, guest_id: str | None) -> Guest:
    guest = meeting.guest(guest_id or "")
    if guest is None:
        raise web.HTTPNotFound()
    return guest


def _passcode_problem(meeting: Meeting, given: str | None) -> str | None:
    """`/meet/<digits>` links carry the passcode in `p`; thread links need none."""
    expected = meeting.options.get("passcode")
    if not expected or not TEAMS_NUMERIC_ID.fullmatch(meeting.code):
        return None
    if not given:
        return "passcode_missing"
    return None if given == expected else "passcode_wrong"


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise web.HTTPBadRequest()
    if not isinstance(body, dict):
        raise web.HTTPBadRequest()
    return body


def _view(meeting: Meeting, guest: Guest | None) -> web.Response:
    view = meeting.page_view(guest, AUDIO_PATH)
    if not meeting.options.get("guest_chat") and "chat" in view:
        view["chat"] = []
    return web.json_response(view, headers=NO_STORE)


async def api_join_info(request: web.Request) -> web.Response:
    """What the web client learns before showing the pre-join screen."""
    meeting = _find(request)
    if meeting is None:
        return web.json_response({"ok": False, "reason": "not_found"}, headers=NO_STORE)
    problem = _passcode_problem(meeting, request.query.get("p"))
    if problem is not None:
        return web.json_response({"ok": False, "reason": problem}, headers=NO_STORE)
    options = meeting.options
    return web.json_response(
        {
            "ok": True,
            "require_sign_in": meeting.require_sign_in,
            "captcha": options.get("captcha", False),
            "guest_chat": options.get("guest_chat", False),
            "prejoin_modal": options.get("prejoin_modal", "none"),
            "toasts": options.get("toasts", True),
            "reject_synthetic_input": meeting.reject_synthetic_input,
        },
        headers=NO_STORE,
    )


async def api_view(request: web.Request) -> web.Response:
    meeting = _meeting(request)
    guest_id = request.query.get("guest")
    guest = _guest(meeting, guest_id) if guest_id else None
    since = request.query.get("since")
    if since is not None and since.lstrip("-").isdigit():
        if guest is not None:
            meeting.guest_seen(guest)
        await meeting.wait_changed(int(since), LONG_POLL_SECONDS)
        if request.app[STORE].find(meeting.code) is not meeting:
            raise web.HTTPNotFound()
    if guest is not None:
        meeting.guest_seen(guest)
    return _view(meeting, guest)


async def api_ask(request: web.Request) -> web.Response:
    meeting = _meeting(request)
    body = await _json(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise web.HTTPBadRequest()
    passcode = body.get("p")
    if _passcode_problem(meeting, passcode if isinstance(passcode, str) else None):
        raise web.HTTPForbidden()
    if meeting.require_sign_in or meeting.options.get("captcha"):
        raise web.HTTPForbidden()
    guest = meeting.ask_to_join(name.strip()[:60])
    return _view(meeting, guest)


async def api_leave(request: web.Request) -> web.Response:
    meeting = _meeting(request)
    guest = _guest(meeting, request.match_info["guest"])
    meeting.guest_leaves(guest)
    return _view(meeting, guest)


async def api_dialog(request: web.Request) -> web.Response:
    meeting = _meeting(request)
    guest = _guest(meeting, request.match_info["guest"])
    meeting.accept_dialog(guest)
    return _view(meeting, guest)


async def api_chat(request: web.Request) -> web.Response:
    meeting = _meeting(request)
    guest = _guest(meeting, request.match_info["guest"])
    if not meeting.options.get("guest_chat"):
        raise web.HTTPForbidden()
    text = (await _json(request)).get("text")
    if not guest.in_call or not isinstance(text, str) or not text.strip():
        raise web.HTTPBadRequest()
    meeting.guest_chat(guest, text.strip())
    return _view(meeting, guest)


async def api_utterance(request: web.Request) -> web.Response:
    meeting = _meeting(request)
    _guest(meeting, request.match_info["guest"])
    body = await _json(request)
    start, end = body.get("actual_start"), body.get("actual_end")
    for value in (start, end):
        if value is not None and not isinstance(value, (int, float)):
            raise web.HTTPBadRequest()
    try:
        meeting.report_utterance(int(request.match_info["index"]), start, end)
    except ConfigError:
        raise web.HTTPNotFound()
    return web.json_response({"ok": True})


def create_app(store: MeetingStore, synthesizer: SpeechSynthesizer) -> web.Application:
    app = web.Application(middlewares=[login_host])
    app[STORE] = store
    app[SYNTH] = synthesizer
    r = app.router
    r.add_get("/", landing)
    r.add_get("/favicon.ico", favicon)
    r.add_get("/_sim/static/{name}", static_file)
    r.add_get(AUDIO_PATH + "/{key:[0-9a-f]+}.wav", audio_file)
    r.add_get("/_sim/api/{code}/meeting", api_join_info)
    r.add_get("/_sim/api/{code}/view", api_view)
    r.add_post("/_sim/api/{code}/ask", api_ask)
    r.add_post("/_sim/api/{code}/guests/{guest}/leave", api_leave)
    r.add_post("/_sim/api/{code}/guests/{guest}/dialog", api_dialog)
    r.add_post("/_sim/api/{code}/guests/{guest}/chat", api_chat)
    r.add_post("/_sim/api/{code}/guests/{guest}/utterances/{index:\\d+}", api_utterance)
    r.add_get("/l/meetup-join/{thread}/{message}", launcher)
    r.add_get("/l/meetup-join/{thread}/{message}/", launcher)
    r.add_get("/dl/launcher/launcher.html", launcher)
    r.add_get("/meet/{meeting_id}", launcher)
    r.add_get("/v2/", web_client)
    r.add_get("/v2", to_web_client)
    r.add_get("/_", to_web_client)
    return app
