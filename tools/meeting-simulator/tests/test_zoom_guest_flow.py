"""A guest joins the simulated Zoom web client in a real Chromium and meets what the real one shows."""

from __future__ import annotations

import json
import time

import pytest
from guest_page import GuestPage
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC

from meeting_simulator import SimulatorClient, SimulatorError, new_zoom_meeting_id

PARTICIPANTS = [{"name": "Alice"}, {"name": "Bob"}]
BANNER_BUTTONS = ("#onetrust-accept-btn-handler", "#disclaimer_agree", "#wc_agree1")
JOIN = "button.preview-join-button"
LEAVE = 'button[aria-label="Leave"]'
MAIN_SPEAKER = ".speaker-active-container__video-frame .video-avatar__avatar-footer"


def by_text(text: str) -> tuple[str, str]:
    return By.XPATH, f"//button[normalize-space(.)={text!r}]"


class ZoomGuest(GuestPage):
    """What a user does and sees on the simulated Zoom web client."""

    poll_frequency = 0.05
    def find(self, css: str):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def open(self, meeting_id: str, query: str = "", host: str = "app.zoom.us") -> None:
        self.driver.get(f"https://{host}/wc/{meeting_id}/join{query}")

    def accept_prompts(self, timeout: float = 8.0) -> list[str]:
        """Accept the banners and "Allow" prompts, always the topmost first, until none come."""
        accepted: list[str] = []
        last = time.monotonic()
        deadline = last + timeout
        while time.monotonic() < deadline:
            layers = self.find(".zm-layer")
            if layers:
                # A new layer can land on top between finding and clicking: look again.
                try:
                    accepted.append(self._accept(layers[-1]))
                except (ElementClickInterceptedException, StaleElementReferenceException):
                    continue
                last = time.monotonic()
            elif (
                len([a for a in accepted if a != "Allow"]) == 3
                and "Allow" in accepted
                and time.monotonic() - last > 0.9
            ):
                return accepted
            time.sleep(0.05)
        raise AssertionError(f"prompts kept coming: {accepted}")

    @staticmethod
    def _accept(layer) -> str:
        for css in BANNER_BUTTONS:
            if layer.find_elements(By.CSS_SELECTOR, css):
                layer.find_element(By.CSS_SELECTOR, css).click()
                return css
        layer.find_element(*by_text("Allow")).click()
        return "Allow"

    def type_name(self, name: str) -> None:
        field = self.driver.find_element(By.ID, "input-for-name")
        field.send_keys(name)

    def join_button_enabled(self) -> bool:
        return "disabled" not in self.driver.find_element(By.CSS_SELECTOR, JOIN).get_attribute(
            "class"
        )

    def join(self, meeting_id: str, name: str, query: str = "") -> None:
        self.open(meeting_id, query)
        self.accept_prompts()
        self.type_name(name)
        self.wait(3).until(lambda d: self.join_button_enabled())
        self.driver.find_element(By.CSS_SELECTOR, JOIN).click()

    def wait_in_call(self, timeout: float = 15.0) -> None:
        self.wait(timeout).until(EC.presence_of_element_located((By.CSS_SELECTOR, LEAVE)))

    def close_join_audio(self) -> None:
        dialog = (By.CSS_SELECTOR, '[role="dialog"][aria-label="Join Audio"]')
        self.wait(5).until(EC.visibility_of_element_located(dialog))
        self.driver.find_element(
            By.CSS_SELECTOR, '[aria-label="Join Audio"] [aria-label="close"]'
        ).click()
        self.wait(3).until(EC.invisibility_of_element_located(dialog))

    def show_footer(self) -> None:
        frame = self.driver.find_element(By.CSS_SELECTOR, ".speaker-active-container__video-frame")
        ActionChains(self.driver).move_to_element_with_offset(frame, 5, 5).move_by_offset(
            10, 10
        ).perform()
        self.wait(3).until(
            lambda d: self.driver.find_element(By.CSS_SELECTOR, LEAVE).is_displayed()
        )

    def footer_button(self, css: str):
        self.show_footer()
        return self.driver.find_element(By.CSS_SELECTOR, css)


