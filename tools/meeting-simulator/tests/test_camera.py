"""The bot's camera as the other participants see it: once admitted, each platform's page posts its
camera's frames, and the simulator keeps the latest one for tests (`camera_frame`)."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from platform_page import (
    HOSTS,
    PLATFORMS,
    Page,
    Platforms,
    create_meeting,
    new_code,
    only_guest,
)

from meeting_simulator import (
    SimulatorClient,
    SimulatorError,
    SimulatorThread,
    new_meet_code,
)

REQUESTED_SIZE = (640, 360)  # what the three pages ask getUserMedia for
CAMERA_BLUE = (0x33, 0x66, 0xCC)
MAX_BYTES = 2 * 1024 * 1024
FRAME_WAIT = 30.0  # generous: the machine may be busy with another test run


# -- decoding what the simulator received ---------------------------------------------------------


def decode(image: bytes) -> np.ndarray:
    """The image as an (height, width, 3) array of RGB bytes, decoded by ffmpeg."""
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=width,height", "-of", "json", "-"],
        input=image,
        capture_output=True,
        check=True,
        timeout=60,
    )
    (stream,) = json.loads(probe.stdout)["streams"]
    width, height = stream["width"], stream["height"]
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", "-", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        input=image,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    assert len(raw) == width * height * 3, "ffmpeg did not decode one whole frame"
    return np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3)


def make_image(directory: Path, name: str, size: str = "32x24", color: str = "red") -> bytes:
    path = directory / name
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"color=c={color}:s={size}"]
        + ["-frames:v", "1", str(path)],
        check=True,
        timeout=60,
    )
    return path.read_bytes()


# -- the control API's view of a guest's camera ---------------------------------------------------


def wait_for_frames(client: SimulatorClient, code: str, count: int) -> dict:
    """Wait until the only guest's page has posted at least `count` frames; return the guest."""
    state = client.wait_for(
        code, lambda s: s["guests"] and s["guests"][0]["camera_frame_count"] >= count, FRAME_WAIT
    )
    return state["guests"][0]


def wait_for_new_picture(client: SimulatorClient, code: str, guest_id: str, old: bytes) -> bytes:
    deadline = time.monotonic() + FRAME_WAIT
    while time.monotonic() < deadline:
        frame = client.camera_frame(code, guest_id)
        if frame != old:
            return frame
        time.sleep(0.3)
    raise AssertionError("the camera frame never changed")


def assert_quiet(client: SimulatorClient, code: str, seconds: float = 3.5) -> None:
    """No frame arrives for `seconds` (several posting intervals)."""
    before = only_guest(client, code)["camera_frame_count"]
    time.sleep(seconds)
    assert only_guest(client, code)["camera_frame_count"] == before, "frames kept coming"


# -- through real pages ------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_camera_shows_once_admitted_and_stops_when_turned_off(driver, client, platform):
    code = new_code(platform)
    create_meeting(client, platform, code, admission={"action": "ignore"})
    page = Page(driver, platform)
    page.ask_to_join(code, f"{platform.title()} Bot")
    page.wait_in_lobby()

    # In the waiting room nobody sees the camera: the page posts nothing.
    guest = only_guest(client, code)
    assert guest["status"] == "asking"
    time.sleep(3.5)
    guest = only_guest(client, code)
    assert guest["camera_frame_at"] is None and guest["camera_frame_count"] == 0
    with pytest.raises(SimulatorError) as raised:
        client.camera_frame(code, guest["id"])
    assert raised.value.status == 404

    client.admit(code)
    page.wait_in_call()
    guest = wait_for_frames(client, code, 1)
    assert guest["camera_frame_at"] >= guest["admitted_at"]
    first = client.camera_frame(code, guest["id"])
    assert first[:3] == b"\xff\xd8\xff", "the page posts JPEG"
    assert len(first) > 1500, "a real picture, not an empty frame"
    picture = decode(first)
    height, width, _ = picture.shape
    assert (width, height) == page.self_view_size() == REQUESTED_SIZE
    assert (guest["camera_frame_width"], guest["camera_frame_height"]) == (width, height)
    red, green, blue = picture.reshape(-1, 3).mean(axis=0)
    assert green > 100 and red < 60 and blue < 60, "Chromium's green test pattern, not black"

    # Chromium's fake camera moves (its pie grows): new frames bring a new picture.
    second = decode(wait_for_new_picture(client, code, guest["id"], first))
    assert second.shape == picture.shape
    assert np.abs(second.astype(float) - picture).mean() > 1.0
    later = wait_for_frames(client, code, guest["camera_frame_count"] + 2)
    assert later["camera_frame_at"] > guest["camera_frame_at"]

    # The user turns the camera off: the others see nothing new until it is back on.
    page.switch_camera(on=False)
    time.sleep(1.5)  # a frame already on its way may still land
    assert_quiet(client, code)
    stopped = only_guest(client, code)["camera_frame_count"]
    page.switch_camera(on=True)
    wait_for_frames(client, code, stopped + 2)

    # Once the guest is out of the call, nothing more is posted; the last frame stays readable.
    client.end(code)
    page.wait_for_text(
        {
            "meet": "Your host ended the meeting for everyone",
            "teams": "Meeting ended",
            "zoom": "This meeting has been ended by host",
        }[platform]
    )
    time.sleep(1.5)
    assert_quiet(client, code)
    assert client.camera_frame(code, guest["id"])[:3] == b"\xff\xd8\xff"


