"""Owns scripted meetings: their configuration, clock, guests, admission, timeline, chat and state.

Everything here runs on the simulator's event loop; timers are loop callbacks. A meeting's clock
starts when the host admits its first guest; script times (`at`, `end_after`) are relative to it.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from .speech import DEFAULT_VOICES, Clip, SpeechSynthesizer, Voice

AVATAR_COLORS = ("#e8710a", "#1a73e8", "#d93025", "#188038", "#9334e6", "#f9ab00")
"""Avatar backgrounds given to participants in turn, as the platforms colour initials."""

MEET_CODE = re.compile(r"^[a-z]{3}-[a-z]{4}-[a-z]{3}$")
TEAMS_THREAD_ID = re.compile(r"^19:meeting_[A-Za-z0-9_=+/-]{8,200}@thread\.v2$")
TEAMS_NUMERIC_ID = re.compile(r"^[0-9]{10,15}$")
TEAMS_PREJOIN_MODALS = ("before", "after", "none", "random")
ZOOM_MEETING_ID = re.compile(r"^[0-9]{9,11}$")

GuestStatus = Literal[
    "asking", "admitted", "denied", "no_response", "cancelled", "left", "removed", "ended"
]
FINAL_GUEST_STATUSES = frozenset({"denied", "no_response", "cancelled", "left", "removed", "ended"})
ADMISSION_ACTIONS = ("admit", "deny", "ignore")


class ConfigError(ValueError):
    """A meeting definition that cannot be played."""


class MeetingNotFound(KeyError):
    pass


class MeetingExists(ValueError):
    pass


def normalize_meet_code(raw: str) -> str | None:
    """Return the canonical `abc-defg-hij` form of a Meet code, or None if it is not one."""
    code = raw.strip().lower()
    if re.fullmatch(r"[a-z]{10}", code):
        code = f"{code[:3]}-{code[3:7]}-{code[7:]}"
    return code if MEET_CODE.fullmatch(code) else None


def normalize_teams_id(raw: str) -> str | None:
    """Return a Teams meeting id (a `19:meeting_…@thread.v2` thread or 10-15 digits), or None."""
    code = raw.strip().replace(" ", "")
    if TEAMS_NUMERIC_ID.fullmatch(code) or TEAMS_THREAD_ID.fullmatch(code):
        return code
    return None


def _teams_options(body: dict[str, Any]) -> dict[str, Any]:
    """The Teams-only definition fields, validated; `prejoin_modal: random` is drawn here."""
    passcode = body.get("passcode")
    if passcode is not None and (
        not isinstance(passcode, str) or not re.fullmatch(r"[A-Za-z0-9]{1,20}", passcode)
    ):
        raise ConfigError("passcode must be 1-20 letters or digits")
    modal = body.get("prejoin_modal", "random")
    if modal not in TEAMS_PREJOIN_MODALS:
        raise ConfigError(f"prejoin_modal must be one of {', '.join(TEAMS_PREJOIN_MODALS)}")
    if modal == "random":
        modal = secrets.choice(("before", "after"))
    return {
        "passcode": passcode,
        "guest_chat": bool(body.get("guest_chat", False)),
        "captcha": bool(body.get("captcha", False)),
        "prejoin_modal": modal,
        "toasts": bool(body.get("toasts", True)),
    }


def normalize_zoom_id(raw: str) -> str | None:
    """Return a Zoom meeting number (9-11 digits; spaces and hyphens dropped), or None."""
    code = re.sub(r"[\s-]", "", raw)
    return code if ZOOM_MEETING_ID.fullmatch(code) else None


def _zoom_options(body: dict[str, Any]) -> dict[str, Any]:
    """The Zoom-only definition fields, validated, plus the page loads and refused joins seen so far."""
    passcode = body.get("passcode")
    if passcode is not None and (
        not isinstance(passcode, str) or not re.fullmatch(r"[A-Za-z0-9.@_-]{1,32}", passcode)
    ):
        raise ConfigError("passcode must be 1-32 letters, digits or . @ _ -")
    tokens = body.get("accepted_tokens", [])
    if not isinstance(tokens, list) or not all(isinstance(t, str) and t for t in tokens):
        raise ConfigError("accepted_tokens must be a list of non-empty strings")
    return {
        "passcode": passcode,
        "host_starts_after": _number(body.get("host_starts_after", 0), "host_starts_after"),
        "host_starts_on_reload": bool(body.get("host_starts_on_reload", False)),
        "bot_wall": bool(body.get("bot_wall", False)),
        "captcha": bool(body.get("captcha", False)),
        "invalid": bool(body.get("invalid", False)),
        "guest_chat": bool(body.get("guest_chat", True)),
        "accepted_tokens": list(tokens),
        "page_loads": {},
        "refused_joins": [],
    }


def _number(value: Any, what: str, *, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ConfigError(f"{what} must be a non-negative number")
    return float(value)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{what} must be a non-empty string")
    return value.strip()


@dataclass
class Participant:
    """A scripted person. `key` names them in the script (their name unless two share one);
    `id` is what their page shows as their participant id, new at each join as on Meet, where a
    device that joins again is a new participant of the call."""

    id: str
    key: str
    name: str
    voice: Voice
    host: bool = False
    joins_at: float | None = None
    leaves_at: float | None = None
    joined_at: float | None = None
    left_at: float | None = None
    color: str = AVATAR_COLORS[0]
    visits: list[dict[str, Any]] = field(default_factory=list)
    renames: list[dict[str, Any]] = field(default_factory=list)
    camera: bool = False
    """Whether their webcam is on (the others see their video instead of their avatar)."""
    presentation_id: str | None = None
    """The id of the tile their screenshare shows in while they present (a device of its own,
    as on Meet), else None."""
    media: list[dict[str, Any]] = field(default_factory=list)
    """Each switch of their camera or screenshare: `{at, kind: camera|screenshare, on}`."""

    @property
    def present(self) -> bool:
        return self.joined_at is not None and self.left_at is None

    def join(self, now: float, device_id: str) -> None:
        self.id, self.joined_at, self.left_at = device_id, now, None
        self.visits.append({"joined_at": now, "left_at": None, "id": device_id})

    def leave(self, now: float) -> None:
        self.left_at = now
        self.visits[-1]["left_at"] = now

    def state(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "name": self.name,
            "host": self.host,
            "voice": self.voice.name,
            "pitch": self.voice.pitch,
            "present": self.present,
            "joined_at": self.joined_at,
            "left_at": self.left_at,
            "visits": [dict(v) for v in self.visits],
            "renames": [dict(r) for r in self.renames],
            "color": self.color,
            "camera": self.camera,
            "sharing": self.presentation_id is not None,
            "media": [dict(m) for m in self.media],
        }


@dataclass
class Utterance:
    index: int
    speaker: Participant
    text: str
    at: float
    clip: Clip
    actual_start: float | None = None
    actual_end: float | None = None

    def state(self, started_at: float | None) -> dict[str, Any]:
        scheduled = None if started_at is None else started_at + self.at
        return {
            "index": self.index,
            "speaker": self.speaker.name,
            "participant_id": self.speaker.id,
            "text": self.text,
            "at": self.at,
            "duration": self.clip.duration,
            "scheduled_start": scheduled,
            "scheduled_end": None if scheduled is None else scheduled + self.clip.duration,
            "actual_start": self.actual_start,
            "actual_end": self.actual_end,
        }


@dataclass
class TimelineEvent:
    kind: Literal["join", "leave", "chat", "rename", "camera", "screenshare"]
    name: str
    """The participant's key."""
    at: float
    text: str | None = None
    """The chat message, or the new name of a rename."""
    private: bool = False
    """A chat message sent to the guests only (Zoom's direct message), not to everyone."""
    on: bool = True
    """A camera or screenshare switched on (else off)."""