@pytest.fixture
def zoom(driver) -> ZoomGuest:
    return ZoomGuest(driver)


@pytest.fixture
def mid() -> str:
    return new_zoom_meeting_id()


def only_guest(client: SimulatorClient, meeting_id: str) -> dict:
    (guest,) = client.meeting(meeting_id)["guests"]
    return guest


def test_zoom_definitions_are_validated_and_echoed(client, mid):
    spaced = f"{mid[:3]} {mid[3:7]} {mid[7:]}"
    state = client.create_meeting(
        spaced, platform="zoom", passcode="abc", host_starts_after=5, accepted_tokens=["t"]
    )
    assert state["code"] == mid and state["platform"] == "zoom"
    assert state["passcode"] == "abc" and state["host_starts_after"] == 5.0
    assert state["guest_chat"] is True and state["bot_wall"] is False
    assert state["page_loads"] == {} and state["refused_joins"] == []
    for bad in (
        {"code": "12345678"},
        {"code": "123456789012"},
        {"code": new_zoom_meeting_id(), "host_starts_after": -1},
        {"code": new_zoom_meeting_id(), "accepted_tokens": "t"},
        {"code": new_zoom_meeting_id(), "passcode": 1234},
    ):
        with pytest.raises(SimulatorError) as raised:
            client.create_meeting(platform="zoom", **bad)
        assert raised.value.status == 400


def test_launch_page_offers_the_browser_client(zoom, client, mid):
    client.create_meeting(mid, platform="zoom", passcode="s3cret", participants=PARTICIPANTS)
    driver = zoom.driver
    driver.get(f"https://us02web.zoom.us/j/{mid}?pwd=s3cret")
    assert driver.title == "Launch Meeting - Zoom"
    launch = driver.find_element(By.ID, "launch-meeting")
    assert launch.text == "Launch Meeting"
    assert (
        driver.find_element(By.CSS_SELECTOR, ".zm-launch")
        .get_attribute("data-app-link")
        .startswith("zoommtg://")
    )
    link = zoom.wait(5).until(EC.element_to_be_clickable((By.LINK_TEXT, "Join from your browser")))
    link.click()
    zoom.wait(5).until(lambda d: "/wc/" in d.current_url)
    assert driver.current_url == f"https://us02web.zoom.us/wc/{mid}/join?pwd=s3cret"
    zoom.wait(5).until(EC.presence_of_element_located((By.ID, "input-for-name")))
    assert not zoom.find('input[placeholder*="passcode" i]')

    driver.get(f"https://app.zoom.us/wc/join/{mid}")
    zoom.wait(5).until(EC.presence_of_element_located((By.ID, "input-for-name")))
    assert zoom.find('input[placeholder*="passcode" i]'), "no pwd: the passcode field shows"

    driver.get(f"https://zoom.us/s/{mid}")
    assert driver.title == "Sign In | Zoom"


