"""Each participant's own audio and video, as the "Participant Separate Audio Parts" and
"Participant Separate Video Parts" download schemas describe them. The bot-runner writes them
where the platform plays them apart: one FLAC (16 kHz mono) per participant heard
(`bots/<id>/separate_audio/<part id>.flac`), one WebM (VP8) per stretch of a webcam or a
screenshare (`bots/<id>/separate_video/<part id>.webm`). The services keep each part with its
object key and hand it out with a download URL presigned at that moment."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Literal

from mb_shared.contracts.participants import EventTimestamp
from mb_shared.contracts.timeline import TimelineModel, TimelineParticipant

VideoPartType = Literal["webcam", "screenshare"]


class _Part(TimelineModel):
    id: str
    """The part's id (a UUID)."""
    participant: TimelineParticipant
    """Whose voice or video it is: `id` as in `meeting_participants_file`."""
    start_timestamp: EventTimestamp
    """Where the part starts on the recording."""
    duration: float
    """Seconds."""


class SeparateAudioPart(_Part):
    """A participant's voice: from their first words to the end of their last, silent between."""

    download_url: str
    """The FLAC file (16 kHz mono), presigned for one hour."""


class SeparateVideoPart(_Part):
    """A webcam or a screenshare, from the moment the page showed it on to the moment it went
    off (or showed another stream in its place)."""

    type: VideoPartType
    download_url: str
    """The WebM file (VP8, no sound), presigned for one hour."""


class _StoredPart(_Part):
    """A part as the services keep it: its object key in place of a download URL."""

    PUBLIC: ClassVar[type[_Part]]
    key: str

    def with_url(self, url: str) -> _Part:
        return self.PUBLIC(**self.model_dump(exclude={"key"}), download_url=url)


class StoredAudioPart(_StoredPart):
    PUBLIC: ClassVar[type[_Part]] = SeparateAudioPart


class StoredVideoPart(_StoredPart):
    PUBLIC: ClassVar[type[_Part]] = SeparateVideoPart
    type: VideoPartType


def downloadable(parts: Iterable[_StoredPart | dict[str, Any]],
                 presign: Callable[[str], str],
                 kind: type[_StoredPart] = StoredAudioPart) -> list[dict[str, Any]]:
    """The parts (or their JSON) as users get them, each with a download URL signed now."""
    stored = [kind.model_validate(part) for part in parts]
    return [part.with_url(presign(part.key)).model_dump(mode="json") for part in stored]