@dataclass
class ChatMessage:
    id: str
    sender: str
    text: str
    sent_at: float
    guest_id: str | None = None
    private: bool = False

    def state(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sender": self.sender,
            "text": self.text,
            "sent_at": self.sent_at,
            "from_guest": self.guest_id,
            "to": "guests" if self.private else "everyone",
        }


@dataclass(frozen=True)
class CameraFrame:
    """One still of a guest's camera as its page posted it: what the other participants see."""

    data: bytes
    content_type: str
    width: int
    height: int
    received_at: float
    received_monotonic: float


@dataclass
class Guest:
    id: str
    participant_id: str
    name: str
    asked_at: float
    status: GuestStatus = "asking"
    admitted_at: float | None = None
    denied_at: float | None = None
    no_response_at: float | None = None
    left_at: float | None = None
    removed_at: float | None = None
    ended_at: float | None = None
    dialog_accepted_at: float | None = None
    last_seen_at: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    timers: list[asyncio.TimerHandle] = field(default_factory=list, repr=False)
    camera: CameraFrame | None = field(default=None, repr=False)
    camera_frames: int = 0
    microphone: bytearray = field(default_factory=bytearray, repr=False)
    """What the others heard of this guest: the WebM chunks its page posted, appended in order."""
    microphone_chunks: int = 0
    microphone_at: float | None = None
    microphone_stopped_at: float | None = None
    microphone_full: bool = False

    @property
    def in_call(self) -> bool:
        return self.status == "admitted"

    def state(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "participant_id": self.participant_id,
            "name": self.name,
            "status": self.status,
            "asked_at": self.asked_at,
            "admitted_at": self.admitted_at,
            "denied_at": self.denied_at,
            "no_response_at": self.no_response_at,
            "left": self.left_at is not None,
            "left_at": self.left_at,
            "removed_at": self.removed_at,
            "ended_at": self.ended_at,
            "dialog_accepted_at": self.dialog_accepted_at,
            "last_seen_at": self.last_seen_at,
            "camera_frame_at": None if self.camera is None else self.camera.received_at,
            "camera_frame_count": self.camera_frames,
            "camera_frame_width": None if self.camera is None else self.camera.width,
            "camera_frame_height": None if self.camera is None else self.camera.height,
            "microphone_bytes": len(self.microphone),
            "microphone_chunk_count": self.microphone_chunks,
            "microphone_at": self.microphone_at,
            "microphone_stopped_at": self.microphone_stopped_at,
            **self.extra,
        }

    def store_camera_frame(self, frame: CameraFrame) -> None:
        """Keep `frame` as what the others see of this guest's camera now (only the latest)."""
        self.camera = frame
        self.camera_frames += 1

    def microphone_room(self, limit: int) -> int:
        """How many more bytes the microphone recording takes under `limit` (0 once full)."""
        return 0 if self.microphone_full else max(0, limit - len(self.microphone))

    def append_microphone(self, chunk: bytes, *, last: bool, limit: int) -> bool:
        """Add the next chunk of the microphone recording; `last` closes it. A chunk that would take
        the recording beyond `limit` bytes is refused (False): see `refuse_microphone`."""
        if self.microphone_full or len(chunk) > limit - len(self.microphone):
            self.refuse_microphone(last=last)
            return False
        now = time.time()
        if chunk:
            self.microphone += chunk
            self.microphone_chunks += 1
            self.microphone_at = now
        if last:
            self.microphone_stopped_at = now
        return True

    def refuse_microphone(self, *, last: bool) -> None:
        """A chunk went beyond the recording's cap: it and every chunk after it are refused, so
        that what is kept stays one unbroken stream. A refused last chunk still closes it."""
        self.microphone_full = True
        if last:
            self.microphone_stopped_at = time.time()

    def cancel_timers(self) -> None:
        for handle in self.timers:
            handle.cancel()
        self.timers.clear()