def test_banners_typing_waiting_room_call_and_leave(zoom, client, mid):
    client.create_meeting(
        mid,
        platform="zoom",
        participants=PARTICIPANTS,
        admission={"action": "ignore"},
        recording_notice=False,
    )
    driver = zoom.driver
    zoom.open(mid)
    zoom.wait(5).until(lambda d: len(zoom.find(".zm-layer")) >= 4)
    bottom = zoom.find(".zm-layer")[0]
    button = next(b for css in BANNER_BUTTONS for b in bottom.find_elements(By.CSS_SELECTOR, css))
    with pytest.raises(ElementClickInterceptedException):
        button.click()
    accepted = zoom.accept_prompts()
    assert sorted(set(accepted)) == sorted({*BANNER_BUTTONS, "Allow"})
    assert 1 <= accepted.count("Allow") <= 2

    name = driver.find_element(By.ID, "input-for-name")
    assert name.get_attribute("placeholder") == "Your Name"
    assert not zoom.join_button_enabled()
    driver.execute_script(
        "const i = arguments[0]; i.value = 'Sneaky Bot';"
        "i.dispatchEvent(new Event('input', {bubbles: true}));",
        name,
    )
    time.sleep(0.4)
    assert not zoom.join_button_enabled(), "a value set from script must leave Join disabled"
    driver.find_element(By.CSS_SELECTOR, JOIN).click()
    time.sleep(0.5)
    assert client.meeting(mid)["guests"] == []

    name.send_keys(Keys.CONTROL, "a")
    name.send_keys(Keys.BACKSPACE)
    zoom.type_name("Zoom Bot")
    zoom.wait(2).until(lambda d: zoom.join_button_enabled())
    for css, before, after in (
        ("#preview-audio-control-button", "Mute", "Unmute"),
        ("#preview-video-control-button", "Stop Video", "Start Video"),
    ):
        control = driver.find_element(By.CSS_SELECTOR, css)
        assert control.get_attribute("aria-label") == before
        control.click()
        assert control.get_attribute("aria-label") == after
    driver.find_element(By.CSS_SELECTOR, JOIN).click()

    zoom.wait_for_text("Joining Meeting\u2026", timeout=3)
    assert "Connecting to the meeting" in zoom.text()
    assert zoom.find(".meeting-app video"), (
        "a video element is mounted behind the connecting screen"
    )
    assert not zoom.find(LEAVE)

    zoom.wait_for_text("Please wait, the meeting host will let you in soon.")
    assert "Host has joined. We've let them know you're here." in zoom.text()
    assert zoom.find(".meeting-app .wr-container"), "the waiting room renders inside .meeting-app"
    assert not zoom.find(LEAVE)
    guest = only_guest(client, mid)
    assert guest["status"] == "asking" and guest["name"] == "Zoom Bot"
    assert guest["preview_audio_muted"] is True and guest["preview_video_off"] is True
    assert guest["authenticated"] is False and guest["token_kind"] is None

    client.admit(mid)
    zoom.wait_in_call()
    assert "Please wait" not in zoom.text()
    assert zoom.find(".speaker-active-container__video-frame")
    assert driver.find_element(By.CSS_SELECTOR, MAIN_SPEAKER).text == "Alice"
    zoom.close_join_audio()
    assert not zoom.find("audio")

    zoom.footer_button('button[aria-label*="participants list"]').click()
    names = [n.text for n in zoom.find(".participants-item__display-name")]
    assert names == ["Zoom Bot (me)", "Alice (Host)", "Bob"]

    leave = driver.find_element(By.CSS_SELECTOR, LEAVE)
    frame = driver.find_element(By.CSS_SELECTOR, ".speaker-active-container__video-frame")
    ActionChains(driver).move_to_element(frame).perform()
    zoom.wait(6).until(lambda d: not leave.is_displayed())
    assert driver.find_element(By.ID, "wc-footer").value_of_css_property("display") == "none"
    zoom.show_footer()
    assert leave.is_displayed()
    leave.click()
    driver.find_element(*by_text("Leave Meeting")).click()
    zoom.wait_for_text("You have left the meeting")
    guest = only_guest(client, mid)
    assert guest["status"] == "left" and guest["left"] is True


ALICE_TEXT = "Good morning everyone, this is Alice speaking."
BOB_TEXT = "Thanks Alice, Bob here."

# Samples the single mixed <audio> element with a WebAudio analyser every 50 ms, and records the
# name shown on the main tile (the active speaker).
PROBE = """
const audio = document.querySelector('audio');
const probe = {samples: [], tracks: audio.srcObject.getAudioTracks().map(t => t.readyState),
               paused: audio.paused};
window.__probe = probe;
const ctx = new AudioContext();
const analyser = ctx.createAnalyser();
analyser.fftSize = 2048;
ctx.createMediaStreamSource(audio.srcObject).connect(analyser);
const buf = new Float32Array(2048);
probe.timer = setInterval(() => {
  analyser.getFloatTimeDomainData(buf);
  let sum = 0;
  for (const v of buf) sum += v * v;
  const footer = document.querySelector(arguments[0]);
  probe.samples.push({t: Date.now() / 1000, rms: Math.sqrt(sum / buf.length),
                      speaker: footer ? footer.textContent : null});
}, 50);
probe.ctxState = ctx.state;
"""


