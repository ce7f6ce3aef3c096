"""Each platform's guest page as a user drives it (join, wait in the call, switch the camera and
microphone, leave), and the page API spoken over HTTPS as a page speaks it. Shared by the camera and
microphone tests."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
import urllib.parse

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
    SimulatorThread,
    new_meet_code,
    new_teams_meeting_id,
    new_zoom_meeting_id,
)

PLATFORMS = ("meet", "teams", "zoom")
HOSTS = {"meet": "meet.google.com", "teams": "teams.microsoft.com", "zoom": "app.zoom.us"}
PARTICIPANTS = [{"name": "Alice"}, {"name": "Bob"}]


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


def only_guest(client: SimulatorClient, code: str) -> dict:
    (guest,) = client.meeting(code)["guests"]
    return guest


# -- driving each platform's page as a user ---------------------------------------------------------


def by_text(text: str) -> tuple[str, str]:
    return By.XPATH, f"//button[normalize-space(.)={text!r} or .//*[normalize-space(.)={text!r}]]"


class Page(GuestPage):
    """What a user does on each platform's guest page: join, wait in the call, switch the camera or
    the microphone, leave."""

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

    def wait_in_call(self, join_audio: bool = False) -> None:
        """Wait until the page shows the call. On Zoom, answer the "Join Audio" dialog: join by
        computer with `join_audio` (then the footer has a microphone button), else close it."""
        selector = {
            "meet": '[role="region"][aria-label="Call controls"]',
            "teams": "#hangup-button",
            "zoom": 'button[aria-label="Leave"]',
        }[self.platform]
        self.wait(20).until(EC.presence_of_element_located((By.CSS_SELECTOR, selector)))
        if self.platform == "zoom":
            dialog = (By.CSS_SELECTOR, '[role="dialog"][aria-label="Join Audio"]')
            self.wait().until(EC.visibility_of_element_located(dialog))
            if join_audio:
                self._join_audio_by_computer()
            else:
                self.css('[aria-label="Join Audio"] [aria-label="close"]').click()
            self.wait().until(EC.invisibility_of_element_located(dialog))

    def join_computer_audio(self) -> None:
        """Zoom: open the "Join Audio" dialog from the footer and join by computer."""
        self._pointer_over(".speaker-active-container__video-frame")
        join = (By.CSS_SELECTOR, 'button[aria-label="join audio"]')
        self.wait(5).until(EC.element_to_be_clickable(join)).click()
        self._join_audio_by_computer()

    def _join_audio_by_computer(self) -> None:
        self.wait().until(EC.element_to_be_clickable(by_text("Join Audio by Computer"))).click()
        mute = (By.CSS_SELECTOR, 'button[aria-label="mute my microphone"]')
        self.wait().until(EC.presence_of_element_located(mute))

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
        self._switch(
            on,
            {
                "meet": ("Turn on camera", "Turn off camera"),
                "teams": ("Turn camera on", "Turn camera off"),
                "zoom": ("start my video", "stop my video"),
            }[self.platform],
        )

    def switch_microphone(self, on: bool) -> None:
        """Click the in-call microphone button and wait until the page says the microphone is `on`
        (on Zoom there is one once audio was joined by computer)."""
        self._switch(
            on,
            {
                "meet": ("Turn on microphone", "Turn off microphone"),
                "teams": ("Unmute mic", "Mute mic"),
                "zoom": ("unmute my microphone", "mute my microphone"),
            }[self.platform],
        )

    def _switch(self, on: bool, labels: tuple[str, str]) -> None:
        """Click the in-call button labelled `labels[0]` (turns on) or `labels[1]` (turns off) and
        wait until it carries the other label."""
        if self.platform == "meet":
            self._pointer_over(".grid")
        elif self.platform == "zoom":
            self._pointer_over(".speaker-active-container__video-frame")
        now, then = labels if on else labels[::-1]
        button = self.wait(5).until(
            EC.element_to_be_clickable((By.CSS_SELECTOR, f'button[aria-label="{now}"]'))
        )
        button.click()
        self.wait(5).until(
            EC.presence_of_element_located((By.CSS_SELECTOR, f'button[aria-label="{then}"]'))
        )

    def leave(self) -> None:
        """Leave the call with the page's own button (Zoom asks to confirm) and wait for the end
        screen."""
        if self.platform == "meet":
            self._pointer_over(".grid")
            leave = (By.CSS_SELECTOR, 'button[aria-label="Leave call"]')
        elif self.platform == "teams":
            leave = (By.CSS_SELECTOR, "#hangup-button")
        else:
            self._pointer_over(".speaker-active-container__video-frame")
            leave = (By.CSS_SELECTOR, 'button[aria-label="Leave"]')
        self.wait(5).until(EC.element_to_be_clickable(leave)).click()
        if self.platform == "zoom":
            self.wait(5).until(EC.element_to_be_clickable(by_text("Leave Meeting"))).click()
        self.wait_for_text(
            {
                "meet": "You left the meeting",
                "teams": "You left the meeting.",
                "zoom": "You have left the meeting",
            }[self.platform]
        )


# -- the page API over plain HTTPS -----------------------------------------------------------------


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

    def post_guest(
        self,
        platform: str,
        code: str,
        guest_id: str,
        route: str,
        body: bytes,
        content_type: str,
    ) -> tuple[int, bytes]:
        """POST `body` to the page API's `/guests/<guest_id>/<route>` (a query string may follow)."""
        path = f"/_sim/api/{urllib.parse.quote(code, safe='')}/guests/{guest_id}/{route}"
        return self.request(HOSTS[platform], "POST", path, body, {"Content-Type": content_type})

    def post_camera(
        self, platform: str, code: str, guest_id: str, body: bytes, content_type: str
    ) -> int:
        return self.post_guest(platform, code, guest_id, "camera", body, content_type)[0]

    def leave(self, platform: str, code: str, guest_id: str) -> None:
        """Leave the call through the page API, as a page does."""
        status, body = self.post_guest(
            platform, code, guest_id, "leave", b"{}", "application/json"
        )
        assert status == 200, body
