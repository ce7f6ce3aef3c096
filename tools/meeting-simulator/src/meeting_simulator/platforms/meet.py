"""Owns the Google Meet stand-in: the guest pages served for meet.google.com and the page's own API.

The page talks to the simulator under `/_sim/` on the same origin (long-polled state, join requests,
chat, audio reports). Everything a bot should look at is in the DOM that `meet.js` renders.
"""

from __future__ import annotations

import html
from typing import Any

from aiohttp import web

from ..meetings import Guest, Meeting, MeetingStore, normalize_meet_code
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

HOSTS: tuple[str, ...] = ("meet.google.com",)


STATIC_FILES = {"meet.js": "application/javascript", "meet.css": "text/css"}


def _document(title: str, body: str, *, body_attrs: str = "", script: bool = False) -> str:
    page_script = '<script src="/_sim/static/meet.js" defer></script>'
    scripts = COMMON_SCRIPTS + page_script if script else ""
    return (
        "<!doctype html>\n"
        f'<html lang="en" dir="ltr"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="stylesheet" href="/_sim/static/meet.css">{scripts}</head>'
        f"<body {body_attrs}>{body}</body></html>"
    )


def _page(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", headers=NO_STORE)


def _home_button() -> str:
    return (
        '<button class="btn btn-primary" type="button" data-home>'
        "<span>Return to home screen</span></button>"
    )


def _message_page(title: str, heading: str, detail: str = "") -> web.Response:
    body = (
        '<main class="message-screen">'
        f'<h1 class="message-title">{html.escape(heading)}</h1>'
        f'<div class="message-detail">{detail}</div>'
        f'<div class="message-actions">{_home_button()}</div></main>'
        "<script>document.querySelectorAll('[data-home]').forEach(b => b.addEventListener("
        "'click', () => { location.href = '/'; }));</script>"
    )
    return _page(_document(title, body))


async def landing(request: web.Request) -> web.Response:
    body = (
        '<main class="landing"><h1>Video calls and meetings for everyone</h1>'
        "<p>Connect, collaborate and celebrate from anywhere with Google Meet</p>"
        '<div class="landing-actions"><button class="btn btn-primary" type="button">'
        "<span>New meeting</span></button>"
        '<input type="text" aria-label="Enter a code or link" placeholder="Enter a code or link">'
        '<button class="btn" type="button" disabled><span>Join</span></button></div></main>'
    )
    return _page(_document("Google Meet", body))


async def meeting_page(request: web.Request) -> web.Response:
    raw = request.match_info["code"]
    code = normalize_meet_code(raw)
    if code is None:
        return _message_page(
            "Meet",
            "Invalid video call name.",
            "Check the meeting code and try again.",
        )
    if code != raw:
        raise web.HTTPFound(
            f"/{code}" + (f"?{request.query_string}" if request.query_string else "")
        )
    meeting = request.app[STORE].find(code)
    if meeting is None:
        return _message_page(
            "Meet",
            "Check your meeting code",
            "Make sure you entered the correct meeting code in the URL, for example: "
            'https://meet.google.com/<b>xxx-yyyy-zzz</b> <a href="#">Learn more</a>',
        )
    if meeting.require_sign_in:
        return _sign_in_wall()
    attrs = (
        f'data-code="{html.escape(code)}" '
        f'data-strict-input="{"1" if meeting.reject_synthetic_input else "0"}"'
    )
    body = '<div id="app" class="app"></div>'
    return _page(_document(f"Meet - {code}", body, body_attrs=attrs, script=True))


def _sign_in_wall() -> web.Response:
    body = (
        '<main class="signin"><div class="signin-card">'
        '<div class="signin-logo" aria-hidden="true">Google</div>'
        "<h1>Sign in</h1>"
        '<div class="signin-sub">to continue to your Google Account</div>'
        '<input type="email" aria-label="Email or phone" placeholder="Email or phone" autocomplete="username">'
        '<div class="signin-actions"><button class="btn" type="button"><span>Create account</span></button>'
        '<button class="btn btn-primary" type="button"><span>Next</span></button></div>'
        "</div></main>"
    )
    return _page(_document("Sign in - Google Accounts", body))


# -- the page's API ------------------------------------------------------------------------------


async def api_ask(request: web.Request) -> web.Response:
    meeting = meeting_of(request)
    name = (await json_object(request)).get("name")
    if not isinstance(name, str) or not name.strip():
        raise web.HTTPBadRequest()
    guest = meeting.ask_to_join(name.strip()[:60])
    return view(request, meeting, guest)


async def api_chat(request: web.Request) -> web.Response:
    meeting = meeting_of(request)
    guest = guest_of(meeting, request.match_info["guest"])
    text = (await json_object(request)).get("text")
    if not guest.in_call or not isinstance(text, str) or not text.strip():
        raise web.HTTPBadRequest()
    meeting.guest_chat(guest, text.strip())
    return view(request, meeting, guest)


def _find(request: web.Request) -> Meeting | None:
    return request.app[STORE].find(request.match_info["code"])


def _page_view(meeting: Meeting, guest: Guest | None) -> dict[str, Any]:
    return meeting.page_view(guest, AUDIO_PATH)


def create_app(store: MeetingStore, synthesizer: SpeechSynthesizer) -> web.Application:
    app = platform_app(store, synthesizer, find=_find, page_view=_page_view,
                       static_folder="meet", static_files=STATIC_FILES)
    r = app.router
    r.add_get("/", landing)
    r.add_post("/_sim/api/{code}/ask", api_ask)
    r.add_post("/_sim/api/{code}/guests/{guest}/chat", api_chat)
    r.add_post(UTTERANCE_ROUTE, api_utterance)
    r.add_get("/{code}", meeting_page)
    return app
