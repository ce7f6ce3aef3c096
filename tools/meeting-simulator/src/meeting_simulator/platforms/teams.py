"""Owns the Microsoft Teams stand-in: the launcher, the web client and the sign-in host.

`teams.microsoft.com` and `teams.live.com` serve the launcher ("Continue on this browser") for
meetup-join, `dl/launcher` and `/meet/<digits>` links, and the web client under `/v2/`, which reads
the meeting from `location.hash` in `teams.js`, as the real client does. `login.microsoftonline.com`
answers every path with a sign-in page. The page talks to the simulator under `/_sim/` on the same
origin (join info, long-polled state, join requests, chat, audio reports).
"""

from __future__ import annotations

import html
from typing import Any

from aiohttp import web

from ..meetings import TEAMS_NUMERIC_ID, Guest, Meeting, MeetingStore
from ..speech import SpeechSynthesizer
from .page_api import (
    AUDIO_PATH,
    COMMON_SCRIPTS,
    NO_STORE,
    STORE,
    UTTERANCE_ROUTE,
    api_utterance,
    guest_of,
    json_object,
    meeting_of,
    platform_app,
    view,
)

LOGIN_HOST = "login.microsoftonline.com"
HOSTS: tuple[str, ...] = ("teams.microsoft.com", "teams.live.com", LOGIN_HOST)


STATIC_FILES = {
    "teams.js": "application/javascript",
    "launcher.js": "application/javascript",
    "mixed-audio.js": "application/javascript",
    "teams.css": "text/css",
}


def _document(title: str, body: str, *, scripts: tuple[str, ...] = (), common: bool = False) -> str:
    tags = (COMMON_SCRIPTS if common else "") + "".join(
        f'<script src="/_sim/static/{name}" defer></script>' for name in scripts
    )
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
        _document("Microsoft Teams", body, scripts=("mixed-audio.js", "teams.js"), common=True),
    )


async def to_web_client(request: web.Request) -> web.Response:
    """`/v2` and the old `/_#/…` form: the browser keeps the fragment across the redirect."""
    raise web.HTTPFound("/v2/?meetingjoin=true")


# -- the page's API ------------------------------------------------------------------------------


def _find(request: web.Request) -> Meeting | None:
    meeting = request.app[STORE].find(request.match_info["code"])
    return meeting if meeting is not None and meeting.platform == "teams" else None


def _passcode_problem(meeting: Meeting, given: str | None) -> str | None:
    """`/meet/<digits>` links carry the passcode in `p`; thread links need none."""
    expected = meeting.options.get("passcode")
    if not expected or not TEAMS_NUMERIC_ID.fullmatch(meeting.code):
        return None
    if not given:
        return "passcode_missing"
    return None if given == expected else "passcode_wrong"


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


async def api_ask(request: web.Request) -> web.Response:
    meeting = meeting_of(request)
    body = await json_object(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise web.HTTPBadRequest()
    passcode = body.get("p")
    if _passcode_problem(meeting, passcode if isinstance(passcode, str) else None):
        raise web.HTTPForbidden()
    if meeting.require_sign_in or meeting.options.get("captcha"):
        raise web.HTTPForbidden()
    guest = meeting.ask_to_join(name.strip()[:60])
    return view(request, meeting, guest)


async def api_chat(request: web.Request) -> web.Response:
    meeting = meeting_of(request)
    guest = guest_of(meeting, request.match_info["guest"])
    if not meeting.options.get("guest_chat"):
        raise web.HTTPForbidden()
    text = (await json_object(request)).get("text")
    if not guest.in_call or not isinstance(text, str) or not text.strip():
        raise web.HTTPBadRequest()
    meeting.guest_chat(guest, text.strip())
    return view(request, meeting, guest)


def _page_view(meeting: Meeting, guest: Guest | None) -> dict[str, Any]:
    page = meeting.page_view(guest, AUDIO_PATH)
    if not meeting.options.get("guest_chat") and "chat" in page:
        page["chat"] = []
    return page


def create_app(store: MeetingStore, synthesizer: SpeechSynthesizer) -> web.Application:
    app = platform_app(store, synthesizer, find=_find, page_view=_page_view,
                       static_folder="teams", static_files=STATIC_FILES, middlewares=[login_host])
    r = app.router
    r.add_get("/", landing)
    r.add_get("/_sim/api/{code}/meeting", api_join_info)
    r.add_post("/_sim/api/{code}/ask", api_ask)
    r.add_post("/_sim/api/{code}/guests/{guest}/chat", api_chat)
    r.add_post(UTTERANCE_ROUTE, api_utterance)
    r.add_get("/l/meetup-join/{thread}/{message}", launcher)
    r.add_get("/l/meetup-join/{thread}/{message}/", launcher)
    r.add_get("/dl/launcher/launcher.html", launcher)
    r.add_get("/meet/{meeting_id}", launcher)
    r.add_get("/v2/", web_client)
    r.add_get("/v2", to_web_client)
    r.add_get("/_", to_web_client)
    return app
