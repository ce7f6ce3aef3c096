"""Microsoft Teams as a guest sees it: launcher, pre-join (and its "no audio or video" modal),
lobby, call, leave. The markers are those of shared/design/platforms.md ("Microsoft Teams")."""

from __future__ import annotations

import contextlib
import time

from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

from bot_runner.platforms.base import Observation, PageState, PlatformAdapter, load_script
from mb_shared.contracts.bot import EndReason, Platform

NAME_INPUT = '[data-tid="prejoin-display-name-input"]'
JOIN_BUTTON = '[data-tid="prejoin-join-button"]'
# The pre-join switches as the bot wants them: microphone off (on when it speaks), camera (its
# picture) on.
MICROPHONE_SWITCH = '[role="switch"][data-tid="toggle-mute"]'
CAMERA_SWITCH = '[role="switch"][data-tid="toggle-video"]'
CHAT_PANE = '[aria-label="Type a message"], [aria-label="Chat content"], [data-tid="chat-pane-message"]'
HANGUP = '[data-tid="hangup-main-btn"], #hangup-button, button[aria-label="Leave"]'
JOIN_SETTLE_S = 3.0

# What to click on the page as it is now, found in one round trip: the launcher's "continue in the
# browser" option (never the app link), and the way out of the modal that asks whether the guest
# really wants neither audio nor video: its Close button, which keeps the camera as it is, else
# "Continue without audio or video". Both `null` when absent.
FIND_CLICKABLES = r"""
const shown = (e) => !!e && e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden";
const label = (e) => (e.innerText || "").trim();
const launcher = Array.from(document.querySelectorAll("button, a, [role=button]")).find(b =>
  shown(b) && /^(Continue on this browser|Join on this browser|Join from browser|Join on the web instead)/i.test(label(b)));
let noAv = null;
for (const dialog of document.querySelectorAll('[role="dialog"], [role="alertdialog"]')) {
  if (!shown(dialog)) continue;
  const buttons = Array.from(dialog.querySelectorAll("button, [role=button]")).filter(shown);
  if (!buttons.some(b => label(b) === "Continue without audio or video")) continue;
  noAv = buttons.find(b => b.getAttribute("aria-label") === "Close")
    || buttons.find(b => label(b) === "Continue without audio or video");
  break;
}
let benign = null;
if (arguments[0]) {
  for (const dialog of document.querySelectorAll('[role="dialog"][aria-modal="true"], [role="alertdialog"]')) {
    if (!shown(dialog)) continue;
    benign = Array.from(dialog.querySelectorAll("button")).find(b => shown(b) && ["OK", "Got it", "Dismiss"].includes(label(b))) || null;
    if (benign) break;
  }
}
return {launcher: launcher || null, noAv, benign};
"""


class TeamsAdapter(PlatformAdapter):
    platform = Platform.MICROSOFT_TEAMS
    observe_script = load_script("teams_observe.js")
    speaking_tiles_script = load_script("teams_tiles.js")
    roster_script = load_script("teams_roster.js")
    chat_script = load_script("teams_chat.js")
    videos_apart = True

    bot_name: str | None = None

    def observe(self) -> Observation:
        """The observe script also learns the bot's own name, to leave its tile out."""
        raw = self.driver.execute_script(self.observe_script, self.bot_name) or {}
        reason = raw.get("reason")
        return Observation(
            state=PageState(raw.get("state") or PageState.LOADING),
            reason=EndReason(reason) if reason else None,
            evidence=(raw.get("evidence") or "")[:300],
            participants=list(raw.get("participants") or []),
        )

    def _clickables(self, in_call: bool = False) -> dict:
        return self.driver.execute_script(FIND_CLICKABLES, in_call) or {}

    def _click(self, element: WebElement | None) -> bool:
        if element is None:
            return False
        with contextlib.suppress(StaleElementReferenceException, ElementNotInteractableException):
            self.input.click(element)
            return True
        return False

    def tend(self, seen: Observation) -> None:
        """The launcher's browser option and the audio/video modal, whenever they show."""
        with contextlib.suppress(Exception):
            found = self._clickables()
            self._click(found.get("noAv"))
            self._click(found.get("launcher"))

    def ask_to_join(self, bot_name: str) -> bool:
        """Fill the pre-join form and click Join now; True once the click took (the modal that
        can follow it is dismissed here too). A covered or changing form means 'look again'."""
        self.bot_name = bot_name
        try:
            return self._fill_and_join(bot_name)
        except (ElementClickInterceptedException, ElementNotInteractableException,
                StaleElementReferenceException):
            return False

    def _dismiss_no_av(self) -> bool:
        return self._click(self._clickables().get("noAv"))

    def _fill_and_join(self, bot_name: str) -> bool:
        self._dismiss_no_av()
        names = self.driver.find_elements(By.CSS_SELECTOR, NAME_INPUT)
        if names and names[0].is_enabled() and names[0].get_attribute("value") != bot_name:
            names[0].clear()
            self.input.type_text(names[0], bot_name)
        switches = {MICROPHONE_SWITCH: "true" if self.microphone else "false",
                    CAMERA_SWITCH: "true"}
        for selector, wanted in switches.items():
            for switch in self.driver.find_elements(By.CSS_SELECTOR, selector):
                if switch.get_attribute("aria-checked") != wanted:
                    self._dismiss_no_av()  # it covers the form when it comes first
                    self.input.click(switch)
        self._dismiss_no_av()
        join = self._join_button()
        if join is None:
            return False
        self.input.click(join)
        deadline = time.monotonic() + JOIN_SETTLE_S
        while time.monotonic() < deadline:
            dismissed = self._dismiss_no_av()
            join = self._join_button()
            if join is None:
                return True
            if dismissed:  # the modal came over the form as the click landed: click again
                self.input.click(join)
            time.sleep(0.1)
        return False

    def _join_button(self) -> WebElement | None:
        """The Join now button while it can still be clicked."""
        for button in self.driver.find_elements(By.CSS_SELECTOR, JOIN_BUTTON):
            with contextlib.suppress(StaleElementReferenceException):
                if (button.is_displayed() and button.is_enabled()
                        and button.get_attribute("aria-disabled") != "true"):
                    return button
        return None

    def dismiss_dialogs(self) -> None:
        with contextlib.suppress(Exception):
            found = self._clickables(in_call=True)
            self._click(found.get("noAv"))
            self._click(found.get("benign"))

    def open_chat(self) -> bool:
        inside = self.driver.find_elements(By.CSS_SELECTOR, CHAT_PANE)
        if not inside:
            with contextlib.suppress(Exception):
                self.input.wake_pointer()
            for button in self.driver.find_elements(By.CSS_SELECTOR, "#chat-button"):
                self._click(button)
            inside = self.driver.find_elements(By.CSS_SELECTOR, CHAT_PANE)
        if not inside:
            return False
        self.hide_panel(inside[0])
        return True

    def leave(self) -> None:
        """The hang-up button; then a moment for the page to tell the meeting."""
        with contextlib.suppress(Exception):
            self.input.wake_pointer()
        for button in self.driver.find_elements(By.CSS_SELECTOR, HANGUP):
            with contextlib.suppress(Exception):
                if button.is_displayed():
                    self.input.click(button)
                    break
        else:
            return
        deadline = time.monotonic() + JOIN_SETTLE_S
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                if not any(b.is_displayed() for b in self.driver.find_elements(By.CSS_SELECTOR, HANGUP)):
                    return
            time.sleep(0.2)
