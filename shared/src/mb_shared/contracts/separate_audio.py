"""Each participant's own audio, as the "Participant Separate Audio Parts" download schema
describes it: one FLAC (16 kHz mono) per participant heard, written by the bot-runner where the
platform plays voices apart (`bots/<id>/separate_audio/<part id>.flac`), listed with download
URLs presigned by the services that hand them out."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from mb_shared.contracts.participants import EventTimestamp
from mb_shared.contracts.timeline import TimelineModel, TimelineParticipant


class SeparateAudioPart(TimelineModel):
    id: str
    """The part's id (a UUID)."""
    participant: TimelineParticipant
    """Whose voice it is: `id` as in `meeting_participants_file`."""
    start_timestamp: EventTimestamp
    """Where the part starts on the recording: it lasts from the participant's first words to
    the end of their last, silent between."""
    duration: float
    """Seconds."""
    download_url: str
    """The FLAC file (16 kHz mono), presigned for one hour."""


class StoredAudioPart(TimelineModel):
    """A part as the services keep it: its object key in place of a download URL."""

    id: str
    participant: TimelineParticipant
    start_timestamp: EventTimestamp
    duration: float
    key: str

    def with_url(self, url: str) -> SeparateAudioPart:
        return SeparateAudioPart(**self.model_dump(exclude={"key"}), download_url=url)


def downloadable(parts: Iterable[StoredAudioPart | dict[str, Any]],
                 presign: Callable[[str], str]) -> list[dict[str, Any]]:
    """The parts (or their JSON) as users get them, each with a download URL signed now."""
    stored = [StoredAudioPart.model_validate(part) for part in parts]
    return [part.with_url(presign(part.key)).model_dump(mode="json") for part in stored]
