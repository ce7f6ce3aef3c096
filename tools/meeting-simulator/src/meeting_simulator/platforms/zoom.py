"""Owns the Zoom web-client stand-in: the pages served for zoom.us, app.zoom.us and *.zoom.us.

URL forms: `/j/<id>?pwd=` (the launch page), `/s/<id>` (the host's start link), `/wc/<id>/join?pwd=`
and `/wc/join/<id>` (the web client). Gates that the real Zoom applies before the pre-join screen
(invalid link, host not started, sign-in) are decided here on each page load; the rest happens in
`zoom.js`, which talks to the simulator under `/_sim/` on the same origin.

A visitor cookie ties page loads to the guest that eventually asks to join, so that the reloads a bot
made while the host had not started are part of the meeting's truth.
"""

from __future__ import annotations

import html
import re
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from ..meetings import Guest, Meeting, MeetingStore
from ..speech import SpeechSynthesizer
from .page_api import (
    AUDIO_PATH,
    COMMON_SCRIPTS,
    NO_STORE,
    STORE,
    UTTERANCE_ROUTE,
    guest_of,
    json_object,
    meeting_of,
    platform_app,
    report_utterance,
    view,
)

HOSTS: tuple[str, ...] = ("zoom.us", "app.zoom.us", "*.zoom.us")


STATIC_FILES = {"zoom.js": "application/javascript", "zoom.css": "text/css"}
VISITOR_COOKIE = "_zm_sim_visitor"
MEETING_ID = re.compile(r"^[0-9]{9,11}$")
TOKEN_PARAMS = (("zak", "zak"), ("obf_token", "obf"))

INVALID_TEXT = "This meeting link is invalid (3,001)"
WAITING_FOR_HOST_TEXT = "Waiting for the host to start this meeting"


# -- the meeting's Zoom options (validated by the store, mutated here) ---------------------------


def _zoom_meeting(request: web.Request, meeting_id: str) -> Meeting | None:
    if not MEETING_ID.fullmatch(meeting_id):
        return None
    meeting = request.app[STORE].find(meeting_id)
    if meeting is None or meeting.platform != "zoom":
        return None
    return meeting


def host_started(meeting: Meeting) -> bool:
    if meeting.options.get("host_started_by_reload"):
        return True
    return time.time() >= meeting.created_at + float(meeting.options.get("host_starts_after", 0.0))


def _start_host_on_reload(meeting: Meeting, visitor: str) -> None:
    """With `host_starts_on_reload`, a guest's reload of the waiting page finds the host there."""
    record = meeting.options.get("page_loads", {}).get(visitor)
    if meeting.options.get("host_starts_on_reload") and record and record["waiting_for_host_loads"]:
        meeting.options["host_started_by_reload"] = True


def _visitor(request: web.Request) -> tuple[str, bool]:
    value = request.cookies.get(VISITOR_COOKIE, "")
    if re.fullmatch(r"[0-9a-f]{16}", value):
        return value, False
    return secrets.token_hex(8), True


def _note_page_load(meeting: Meeting, visitor: str, waiting_for_host: bool) -> None:
    """Count a web-client page load of `visitor`; reloads after a host wait are the bot's retries."""
    loads: dict[str, dict[str, Any]] = meeting.options.setdefault("page_loads", {})
    now = time.time()
    record = loads.get(visitor)
    if record is None:
        record = loads[visitor] = {
            "loads": 0,
            "waiting_for_host_loads": 0,
            "reloads_while_waiting": 0,
            "first_at": now,
            "last_at": now,
        }
    if record["waiting_for_host_loads"] > 0:
        record["reloads_while_waiting"] += 1
    record["loads"] += 1
    record["last_at"] = now
    if waiting_for_host:
        record["waiting_for_host_loads"] += 1
    meeting.wake()


def _refuse(meeting: Meeting, name: str | None, reason: str) -> web.Response:
    refused: list[dict[str, Any]] = meeting.options.setdefault("refused_joins", [])
    refused.append({"name": name, "reason": reason, "at": time.time()})
    meeting.wake()
    return web.json_response({"error": reason}, status=403, headers=NO_STORE)


# -- documents -----------------------------------------------------------------------------------


def _document(title: str, body: str, *, body_attrs: str = "", script: bool = False) -> str:
    page_script = '<script src="/_sim/static/zoom.js" defer></script>'
    scripts = COMMON_SCRIPTS + page_script if script else ""
    return (
        "<!doctype html>\n"
        f'<html lang="en-US"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="stylesheet" href="/_sim/static/zoom.css">{scripts}</head>'
        f'<body class="zm-body" {body_attrs}>{body}</body></html>'
    )


