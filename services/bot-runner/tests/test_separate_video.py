"""Each webcam and screenshare on its own: the WebM the page hands over in chunks, made a file
players can seek in and placed on the recording under the participant the page showed."""

import json
import subprocess
from pathlib import Path

from bot_runner.participants import MeetingRoster
from bot_runner.separate_video import VideoParts
from mb_shared.contracts.bot import Platform

ZERO_MS = 50_000.0
"""The page clock when the recording started."""


def webm(tmp_path: Path, seconds: float, color: str) -> bytes:
    """A VP8 WebM written the way MediaRecorder writes one: streamed, with no duration."""
    out = tmp_path / f"{color}.webm"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"color=c={color}:s=320x180:r=5:d={seconds}", "-c:v", "libvpx",
                    "-f", "webm", "-live", "1", str(out)], check=True, timeout=60)
    return out.read_bytes()


def roster() -> MeetingRoster:
    people = MeetingRoster(ZERO_MS, 1_700_000_000.0, Platform.GOOGLE_MEET)
    people.add_roster_events([
        {"action": "join", "key": "a", "name": "Alice", "t": ZERO_MS + 100},
        {"action": "join", "key": "b", "name": "Bob", "t": ZERO_MS + 200},
    ])
    return people


def probe(path: Path) -> dict:
    return json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        check=True, capture_output=True, text=True, timeout=60).stdout)


def test_parts_are_seekable_files_on_the_recordings_timeline(tmp_path: Path):
    parts = VideoParts(tmp_path / "videos")
    tap = parts.tap()
    data = webm(tmp_path, 3.0, "red")
    tap.on_start("1", {"key": "a", "name": "Alice", "kind": "webcam"}, ZERO_MS + 2_000)
    tap.on_start("2", {"key": "b", "name": "Bob", "kind": "screenshare"}, ZERO_MS + 1_000)
    for i in range(0, len(data), 1000):
        tap.on_chunk("1", data[i:i + 1000])
    tap.on_end("1", ZERO_MS + 5_000)
    tap.on_chunk("2", webm(tmp_path, 2.0, "blue"))  # still on when the recording ends

    made = parts.write(roster(), duration_s=8.5)

    assert [(p.participant.name, p.type, p.start_timestamp.relative, p.duration)
            for p, _ in made] == [("Bob", "screenshare", 1.0, 7.5), ("Alice", "webcam", 2.0, 3.0)]
    assert made[1][0].start_timestamp.absolute == "2023-11-14T22:13:22Z"
    assert len({p.id for p, _ in made}) == 2
    alice = probe(made[1][1])
    assert alice["streams"][0]["codec_name"] == "vp8"
    assert abs(float(alice["format"]["duration"]) - 3.0) < 0.3


def test_a_part_without_video_or_unreadable_is_left_out_and_nothing_comes_after_close(
        tmp_path: Path):
    parts = VideoParts(tmp_path / "videos")
    tap = parts.tap()
    tap.on_start("1", {"key": "a", "name": "Alice", "kind": "webcam"}, ZERO_MS)
    tap.on_start("2", {"key": "b", "name": "Bob", "kind": "webcam"}, ZERO_MS)
    tap.on_chunk("2", b"not a webm at all")
    tap.on_start("3", {"key": "b", "name": "Bob", "kind": "hologram"}, ZERO_MS)
    tap.on_chunk("3", webm(tmp_path, 1.0, "green"))
    parts.close()
    tap.on_start("4", {"key": "a", "name": "Alice", "kind": "webcam"}, ZERO_MS)
    tap.on_chunk("4", webm(tmp_path, 1.0, "green"))
    assert parts.write(roster(), duration_s=5.0) == []
