"""Turning speaking on/off events observed in the page into the speaker timeline file."""

from __future__ import annotations

from datetime import UTC, datetime

from mb_shared.contracts.bot import Platform
from mb_shared.contracts.timeline import (
    SpeakerTimelineEntry,
    TimelineParticipant,
    TimelineTimestamp,
    dump_speaker_timeline,
)


def _stamp(unix: float, relative: float) -> TimelineTimestamp:
    return TimelineTimestamp(absolute=datetime.fromtimestamp(unix, UTC), relative=round(relative, 3))


class SpeakerTimelineBuilder:
    """Times are relative to the first recorded sample (page clock, so no cross-clock drift)."""

    def __init__(self, started_at_page_ms: float, started_at_unix: float, platform: Platform) -> None:
        self._zero_ms = started_at_page_ms
        self._zero_unix = started_at_unix
        self._platform = platform
        self._ids: dict[str, int] = {}
        self._open: dict[str, float] = {}
        self._closed: list[tuple[str, float, float]] = []

    def _relative(self, page_ms: float) -> float:
        return max(0.0, (page_ms - self._zero_ms) / 1000.0)

    def add_events(self, events: list[dict]) -> None:
        for event in events:
            name = event["name"]
            self._ids.setdefault(name, len(self._ids) + 1)
            at = self._relative(float(event["t"]))
            if event["on"]:
                self._open.setdefault(name, at)
            elif name in self._open:
                start = self._open.pop(name)
                if at > start:
                    self._closed.append((name, start, at))

    def close(self, duration_s: float) -> None:
        for name, start in list(self._open.items()):
            self._closed.append((name, start, max(start, duration_s)))
        self._open.clear()

    def speakers(self) -> list[str]:
        return list(self._ids)

    def entries(self) -> list[SpeakerTimelineEntry]:
        """The closed speaking intervals, in order of start."""
        return [
            SpeakerTimelineEntry(
                participant=TimelineParticipant(id=self._ids[name], name=name,
                                                platform=self._platform.value),
                start_timestamp=_stamp(self._zero_unix + start, start),
                end_timestamp=_stamp(self._zero_unix + end, end),
            )
            for name, start, end in sorted(self._closed, key=lambda c: c[1])
        ]

    def entries_between(self, start: float, end: float) -> list[SpeakerTimelineEntry]:
        """Who spoke between `start` and `end` (s of the recording), as seen so far: speaking
        that goes on is cut at `end`."""
        spans = [(name, s, e) for name, s, e in self._closed if s < end and e > start]
        spans += [(name, s, end) for name, s in self._open.items() if s < end]
        return [
            SpeakerTimelineEntry(
                participant=TimelineParticipant(id=self._ids[name], name=name,
                                                platform=self._platform.value),
                start_timestamp=_stamp(self._zero_unix + s, s),
                end_timestamp=_stamp(self._zero_unix + e, e),
            )
            for name, s, e in sorted(spans, key=lambda span: span[1])
        ]

    def to_json(self) -> bytes:
        """The speaker timeline file."""
        return dump_speaker_timeline(self.entries()).encode()