@dataclass(frozen=True)
class Admission:
    action: Literal["admit", "deny", "ignore"] = "admit"
    after: float = 1.0


class Meeting:
    def __init__(
        self,
        *,
        code: str,
        platform: str,
        participants: list[Participant],
        utterances: list[Utterance],
        timeline: list[TimelineEvent],
        admission: Admission,
        end_after: float | None,
        require_sign_in: bool,
        no_response_after: float,
        recording_notice: bool,
        reject_synthetic_input: bool,
    ) -> None:
        self.code = code
        self.platform = platform
        self.created_at = time.time()
        self.participants = participants
        self.utterances = utterances
        self.timeline = timeline
        self.admission = admission
        self.end_after = end_after
        self.require_sign_in = require_sign_in
        self.no_response_after = no_response_after
        self.recording_notice = recording_notice
        self.reject_synthetic_input = reject_synthetic_input
        self.options: dict[str, Any] = {}
        self.guests: dict[str, Guest] = {}
        self.chat: list[ChatMessage] = []
        self.started_at: float | None = None
        self.ended_at: float | None = None
        self.end_reason: str | None = None
        self.version = 0
        self._changed = asyncio.Event()
        self._timers: list[asyncio.TimerHandle] = []
        self._ids = itertools.count(1)
        self._space = secrets.token_urlsafe(9)
        self._devices = itertools.count(len(participants) + 1)
        for participant in participants:
            if participant.joins_at is None:
                participant.join(self.created_at, participant.id)

    # -- notifications -------------------------------------------------------------------------

    def _touch(self) -> None:
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_changed(self, since: int, timeout: float) -> None:
        if self.version != since:
            return
        event = self._changed
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass

    def wake(self) -> None:
        self._touch()

    # -- lookups -------------------------------------------------------------------------------

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    def participant(self, key: str) -> Participant | None:
        return next((p for p in self.participants if p.key == key), None)

    def guest(self, guest_id: str) -> Guest | None:
        return self.guests.get(guest_id)

    def _select_guests(self, name: str | None, statuses: set[str]) -> list[Guest]:
        return [
            g
            for g in self.guests.values()
            if g.status in statuses and (name is None or g.name == name)
        ]

    # -- guests ----------------------------------------------------------------------------------

    def ask_to_join(self, name: str) -> Guest:
        now = time.time()
        guest = Guest(
            id=secrets.token_hex(8),
            participant_id=f"spaces/{self._space}/devices/{100 + next(self._ids)}",
            name=name,
            asked_at=now,
            last_seen_at=now,
        )
        self.guests[guest.id] = guest
        if self.ended:
            guest.status = "ended"
            guest.ended_at = now
        else:
            loop = asyncio.get_running_loop()
            if self.admission.action != "ignore":
                guest.timers.append(
                    loop.call_later(
                        self.admission.after, self._answer, guest.id, self.admission.action
                    )
                )
            guest.timers.append(
                loop.call_later(self.no_response_after, self._no_response, guest.id)
            )
        self._touch()
        return guest

    def _answer(self, guest_id: str, action: str) -> None:
        guest = self.guests.get(guest_id)
        if guest is None or guest.status != "asking":
            return
        if action == "admit":
            self.admit(guest)
        else:
            self.deny(guest)

    def _no_response(self, guest_id: str) -> None:
        guest = self.guests.get(guest_id)
        if guest is None or guest.status != "asking":
            return
        guest.cancel_timers()
        guest.status = "no_response"
        guest.no_response_at = time.time()
        self._touch()

    def admit(self, guest: Guest) -> None:
        if guest.status != "asking" or self.ended:
            return
        guest.cancel_timers()
        now = time.time()
        guest.status = "admitted"
        guest.admitted_at = now
        if self.started_at is None:
            self._start_clock(now)
        self._touch()

    def deny(self, guest: Guest) -> None:
        if guest.status != "asking":
            return
        guest.cancel_timers()
        guest.status = "denied"
        guest.denied_at = time.time()
        self._touch()

    def admit_waiting(self, name: str | None = None) -> list[Guest]:
        guests = self._select_guests(name, {"asking"})
        for guest in guests:
            self.admit(guest)
        return guests

    def deny_waiting(self, name: str | None = None) -> list[Guest]:
        guests = self._select_guests(name, {"asking"})
        for guest in guests:
            self.deny(guest)
        return guests

    def remove(self, name: str | None = None) -> list[Guest]:
        guests = self._select_guests(name, {"admitted"})
        now = time.time()
        for guest in guests:
            guest.status = "removed"
            guest.removed_at = now
        if guests:
            self._touch()
        return guests

    def guest_leaves(self, guest: Guest) -> None:
        """The guest clicked "Leave call" (in the call) or gave up in the waiting room."""
        if guest.status in FINAL_GUEST_STATUSES:
            return
        guest.cancel_timers()
        guest.status = "left" if guest.status == "admitted" else "cancelled"
        guest.left_at = time.time()
        self._touch()

    def guest_seen(self, guest: Guest) -> None:
        guest.last_seen_at = time.time()

    def accept_dialog(self, guest: Guest) -> None:
        if guest.dialog_accepted_at is None:
            guest.dialog_accepted_at = time.time()
            self._touch()

    # -- clock and timeline ----------------------------------------------------------------------

    def _start_clock(self, now: float) -> None:
        self.started_at = now
        loop = asyncio.get_running_loop()
        for event in self.timeline:
            self._timers.append(loop.call_later(event.at, self._run_event, event))
        if self.end_after is not None:
            self._timers.append(loop.call_later(self.end_after, self.end, "end_after"))

    def _run_event(self, event: TimelineEvent) -> None:
        if self.ended:
            return
        participant = self.participant(event.name)
        now = time.time()
        if participant is None:
            return
        if event.kind == "join" and not participant.present:
            device = participant.id if not participant.visits else (
                participant.id.rsplit("/", 1)[0] + f"/{next(self._devices)}")
            participant.join(now, device)
        elif event.kind == "leave" and participant.present:
            participant.leave(now)
            if participant.presentation_id is not None:
                self._switch_screenshare(participant, False, now)
        elif event.kind == "rename" and event.text is not None:
            participant.renames.append({"at": now, "from": participant.name, "to": event.text})
            participant.name = event.text
        elif event.kind == "chat" and event.text is not None:
            self._add_chat(participant.name, event.text, None, private=event.private)
            return
        elif event.kind == "camera" and event.on != participant.camera:
            participant.camera = event.on
            participant.media.append({"at": now, "kind": "camera", "on": event.on})
        elif event.kind == "screenshare" and event.on != (participant.presentation_id is not None):
            self._switch_screenshare(participant, event.on, now)
        self._touch()

    def _switch_screenshare(self, participant: Participant, on: bool, now: float) -> None:
        """One presenter at a time, as on Teams and Zoom: a new presentation ends the one before."""
        if on:
            for other in self.participants:
                if other.presentation_id is not None:
                    self._switch_screenshare(other, False, now)
            participant.presentation_id = (participant.id.rsplit("/", 1)[0]
                                           + f"/{next(self._devices)}")
        else:
            participant.presentation_id = None
        participant.media.append({"at": now, "kind": "screenshare", "on": on})

    def end(self, reason: str = "host_ended") -> None:
        if self.ended:
            return
        now = time.time()
        self.ended_at = now
        self.end_reason = reason
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for guest in self.guests.values():
            if guest.status in ("asking", "admitted"):
                guest.cancel_timers()
                guest.status = "ended"
                guest.ended_at = now
        self._touch()

    def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for guest in self.guests.values():
            guest.cancel_timers()
        self._touch()

    # -- chat and audio reports ----------------------------------------------------------------

    def _add_chat(self, sender: str, text: str, guest_id: str | None, *,
                  private: bool = False) -> ChatMessage:
        message = ChatMessage(
            private=private,
            id=f"spaces/{self._space}/messages/{secrets.token_hex(6)}",
            sender=sender,
            text=text,
            sent_at=time.time(),
            guest_id=guest_id,
        )
        self.chat.append(message)
        self._touch()
        return message

    def post_chat(self, sender: str, text: str) -> ChatMessage:
        return self._add_chat(sender, text, None)

    def guest_chat(self, guest: Guest, text: str) -> ChatMessage:
        return self._add_chat(guest.name, text, guest.id)

    def report_utterance(
        self, index: int, actual_start: float | None, actual_end: float | None
    ) -> None:
        if not 0 <= index < len(self.utterances):
            raise ConfigError(f"no utterance {index}")
        utterance = self.utterances[index]
        if actual_start is not None and utterance.actual_start is None:
            utterance.actual_start = actual_start
        if actual_end is not None and utterance.actual_end is None:
            utterance.actual_end = actual_end
        self._touch()

    # -- views ---------------------------------------------------------------------------------

    def status(self) -> str:
        if self.ended:
            return "ended"
        return "waiting" if self.started_at is None else "active"

    def state(self) -> dict[str, Any]:
        """What the control API reports: the whole truth, for tests."""
        return {
            "code": self.code,
            "platform": self.platform,
            "status": self.status(),
            "created_at": self.created_at,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "end_reason": self.end_reason,
            "end_after": self.end_after,
            "require_sign_in": self.require_sign_in,
            "no_response_after": self.no_response_after,
            "recording_notice": self.recording_notice,
            "reject_synthetic_input": self.reject_synthetic_input,
            "admission": {"action": self.admission.action, "after": self.admission.after},
            "participants": [p.state() for p in self.participants],
            "guests": [g.state() for g in self.guests.values()],
            "chat": [m.state() for m in self.chat],
            "utterances": [u.state(self.started_at) for u in self.utterances],
            "timeline": [
                {"kind": e.kind, "key": e.name, "at": e.at, "text": e.text,
                 **({"to": "guests"} if e.private else {}),
                 **({"on": e.on} if e.kind in ("camera", "screenshare") else {})}
                for e in self.timeline
            ],
            "version": self.version,
            **self.options,
        }

    def page_view(self, guest: Guest | None, audio_url: str) -> dict[str, Any]:
        """What a guest's page may know: only what the real page would show or play."""
        view: dict[str, Any] = {
            "code": self.code,
            "server_time": time.time(),
            "version": self.version,
            "ended": self.ended,
            "recording_notice": self.recording_notice,
            "reject_synthetic_input": self.reject_synthetic_input,
            "guest": None,
        }
        if guest is None:
            return view
        view["guest"] = {
            "id": guest.id,
            "name": guest.name,
            "participant_id": guest.participant_id,
            "status": guest.status,
        }
        if guest.status != "admitted":
            return view
        view["started_at"] = self.started_at
        view["participants"] = [
            {"id": p.id, "name": p.name, "color": p.color, "host": p.host,
             "camera": p.camera, "presentation_id": p.presentation_id}
            for p in self.participants if p.present
        ] + [
            {"id": g.participant_id, "name": g.name}
            for g in self.guests.values()
            if g.in_call and g.id != guest.id
        ]
        view["utterances"] = [
            {
                "index": u.index,
                "participant_id": u.speaker.id,
                "speaker": u.speaker.name,
                "text": u.text,
                "at": u.at,
                "duration": u.clip.duration,
                "audio_url": f"{audio_url}/{u.clip.key}.wav",
            }
            for u in self.utterances
        ]
        view["chat"] = [
            {
                "id": m.id,
                "sender": m.sender,
                "text": m.text,
                "sent_at": m.sent_at,
                "mine": m.guest_id == guest.id,
                "private": m.private,
            }
            for m in self.chat
            if m.sent_at >= (guest.admitted_at or 0)
        ]
        return view