def _page(text: str, status: int = 200, *, visitor: tuple[str, bool] | None = None) -> web.Response:
    response = web.Response(text=text, status=status, content_type="text/html", headers=NO_STORE)
    if visitor is not None and visitor[1]:
        response.set_cookie(
            VISITOR_COOKIE, visitor[0], path="/", secure=True, httponly=True, samesite="Lax"
        )
    return response


def _header() -> str:
    return (
        '<header class="zm-header"><a class="zm-logo" href="/" aria-label="Zoom logo">zoom</a>'
        '<nav class="zm-nav"><a href="#">Support</a><a href="#">English</a></nav></header>'
    )


def _message_page(
    title: str, heading: str, detail: str = "", *, visitor: tuple[str, bool] | None = None
) -> web.Response:
    body = (
        f'{_header()}<main class="zm-message">'
        f'<h1 class="zm-message__title">{html.escape(heading)}</h1>'
        f'<div class="zm-message__detail">{detail}</div></main>'
    )
    return _page(_document(title, body), visitor=visitor)


def _invalid_page(visitor: tuple[str, bool] | None = None) -> web.Response:
    return _message_page(
        "Error - Zoom",
        INVALID_TEXT,
        'Please check the link and try again. <a href="#">Contact support</a>',
        visitor=visitor,
    )


def _spaced(meeting_id: str) -> str:
    """A meeting number as Zoom prints it: `123 4567 8901` (11 digits) or `123 456 7890`."""
    middle = 7 if len(meeting_id) == 11 else 6
    return f"{meeting_id[:3]} {meeting_id[3:middle]} {meeting_id[middle:]}"


def _waiting_for_host_page(meeting: Meeting, visitor: tuple[str, bool]) -> web.Response:
    # No script: like the real web client, this page never turns into the meeting by itself.
    body = (
        f'{_header()}<main class="zm-message zm-waiting-host">'
        f'<h1 class="zm-message__title">{WAITING_FOR_HOST_TEXT}</h1>'
        f'<div class="zm-message__detail">Meeting ID: {_spaced(meeting.code)}</div>'
        '<div class="zm-message__detail">If you are the host, '
        '<a href="#">sign in to start this meeting</a>.</div>'
        '<div class="zm-message__detail zm-muted">The meeting will begin once the host '
        "starts it.</div></main>"
    )
    return _page(_document("Zoom", body), visitor=visitor)


def _sign_in_required_page(visitor: tuple[str, bool]) -> web.Response:
    body = (
        f'{_header()}<main class="zm-message zm-signin-required">'
        '<h1 class="zm-message__title">This meeting is for authorized attendees only</h1>'
        '<div class="zm-message__detail">This meeting is restricted: only authenticated '
        "users can join.</div>"
        '<div class="zm-message__detail">Please sign in to join this meeting.</div>'
        '<div class="zm-message__actions">'
        '<a class="zm-btn zm-btn--primary" role="button" href="/signin">Sign In</a>'
        '<a class="zm-btn" role="button" href="/">Cancel</a></div></main>'
    )
    return _page(_document("Zoom", body), visitor=visitor)


# -- pages -------------------------------------------------------------------------------------


async def landing(request: web.Request) -> web.Response:
    body = (
        f'{_header()}<main class="zm-message">'
        '<h1 class="zm-message__title">One platform to connect</h1>'
        '<div class="zm-message__actions">'
        '<a class="zm-btn zm-btn--primary" role="button" href="/join">Join a meeting</a>'
        '<a class="zm-btn" role="button" href="/signin">Sign In</a></div></main>'
    )
    return _page(_document("One platform to connect | Zoom", body))


async def sign_in(request: web.Request) -> web.Response:
    body = (
        f'{_header()}<main class="zm-message zm-signin">'
        '<h1 class="zm-message__title">Sign In</h1>'
        '<input type="email" class="zm-input" placeholder="Email Address" '
        'aria-label="Email Address" autocomplete="username">'
        '<input type="password" class="zm-input" placeholder="Password" aria-label="Password">'
        '<div class="zm-message__actions">'
        '<button class="zm-btn zm-btn--primary" type="button">Sign In</button></div></main>'
    )
    return _page(_document("Sign In | Zoom", body))


