"""The meeting's participants and what they did, as the "Participant" and "Participant Event"
download schemas describe them (`bots/<id>/participants.json`, `bots/<id>/participant_events.json`):
written by the bot-runner, downloaded by users."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Literal

from pydantic import TypeAdapter

from mb_shared.contracts.timeline import TimelineModel, TimelineParticipant

ParticipantAction = Literal[
    "join", "leave", "update", "speech_on", "speech_off", "webcam_on", "webcam_off",
    "screenshare_on", "screenshare_off", "chat_message",
]


class EventTimestamp(TimelineModel):
    absolute: str
    """ISO 8601, UTC."""
    relative: float
    """Seconds from the recording's first sample."""


class ChatData(TimelineModel):
    text: str
    to: Literal["everyone", "only_bot"]


class ParticipantEvent(TimelineModel):
    id: str
    action: ParticipantAction
    participant: TimelineParticipant
    """The participant as they were when the event happened (their name before a rename)."""
    timestamp: EventTimestamp
    data: ChatData | None = None


_PARTICIPANTS = TypeAdapter(list[TimelineParticipant])
_EVENTS = TypeAdapter(list[ParticipantEvent])


def parse_participants(data: str | bytes) -> list[TimelineParticipant]:
    return _PARTICIPANTS.validate_json(data)


def parse_participant_events(data: str | bytes) -> list[ParticipantEvent]:
    return _EVENTS.validate_json(data)


def dump_participants(participants: Sequence[TimelineParticipant]) -> str:
    return json.dumps(_PARTICIPANTS.dump_python(list(participants), mode="json"),
                      ensure_ascii=False)


def dump_participant_events(events: Sequence[ParticipantEvent]) -> str:
    return json.dumps(_EVENTS.dump_python(list(events), mode="json"), ensure_ascii=False)
