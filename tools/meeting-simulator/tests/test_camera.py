"""The bot's camera as the other participants see it: once admitted, each platform's page posts its
camera's frames, and the simulator keeps the latest one for tests (`camera_frame`)."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import subprocess
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pytest
from guest_page import GuestPage
from selenium import webdriver
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC

from meeting_simulator import (
    SimulatorClient,
    SimulatorError,
    SimulatorThread,
    new_meet_code,
    new_teams_meeting_id,
    new_zoom_meeting_id,
)

PLATFORMS = ("meet", "teams", "zoom")
HOSTS = {"meet": "meet.google.com", "teams": "teams.microsoft.com", "zoom": "app.zoom.us"}
PARTICIPANTS = [{"name": "Alice"}, {"name": "Bob"}]
REQUESTED_SIZE = (640, 360)  # what the three pages ask getUserMedia for
CAMERA_BLUE = (0x33, 0x66, 0xCC)
MAX_BYTES = 2 * 1024 * 1024
FRAME_WAIT = 30.0  # generous: the machine may be busy with another test run


def new_code(platform: str) -> str:
    return {
        "meet": new_meet_code,
        "teams": new_teams_meeting_id,
        "zoom": new_zoom_meeting_id,
    }[platform]()


def create_meeting(client: SimulatorClient, platform: str, code: str, **fields) -> None:
    extra = {"prejoin_modal": "none", "toasts": False} if platform == "teams" else {}
    client.create_meeting(
        code,
        platform=platform,
        participants=PARTICIPANTS,
        recording_notice=False,
        **extra,
        **fields,
    )


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


def only_guest(client: SimulatorClient, code: str) -> dict:
    (guest,) = client.meeting(code)["guests"]
    return guest


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


# -- driving each platform's page as a user ---------------------------------------------------------


def by_text(text: str) -> tuple[str, str]:
    return By.XPATH, f"//button[normalize-space(.)={text!r} or .//*[normalize-space(.)={text!r}]]"


class Page(GuestPage):
    """What a user does on each platform's guest page: join, wait in the call, switch the camera."""

    timeout = 15.0

    def __init__(self, driver: webdriver.Chrome, platform: str) -> None:
        super().__init__(driver)
        self.platform = platform

    def css(self, selector: str):
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def ask_to_join(self, code: str, name: str) -> None:
        getattr(self, f"_join_{self.platform}")(code, name)

    def _join_meet(self, code: str, name: str) -> None:
        self.driver.get(f"https://meet.google.com/{code}")
        self.wait().until(EC.element_to_be_clickable(by_text("Got it"))).click()
        self.css('input[aria-label="Your name"]').send_keys(name)
        self.wait().until(EC.element_to_be_clickable(by_text("Ask to join"))).click()

    def _join_teams(self, code: str, name: str) -> None:
        thread = urllib.parse.quote(code, safe="")
        self.driver.get(
            f"https://teams.microsoft.com/v2/?meetingjoin=true#/l/meetup-join/{thread}/0"
            "?context=%7B%7D&anon=true"
        )
        field = self.wait().until(
            EC.presence_of_element_located(
                (By.CSS_SELECTOR, '[data-tid="prejoin-display-name-input"]')
            )
        )
        field.send_keys(name)
        join = (By.CSS_SELECTOR, '[data-tid="prejoin-join-button"]')
        self.wait().until(EC.element_to_be_clickable(join)).click()

    def _join_zoom(self, code: str, name: str) -> None:
        self.driver.get(f"https://app.zoom.us/wc/{code}/join")
        self._accept_zoom_layers()
        self.css("#input-for-name").send_keys(name)
        join = "button.preview-join-button"
        self.wait().until(lambda d: "disabled" not in self.css(join).get_attribute("class"))
        self.css(join).click()

    def wait_in_lobby(self) -> None:
        self.wait_for_text(
            {
                "meet": "Asking to be let in",
                "teams": "Someone will let you in shortly",
                "zoom": "Please wait, the meeting host will let you in soon.",
            }[self.platform]
        )

    def _accept_zoom_layers(self) -> None:
        """Click through the cookie, disclaimer, terms and "Allow" layers, topmost first, until
        none has come for a while (a second "Allow" can follow the first)."""
        buttons = ("#onetrust-accept-btn-handler", "#disclaimer_agree", "#wc_agree1")
        self.wait().until(lambda d: d.find_elements(By.CSS_SELECTOR, ".zm-layer"))
        quiet_since = time.monotonic()
        deadline = quiet_since + 20
        while time.monotonic() - quiet_since < 2.0:
            assert time.monotonic() < deadline, "the Zoom layers kept coming"
            layers = self.driver.find_elements(By.CSS_SELECTOR, ".zm-layer")
            if not layers:
                time.sleep(0.1)
                continue
            top = layers[-1]
            try:
                found = [b for css in buttons for b in top.find_elements(By.CSS_SELECTOR, css)]
                (found or top.find_elements(*by_text("Allow")) or [None])[0].click()
            except (AttributeError, ElementClickInterceptedException, StaleElementReferenceException):
                pass
            quiet_since = time.monotonic()
            time.sleep(0.1)

    def wait_in_call(self) -> None:
        selector = {
            "meet": '[role="region"][aria-label="Call controls"]',
            "teams": "#hangup-button",
            "zoom": 'button[aria-label="Leave"]',
        }[self.platform]
        self.wait(20).until(EC.presence_of_element_located((By.CSS_SELECTOR, selector)))
        if self.platform == "zoom":
            dialog = (By.CSS_SELECTOR, '[role="dialog"][aria-label="Join Audio"]')
            self.wait().until(EC.visibility_of_element_located(dialog))
            self.css('[aria-label="Join Audio"] [aria-label="close"]').click()
            self.wait().until(EC.invisibility_of_element_located(dialog))

    def self_view_size(self) -> tuple[int, int]:
        """The size of the camera picture in the guest's own tile, as the page shows it."""
        self.wait().until(
            lambda d: d.execute_script(
                "const v = document.querySelector('video[data-self-video]');"
                "return !!v && v.videoWidth > 0;"
            )
        )
        width, height = self.driver.execute_script(
            "const v = document.querySelector('video[data-self-video]');"
            "return [v.videoWidth, v.videoHeight];"
        )
        return width, height

    def _pointer_over(self, selector: str) -> None:
        """The in-call controls hide while the pointer rests: move it, as a user would."""
        target = self.css(selector)
        ActionChains(self.driver).move_to_element_with_offset(target, 5, 5).move_by_offset(
            10, 10
        ).perform()

    def switch_camera(self, on: bool) -> None:
        """Click the in-call camera button and wait until the page says the camera is `on`."""
        if self.platform == "meet":
            self._pointer_over(".grid")
            now, then = ("Turn on camera", "Turn off camera")
        elif self.platform == "teams":
            now, then = ("Turn camera on", "Turn camera off")
        else:
            self._pointer_over(".speaker-active-container__video-frame")
            now, then = ("start my video", "stop my video")
        if not on:
            now, then = then, now
        button = self.wait(5).until(
            EC.element_to_be_clickable((By.CSS_SELECTOR, f'button[aria-label="{now}"]'))
        )
        button.click()
        self.wait(5).until(
            EC.presence_of_element_located((By.CSS_SELECTOR, f'button[aria-label="{then}"]'))
        )


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


