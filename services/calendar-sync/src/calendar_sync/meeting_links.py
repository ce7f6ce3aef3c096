"""The meeting link of a calendar event: the first Google Meet, Microsoft Teams or Zoom link in the
places a provider keeps one (conference data, its own link, location, description), as written
there (Zoom's `pwd=` and every other part kept), or "" when there is none."""

from __future__ import annotations

import html
import re

from mb_shared.meeting_urls import InvalidMeetingUrl, MeetingUrl, parse_meeting_url

_CANDIDATE = re.compile(
    r"(?:https?://)?(?:[a-z0-9-]+\.)*(?:meet\.google\.com|zoom\.us|teams\.microsoft\.com|"
    r"teams\.live\.com)/[^\s<>\"'()\[\]{}]*",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?"


def find_meeting_link(sources: list[str]) -> tuple[str, MeetingUrl] | None:
    """The link as written, and what it parses to."""
    for source in sources:
        for match in _CANDIDATE.finditer(html.unescape(source)):
            link = match.group(0).rstrip(_TRAILING)
            try:
                return link, parse_meeting_url(link)
            except (InvalidMeetingUrl, ValueError):
                continue
    return None


def meeting_link(sources: list[str]) -> str:
    found = find_meeting_link(sources)
    return found[0] if found else ""
