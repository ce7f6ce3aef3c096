"""The bot's microphone as the other participants hear it: once admitted, each platform's page
records its microphone and posts the chunks, and the simulator keeps the whole recording for tests
(`microphone_audio`)."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from platform_page import (
    PLATFORMS,
    Page,
    Platforms,
    create_meeting,
    new_code,
    only_guest,
)

from meeting_simulator import SimulatorError, SimulatorThread, new_meet_code

WEBM_MAGIC = b"\x1a\x45\xdf\xa3"  # the EBML header every WebM file begins with
MAX_BYTES = 64 * 1024 * 1024
WAIT = 30.0  # generous: the machine may be busy with another test run
ON_SECONDS = 2.5  # how long the guest speaks in the call before muting
MUTED_SECONDS = 3.0  # and how long it stays in the call muted
MARGIN = 0.5  # seconds kept away from the moment of muting when measuring either side of it
SAMPLE_RATE = 48000


# -- what ffmpeg hears in a recording ----------------------------------------------------------------


def assert_decodes(webm: bytes) -> None:
    """ffmpeg decodes the whole recording without an error."""
    run = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", "-", "-f", "null", "-"],
        input=webm,
        capture_output=True,
        timeout=120,
    )
    assert run.returncode == 0 and not run.stderr, run.stderr.decode(errors="replace")


@dataclass(frozen=True)
class Loudness:
    seconds: float
    mean_db: float
    max_db: float


def loudness(webm: bytes, start: float = 0.0, duration: float | None = None) -> Loudness:
    """ffmpeg's volumedetect over `duration` seconds (else to the end) from `start` seconds into the
    recording (`-ss` and `-t` on the input: ffmpeg decodes from the start and drops what lies
    outside), the audio resampled to 48 kHz mono."""
    args = ["ffmpeg", "-hide_banner", "-nostats", "-ss", f"{start:.3f}"]
    if duration is not None:
        args += ["-t", f"{duration:.3f}"]
    args += [
        "-i",
        "-",
        "-af",
        f"aresample={SAMPLE_RATE},aformat=channel_layouts=mono,volumedetect",
        "-f",
        "null",
        "-",
    ]
    run = subprocess.run(args, input=webm, capture_output=True, timeout=120)
    report = run.stderr.decode(errors="replace")
    assert run.returncode == 0, report

    def value(name: str) -> float:
        found = re.search(rf"{name}: (-?[0-9.]+|-?inf)", report)
        assert found, f"volumedetect gave no {name}: {report}"
        return float(found.group(1))

    return Loudness(value("n_samples") / SAMPLE_RATE, value("mean_volume"), value("max_volume"))


def make_recording(directory: Path, seconds: float = 2.0) -> bytes:
    """A WebM/Opus file of a 440 Hz tone (lavfi's sine, about -21 dB), as a MediaRecorder would
    post it."""
    path = directory / "tone.webm"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
        + ["-c:a", "libopus", "-f", "webm", str(path)],
        check=True,
        timeout=60,
    )
    return path.read_bytes()


# -- through real pages ------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_others_hear_the_microphone_and_silence_once_it_is_muted(driver, client, platform):
    """Chromium's fake microphone (`--use-fake-device-for-media-stream`) beeps every 500 ms: the
    recording holds those beeps while the microphone is on and digital silence once the user muted
    it, and it runs from admission to leaving."""
    code = new_code(platform)
    create_meeting(client, platform, code, admission={"action": "ignore"})
    page = Page(driver, platform)
    page.ask_to_join(code, f"{platform.title()} Bot")
    page.wait_in_lobby()

    # In the waiting room nobody hears the guest: the page posts nothing.
    time.sleep(1.5)
    guest = only_guest(client, code)
    assert guest["status"] == "asking"
    assert guest["microphone_bytes"] == 0 and guest["microphone_chunk_count"] == 0
    with pytest.raises(SimulatorError) as raised:
        client.microphone_audio(code, guest["id"])
    assert raised.value.status == 404

    client.admit(code)
    page.wait_in_call(join_audio=True)
    in_call = time.time()  # the page started recording before it showed the call
    # Chunks come while the guest is in the call, not only when it leaves.
    guest = client.wait_for(
        code, lambda s: s["guests"][0]["microphone_chunk_count"] >= 2, WAIT
    )["guests"][0]
    assert guest["microphone_stopped_at"] is None and guest["microphone_at"] >= guest["admitted_at"]
    early = client.microphone_audio(code, guest["id"])
    assert early.startswith(WEBM_MAGIC) and len(early) >= guest["microphone_bytes"]

    time.sleep(max(0.0, ON_SECONDS - (time.time() - in_call)))
    before_mute = time.time()
    page.switch_microphone(on=False)
    muted = time.time()
    time.sleep(MUTED_SECONDS)
    before_leave = time.time()
    page.leave()
    left_seen = time.time()  # the page stopped recording before it showed the end screen

    # The page posts its last chunk once it is out of the call: then the recording is complete.
    guest = client.wait_for(code, lambda s: s["guests"][0]["microphone_stopped_at"], WAIT)[
        "guests"
    ][0]
    assert guest["status"] == "left"
    audio = client.microphone_audio(code, guest["id"])
    assert len(audio) == guest["microphone_bytes"]
    assert audio.startswith(early), "chunks are appended in order, never rewritten"
    assert_decodes(audio)

    # It lasts as long as the guest was in the call: from before the page showed the call to after
    # the user clicked "Leave", and no longer than from admission to the end screen.
    whole = loudness(audio)
    assert before_leave - in_call - 1.0 <= whole.seconds <= left_seen - guest["admitted_at"] + 1.0

    # The microphone was on from the start to the click on mute: Chromium's beeps are there.
    heard = loudness(audio, 0.0, before_mute - in_call - MARGIN)
    assert heard.seconds >= ON_SECONDS - MARGIN - 0.1
    assert heard.mean_db > -50.0, f"the microphone was on but the recording is silent: {heard}"

    # Muted from the click to leaving: the last part is silence, though the guest stayed.
    quiet_seconds = before_leave - muted - MARGIN
    quiet = loudness(audio, whole.seconds - quiet_seconds)
    assert quiet.seconds >= quiet_seconds - 0.1
    assert quiet.max_db < -60.0, f"the microphone was muted but the recording is not silent: {quiet}"


def test_on_zoom_the_others_hear_the_guest_only_once_it_joined_audio_by_computer(driver, client):
    """As in Zoom, a guest who has not joined audio by computer is not heard: the recording is
    silent until then, though the microphone is on."""
    code = new_code("zoom")
    create_meeting(client, "zoom", code, admission={"action": "admit", "after": 0.5})
    page = Page(driver, "zoom")
    page.ask_to_join(code, "Zoom Listener")
    page.wait_in_call(join_audio=False)  # closes Zoom's "Join Audio" dialog
    in_call = time.time()  # the page started recording before it showed the call
    time.sleep(ON_SECONDS)
    before_join = time.time()
    page.join_computer_audio()
    joined = time.time()
    time.sleep(ON_SECONDS)
    before_leave = time.time()
    page.leave()

    guest = client.wait_for(code, lambda s: s["guests"][0]["microphone_stopped_at"], WAIT)[
        "guests"
    ][0]
    assert guest["computer_audio_joined_at"] is not None and guest["preview_audio_muted"] is False
    audio = client.microphone_audio(code, guest["id"])
    assert_decodes(audio)
    whole = loudness(audio)
    assert whole.seconds >= before_leave - in_call - 1.0

    unheard = loudness(audio, 0.0, before_join - in_call - MARGIN)
    assert unheard.seconds >= ON_SECONDS - MARGIN - 0.1
    assert unheard.max_db < -60.0, f"heard before joining audio: {unheard}"
    heard_seconds = before_leave - joined - MARGIN
    heard = loudness(audio, whole.seconds - heard_seconds)
    assert heard.seconds >= heard_seconds - 0.1
    assert heard.mean_db > -50.0, f"not heard after joining audio: {heard}"


# -- the page API's microphone route over plain HTTPS ------------------------------------------------


@pytest.fixture(scope="module")
def platforms(sim: SimulatorThread) -> Platforms:
    return Platforms(sim)


def post_microphone(
    platforms: Platforms,
    platform: str,
    code: str,
    guest_id: str,
    body: bytes,
    *,
    last: bool = False,
    content_type: str = "audio/webm",
) -> int:
    route = "microphone?last=1" if last else "microphone"
    return platforms.post_guest(platform, code, guest_id, route, body, content_type)[0]


def control_get(sim: SimulatorThread, path: str) -> tuple[int, str, bytes, dict[str, str]]:
    """A GET on the control API: status, content type, body and headers, errors included."""
    try:
        with urllib.request.urlopen(sim.control_url + path, timeout=60) as response:
            return response.status, response.headers.get_content_type(), response.read(), dict(
                response.headers
            )
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get_content_type(), error.read(), dict(error.headers)


def microphone_path(code: str, guest_id: str) -> str:
    return f"/meetings/{urllib.parse.quote(code, safe='')}/guests/{guest_id}/microphone"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_microphone_route_appends_the_chunks_until_the_last(
    sim, platforms, client, platform, tmp_path
):
    recording = make_recording(tmp_path)
    chunks = [recording[i : i + 1000] for i in range(0, len(recording), 1000)]
    assert len(chunks) >= 4
    code = new_code(platform)
    create_meeting(client, platform, code, admission={"action": "admit", "after": 0})
    guest_id = platforms.ask(platform, code, "Speaker")
    client.wait_for(code, lambda s: s["guests"][0]["status"] == "admitted")

    # Nothing posted yet: the control API says so in its error shape.
    status, content_type, body, _ = control_get(sim, microphone_path(code, guest_id))
    assert (status, content_type) == (404, "application/json")
    assert "no microphone audio" in json.loads(body)["error"]

    for count, chunk in enumerate(chunks[:-1], start=1):
        assert post_microphone(platforms, platform, code, guest_id, chunk) == 200
        guest = only_guest(client, code)
        assert guest["microphone_chunk_count"] == count
        assert guest["microphone_bytes"] == sum(len(c) for c in chunks[:count])
    assert guest["microphone_at"] >= guest["admitted_at"] and guest["microphone_stopped_at"] is None
    status, _, body, headers = control_get(sim, microphone_path(code, guest_id))
    assert status == 200 and body == b"".join(chunks[:-1])
    assert headers["X-Microphone-Chunks"] == str(len(chunks) - 1)
    assert "X-Microphone-Stopped-At" not in headers
    assert client.microphone_audio(code, guest_id) == body

    # The last chunk closes the recording: whole, in order, it is the file that was cut up.
    assert post_microphone(platforms, platform, code, guest_id, chunks[-1], last=True) == 200
    guest = only_guest(client, code)
    assert guest["microphone_stopped_at"] >= guest["microphone_at"]
    assert guest["microphone_bytes"] == len(recording)
    status, content_type, body, headers = control_get(sim, microphone_path(code, guest_id))
    assert (status, content_type, body) == (200, "audio/webm", recording)
    assert headers["X-Microphone-Chunks"] == str(len(chunks))
    assert float(headers["X-Microphone-Stopped-At"]) == guest["microphone_stopped_at"]
    assert_decodes(body)
    tone = loudness(body)
    assert tone.seconds == pytest.approx(2.0, abs=0.05) and tone.mean_db > -30.0

    # A closed recording takes nothing more; other types are refused; refused posts change nothing.
    assert post_microphone(platforms, platform, code, guest_id, chunks[0]) == 409
    assert post_microphone(platforms, platform, code, guest_id, b"", last=True) == 409
    for content_type in ("audio/ogg", "application/octet-stream", "video/webm"):
        assert post_microphone(
            platforms, platform, code, guest_id, chunks[0], content_type=content_type
        ) == 415
    assert client.microphone_audio(code, guest_id) == recording
    assert only_guest(client, code)["microphone_chunk_count"] == len(chunks)

    # Unknown meeting or guest: 404, on the page API and the control API alike.
    assert post_microphone(platforms, platform, code, "0" * 16, chunks[0]) == 404
    assert post_microphone(platforms, platform, new_code(platform), guest_id, chunks[0]) == 404
    for unknown_code, unknown_guest in ((code, "0" * 16), (new_code(platform), guest_id)):
        status, content_type, body, _ = control_get(
            sim, microphone_path(unknown_code, unknown_guest)
        )
        assert (status, content_type) == (404, "application/json") and json.loads(body)["error"]
        with pytest.raises(SimulatorError) as raised:
            client.microphone_audio(unknown_code, unknown_guest)
        assert raised.value.status == 404


def test_the_last_chunk_comes_after_leaving(platforms, client, tmp_path):
    """The page stops recording once it is out of the call, so a guest who was in the call may
    still post: its recording stays open until it is closed."""
    recording = make_recording(tmp_path)
    code = new_meet_code()
    create_meeting(client, "meet", code, admission={"action": "admit", "after": 0})
    guest_id = platforms.ask("meet", code, "Leaver")
    client.wait_for(code, lambda s: s["guests"][0]["status"] == "admitted")
    assert post_microphone(platforms, "meet", code, guest_id, recording[:500]) == 200
    platforms.leave("meet", code, guest_id)
    assert only_guest(client, code)["status"] == "left"
    assert post_microphone(platforms, "meet", code, guest_id, recording[500:]) == 200
    assert only_guest(client, code)["microphone_stopped_at"] is None
    # As the page does: once its recorder stopped, an empty post closes the recording.
    assert post_microphone(platforms, "meet", code, guest_id, b"", last=True) == 200
    guest = only_guest(client, code)
    assert guest["microphone_stopped_at"] is not None and guest["microphone_chunk_count"] == 2
    assert client.microphone_audio(code, guest_id) == recording


def test_a_guest_never_admitted_cannot_post_and_a_recording_starts_with_webm(
    platforms, client, tmp_path
):
    recording = make_recording(tmp_path)
    code = new_meet_code()
    create_meeting(client, "meet", code, admission={"action": "ignore"})
    guest_id = platforms.ask("meet", code, "Early")
    assert post_microphone(platforms, "meet", code, guest_id, recording) == 409
    guest = only_guest(client, code)
    assert guest["status"] == "asking" and guest["microphone_bytes"] == 0
    with pytest.raises(SimulatorError) as raised:
        client.microphone_audio(code, guest_id)
    assert raised.value.status == 404 and "no microphone audio" in str(raised.value)

    client.admit(code)
    assert post_microphone(platforms, "meet", code, guest_id, b"not a webm file") == 400
    assert post_microphone(platforms, "meet", code, guest_id, recording[16:]) == 400
    assert only_guest(client, code)["microphone_bytes"] == 0
    assert post_microphone(platforms, "meet", code, guest_id, recording) == 200
    # Only the first chunk begins with the header; the ones after it are the stream's middle.
    assert post_microphone(platforms, "meet", code, guest_id, b"\x1f\x43\xb6\x75") == 200
    assert only_guest(client, code)["microphone_bytes"] == len(recording) + 4


def test_the_recording_is_capped_at_64_mib_and_stays_one_stream(platforms, client, tmp_path):
    recording = make_recording(tmp_path)
    code = new_meet_code()
    create_meeting(client, "meet", code, admission={"action": "admit", "after": 0})
    guest_id = platforms.ask("meet", code, "Talker")
    client.wait_for(code, lambda s: s["guests"][0]["status"] == "admitted")

    # Exactly 64 MiB are kept; one byte more is refused, and so is every chunk after a refused one,
    # even one that would fit, so that what is kept never skips a chunk.
    assert post_microphone(platforms, "meet", code, guest_id, recording) == 200
    padding = b"\0" * (MAX_BYTES - len(recording) - 100)
    assert post_microphone(platforms, "meet", code, guest_id, padding) == 200
    assert post_microphone(platforms, "meet", code, guest_id, b"\0" * 101) == 413
    assert post_microphone(platforms, "meet", code, guest_id, b"\0" * 10) == 413
    guest = only_guest(client, code)
    assert guest["microphone_bytes"] == MAX_BYTES - 100 and guest["microphone_chunk_count"] == 2
    assert guest["microphone_stopped_at"] is None

    # A refused last chunk still closes the recording; after that the recording is closed (409).
    assert post_microphone(platforms, "meet", code, guest_id, b"\0" * 10, last=True) == 413
    guest = only_guest(client, code)
    assert guest["microphone_stopped_at"] is not None
    assert guest["microphone_bytes"] == MAX_BYTES - 100
    assert post_microphone(platforms, "meet", code, guest_id, b"\0") == 409
    audio = client.microphone_audio(code, guest_id)
    assert len(audio) == MAX_BYTES - 100 and audio.startswith(recording)


def test_a_chunk_that_fills_the_recording_exactly_is_kept(platforms, client, tmp_path):
    recording = make_recording(tmp_path)
    code = new_meet_code()
    create_meeting(client, "meet", code, admission={"action": "admit", "after": 0})
    guest_id = platforms.ask("meet", code, "Filler")
    client.wait_for(code, lambda s: s["guests"][0]["status"] == "admitted")
    padded = recording + b"\0" * (MAX_BYTES - len(recording))
    assert post_microphone(platforms, "meet", code, guest_id, padded, last=True) == 200
    guest = only_guest(client, code)
    assert guest["microphone_bytes"] == MAX_BYTES and guest["microphone_stopped_at"] is not None
    assert client.microphone_audio(code, guest_id) == padded


def test_pages_load_the_shared_microphone_module(platforms):
    for host in ("meet.google.com", "teams.microsoft.com", "app.zoom.us"):
        status, script = platforms.request(host, "GET", "/_sim/common/microphone.js", None, {})
        assert status == 200 and b"window.SimMicrophone" in script

