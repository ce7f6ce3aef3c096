"""Turning speaking on/off events observed in the page into the speaker timeline file."""

from __future__ import annotations

from datetime import UTC, datetime

from bot_runner.participants import MeetingRoster
from mb_shared.contracts.timeline import (
    SpeakerTimelineEntry,
    TimelineParticipant,
    TimelineTimestamp,
    dump_speaker_timeline,
)


class SpeakerTimelineBuilder:
    """Speaking intervals of the roster's participants. Times are relative to the first recorded
    sample (page clock, so no cross-clock drift); each speaking event also becomes the roster's
    `speech_on`/`speech_off`."""

    def __init__(self, roster: MeetingRoster) -> None:
        self.roster = roster
        self._open: dict[int, tuple[TimelineParticipant, float]] = {}
        self._closed: list[tuple[TimelineParticipant, float, float]] = []
        self._speakers: list[str] = []

    def add_events(self, events: list[dict]) -> None:
        for event in events:
            who = self.roster.speech(event)
            at = self.roster.relative(float(event["t"]))
            if event["on"]:
                if who.id not in self._open:
                    self._open[who.id] = (who, at)
                if who.name and who.name not in self._speakers:
                    self._speakers.append(who.name)
            elif who.id in self._open:
                speaker, start = self._open.pop(who.id)
                if at > start:
                    self._closed.append((speaker, start, at))

    def close(self, duration_s: float) -> None:
        for speaker, start in self._open.values():
            self._closed.append((speaker, start, max(start, duration_s)))
        self._open.clear()
        self.roster.close(duration_s)

    def speakers(self) -> list[str]:
        """Names of those who spoke, in order of their first words."""
        return list(self._speakers)

    def _entry(self, speaker: TimelineParticipant, start: float, end: float) -> SpeakerTimelineEntry:
        return SpeakerTimelineEntry(participant=speaker, start_timestamp=self._stamp(start),
                                    end_timestamp=self._stamp(end))

    def _stamp(self, relative: float) -> TimelineTimestamp:
        relative = round(relative, 3)
        return TimelineTimestamp(
            absolute=datetime.fromtimestamp(self.roster.started_at_unix + relative, UTC),
            relative=relative)

    def entries(self) -> list[SpeakerTimelineEntry]:
        """The closed speaking intervals, in order of start."""
        return [self._entry(*span) for span in sorted(self._closed, key=lambda c: c[1])]

    def entries_between(self, start: float, end: float) -> list[SpeakerTimelineEntry]:
        """Who spoke between `start` and `end` (s of the recording), as seen so far: speaking
        that goes on is cut at `end`."""
        spans = [(who, s, e) for who, s, e in self._closed if s < end and e > start]
        spans += [(who, s, end) for who, s in self._open.values() if s < end]
        return [self._entry(*span) for span in sorted(spans, key=lambda span: span[1])]

    def to_json(self) -> bytes:
        """The speaker timeline file."""
        return dump_speaker_timeline(self.entries()).encode()
