"""The contract catalogue: the streams, the subjects each holds, and who consumes what.

Each event contract names its subject and its stream; everything else is derived from here: the
configuration every service declares for each stream (subjects, retention limits, duplicate
window), the durable consumer names, and the list of consumers the development stack waits for.
A subject that no stream holds cannot be published as an event.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

from mb_shared.contracts.base import Event
from mb_shared.contracts.bot import (
    BotCompleted,
    BotDispatched,
    BotFailed,
    BotLeaveRequested,
    BotNoted,
    BotRequested,
    BotStatusChanged,
)
from mb_shared.contracts.calendar import CalendarSynced
from mb_shared.contracts.meetings import MeetingBotRequested, MeetingImportRequested
from mb_shared.contracts.operations import DeadLetter
from mb_shared.contracts.recording import RecordingPiece, RecordingUploaded
from mb_shared.contracts.transcription import (
    TranscriptionDone,
    TranscriptionLive,
    TranscriptionRequested,
)

DAY_S = 86_400.0
GIB = 1024**3


@dataclass(frozen=True)
class StreamSpec:
    name: str
    description: str
    retention: RetentionPolicy
    max_age_s: float
    max_bytes: int
    duplicate_window_s: float = 300.0


STREAMS: dict[str, StreamSpec] = {
    spec.name: spec
    for spec in (
        StreamSpec("EVENTS", "facts of bots and calendars, kept a week for consumers that lag",
                   RetentionPolicy.LIMITS, max_age_s=7 * DAY_S, max_bytes=2 * GIB),
        StreamSpec("DISPATCH", "due bots, each taken by one bot-runner",
                   RetentionPolicy.WORK_QUEUE, max_age_s=DAY_S, max_bytes=GIB // 4),
        StreamSpec("DEADLETTERS", "messages no consumer could handle, kept for the operator",
                   RetentionPolicy.LIMITS, max_age_s=30 * DAY_S, max_bytes=GIB),
    )
}

EVENTS: dict[str, type[Event]] = {
    cls.SUBJECT: cls
    for cls in (
        BotRequested,
        BotDispatched,
        BotStatusChanged,
        BotNoted,
        BotLeaveRequested,
        RecordingPiece,
        RecordingUploaded,
        TranscriptionRequested,
        TranscriptionLive,
        TranscriptionDone,
        BotCompleted,
        BotFailed,
        CalendarSynced,
        MeetingBotRequested,
        MeetingImportRequested,
        DeadLetter,
    )
}

CONSUMERS: dict[str, tuple[type[Event], ...]] = {
    "scheduler": (BotStatusChanged, BotNoted, RecordingUploaded, TranscriptionDone,
                  MeetingBotRequested),
    "transcriber": (TranscriptionRequested, RecordingPiece),
    "webhook-dispatcher": (BotStatusChanged, BotCompleted, BotFailed, TranscriptionDone,
                           TranscriptionLive, CalendarSynced),
    "bot-runner": (BotDispatched,),
    "meetings": (BotRequested, BotStatusChanged, BotCompleted, BotFailed, TranscriptionDone,
                 MeetingImportRequested),
}
"""The durable consumers of each service: one per (service, subject), shared by its replicas."""


class UnroutableSubject(LookupError):
    """A subject that no stream of the catalogue holds."""


def stream_of(event: Event | type[Event]) -> StreamSpec:
    subject = event.SUBJECT
    cls = EVENTS.get(subject)
    if cls is None or cls.STREAM not in STREAMS:
        raise UnroutableSubject(f"no stream holds {subject!r}; add its contract to the catalogue")
    return STREAMS[cls.STREAM]


def subjects_of(stream: str) -> list[str]:
    return sorted(subject for subject, cls in EVENTS.items() if cls.STREAM == stream)


def stream_config(spec: StreamSpec, replicas: int = 1) -> StreamConfig:
    """`replicas`: copies of the stream in a NATS cluster (1 on a single server)."""
    return StreamConfig(
        name=spec.name,
        description=spec.description,
        subjects=subjects_of(spec.name),
        retention=spec.retention,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=spec.max_age_s,
        max_bytes=spec.max_bytes,
        duplicate_window=spec.duplicate_window_s,
        num_replicas=replicas,
    )


def durable_name(service: str, event: type[Event]) -> str:
    """`scheduler-bot_status_change`: the consumer name of `service` on `event`'s subject."""
    return f"{service}-{event.SUBJECT.replace('.', '_')}"


def durable_consumers() -> dict[str, str]:
    """Every durable consumer name, with the stream it reads."""
    return {
        durable_name(service, event): event.STREAM
        for service, events in CONSUMERS.items()
        for event in events
    }