class MeetingStore:
    def __init__(self, synthesizer: SpeechSynthesizer, *, no_response_after: float = 600.0) -> None:
        self._synthesizer = synthesizer
        self._default_no_response_after = no_response_after
        self._meetings: dict[str, Meeting] = {}

    def get(self, code: str) -> Meeting:
        meeting = self._meetings.get(code)
        if meeting is None:
            raise MeetingNotFound(code)
        return meeting

    def find(self, code: str) -> Meeting | None:
        return self._meetings.get(code)

    def all(self) -> list[Meeting]:
        return list(self._meetings.values())

    def delete(self, code: str) -> None:
        meeting = self.get(code)
        meeting.end("deleted")
        meeting.close()
        del self._meetings[code]

    def close(self) -> None:
        for meeting in self._meetings.values():
            meeting.close()
        self._meetings.clear()

    async def create(self, body: Any) -> Meeting:
        if not isinstance(body, dict):
            raise ConfigError("the meeting must be a JSON object")
        platform = body.get("platform", "meet")
        options: dict[str, Any] = {}
        if platform == "meet":
            code = normalize_meet_code(str(body.get("code", "")))
            if code is None:
                raise ConfigError("code must look like abc-defg-hij")
        elif platform == "teams":
            code = normalize_teams_id(str(body.get("code", "")))
            if code is None:
                raise ConfigError("code must be 19:meeting_…@thread.v2 or 10-15 digits for teams")
            options = _teams_options(body)
        elif platform == "zoom":
            code = normalize_zoom_id(str(body.get("code", "")))
            if code is None:
                raise ConfigError("code must be a 9-11 digit meeting number for zoom")
            options = _zoom_options(body)
        else:
            raise ConfigError(
                f"unsupported platform {platform!r}; supported: 'meet', 'teams', 'zoom'"
            )
        if code in self._meetings:
            raise MeetingExists(code)

        participants = self._participants(body.get("participants", []), code)
        by_key = {p.key: p for p in participants}
        speeches, timeline = self._script(body.get("script", []), by_key)
        if platform != "zoom" and any(e.private for e in timeline):
            raise ConfigError(
                "script: a chat message to the guests only (\"to\": \"guests\") exists on zoom "
                "only: Meet's and Teams' meeting chats go to everyone")
        admission = self._admission(body.get("admission", {}))
        end_after = _number(body.get("end_after"), "end_after", allow_none=True)
        no_response_after = _number(
            body.get("no_response_after", self._default_no_response_after), "no_response_after"
        )
        assert no_response_after is not None

        clips = await asyncio.gather(
            *(self._synthesizer.synthesize(text, by_key[key].voice) for key, text, _ in speeches)
        )
        utterances = [
            Utterance(index=i, speaker=by_key[key], text=text, at=at, clip=clip)
            for i, ((key, text, at), clip) in enumerate(zip(speeches, clips))
        ]
        if code in self._meetings:
            raise MeetingExists(code)
        meeting = Meeting(
            code=code,
            platform=platform,
            participants=participants,
            utterances=utterances,
            timeline=timeline,
            admission=admission,
            end_after=end_after,
            require_sign_in=bool(body.get("require_sign_in", False)),
            no_response_after=no_response_after,
            recording_notice=bool(body.get("recording_notice", True)),
            reject_synthetic_input=bool(body.get("reject_synthetic_input", False)),
        )
        meeting.options = options
        self._meetings[code] = meeting
        return meeting

    @staticmethod
    def _participants(raw: Any, code: str) -> list[Participant]:
        if not isinstance(raw, list):
            raise ConfigError("participants must be a list")
        space = secrets.token_urlsafe(9)
        participants: list[Participant] = []
        for i, entry in enumerate(raw):
            if isinstance(entry, str):
                entry = {"name": entry}
            if not isinstance(entry, dict):
                raise ConfigError("each participant must be an object with a name")
            name = _text(entry.get("name"), f"participants[{i}].name")
            key = _text(entry.get("key", name), f"participants[{i}].key")
            if any(p.key == key for p in participants):
                raise ConfigError(
                    f"participants[{i}]: {key!r} already names a participant; give people "
                    "who share a name each their own key")
            host = entry.get("host", False)
            if not isinstance(host, bool):
                raise ConfigError(f"participants[{i}].host must be true or false")
            camera = entry.get("camera", False)
            if not isinstance(camera, bool):
                raise ConfigError(f"participants[{i}].camera must be true or false")
            default = DEFAULT_VOICES[i % len(DEFAULT_VOICES)]
            pitch = entry.get("pitch", default.pitch)
            speed = entry.get("speed", default.speed)
            if not isinstance(pitch, int) or not 0 <= pitch <= 99:
                raise ConfigError(f"participants[{i}].pitch must be an integer 0-99")
            if not isinstance(speed, int) or not 80 <= speed <= 450:
                raise ConfigError(f"participants[{i}].speed must be an integer 80-450")
            voice_name = entry.get("voice", default.name)
            if not isinstance(voice_name, str) or not re.fullmatch(r"[A-Za-z0-9_+-]+", voice_name):
                raise ConfigError(f"participants[{i}].voice is not an espeak-ng voice name")
            participants.append(
                Participant(
                    id=f"spaces/{space}/devices/{i + 1}",
                    key=key,
                    name=name,
                    host=host,
                    voice=Voice(voice_name, pitch, speed),
                    color=AVATAR_COLORS[i % len(AVATAR_COLORS)],
                    camera=camera,
                )
            )
        if participants and not any(p.host for p in participants):
            participants[0].host = True
        if sum(p.host for p in participants) > 1:
            raise ConfigError("participants: only one may be the host")
        return participants

    @staticmethod
    def _script(
        raw: Any, by_key: dict[str, Participant]
    ) -> tuple[list[tuple[str, str, float]], list[TimelineEvent]]:
        if not isinstance(raw, list):
            raise ConfigError("script must be a list")
        speeches: list[tuple[str, str, float]] = []
        timeline: list[TimelineEvent] = []

        def known(key: Any, where: str) -> str:
            key = _text(key, where)
            if key not in by_key:
                raise ConfigError(f"{where}: {key!r} is not a participant's key")
            return key

        for i, entry in enumerate(raw):
            if not isinstance(entry, dict):
                raise ConfigError(f"script[{i}] must be an object")
            at = _number(entry.get("at"), f"script[{i}].at")
            assert at is not None
            if "speaker" in entry:
                name = known(entry["speaker"], f"script[{i}].speaker")
                speeches.append((name, _text(entry.get("text"), f"script[{i}].text"), at))
            elif "leave" in entry:
                name = known(entry["leave"], f"script[{i}].leave")
                timeline.append(TimelineEvent("leave", name, at))
            elif "join" in entry:
                name = known(entry["join"], f"script[{i}].join")
                timeline.append(TimelineEvent("join", name, at))
            elif "chat" in entry:
                name = known(entry["chat"], f"script[{i}].chat")
                to = entry.get("to", "everyone")
                if to not in ("everyone", "guests"):
                    raise ConfigError(f"script[{i}].to must be \"everyone\" or \"guests\"")
                text = entry.get("text")
                if not isinstance(text, str) or not text.strip():
                    raise ConfigError(f"script[{i}].text must be a non-empty string")
                timeline.append(TimelineEvent("chat", name, at, text, private=to == "guests"))
            elif "rename" in entry:
                name = known(entry["rename"], f"script[{i}].rename")
                timeline.append(
                    TimelineEvent("rename", name, at, _text(entry.get("to"), f"script[{i}].to"))
                )
            elif "camera" in entry or "screenshare" in entry:
                kind = "camera" if "camera" in entry else "screenshare"
                name = known(entry[kind], f"script[{i}].{kind}")
                on = entry.get("on")
                if not isinstance(on, bool):
                    raise ConfigError(f"script[{i}].on must be true or false")
                timeline.append(TimelineEvent(kind, name, at, on=on))
            else:
                raise ConfigError(f"script[{i}] needs one of speaker, leave, join, chat, rename, "
                                  "camera, screenshare")
        # Someone whose first move is to join arrives then; everyone else is there from the start.
        for event in sorted(timeline, key=lambda e: e.at):
            person = by_key[event.name]
            if event.kind in ("join", "leave") and person.joins_at is None and person.leaves_at is None:
                if event.kind == "join":
                    person.joins_at = event.at
                else:
                    person.leaves_at = event.at
        return speeches, timeline

    @staticmethod
    def _admission(raw: Any) -> Admission:
        if raw is None:
            return Admission()
        if not isinstance(raw, dict):
            raise ConfigError("admission must be an object")
        action = raw.get("action", "admit")
        if action not in ADMISSION_ACTIONS:
            raise ConfigError(f"admission.action must be one of {', '.join(ADMISSION_ACTIONS)}")
        after = _number(raw.get("after", 1.0), "admission.after")
        assert after is not None
        return Admission(action=action, after=after)