async def launch_page(request: web.Request) -> web.Response:
    """`/j/<id>`: the page that tries to open the desktop app, with a browser fallback link."""
    meeting_id = request.match_info["id"]
    meeting = _zoom_meeting(request, meeting_id)
    if meeting is None or meeting.options.get("invalid"):
        return _invalid_page()
    pwd = request.query.get("pwd", "")
    app_link = f"zoommtg://zoom.us/join?action=join&confno={meeting_id}"
    web_link = f"/wc/{meeting_id}/join"
    if pwd:
        app_link += "&" + urlencode({"pwd": pwd})
        web_link += "?" + urlencode({"pwd": pwd})
    body = (
        f'{_header()}<main class="zm-launch" data-app-link="{html.escape(app_link)}">'
        '<h1 class="zm-launch__title">Click <b>Open Zoom Workplace</b> on the dialog shown by '
        "your browser</h1>"
        '<div class="zm-launch__detail">If you don\'t see a dialog, click <b>Launch Meeting</b> '
        "below</div>"
        '<div class="zm-launch__detail zm-muted">By clicking "Launch Meeting", you agree to our '
        '<a href="#">Terms of Service</a> and <a href="#">Privacy Statement</a></div>'
        '<div class="zm-launch__action"><div class="zm-btn zm-btn--primary zm-btn--large" '
        'role="button" tabindex="0" id="launch-meeting">Launch Meeting</div></div>'
        '<div class="zm-launch__download zm-muted">Don\'t have Zoom Workplace? '
        '<a href="#">Download Now</a></div>'
        '<div class="zm-launch__browser" hidden>Having issues with Zoom Workplace? '
        f'<a class="zm-launch__browser-link" href="{html.escape(web_link)}">'
        "Join from your browser</a></div></main>"
        # "Launch Meeting" hands the zoommtg: link to Chromium, whose (invisible, when headless)
        # "Open app?" prompt then swallows the page's clicks: the trap. The browser link shows
        # after a moment, as on the real page after its first launch attempt.
        "<script>(() => {"
        "const main = document.querySelector('.zm-launch');"
        "const reveal = () => { document.querySelector('.zm-launch__browser').hidden = false; };"
        "setTimeout(reveal, 1500);"
        "document.getElementById('launch-meeting').addEventListener('click', () => {"
        "location.href = main.dataset.appLink; setTimeout(reveal, 1200); });"
        "})();</script>"
    )
    return _page(_document("Launch Meeting - Zoom", body))


async def start_page(request: web.Request) -> web.Response:
    """`/s/<id>`: the host's start link; a guest only gets the sign-in page."""
    meeting = _zoom_meeting(request, request.match_info["id"])
    if meeting is None or meeting.options.get("invalid"):
        return _invalid_page()
    raise web.HTTPFound("/signin?" + urlencode({"continue": f"/s/{meeting.code}"}))


async def web_client(request: web.Request) -> web.Response:
    """`/wc/<id>/join` and `/wc/join/<id>`: the browser client (pre-join, waiting room, call)."""
    meeting_id = request.match_info["id"]
    meeting = _zoom_meeting(request, meeting_id)
    visitor = _visitor(request)
    if meeting is None or meeting.options.get("invalid"):
        if meeting is not None:
            _note_page_load(meeting, visitor[0], False)
        return _invalid_page(visitor)
    _start_host_on_reload(meeting, visitor[0])
    if not host_started(meeting):
        _note_page_load(meeting, visitor[0], True)
        return _waiting_for_host_page(meeting, visitor)
    _note_page_load(meeting, visitor[0], False)
    has_token = any(request.query.get(param) for param, _ in TOKEN_PARAMS)
    if meeting.require_sign_in and not has_token:
        return _sign_in_required_page(visitor)
    ask_passcode = meeting.options.get("passcode") is not None and not request.query.get("pwd")
    attrs = (
        f'data-meeting="{html.escape(meeting.code)}" '
        f'data-strict-input="{"1" if meeting.reject_synthetic_input else "0"}" '
        f'data-ask-passcode="{"1" if ask_passcode else "0"}"'
    )
    body = '<div id="root" class="zm-root"></div>'
    return _page(_document("Zoom", body, body_attrs=attrs, script=True), visitor=visitor)


async def not_found(request: web.Request) -> web.Response:
    return _message_page("Error - Zoom", "Page not found", "The page you requested was not found.")


# -- the page's API ------------------------------------------------------------------------------


def page_view(meeting: Meeting, guest: Guest | None) -> dict[str, Any]:
    """The Meet view plus what the Zoom page shows: who hosts, who is a guest, whether chat is open."""
    view = meeting.page_view(guest, AUDIO_PATH)
    view["chat_allowed"] = bool(meeting.options.get("guest_chat", True))
    view["host_present"] = any(p.present and p.host for p in meeting.participants)
    if "participants" in view:
        guest_ids = {g.participant_id for g in meeting.guests.values()}
        for entry in view["participants"]:
            entry["role"] = (
                "host"
                if entry.get("host")
                else "guest"
                if entry["id"] in guest_ids
                else "attendee"
            )
    return view