def test_join_audio_by_computer_plays_speech_and_the_main_tile_follows(zoom, client, mid):
    client.create_meeting(
        mid,
        platform="zoom",
        participants=PARTICIPANTS,
        admission={"action": "admit", "after": 0.3},
        recording_notice=False,
        script=[
            {"speaker": "Alice", "text": ALICE_TEXT, "at": 4.5},
            {"speaker": "Bob", "text": BOB_TEXT, "at": 8.0},
        ],
        end_after=60,
    )
    zoom.join(mid, "Listener Bot")
    zoom.wait_in_call()
    assert not zoom.find("audio"), "no audio element before Join Audio by Computer"
    zoom.wait(5).until(EC.element_to_be_clickable(by_text("Join Audio by Computer"))).click()
    zoom.wait(5).until(
        lambda d: d.execute_script(
            "const a = document.querySelectorAll('audio');"
            "return a.length === 1 && a[0].srcObject instanceof MediaStream"
        )
    )
    zoom.driver.execute_script(PROBE, MAIN_SPEAKER)
    state = client.wait_for(mid, lambda s: s["utterances"][1]["actual_end"] is not None, timeout=20)
    time.sleep(1.0)
    probe = zoom.driver.execute_script(
        "clearInterval(window.__probe.timer); return window.__probe;"
    )
    assert len(zoom.find("audio")) == 1
    assert probe["ctxState"] == "running" and probe["tracks"] == ["live"] and not probe["paused"]
    assert only_guest(client, mid)["computer_audio_joined_at"] is not None

    alice, bob = state["utterances"]
    for utterance in (alice, bob):
        assert abs(utterance["actual_start"] - utterance["scheduled_start"]) < 0.5
        assert utterance["actual_end"] - utterance["actual_start"] > utterance["duration"] - 0.3, (
            "speech cut short"
        )
    # The page reports an utterance's end from an event, which a loaded machine delivers late;
    # the windows below end where the audio itself ends.
    alice_end = alice["actual_start"] + alice["duration"]
    bob_end = bob["actual_start"] + bob["duration"]
    samples = probe["samples"]

    def window(start, end):
        return [s for s in samples if start < s["t"] < end]

    before = window(0, alice["actual_start"] - 0.3)
    during_alice = window(alice["actual_start"] + 0.6, alice_end - 0.3)
    during_bob = window(bob["actual_start"] + 0.6, bob_end - 0.2)
    after = window(bob_end + 0.6, float("inf"))
    assert before and during_alice and during_bob and after
    assert max(s["rms"] for s in before) < 0.002, "the mixed stream is not silent before speech"
    loud = [s for s in during_alice if s["rms"] > 0.02]
    assert len(loud) > 0.6 * len(during_alice), "Alice's speech did not reach the <audio> element"
    assert max(s["rms"] for s in after) < 0.002
    assert all(s["speaker"] == "Alice" for s in during_alice)
    assert all(s["speaker"] == "Bob" for s in during_bob), "the main tile did not follow Bob"
    assert during_bob[-1]["speaker"] == after[0]["speaker"] == "Bob", "the last speaker stays"


