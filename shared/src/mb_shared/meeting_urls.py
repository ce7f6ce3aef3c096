"""Meeting links of Google Meet, Microsoft Teams and Zoom: the forms taken, the URL a bot loads.

`parse_meeting_url` takes a pasted link (see shared/design/platforms.md, "URLs:") and returns the
platform, the normalized https URL the bot opens and the meeting's id, or raises
`InvalidMeetingUrl` with a reason a person can act on:

- Google Meet: `meet.google.com/abc-defg-hij` (any letter case; the code is lowercased, hyphens
  required), query kept, fragment dropped. A `google.com/url?q=` (or `url=`) redirect is unwrapped.
- Microsoft Teams: meetup-join links (bare, `/v2/?meetingjoin=true#/…`, old `/_#/…`, the
  launcher's `url=`, `light-meetings/launch?coords=`) become the v2 web form with `anon=true`;
  `/meet/<10-15 digits>` short links are kept. `msteams:` app links are refused.
- Zoom: `/j/`, `/s/` and `/w/` links on zoom.us or a subdomain become
  `https://app.zoom.us/wc/<id>/join[?pwd=…]`; `/wc/` links, events.zoom.us links and links with a
  registrant `tk=` are kept. Meeting IDs are 9 to 11 digits, without the spaces or dashes Zoom
  shows them with (those only appear in text, never in links).

Every form: white space around is trimmed, a missing scheme means https, http becomes https; a
user name, a port or white space inside is refused.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

from mb_shared.contracts.bot import Platform

MAX_LENGTH = 2048

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_NETLOC = re.compile(r"[A-Za-z0-9.-]+")
_MEET_PATH = re.compile(r"/([a-z]{3}-[a-z]{4}-[a-z]{3})/?", re.IGNORECASE)
_ZOOM_HOST = re.compile(r"(?:[a-z0-9-]+\.)*zoom\.us")
_ZOOM_JOIN = re.compile(r"/[jsw]/([0-9]{9,11})(?:/join)?/?")
_ZOOM_WEB = re.compile(r"/wc/(?:([0-9]{9,11})(?:/join)?|join/([0-9]{9,11}))/?")
_TEAMS_HOSTS = ("teams.microsoft.com", "teams.live.com")
_TEAMS_SHORT = re.compile(r"/meet/([0-9]{10,15})/?")
_MEETUP_JOIN = re.compile(r"/l/meetup-join/([^/]+)/([^/]+)/?")
_THREAD = re.compile(r"19:[A-Za-z0-9_=+.-]+@thread\.[A-Za-z0-9]+")

_MEET_HINT = "a Google Meet link needs a meeting code like abc-defg-hij after meet.google.com/"
_ZOOM_HINT = "a Zoom link needs a 9 to 11 digit meeting ID, as in https://zoom.us/j/12345678901"
_TEAMS_HINT = (
    "a Microsoft Teams link must be a meeting join link "
    "(teams.microsoft.com/l/meetup-join/… or teams.live.com/meet/<digits>)"
)


class InvalidMeetingUrl(ValueError):
    """The URL is not a Google Meet, Microsoft Teams or Zoom meeting URL."""


@dataclass(frozen=True)
class MeetingUrl:
    platform: Platform
    url: str
    meeting_id: str


def parse_meeting_url(raw: str) -> MeetingUrl:
    """Return the platform, the normalized URL and the meeting id, or raise InvalidMeetingUrl."""
    text = (raw or "").strip()
    if not text:
        raise InvalidMeetingUrl("meeting URL is empty")
    if len(text) > MAX_LENGTH:
        raise InvalidMeetingUrl(f"meeting URL is longer than {MAX_LENGTH} characters")
    if any(c in " \t\n\r\f\v" for c in text):
        raise InvalidMeetingUrl("meeting URL contains white space")
    scheme = _SCHEME.match(text)
    if text.startswith("//"):
        text = "https:" + text
    elif not scheme or ("." in scheme.group(1) and not text[scheme.end():].startswith("//")):
        text = "https://" + text  # `host:port/…` is no scheme
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise InvalidMeetingUrl(f"not a URL ({exc})") from None
    if parts.scheme == "msteams":
        raise InvalidMeetingUrl(
            "msteams: links open the Teams app, which a bot cannot use; "
            "send the meeting's https://teams.microsoft.com/… link instead"
        )
    if parts.scheme not in ("http", "https"):
        raise InvalidMeetingUrl(
            f"unsupported scheme {parts.scheme!r}: meeting URLs are https:// links"
        )
    if not _NETLOC.fullmatch(parts.netloc):
        if "@" in parts.netloc:
            raise InvalidMeetingUrl("meeting URL must not carry a user name (…@ before the host)")
        if ":" in parts.netloc:
            raise InvalidMeetingUrl("meeting URL must not name a port")
        if not parts.netloc:
            raise InvalidMeetingUrl("meeting URL has no host")
        raise InvalidMeetingUrl(f"{parts.netloc!r} is not a host name")
    host, path, query = parts.netloc.lower(), parts.path, parts.query

    if host == "meet.google.com":
        match = _MEET_PATH.fullmatch(path)
        if not match:
            raise InvalidMeetingUrl(_MEET_HINT)
        code = match.group(1).lower()
        return MeetingUrl(Platform.GOOGLE_MEET, _https(host, f"/{code}", query), code)
    if host in ("google.com", "www.google.com") and path == "/url":
        target = _param(query, "q") or _param(query, "url")
        if not target:
            raise InvalidMeetingUrl("a google.com/url redirect link needs its q= target")
        return parse_meeting_url(target)
    if host in _TEAMS_HOSTS:
        return _teams(host, path, query, parts.fragment)
    if host == "events.zoom.us":
        segments = [s for s in path.split("/") if s]
        if not segments:
            raise InvalidMeetingUrl("an events.zoom.us link needs the event's path")
        ids = [s for s in segments if re.fullmatch(r"[0-9]{9,11}", s)]  # else the event's token
        return MeetingUrl(Platform.ZOOM, _https(host, path, query), (ids or segments)[-1])
    if _ZOOM_HOST.fullmatch(host):
        return _zoom(host, path, query)
    raise InvalidMeetingUrl(f"{host!r} is not a Google Meet, Microsoft Teams or Zoom host")


def _zoom(host: str, path: str, query: str) -> MeetingUrl:
    web = _ZOOM_WEB.fullmatch(path)
    join = _ZOOM_JOIN.fullmatch(path)
    if web:
        return MeetingUrl(Platform.ZOOM, _https(host, path, query), web.group(1) or web.group(2))
    if not join:
        raise InvalidMeetingUrl(_ZOOM_HINT)
    meeting_id = join.group(1)
    if _param(query, "tk") is not None:  # registrant links go through Zoom's own flow
        return MeetingUrl(Platform.ZOOM, _https(host, path, query), meeting_id)
    pwd = _raw_param(query, "pwd")
    url = _https("app.zoom.us", f"/wc/{meeting_id}/join", f"pwd={pwd}" if pwd else "")
    return MeetingUrl(Platform.ZOOM, url, meeting_id)


def _teams(host: str, path: str, query: str, fragment: str) -> MeetingUrl:
    short = _TEAMS_SHORT.fullmatch(path)
    if short:
        url = _https(host, path.rstrip("/"), query)
        return MeetingUrl(Platform.MICROSOFT_TEAMS, url, short.group(1))
    if re.fullmatch(r"/light-meetings/launch/?", path):
        return _teams_coords(host, _param(query, "coords"))
    if path == "/dl/launcher/launcher.html":
        target = _param(query, "url")
        if not target:
            raise InvalidMeetingUrl("a Teams launcher link needs its url= parameter")
        if fragment:  # an unencoded `url=/_#/l/meetup-join/…` ends the query at the `#`
            target += "#" + fragment
        if not target.startswith("/") or target.startswith("//"):
            return _teams_only(parse_meeting_url(target))
        inner = urlsplit(target)
        path, query, fragment = inner.path, inner.query, inner.fragment
    if path in ("", "/", "/_", "/v2", "/v2/") and fragment.startswith("/l/meetup-join/"):
        path, _, query = fragment.partition("#")[0].partition("?")
    join = _MEETUP_JOIN.fullmatch(path)
    if not join:
        raise InvalidMeetingUrl(_TEAMS_HINT)
    return _meetup_join(host, unquote(join.group(1)), unquote(join.group(2)), query)


def _meetup_join(host: str, thread: str, message: str, query: str) -> MeetingUrl:
    if not _THREAD.fullmatch(thread):
        raise InvalidMeetingUrl(f"{thread!r} is not a Teams meeting thread id (19:…@thread.v2)")
    if not re.fullmatch(r"[0-9]+", message):
        raise InvalidMeetingUrl(f"{message!r} is not a Teams meeting message id (digits)")
    context = _param(query, "context")
    if context is None:
        raise InvalidMeetingUrl("the Teams link lacks its context=… part; copy the whole link")
    try:
        tenant = json.loads(context).get("Tid")
    except (ValueError, AttributeError, RecursionError):
        tenant = None
    if not isinstance(tenant, str):
        raise InvalidMeetingUrl("the Teams link's context=… is not JSON holding a Tid (tenant)")
    params = [p for p in query.split("&") if p]
    anon = [i for i, p in enumerate(params) if p.partition("=")[0] == "anon"]
    for i in anon:
        params[i] = "anon=true"
    if not anon:
        params.append("anon=true")
    encoded = thread.replace(":", "%3a").replace("@", "%40")
    hash_route = _safe(f"/l/meetup-join/{encoded}/{message}?" + "&".join(params))
    url = f"https://{host}/v2/?meetingjoin=true#{hash_route}"
    return MeetingUrl(Platform.MICROSOFT_TEAMS, url, thread)


def _teams_coords(host: str, coords: str | None) -> MeetingUrl:
    """Read `coords`: base64 JSON with a `meetingUrl`, or a `conversationId` (the thread),
    `messageId` (default 0), `tenantId` and `organizerId`."""
    if not coords:
        raise InvalidMeetingUrl("a Teams light-meetings link needs its coords= parameter")
    padded = coords.rstrip("=").translate(str.maketrans("-_", "+/"))
    try:
        data = json.loads(base64.b64decode(padded + "=" * (-len(padded) % 4), validate=True))
    except (ValueError, RecursionError):
        raise InvalidMeetingUrl("the Teams link's coords= is not base64-encoded JSON") from None
    if not isinstance(data, dict):
        raise InvalidMeetingUrl("the Teams link's coords= is not a JSON object")
    if isinstance(data.get("meetingUrl"), str):
        return _teams_only(parse_meeting_url(data["meetingUrl"]))
    thread, tenant = data.get("conversationId"), data.get("tenantId")
    if not isinstance(thread, str) or not isinstance(tenant, str):
        raise InvalidMeetingUrl("the Teams link's coords= names no conversationId and tenantId")
    context = {"Tid": tenant}
    if isinstance(data.get("organizerId"), str):
        context["Oid"] = data["organizerId"]
    encoded = quote(json.dumps(context, separators=(",", ":")), safe="")
    return _meetup_join(host, thread, str(data.get("messageId", 0)), f"context={encoded}")


def _teams_only(meeting: MeetingUrl) -> MeetingUrl:
    if meeting.platform is not Platform.MICROSOFT_TEAMS:
        raise InvalidMeetingUrl("a Teams link wraps a link of another platform")
    return meeting


def _raw_param(query: str, name: str) -> str | None:
    for pair in query.split("&"):
        key, sep, value = pair.partition("=")
        if key == name:
            return value if sep else ""
    return None


def _param(query: str, name: str) -> str | None:
    value = _raw_param(query, name)
    return None if value is None else unquote(value)


def _safe(text: str) -> str:
    """Percent-encode what may not stand in a URL, keeping escapes already there."""
    text = re.sub(r"%(?![0-9A-Fa-f]{2})", "%25", text)
    return quote(text, safe="!$%&'()*+,/:;=?@[]~", errors="surrogatepass")


def _https(host: str, path: str, query: str) -> str:
    return f"https://{host}{_safe(path)}" + (f"?{_safe(query)}" if query else "")
