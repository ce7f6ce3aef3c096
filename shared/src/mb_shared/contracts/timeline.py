"""The speaker timeline file (`bots/<id>/speaker_timeline.json`), as the "Speaker Timeline"
download schema describes it: written by the bot-runner, read by the transcriber."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, model_validator


class TimelineModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False,
                              use_attribute_docstrings=True)


class TimelineParticipant(TimelineModel):
    id: int
    name: str | None = None
    is_host: bool | None = None
    platform: str | None = None
    extra_data: Any = None


class TimelineTimestamp(TimelineModel):
    absolute: datetime | None = None
    relative: float


class SpeakerTimelineEntry(TimelineModel):
    participant: TimelineParticipant
    start_timestamp: TimelineTimestamp
    end_timestamp: TimelineTimestamp

    @model_validator(mode="after")
    def _end_not_before_start(self) -> SpeakerTimelineEntry:
        if self.end_timestamp.relative < self.start_timestamp.relative:
            raise ValueError(
                f"end_timestamp.relative ({self.end_timestamp.relative}) is before "
                f"start_timestamp.relative ({self.start_timestamp.relative})"
            )
        return self

    @property
    def start(self) -> float:
        return self.start_timestamp.relative

    @property
    def end(self) -> float:
        return self.end_timestamp.relative

    @property
    def speaker(self) -> str:
        """The participant's display name (``"Participant <id>"`` when the name is blank)."""
        name = (self.participant.name or "").strip()
        return name or f"Participant {self.participant.id}"


SpeakerTimeline = list[SpeakerTimelineEntry]
_TIMELINE_ADAPTER: TypeAdapter[list[SpeakerTimelineEntry]] = TypeAdapter(list[SpeakerTimelineEntry])


def parse_speaker_timeline(data: str | bytes | Any) -> list[SpeakerTimelineEntry]:
    """Validate a speaker timeline given as JSON text/bytes or as already-decoded JSON."""
    if isinstance(data, str | bytes | bytearray):
        return _TIMELINE_ADAPTER.validate_json(data)
    return _TIMELINE_ADAPTER.validate_python(data)


def load_speaker_timeline(path: Path) -> list[SpeakerTimelineEntry]:
    """Read and validate the speaker timeline JSON file at ``path``."""
    return parse_speaker_timeline(Path(path).read_bytes())


def dump_speaker_timeline(timeline: Sequence[SpeakerTimelineEntry]) -> str:
    """Serialise a timeline back to the download schema (JSON text)."""
    return json.dumps(_TIMELINE_ADAPTER.dump_python(list(timeline), mode="json"))
