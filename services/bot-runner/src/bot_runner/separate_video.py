"""Each webcam and screenshare on its own, where the page plays them on `<video>` elements of
their own (Meet, Teams).

The roster probe names the element of each camera and presentation that is on; the page's
recorder records that element's video track (`videoSlot` in `recorder.js`) while it stays on and
hands the WebM over in chunks (`VideoTap`). `VideoParts` writes each part to a file as it comes
and, once the call is over, makes each a WebM with its duration and index (remuxed, not
re-encoded) placed on the recording's timeline under the participant it belongs to.

Zoom paints every video on canvases and hands no stream out: its bots record no parts.
"""

from __future__ import annotations

import logging
import subprocess
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from bot_runner.media.recorder import VideoTap
from bot_runner.participants import MeetingRoster
from mb_shared.contracts.participants import EventTimestamp
from mb_shared.contracts.separate_parts import StoredVideoPart

log = logging.getLogger(__name__)

KINDS = ("webcam", "screenshare")


@dataclass
class _Part:
    path: Path
    out: BinaryIO | None
    key: str
    name: str
    kind: str
    start_ms: float
    end_ms: float | None = None
    size: int = 0


class VideoParts:
    """The parts the page recorded, as raw WebM files in `directory` while the call goes on."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._parts: dict[str, _Part] = {}
        self._lock = threading.Lock()
        self._closed = False

    def tap(self) -> VideoTap:
        return VideoTap(self._on_start, self._on_chunk, self._on_end)

    def _on_start(self, part: str, meta: dict[str, Any], page_ms: float) -> None:
        kind, key = meta.get("kind"), str(meta.get("key") or "")
        if kind not in KINDS or not key:
            return
        with self._lock:
            if self._closed or part in self._parts:
                return
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / f"{part}.raw.webm"
            self._parts[part] = _Part(path, path.open("wb"), key, str(meta.get("name") or ""),
                                      kind, page_ms)

    def _on_chunk(self, part: str, webm: bytes) -> None:
        with self._lock:
            found = self._parts.get(part)
            if found is None or found.out is None:
                return
            found.out.write(webm)
            found.size += len(webm)

    def _on_end(self, part: str, page_ms: float) -> None:
        with self._lock:
            found = self._parts.get(part)
            if found is not None and found.out is not None:
                found.out.close()
                found.out = None
                found.end_ms = page_ms

    def close(self) -> None:
        """No more chunks are taken; the files are complete as far as they came."""
        with self._lock:
            self._closed = True
            for part in self._parts.values():
                if part.out is not None:
                    part.out.close()
                    part.out = None

    def write(self, roster: MeetingRoster, duration_s: float) -> list[tuple[StoredVideoPart, Path]]:
        """Each part that holds video, remuxed beside its raw file, with its place on the
        recording (`key` left empty for the uploader): a part still on when the recording ended
        (or its page went away) lasts until then, `duration_s`. In order of start."""
        self.close()
        made = []
        for part in sorted(self._parts.values(), key=lambda p: p.start_ms):
            if part.size == 0:
                continue
            part_id = str(uuid.uuid4())
            path = self.directory / f"{part_id}.webm"
            if not _remux(part.path, path):
                continue
            start = round(roster.relative(part.start_ms), 3)
            end = duration_s if part.end_ms is None else min(roster.relative(part.end_ms),
                                                             duration_s)
            absolute = datetime.fromtimestamp(roster.started_at_unix + start, UTC)
            made.append((StoredVideoPart(
                id=part_id,
                participant=roster.participant(part.key, part.name),
                start_timestamp=EventTimestamp(
                    absolute=absolute.isoformat().replace("+00:00", "Z"), relative=start),
                duration=round(max(0.0, end - start), 3),
                type=part.kind,
                key="",
            ), path))
        return made


def _remux(raw: Path, out: Path) -> bool:
    """The page's WebM (written live: no duration, no index) as a file players can seek in."""
    try:
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(raw),
                        "-map", "0:v:0", "-c", "copy", str(out)],
                       check=True, capture_output=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("video part %s not usable: %s", raw.name, exc)
        return False
    return True