def _presented_token(body: dict[str, Any]) -> tuple[str, str] | None:
    for param, kind in TOKEN_PARAMS:
        value = body.get(param)
        if isinstance(value, str) and value:
            return kind, value
    return None


async def api_ask(request: web.Request) -> web.Response:
    """The guest clicked Join: every gate the page showed is checked again here."""
    meeting = meeting_of(request)
    body = await json_object(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise web.HTTPBadRequest()
    name = name.strip()[:60]
    options = meeting.options
    if options.get("invalid"):
        return _refuse(meeting, name, "invalid")
    if not host_started(meeting):
        return _refuse(meeting, name, "not_started")
    token = _presented_token(body)
    if token is not None and token[1] not in options.get("accepted_tokens", ()):
        return _refuse(meeting, name, "invalid_token")
    if meeting.require_sign_in and token is None:
        return _refuse(meeting, name, "sign_in_required")
    passcode = options.get("passcode")
    if passcode is not None:
        given = body.get("pwd")
        if not isinstance(given, str) or not given:
            return _refuse(meeting, name, "passcode_required")
        if given != passcode:
            return _refuse(meeting, name, "passcode_wrong")
    if options.get("bot_wall"):
        return _refuse(meeting, name, "bot_wall")
    if options.get("captcha"):
        return _refuse(meeting, name, "captcha")

    visitor = request.cookies.get(VISITOR_COOKIE, "")
    record = options.get("page_loads", {}).get(visitor)
    guest = meeting.ask_to_join(name)
    guest.extra.update(
        {
            "authenticated": token is not None,
            "token_kind": None if token is None else token[0],
            "waited_for_host": bool(record and record["waiting_for_host_loads"]),
            "host_wait_reloads": record["reloads_while_waiting"] if record else 0,
            "preview_audio_muted": bool(body.get("audio_muted", False)),
            "preview_video_off": bool(body.get("video_off", False)),
            "computer_audio_joined_at": None,
        }
    )
    meeting.wake()
    return view(request, meeting, guest)


async def api_audio(request: web.Request) -> web.Response:
    """The guest clicked "Join Audio by Computer"."""
    meeting = meeting_of(request)
    guest = guest_of(meeting, request.match_info["guest"])
    if not guest.in_call:
        raise web.HTTPBadRequest()
    if guest.extra.get("computer_audio_joined_at") is None:
        guest.extra["computer_audio_joined_at"] = time.time()
        meeting.wake()
    return view(request, meeting, guest)


async def api_chat(request: web.Request) -> web.Response:
    meeting = meeting_of(request)
    guest = guest_of(meeting, request.match_info["guest"])
    text = (await json_object(request)).get("text")
    if not guest.in_call or not isinstance(text, str) or not text.strip():
        raise web.HTTPBadRequest()
    if not meeting.options.get("guest_chat", True):
        raise web.HTTPForbidden()
    meeting.guest_chat(guest, text.strip())
    return view(request, meeting, guest)


async def api_zoom_utterance(request: web.Request) -> web.Response:
    """Only a page that joined the computer audio plays (and reports) speech."""
    meeting = meeting_of(request)
    guest = guest_of(meeting, request.match_info["guest"])
    if guest.extra.get("computer_audio_joined_at") is None:
        raise web.HTTPConflict()
    return await report_utterance(request, meeting)


def _find(request: web.Request) -> Meeting | None:
    return _zoom_meeting(request, request.match_info["code"])


def create_app(store: MeetingStore, synthesizer: SpeechSynthesizer) -> web.Application:
    app = platform_app(store, synthesizer, find=_find, page_view=page_view,
                       static_folder="zoom", static_files=STATIC_FILES)
    r = app.router
    r.add_get("/", landing)
    r.add_get("/signin", sign_in)
    r.add_post("/_sim/api/{code}/ask", api_ask)
    r.add_post("/_sim/api/{code}/guests/{guest}/audio", api_audio)
    r.add_post("/_sim/api/{code}/guests/{guest}/chat", api_chat)
    r.add_post(UTTERANCE_ROUTE, api_zoom_utterance)
    r.add_get("/j/{id}", launch_page)
    r.add_get("/s/{id}", start_page)
    r.add_get("/wc/{id}/join", web_client)
    r.add_get("/wc/join/{id}", web_client)
    r.add_get("/{tail:.*}", not_found)
    return app
