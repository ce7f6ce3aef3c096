"""Who was in the meeting and what they did, from what the bot's page showed: participants with
ids stable for the meeting, and their join, leave, update, speech, webcam and screenshare events.

The page's roster probe (`roster_probe.js`) reports each participant under a key: the platform's
own id where the page shows one (Meet's `data-participant-id`), else the display name and its
rank among people of that name (`Alex\\u00001`, `Alex\\u00002`), so that two people with one name
are two participants. The same key seen again is the same participant, and so is a new key
with the name of someone who left (Meet gives a device that joins again a new id): a rejoin
keeps its participant id. Times are page clock milliseconds, turned into seconds of the
recording like the speaker timeline's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mb_shared.contracts.bot import Platform
from mb_shared.contracts.participants import (
    ChatData,
    EventTimestamp,
    ParticipantAction,
    ParticipantEvent,
    dump_participant_events,
    dump_participants,
)
from mb_shared.contracts.timeline import TimelineParticipant

NAME_KEY_SEPARATOR = "\u0000"


def name_key(name: str, rank: int = 1) -> str:
    """The key of the `rank`-th present participant called `name`, on pages that show no ids."""
    return f"{name}{NAME_KEY_SEPARATOR}{rank}"


@dataclass
class _Person:
    id: int
    name: str
    is_host: bool | None = None
    extra_data: Any = None
    present: bool = False
    speaking: bool = False
    camera: bool = False
    sharing: bool = False


class MeetingRoster:
    """Participants and events of one bot's meeting."""

    def __init__(self, started_at_page_ms: float, started_at_unix: float,
                 platform: Platform) -> None:
        self._zero_ms = started_at_page_ms
        self.started_at_unix = started_at_unix
        self._platform = platform.value
        self._by_key: dict[str, _Person] = {}
        self._people: list[_Person] = []
        self._events: list[ParticipantEvent] = []

    def relative(self, t_ms: float) -> float:
        """Seconds of the recording at page-clock time `t_ms` (0 before its first sample)."""
        return max(0.0, (t_ms - self._zero_ms) / 1000.0)

    # -- what the page reports -------------------------------------------------------------------

    def add_roster_events(self, events: list[dict]) -> None:
        """`{action: join|leave|update, key, name, host, extra, t}` and
        `{action: camera|screenshare, key, on, t}` from the roster probe."""
        for event in events:
            action = event.get("action")
            key = str(event.get("key") or "")
            name = str(event.get("name") or "").strip()
            if not key or action not in ("join", "leave", "update", "camera", "screenshare"):
                continue
            t = float(event["t"])
            person = self._by_key.get(key)
            if action == "join":
                person = person or self._returning(key, name) or self._new(key, name)
                if person.present:
                    continue
                self._describe(person, name, event)
                person.present = True
                self._record("join", person, t)
            elif person is None or not person.present:
                continue
            elif action in ("camera", "screenshare"):
                self._switch(person, action, bool(event.get("on")), t)
            elif action == "leave":
                if person.speaking:
                    person.speaking = False
                    self._record("speech_off", person, t)
                self._switch(person, "camera", False, t)
                self._switch(person, "screenshare", False, t)
                person.present = False
                self._record("leave", person, t)
            else:
                before = self._snapshot(person)
                self._describe(person, name, event)
                if self._snapshot(person) != before:
                    self._record("update", person, t, participant=before)

    def _switch(self, person: _Person, what: str, on: bool, t_ms: float) -> None:
        """A camera or a screenshare went on or off (nothing when it already was)."""
        if what == "camera" and person.camera != on:
            person.camera = on
            self._record("webcam_on" if on else "webcam_off", person, t_ms)
        elif what == "screenshare" and person.sharing != on:
            person.sharing = on
            self._record("screenshare_on" if on else "screenshare_off", person, t_ms)

    def speech(self, event: dict) -> TimelineParticipant:
        """A speaking indicator turned on or off (`{name, key?, on, t}`); the participant it
        belongs to (one the roster has not shown yet is added, without a join)."""
        person = self.resolve(event.get("key"), str(event.get("name") or ""))
        on = bool(event["on"])
        if person.speaking != on:
            person.speaking = on
            self._record("speech_on" if on else "speech_off", person, float(event["t"]))
        return self._snapshot(person)

    def chat(self, message: dict) -> None:
        """A chat message the chat probe read (`{sender, text, to, t}`), from the first present
        participant with the sender's name."""
        person = self.resolve(None, str(message.get("sender") or ""))
        to = "only_bot" if message.get("to") == "only_bot" else "everyone"
        self._record("chat_message", person, float(message["t"]),
                     data=ChatData(text=str(message["text"]), to=to))

    def resolve(self, key: str | None, name: str) -> _Person:
        """The participant with `key`, else the first present one called `name`, else the first
        one ever called so; a new one when the page never showed that name."""
        if key and key in self._by_key:
            return self._by_key[key]
        name = name.strip()
        named = [p for p in self._people if p.name == name]
        present = [p for p in named if p.present]
        if present or named:
            return (present or named)[0]
        return self._new(key or name_key(name), name)

    def participant(self, key: str | None, name: str) -> TimelineParticipant:
        """The participant the page showed under `key` (else by `name`), as last seen."""
        return self._snapshot(self.resolve(key, name))

    def close(self, duration_s: float) -> None:
        """The recording ended: anyone still speaking stops at its end."""
        end_ms = self._zero_ms + duration_s * 1000.0
        for person in self._people:
            if person.speaking:
                person.speaking = False
                self._record("speech_off", person, end_ms)

    # -- what the bot delivers -------------------------------------------------------------------

    def participants(self) -> list[TimelineParticipant]:
        """Everyone seen, in order of first appearance, as they were last seen."""
        return [self._snapshot(p) for p in self._people]

    def events(self) -> list[ParticipantEvent]:
        """In order of time (the page's probes report in batches)."""
        return sorted(self._events, key=lambda e: e.timestamp.relative)

    def participants_json(self) -> bytes:
        return dump_participants(self.participants()).encode()

    def events_json(self) -> bytes:
        return dump_participant_events(self.events()).encode()

    def diarization_json(self) -> bytes:
        """The speaker diarization file as the reference API describes its
        `speaker_diarization_file`: each change of a speaker's speaking status, with the
        speaker's name and id and the time (unix milliseconds)."""
        return json.dumps([
            {"name": e.participant.name, "id": e.participant.id,
             "timestamp": round((self.started_at_unix + e.timestamp.relative) * 1000),
             "isSpeaking": e.action == "speech_on"}
            for e in self.events() if e.action in ("speech_on", "speech_off")
        ], ensure_ascii=False).encode()

    # -- internals -------------------------------------------------------------------------------

    def _new(self, key: str, name: str) -> _Person:
        person = _Person(id=len(self._people) + 1, name=name)
        self._by_key[key] = person
        self._people.append(person)
        return person

    def _returning(self, key: str, name: str) -> _Person | None:
        """Someone who left and now joins under a new key with the same name."""
        person = next((p for p in self._people if not p.present and p.name == name.strip()), None)
        if person is not None:
            self._by_key[key] = person
        return person

    @staticmethod
    def _describe(person: _Person, name: str, event: dict) -> None:
        if name:
            person.name = name
        if event.get("host") is not None:
            person.is_host = bool(event["host"])
        if event.get("extra") is not None:
            person.extra_data = event["extra"]

    def _snapshot(self, person: _Person) -> TimelineParticipant:
        return TimelineParticipant(id=person.id, name=person.name, is_host=person.is_host,
                                   platform=self._platform, extra_data=person.extra_data)

    def _record(self, action: ParticipantAction, person: _Person, t_ms: float, *,
                participant: TimelineParticipant | None = None,
                data: ChatData | None = None) -> None:
        relative = round(self.relative(t_ms), 3)  # the absolute time is the same millisecond
        absolute = datetime.fromtimestamp(self.started_at_unix + relative, UTC)
        self._events.append(ParticipantEvent(
            id=str(len(self._events) + 1),
            action=action,
            participant=participant or self._snapshot(person),
            timestamp=EventTimestamp(absolute=absolute.isoformat().replace("+00:00", "Z"),
                                     relative=relative),
            data=data,
        ))
