"""Zoom's web client as a guest bot sees it: banners, pre-join, connecting, waiting room, the call.

Meeting URLs arrive as `https://app.zoom.us/wc/<id>/join?pwd=…`. Meetings restricted to
authenticated users are joined with a token fetched at join time (`zoom_access_token_url` → `zak`,
`zoom_obf_token` / `zoom_obf_token_url` → `obf_token`), appended to the web-client URL. Tokens and
URLs carrying them are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import aiohttp
from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from bot_runner.platforms.base import Observation, PageState, PlatformAdapter, load_script
from mb_shared.contracts.bot import BotError, BotParams, EndReason, Platform, RecordingMode
from mb_shared.url_guard import OutboundPolicy, UnsafeUrl, check_url, guarded_session

log = logging.getLogger(__name__)

HOST_WAIT_RELOAD_S = 15.0
"""How often the "Waiting for the host to start this meeting" page is reloaded: it never turns
into the meeting by itself."""
INVALID_LINK_RETRY_S = 60.0
"""How long an "invalid link (3,001)" page is reloaded before it counts as a meeting not found
(Zoom shows it for some meetings that are not started yet); never beyond the waiting-room
timeout."""
AUDIO_OFFER_WAIT_S = 2.0
"""How long after admission the bot waits for Zoom's own "Join Audio" dialog before opening it
from the footer."""
TOKEN_FETCH_TIMEOUT_S = 10.0
TOKEN_MAX_BYTES = 16 * 1024
TOKEN_SHAPE = re.compile(r"[\x21-\x7e]{1,4096}")
TOKEN_JSON_KEYS = ("token", "zak", "access_token", "accessToken", "obf_token", "obfToken")

BANNER_BUTTONS = "#onetrust-accept-btn-handler, #disclaimer_agree, #wc_agree1"
NOTICE_LABELS = ("Allow", "Got it", "OK", "I Agree", "Agree", "Accept", "Continue")
NAME_INPUTS = '#input-for-name, #inputname, input[placeholder="Your Name" i]'
JOIN_BUTTONS = "button.preview-join-button, #joinBtn"
CHAT_LIST = '[aria-label="chat message list"], .chat-container__chat-list'
CHAT_EDITOR = '[contenteditable="true"].chat-box__editor, [contenteditable="true"][aria-label^="Type message"]'

# The buttons that accept a blocking layer and are on top right now (a lower layer's button
# would only have its click swallowed by the layer above it).
TOPMOST_ACCEPT_BUTTONS = """
const labels = arguments[1];
const seen = new Set();
const found = [];
const add = (b) => { if (b && !seen.has(b)) { seen.add(b); found.push(b); } };
document.querySelectorAll(arguments[0]).forEach(add);
document.querySelectorAll('[role="dialog"] button, [role="alertdialog"] button, .zm-modal button').forEach((b) => {
  const text = (b.innerText || "").trim();
  const box = b.closest('[role="dialog"], [role="alertdialog"], .zm-modal');
  const words = ((box && box.innerText) || "").toLowerCase();
  if (!labels.includes(text) || /removed|ended|leave meeting|you have left/.test(words)) return;
  add(b);
});
return found.filter((b) => {
  const r = b.getBoundingClientRect();
  if (!r.width || !r.height) return false;
  const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return top === b || b.contains(top);
});
"""
ON_TOP = """
const e = arguments[0], r = e.getBoundingClientRect();
if (!r.width || !r.height) return false;
const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
return top === e || e.contains(top);
"""

# The in-call controls the adapter works with, in one look (the footer hides itself, so its
# buttons are found in the DOM, not by what is displayed).
IN_CALL_CONTROLS = """
const buttons = Array.from(document.querySelectorAll("button"));
const label = (b) => (b.getAttribute("aria-label") || "").toLowerCase();
const onTop = (e) => {
  const r = e.getBoundingClientRect();
  if (!r.width || !r.height) return false;
  const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
  return top === e || e.contains(top);
};
const mic = buttons.find((b) => /(^|\\s)(un)?mute my microphone/.test(label(b)));
const offer = buttons.find((b) => (b.innerText || "").trim() === "Join Audio by Computer" && onTop(b));
const pane = buttons.find((b) => label(b).includes("participants list"));
return {
  audioJoined: !!mic || !!document.querySelector("audio"),
  muteButton: mic && label(mic).startsWith("mute") ? mic : null,
  unmuteButton: mic && label(mic).startsWith("unmute") ? mic : null,
  joinAudioOffer: offer || null,
  joinAudioButton: buttons.find((b) => label(b) === "join audio") || null,
  openParticipants: pane && label(pane).startsWith("open") &&
    !document.querySelector(".participants-item__display-name") ? pane : null,
};
"""


class _RedactTokens(logging.Filter):
    """Selenium logs its commands (the URL the browser opens) at DEBUG: keep tokens out."""

    PATTERN = re.compile(r"((?:zak|obf_token)=)[^&\"'\s]+")

    def filter(self, record: logging.LogRecord) -> bool:
        with contextlib.suppress(Exception):
            message = record.getMessage()
            if "zak=" in message or "obf_token=" in message:
                record.msg, record.args = self.PATTERN.sub(r"\1<redacted>", message), ()
        return True


logging.getLogger("selenium.webdriver.remote.remote_connection").addFilter(_RedactTokens())


def _failure(message: str) -> Exception:
    from bot_runner.session import BotFailure  # the session imports the adapters

    return BotFailure(BotError.CANNOT_JOIN_MEETING, EndReason.SIGN_IN_REQUIRED, message)


def fetch_token(url: str, what: str, timeout_s: float = TOKEN_FETCH_TIMEOUT_S,
                outbound: OutboundPolicy | None = None) -> str:
    """GET `url` and return the token it answers (plain text, a JSON string, or a JSON object
    with a `token`-like field). Any trouble is a typed failure naming `what`, never the URL.

    The request goes through the SSRF guard (`mb_shared.url_guard`): an address that is not
    public (unless `outbound` allows loopback) is refused before connecting, and a redirect is
    not followed."""
    outbound = outbound or OutboundPolicy()
    try:
        check_url(url, policy=outbound)
    except UnsafeUrl as refused:
        raise _failure(f"The {what} is not an http(s) URL the bot may call ({refused}), so the "
                       "bot cannot fetch a Zoom token.") from None
    try:
        status, body = asyncio.run(_get(url, timeout_s, outbound))
    except (TimeoutError, aiohttp.ClientError, OSError, ValueError):
        raise _failure(f"The {what} did not answer within {timeout_s:.0f} s (or could not be "
                       "reached), so the bot cannot join this meeting, which needs a signed-in "
                       "Zoom user.") from None
    if not 200 <= status < 300:
        raise _failure(f"The {what} answered HTTP {status}, so the bot cannot join this "
                       "meeting, which needs a signed-in Zoom user.")
    if len(body) > TOKEN_MAX_BYTES:
        raise _failure(f"The {what} answered more than {TOKEN_MAX_BYTES} bytes: not a token.")
    token = _token_in(body)
    if token is None:
        raise _failure(f"The {what} answered no usable token, so the bot cannot join this "
                       "meeting, which needs a signed-in Zoom user.")
    return token


async def _get(url: str, timeout_s: float, outbound: OutboundPolicy) -> tuple[int, bytes]:
    """(status, at most TOKEN_MAX_BYTES + 1 bytes of the body), within `timeout_s` in all."""
    async with guarded_session(outbound, timeout=aiohttp.ClientTimeout(total=timeout_s)) as http:
        async with http.get(url, allow_redirects=False,
                            headers={"Accept": "text/plain, application/json"}) as response:
            return response.status, await response.content.read(TOKEN_MAX_BYTES + 1)


def _token_in(body: bytes) -> str | None:
    try:
        text = body.decode("utf-8").strip()
    except UnicodeDecodeError:
        return None
    if text[:1] in ('{', '"'):
        try:
            value = json.loads(text)
        except ValueError:
            return None
        if isinstance(value, dict):
            value = next((value[k] for k in TOKEN_JSON_KEYS if isinstance(value.get(k), str)), None)
        text = value.strip() if isinstance(value, str) else ""
    return text if TOKEN_SHAPE.fullmatch(text) else None


def with_query(url: str, extra: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in extra]
    return urlunsplit(parts._replace(query=urlencode([*query, *extra.items()])))


class ZoomAdapter(PlatformAdapter):
    platform = Platform.ZOOM
    observe_script = load_script("zoom_observe.js")
    speaking_tiles_script = load_script("zoom_tiles.js")
    roster_script = load_script("zoom_roster.js")
    chat_script = load_script("zoom_chat.js")

    def __init__(self, driver, input_driver, outbound: OutboundPolicy | None = None) -> None:
        super().__init__(driver, input_driver, outbound)
        self._bot_name: str | None = None
        self._retry_limit_s = INVALID_LINK_RETRY_S
        self._retry: str | None = None
        self._invalid_since: float | None = None
        self._loaded_at = time.monotonic()
        self._audio_joined = False
        self._audio_opened_at: float | None = None
        self._mic_checked = False
        self._in_call_since: float | None = None
        self._pane_clicked_at: float | None = None

    # -- before the page -------------------------------------------------------------------------

    def join_url(self, params: BotParams) -> str:
        self._retry_limit_s = min(INVALID_LINK_RETRY_S,
                                  max(0.0, params.automatic_leave.waiting_room_timeout - 2.0))
        zoom = params.zoom or {}
        tokens: dict[str, str] = {}
        if zoom.get("zoom_access_token_url"):
            tokens["zak"] = fetch_token(str(zoom["zoom_access_token_url"]), "zoom_access_token_url",
                                        outbound=self.outbound)
        if zoom.get("zoom_obf_token"):
            token = str(zoom["zoom_obf_token"]).strip()
            if not TOKEN_SHAPE.fullmatch(token):
                raise _failure("The zoom_obf_token given is not a token, so the bot cannot join "
                               "this meeting, which needs a signed-in Zoom user.")
            tokens["obf_token"] = token
        elif zoom.get("zoom_obf_token_url"):
            tokens["obf_token"] = fetch_token(str(zoom["zoom_obf_token_url"]), "zoom_obf_token_url",
                                              outbound=self.outbound)
        self._loaded_at = time.monotonic()
        return with_query(params.meeting_url, tokens) if tokens else params.meeting_url

    # -- looking ---------------------------------------------------------------------------------

    def observe(self) -> Observation:
        raw = self.driver.execute_script(self.observe_script) or {}
        reason = raw.get("reason")
        seen = Observation(
            state=PageState(raw.get("state", PageState.LOADING)),
            reason=EndReason(reason) if reason else None,
            evidence=(raw.get("evidence") or "")[:300],
            participants=[p for p in raw.get("participants") or [] if p and p != self._bot_name],
        )
        self._retry = raw.get("retry")
        if self._retry != "invalid":
            if seen.state != PageState.LOADING:  # a reload passes through loading pages
                self._invalid_since = None
            return seen
        # An invalid link is reloaded for a while before it counts as a meeting not found.
        now = time.monotonic()
        self._invalid_since = self._invalid_since or now
        if now - self._invalid_since < self._retry_limit_s:
            return Observation(PageState.LOADING, evidence=seen.evidence)
        return seen

    def tend(self, seen: Observation) -> None:
        """Accept banners and permission prompts; reload pages that only a reload gets past."""
        if self._retry in ("host", "invalid"):
            if time.monotonic() - self._loaded_at >= HOST_WAIT_RELOAD_S:
                self._loaded_at = time.monotonic()
                with contextlib.suppress(Exception):
                    self.driver.refresh()
            return
        self._accept_banners()

    def _accept_banners(self, rounds: int = 4) -> None:
        for _ in range(rounds):
            try:
                buttons = self.driver.execute_script(TOPMOST_ACCEPT_BUTTONS, BANNER_BUTTONS,
                                                     list(NOTICE_LABELS)) or []
            except Exception:
                return
            if not buttons:
                return
            for button in buttons:
                with contextlib.suppress(Exception):
                    self.input.click(button)
            time.sleep(0.15)

    def _on_top(self, element) -> bool:
        try:
            return bool(self.driver.execute_script(ON_TOP, element))
        except Exception:
            return False

    # -- joining ---------------------------------------------------------------------------------

    def ask_to_join(self, bot_name: str) -> bool:
        """Banners can come at any moment over the form: an intercepted click means 'look again'
        (for a few seconds here, then at the session's next look)."""
        self._bot_name = bot_name
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            try:
                if self._fill_and_join(bot_name, deadline):
                    return True
            except (ElementClickInterceptedException, ElementNotInteractableException,
                    StaleElementReferenceException):
                pass
            time.sleep(0.2)
        return False

    def _fill_and_join(self, bot_name: str, deadline: float) -> bool:
        self._accept_banners()
        names = [e for e in self.driver.find_elements(By.CSS_SELECTOR, NAME_INPUTS) if e.is_displayed()]
        if not names or not self._on_top(names[0]):
            return False
        self._toggle_when("#preview-audio-control-button",
                          "unmute" if self.microphone else "mute")
        self._toggle_when("#preview-video-control-button", "start video")
        name = names[0]
        if name.get_attribute("value") != bot_name:
            name.clear()
            self.input.type_text(name, bot_name)
        while time.monotonic() < deadline:
            if name.get_attribute("value") != bot_name:
                return False
            for button in self.driver.find_elements(By.CSS_SELECTOR, JOIN_BUTTONS):
                classes = (button.get_attribute("class") or "").split()
                if button.is_displayed() and button.is_enabled() and "disabled" not in classes:
                    if self._on_top(button):
                        self.input.click(button)
                        return True
                    self._accept_banners()  # a banner came over the form meanwhile
            time.sleep(0.2)
        return False

    def _toggle_when(self, selector: str, action: str) -> None:
        """Click a preview toggle whose label offers `action` ("mute": the microphone is live,
        "start video": the camera is off)."""
        for button in self.driver.find_elements(By.CSS_SELECTOR, selector):
            with contextlib.suppress(Exception):
                label = (button.get_attribute("aria-label") or button.text).strip().lower()
                if label == action and self._on_top(button):
                    self.input.click(button)

    # -- in the call -----------------------------------------------------------------------------

    def dismiss_dialogs(self) -> None:
        """Accept notices, join the computer audio (without it no audio element exists and the
        recording is silent), keep the participants pane open (the names the bot reports)."""
        self._in_call_since = self._in_call_since or time.monotonic()
        for _ in range(8):
            now = time.monotonic()
            try:
                self._accept_banners(rounds=2)
                look = self.driver.execute_script(IN_CALL_CONTROLS) or {}
            except Exception:
                return
            if look.get("audioJoined"):
                self._audio_joined = True
            if not self._audio_joined:
                if look.get("joinAudioOffer") is not None:
                    self._click(look["joinAudioOffer"])
                    continue  # look again: did it take?
                if now - self._in_call_since < AUDIO_OFFER_WAIT_S:
                    time.sleep(0.2)  # Zoom offers it by itself right after admission
                    continue
                if look.get("joinAudioButton") is not None and (
                        self._audio_opened_at is None or now - self._audio_opened_at > 5.0):
                    self._audio_opened_at = now
                    self._click_footer(look["joinAudioButton"])
                    continue  # the dialog it opens comes at once
            elif not self._mic_checked and self.microphone:
                if look.get("unmuteButton") is not None:  # the bot speaks: its microphone on
                    self._click_footer(look["unmuteButton"])
                self._mic_checked = look.get("muteButton") is not None
            elif not self._mic_checked and look.get("muteButton") is not None:
                self._mic_checked = True  # the microphone went live with the audio: mute it
                self._click_footer(look["muteButton"])
            # The pane waits until the recording runs (the session starts it after this call).
            if look.get("openParticipants") is not None and now - self._in_call_since > 2.5 and (
                    self._pane_clicked_at is None or now - self._pane_clicked_at > 5.0):
                self._pane_clicked_at = now
                self._click_footer(look["openParticipants"])
            return

    def _click_footer(self, button) -> None:
        """The footer hides itself while the pointer rests: wake it before clicking."""
        with contextlib.suppress(Exception):
            if not button.is_displayed():
                self.input.wake_pointer()
        self._click(button)

    def _click(self, element) -> None:
        with contextlib.suppress(Exception):
            self.input.click(element)

    def _buttons_saying(self, text: str) -> list:
        return [b for b in self.driver.find_elements(By.XPATH, f'//button[normalize-space(.)="{text}"]')
                if b.is_displayed()]

    def send_chat(self, text: str) -> bool:
        """Open the chat panel if needed and post `text` to everyone. False when the open panel
        has no editor (the host disabled chat for guests); an error while it is still opening."""
        editor = self._chat_editor()
        if editor is None:
            toggle = next((b for b in self.driver.find_elements(By.CSS_SELECTOR, "button[aria-label]")
                           if "chat panel" in (b.get_attribute("aria-label") or "").lower()), None)
            if toggle is None:
                raise LookupError("no chat button yet")
            if (toggle.get_attribute("aria-label") or "").lower().startswith("open"):
                self._click_footer(toggle)  # the panel renders on the click
                editor = self._chat_editor()
                if editor is None:
                    raise LookupError("the chat panel is not open yet")
            else:
                return False  # the panel is open and has no editor
        self.input.type_text(editor, text, key_delay_s=0.0, click_first=False)
        editor.send_keys(Keys.ENTER)
        return True

    def open_chat(self) -> bool:
        """The chat panel shares the right column with the participants pane: it stays in view
        and takes nothing from the call's."""
        if not self.driver.find_elements(By.CSS_SELECTOR, CHAT_LIST):
            toggle = next((b for b in self.driver.find_elements(By.CSS_SELECTOR, "button[aria-label]")
                           if (b.get_attribute("aria-label") or "").lower().startswith("open the chat panel")),
                          None)
            if toggle is not None:
                self._click_footer(toggle)
        return bool(self.driver.find_elements(By.CSS_SELECTOR, CHAT_LIST))

    def _chat_editor(self):
        return next((e for e in self.driver.find_elements(By.CSS_SELECTOR, CHAT_EDITOR)
                     if e.is_displayed()), None)

    def arrange(self, mode: RecordingMode) -> None:
        """Zoom's main view already shows the active speaker (`speaker_view`); the web client
        offers no gallery the bot could switch to, so `gallery_view` records the same page."""

    def leave(self) -> None:
        with contextlib.suppress(Exception):
            self.input.wake_pointer()
        for button in self.driver.find_elements(By.CSS_SELECTOR, 'button[aria-label="Leave"]'):
            with contextlib.suppress(Exception):
                self.input.click(button)
                break
        else:
            # The waiting room's "Leave" is a text button that leaves at once.
            for button in self._buttons_saying("Leave"):
                with contextlib.suppress(Exception):
                    self.input.click(button)
                    return
            return
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            for button in self._buttons_saying("Leave Meeting"):
                with contextlib.suppress(Exception):
                    self.input.click(button)
                    return
            time.sleep(0.2)