class Platforms:
    """HTTPS to the simulated hosts, trusting the simulator's certificate, as a page would talk."""

    def __init__(self, sim: SimulatorThread) -> None:
        certificate = sim.simulator.certificate
        assert certificate is not None
        self.context = ssl.create_default_context(cafile=str(certificate.cert_path))
        self.port = sim.https_port

    def request(
        self, host: str, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        connection = http.client.HTTPSConnection(host, self.port, context=self.context, timeout=60)
        # The name is the simulated host's (TLS and Host header); the socket goes to the simulator.
        connection._create_connection = lambda address, *args, **kwargs: socket.create_connection(
            ("127.0.0.1", address[1]), *args, **kwargs
        )
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def ask(self, platform: str, code: str, name: str) -> str:
        """Ask to join through the page API, as a page does; the guest's id."""
        status, body = self.request(
            HOSTS[platform],
            "POST",
            f"/_sim/api/{urllib.parse.quote(code, safe='')}/ask",
            json.dumps({"name": name}).encode(),
            {"Content-Type": "application/json"},
        )
        assert status == 200, body
        return json.loads(body)["guest"]["id"]

    def post_camera(
        self, platform: str, code: str, guest_id: str, body: bytes, content_type: str
    ) -> int:
        path = f"/_sim/api/{urllib.parse.quote(code, safe='')}/guests/{guest_id}/camera"
        status, _ = self.request(
            HOSTS[platform], "POST", path, body, {"Content-Type": content_type}
        )
        return status


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