def test_chat_both_ways_and_speech_unheard_without_computer_audio(zoom, client, mid):
    client.create_meeting(
        mid,
        platform="zoom",
        participants=PARTICIPANTS,
        admission={"action": "admit", "after": 0.2},
        script=[{"speaker": "Bob", "text": BOB_TEXT, "at": 2.0}],
    )
    zoom.join(mid, "Chat Bot")
    zoom.wait_in_call()
    notice = zoom.wait(5).until(
        EC.visibility_of_element_located((By.CSS_SELECTOR, '[role="dialog"][aria-modal="true"]'))
    )
    assert "This meeting is being recorded" in notice.text
    notice.find_element(*by_text("Got it")).click()
    zoom.close_join_audio()

    client.chat(mid, "Alice", "Agenda is in the doc")
    chat_button = zoom.footer_button('button[aria-label*="chat panel"]')
    zoom.wait(5).until(lambda d: chat_button.get_attribute("textContent").endswith("1"))
    chat_button.click()
    message = zoom.wait(5).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, '[id^="chat-message-"]'))
    )
    assert "Alice" in message.text and "Agenda is in the doc" in message.text
    editor = zoom.driver.find_element(By.CSS_SELECTOR, '.chat-container [contenteditable="true"]')
    editor.send_keys("Hello from the bot")
    editor.send_keys(Keys.ENTER)
    state = client.wait_for(mid, lambda s: len(s["chat"]) == 2)
    sent = state["chat"][1]
    guest = state["guests"][0]
    assert sent["sender"] == "Chat Bot" and sent["text"] == "Hello from the bot"
    assert sent["from_guest"] == guest["id"]
    zoom.wait(5).until(lambda d: len(zoom.find('[id^="chat-message-"]')) == 2)
    assert guest["dialog_accepted_at"] is not None

    state = client.wait_for(
        mid, lambda s: time.time() > s["utterances"][0]["scheduled_end"] + 0.5, timeout=15
    )
    assert state["utterances"][0]["actual_start"] is None, "nobody joined audio, nobody heard Bob"
    assert state["guests"][0]["computer_audio_joined_at"] is None


def test_host_not_started_needs_a_reload(zoom, client, mid):
    client.create_meeting(
        mid,
        platform="zoom",
        participants=PARTICIPANTS,
        host_starts_after=3.0,
        admission={"action": "ignore"},
    )
    zoom.open(mid)
    assert "Waiting for the host to start this meeting" in zoom.text()
    assert not zoom.find("script"), "the waiting page never turns into the meeting by itself"
    time.sleep(1.0)
    zoom.driver.refresh()
    assert "Waiting for the host to start this meeting" in zoom.text()
    created = client.meeting(mid)["created_at"]
    time.sleep(max(0.0, created + 3.3 - time.time()))
    assert "Waiting for the host to start this meeting" in zoom.text()
    assert not zoom.find("#input-for-name")
    zoom.driver.refresh()
    zoom.accept_prompts()
    zoom.type_name("Patient Bot")
    zoom.driver.find_element(By.CSS_SELECTOR, JOIN).click()
    state = client.wait_for(mid, lambda s: s["guests"])
    guest = state["guests"][0]
    assert guest["waited_for_host"] is True and guest["host_wait_reloads"] == 2
    (loads,) = state["page_loads"].values()
    assert loads["loads"] == 3 and loads["waiting_for_host_loads"] == 2


def test_host_starting_on_reload_waits_for_the_guest_however_late(zoom, client, mid):
    client.create_meeting(
        mid,
        platform="zoom",
        participants=PARTICIPANTS,
        host_starts_after=3600,
        host_starts_on_reload=True,
        admission={"action": "ignore"},
    )
    zoom.open(mid)
    assert "Waiting for the host to start this meeting" in zoom.text()
    zoom.driver.refresh()
    assert "Waiting for the host to start this meeting" not in zoom.text()
    zoom.accept_prompts()
    zoom.type_name("Patient Bot")
    zoom.driver.find_element(By.CSS_SELECTOR, JOIN).click()
    guest = client.wait_for(mid, lambda s: s["guests"])["guests"][0]
    assert guest["waited_for_host"] is True and guest["host_wait_reloads"] == 1


