"""Recognising and normalising meeting URLs of Google Meet, Microsoft Teams and Zoom."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit, urlunsplit

from mb_shared.contracts.bot import Platform

_MEET_CODE = re.compile(r"^/([a-z]{3}-[a-z]{4}-[a-z]{3})/?$")
_ZOOM_PATH = re.compile(r"^/(?:j|s|wc)/(\d{9,11})(?:/join)?/?$")
_TEAMS_LIVE = re.compile(r"^/meet/(\d{10,15})/?$")


class InvalidMeetingUrl(ValueError):
    """The URL is not a Google Meet, Microsoft Teams or Zoom meeting URL."""


@dataclass(frozen=True)
class MeetingUrl:
    platform: Platform
    url: str
    meeting_id: str


def _unwrap_redirect(url: str) -> str:
    parts = urlsplit(url)
    if parts.hostname in ("google.com", "www.google.com") and parts.path == "/url":
        target = parse_qs(parts.query).get("q") or parse_qs(parts.query).get("url")
        if target:
            return target[0]
    return url


def parse_meeting_url(raw: str) -> MeetingUrl:
    """Return the platform and the canonical URL, or raise InvalidMeetingUrl saying why."""
    text = (raw or "").strip()
    if not text:
        raise InvalidMeetingUrl("meeting_url is empty")
    if "://" not in text:
        text = "https://" + text
    text = _unwrap_redirect(text)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise InvalidMeetingUrl(f"unsupported scheme {parts.scheme!r}")
    host = (parts.hostname or "").lower()
    if host == "meet.google.com":
        match = _MEET_CODE.match(parts.path)
        if not match:
            raise InvalidMeetingUrl(
                "a Google Meet URL needs a meeting code like abc-defg-hij after meet.google.com/"
            )
        code = match.group(1)
        return MeetingUrl(
            Platform.GOOGLE_MEET,
            urlunsplit(("https", "meet.google.com", f"/{code}", parts.query, "")),
            code,
        )
    if host in ("teams.microsoft.com", "teams.live.com"):
        live = _TEAMS_LIVE.match(parts.path)
        if live or "meetup-join" in parts.path + parts.fragment + parts.query:
            meeting_id = live.group(1) if live else parts.path
            return MeetingUrl(Platform.MICROSOFT_TEAMS, urlunsplit(parts._replace(scheme="https")), meeting_id)
        raise InvalidMeetingUrl("a Microsoft Teams URL must be a meeting join link")
    if host == "zoom.us" or host.endswith(".zoom.us"):
        match = _ZOOM_PATH.match(parts.path)
        if not match:
            raise InvalidMeetingUrl("a Zoom URL needs a meeting id like zoom.us/j/12345678901")
        return MeetingUrl(Platform.ZOOM, urlunsplit(parts._replace(scheme="https")), match.group(1))
    raise InvalidMeetingUrl(
        f"{host or text!r} is not a Google Meet, Microsoft Teams or Zoom meeting URL"
    )