def test_a_picture_given_as_the_camera_file_is_what_the_others_see(
    sim, client, launch_chromium, tmp_path
):
    """`--use-file-for-fake-video-capture=<one-frame .y4m>`: Chromium loops the single frame, and
    the frames the simulator receives are that picture, at its size."""
    y4m = tmp_path / "camera.y4m"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=0x3366cc:s=640x360"]
        + ["-frames:v", "1", "-pix_fmt", "yuv420p", str(y4m)],
        check=True,
        timeout=60,
    )
    browser = launch_chromium(sim.chromium_args() + [f"--use-file-for-fake-video-capture={y4m}"])
    code = new_meet_code()
    create_meeting(client, "meet", code, admission={"action": "admit", "after": 0.5})
    page = Page(browser, "meet")
    page.ask_to_join(code, "File Camera Bot")
    page.wait_in_call()

    guest = wait_for_frames(client, code, 1)
    for count in (guest["camera_frame_count"], guest["camera_frame_count"] + 3):
        guest = wait_for_frames(client, code, count)
        picture = decode(client.camera_frame(code, guest["id"])).astype(float)
        height, width, _ = picture.shape
        assert (width, height) == (640, 360) == page.self_view_size()
        mean = picture.reshape(-1, 3).mean(axis=0)
        assert np.abs(mean - CAMERA_BLUE).max() < 12, f"mean colour {mean} is not {CAMERA_BLUE}"
        assert picture.std(axis=(0, 1)).max() < 6, "a flat picture, not Chromium's test pattern"

    # The track keeps delivering frames from the one-frame file (it loops, it does not stall).
    delivered = browser.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const video = document.querySelector('video[data-self-video]');
        const track = video.srcObject.getVideoTracks()[0];
        let frames = 0;
        const count = () => { frames += 1; video.requestVideoFrameCallback(count); };
        video.requestVideoFrameCallback(count);
        setTimeout(() => done({frames, muted: track.muted, state: track.readyState,
                               settings: track.getSettings()}), 3000);
        """
    )
    assert delivered["state"] == "live" and delivered["muted"] is False, delivered
    assert delivered["frames"] >= 10, f"the file's frame is not repeated: {delivered}"
    assert (delivered["settings"]["width"], delivered["settings"]["height"]) == (640, 360)


# -- the page API's camera route over plain HTTPS ----------------------------------------------------


@pytest.fixture(scope="module")
def platforms(sim: SimulatorThread) -> Platforms:
    return Platforms(sim)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_camera_route_keeps_the_latest_frame_and_refuses_the_rest(
    platforms, client, platform, tmp_path
):
    jpeg = make_image(tmp_path, "frame.jpg", "64x48", "green")
    png = make_image(tmp_path, "frame.png", "40x30", "yellow")
    code = new_code(platform)
    create_meeting(client, platform, code, admission={"action": "admit", "after": 0})
    guest_id = platforms.ask(platform, code, "Poster")
    client.wait_for(code, lambda s: s["guests"][0]["status"] == "admitted")

    assert platforms.post_camera(platform, code, guest_id, jpeg, "image/jpeg") == 200
    guest = only_guest(client, code)
    assert guest["camera_frame_count"] == 1 and guest["camera_frame_at"] is not None
    assert (guest["camera_frame_width"], guest["camera_frame_height"]) == (64, 48)
    assert client.camera_frame(code, guest_id) == jpeg
    assert decode(jpeg)[0, 0].tolist() == pytest.approx([0, 128, 0], abs=8)

    assert platforms.post_camera(platform, code, guest_id, png, "image/png") == 200
    assert client.camera_frame(code, guest_id) == png, "only the latest frame is kept"
    guest = only_guest(client, code)
    assert guest["camera_frame_count"] == 2
    assert (guest["camera_frame_width"], guest["camera_frame_height"]) == (40, 30)

    # 2 MiB is the limit: a JPEG padded to exactly that is taken, one byte more is not.
    padded = jpeg + b"\0" * (MAX_BYTES - len(jpeg))
    assert platforms.post_camera(platform, code, guest_id, padded, "image/jpeg") == 200
    assert client.camera_frame(code, guest_id) == padded
    assert platforms.post_camera(platform, code, guest_id, padded + b"\0", "image/jpeg") == 413
    for content_type in ("image/gif", "application/octet-stream", "application/json"):
        assert platforms.post_camera(platform, code, guest_id, jpeg, content_type) == 415
    assert platforms.post_camera(platform, code, guest_id, b"not a picture", "image/jpeg") == 400
    assert platforms.post_camera(platform, code, guest_id, jpeg, "image/png") == 400
    assert client.camera_frame(code, guest_id) == padded, "refused posts change nothing"
    assert only_guest(client, code)["camera_frame_count"] == 3

    # Unknown meeting or guest: 404, on the page API and the control API alike.
    assert platforms.post_camera(platform, code, "0" * 16, jpeg, "image/jpeg") == 404
    assert platforms.post_camera(platform, new_code(platform), guest_id, jpeg, "image/jpeg") == 404
    for unknown_code, unknown_guest in ((code, "0" * 16), (new_code(platform), guest_id)):
        with pytest.raises(SimulatorError) as raised:
            client.camera_frame(unknown_code, unknown_guest)
        assert raised.value.status == 404

    # Out of the call nobody sees the camera: 409, and the last frame stays.
    status, _ = platforms.request(
        HOSTS[platform],
        "POST",
        f"/_sim/api/{urllib.parse.quote(code, safe='')}/guests/{guest_id}/leave",
        b"{}",
        {"Content-Type": "application/json"},
    )
    assert status == 200 and only_guest(client, code)["status"] == "left"
    assert platforms.post_camera(platform, code, guest_id, jpeg, "image/jpeg") == 409
    assert client.camera_frame(code, guest_id) == padded


def test_a_guest_still_waiting_cannot_post_camera_frames(platforms, client, tmp_path):
    jpeg = make_image(tmp_path, "frame.jpg")
    code = new_meet_code()
    create_meeting(client, "meet", code, admission={"action": "ignore"})
    guest_id = platforms.ask("meet", code, "Early")
    assert platforms.post_camera("meet", code, guest_id, jpeg, "image/jpeg") == 409
    guest = only_guest(client, code)
    assert guest["status"] == "asking" and guest["camera_frame_at"] is None
    with pytest.raises(SimulatorError) as raised:
        client.camera_frame(code, guest_id)
    assert raised.value.status == 404 and "no camera frame" in str(raised.value)


def test_pages_load_the_shared_camera_module_and_nothing_else_from_common(platforms):
    status, script = platforms.request("meet.google.com", "GET", "/_sim/common/camera.js", None, {})
    assert status == 200 and b"window.SimCamera" in script
    for host in HOSTS.values():
        assert platforms.request(host, "GET", "/_sim/common/camera.js", None, {})[0] == 200
        for name in ("meet.js", "..%2Fmeet%2Fmeet.js", "nope.js"):
            assert platforms.request(host, "GET", f"/_sim/common/{name}", None, {})[0] == 404