def test_passcode_missing_or_wrong(zoom, client, mid):
    client.create_meeting(mid, platform="zoom", participants=PARTICIPANTS, passcode="right1")
    zoom.open(mid)
    zoom.accept_prompts()
    passcode = zoom.driver.find_element(By.CSS_SELECTOR, 'input[placeholder*="passcode" i]')
    assert passcode.get_attribute("placeholder") == "Meeting Passcode"
    zoom.type_name("Locked Out Bot")
    time.sleep(0.4)
    assert not zoom.join_button_enabled(), "Join needs the passcode too"

    zoom.join(mid, "Wrong Bot", query="?pwd=nope")
    zoom.wait_for_text("Incorrect meeting passcode. Please try again.")
    assert zoom.find('input[placeholder*="passcode" i]')
    state = client.meeting(mid)
    assert state["guests"] == []
    assert [r["reason"] for r in state["refused_joins"]] == ["passcode_wrong"]


def test_sign_in_required_and_tokens(zoom, client, mid):
    client.create_meeting(
        mid,
        platform="zoom",
        participants=PARTICIPANTS,
        require_sign_in=True,
        accepted_tokens=["good-zak-token", "good-obf-token"],
        admission={"action": "ignore"},
    )
    zoom.open(mid)
    assert "sign in to join this meeting" in zoom.text()
    assert "only authenticated users can join" in zoom.text()
    assert not zoom.find("#input-for-name")

    zoom.join(mid, "Wrong Token Bot", query="?obf_token=bad-token")
    zoom.wait_for_text("Invalid token")
    assert client.meeting(mid)["refused_joins"][-1]["reason"] == "invalid_token"

    zoom.join(mid, "Signed Bot", query="?zak=good-zak-token")
    zoom.wait_for_text("Please wait, the meeting host will let you in soon.")
    guest = only_guest(client, mid)
    assert guest["authenticated"] is True and guest["token_kind"] == "zak"
    assert "good-zak-token" not in json.dumps(guest)


def test_invalid_link_bot_wall_and_captcha(zoom, client, mid):
    driver = zoom.driver
    zoom.open(mid)
    assert driver.title == "Error - Zoom"
    assert "This meeting link is invalid (3,001)" in zoom.text()
    client.create_meeting(mid, platform="zoom", invalid=True)
    driver.get(f"https://zoom.us/j/{mid}")
    assert driver.title == "Error - Zoom"
    assert "This meeting link is invalid (3,001)" in zoom.text()

    walled = new_zoom_meeting_id()
    client.create_meeting(walled, platform="zoom", bot_wall=True)
    zoom.join(walled, "Walled Bot")
    zoom.wait_for_text("We detected you may be a bot")

    captcha = new_zoom_meeting_id()
    client.create_meeting(captcha, platform="zoom", captcha=True)
    zoom.join(captcha, "Captcha Bot")
    zoom.wait(5).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, 'iframe[title="reCAPTCHA"]'))
    )
    driver.find_element(*by_text("Verify")).click()
    zoom.wait_for_text("Verification failed")
    for meeting_id, reason in ((walled, "bot_wall"), (captcha, "captcha")):
        state = client.meeting(meeting_id)
        assert state["guests"] == [] and state["refused_joins"][0]["reason"] == reason


def test_removed_then_ended(zoom, client, mid):
    client.create_meeting(
        mid,
        platform="zoom",
        participants=PARTICIPANTS,
        admission={"action": "admit", "after": 0.2},
        recording_notice=False,
        guest_chat=False,
    )
    zoom.join(mid, "Removed Bot")
    zoom.wait_in_call()
    zoom.close_join_audio()
    zoom.footer_button('button[aria-label*="chat panel"]').click()
    assert "Chat has been disabled by the host" in zoom.text()
    assert not zoom.find('[contenteditable="true"]')
    client.remove(mid)
    zoom.wait_for_text("You have been removed")

    zoom.join(mid, "Ended Bot")
    zoom.wait_in_call()
    client.end(mid)
    title = zoom.wait(5).until(
        EC.visibility_of_element_located((By.CSS_SELECTOR, '[role="dialog"] .zm-modal__title'))
    )
    assert title.text == "This meeting has been ended by host"
    statuses = [(g["name"], g["status"]) for g in client.meeting(mid)["guests"]]
    assert statuses == [("Removed Bot", "removed"), ("Ended Bot", "ended")]
