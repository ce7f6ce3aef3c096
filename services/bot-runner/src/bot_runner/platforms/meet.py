"""Google Meet as a guest sees it: pre-join, ask, waiting room, call, leave."""

from __future__ import annotations

import contextlib

from selenium.common.exceptions import (
    ElementClickInterceptedException,
    ElementNotInteractableException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement

from bot_runner.platforms.base import PlatformAdapter, load_script
from mb_shared.contracts.bot import Platform

CHAT_BOX = 'textarea[aria-label="Send a message"]'
JOIN_LABELS = ("Ask to join", "Join now", "Join anyway", "Join here too")
POPUP_LABELS = ("Got it", "Dismiss", "Continue without microphone and camera")
# What accepts a modal over the call (the recording notice's "OK"); meet_observe.js reports such a
# dialog with the same labels.
DIALOG_LABELS = ("OK", "Got it", "Dismiss", "Join now")


class GoogleMeetAdapter(PlatformAdapter):
    platform = Platform.GOOGLE_MEET
    observe_script = load_script("meet_observe.js")
    speaking_tiles_script = load_script("meet_tiles.js")
    roster_script = load_script("meet_roster.js")
    chat_script = load_script("meet_chat.js")
    voices_apart = True
    videos_apart = True

    def _buttons(self):
        return self.driver.find_elements(By.CSS_SELECTOR, "button")

    def _click_text(self, labels) -> bool:
        for button in self._buttons():
            with contextlib.suppress(Exception):
                if button.text.strip() in labels and button.is_enabled():
                    self.input.click(button)
                    return True
        return False

    def _press(self, label: str) -> None:
        for button in self.driver.find_elements(By.CSS_SELECTOR, f'[aria-label="{label}"]'):
            with contextlib.suppress(Exception):
                self.input.click(button)

    def ask_to_join(self, bot_name: str) -> bool:
        """Popups can appear at any moment over the form: an intercepted click means 'look again'."""
        try:
            return self._fill_and_ask(bot_name)
        except (ElementClickInterceptedException, ElementNotInteractableException,
                StaleElementReferenceException):
            return False

    def _fill_and_ask(self, bot_name: str) -> bool:
        for _ in range(5):
            if not self._click_text(POPUP_LABELS):
                break
        names = self.driver.find_elements(By.CSS_SELECTOR, 'input[aria-label="Your name"]')
        if names and names[0].get_attribute("value") != bot_name:
            names[0].clear()
            self.input.type_text(names[0], bot_name)
        self._press("Turn on microphone" if self.microphone else "Turn off microphone")
        self._press("Turn on camera")
        return self._click_text(JOIN_LABELS)

    def dismiss_dialogs(self) -> None:
        for dialog in self.driver.find_elements(By.CSS_SELECTOR, '[role="dialog"][aria-modal="true"]'):
            # The dialog can go between two looks (accepted, or the call ended under it).
            with contextlib.suppress(StaleElementReferenceException):
                for button in dialog.find_elements(By.CSS_SELECTOR, "button"):
                    with contextlib.suppress(Exception):
                        if button.text.strip() in DIALOG_LABELS:
                            self.input.click(button)
                            break

    def _chat_box(self) -> WebElement | None:
        """The chat's input, opening the chat panel if needed (None until it is open)."""
        boxes = self.driver.find_elements(By.CSS_SELECTOR, CHAT_BOX)
        if not boxes:
            with contextlib.suppress(Exception):
                self.input.wake_pointer()
            for button in self.driver.find_elements(By.CSS_SELECTOR, "button[aria-label]"):
                if (button.get_attribute("aria-label") or "").startswith("Chat with everyone"):
                    self.input.click(button)
                    break
            boxes = self.driver.find_elements(By.CSS_SELECTOR, CHAT_BOX)
        return boxes[0] if boxes else None

    def send_chat(self, text: str) -> bool:
        box = self._chat_box()
        if box is None:
            return False
        self.hide_panel(box, False)  # typing needs the box on screen
        try:
            self.input.type_text(box, text, key_delay_s=0.0, click_first=False)
            box.send_keys(Keys.ENTER)
        finally:
            self.hide_panel(box)
        return True

    def open_chat(self) -> bool:
        box = self._chat_box()
        if box is None:
            return False
        self.hide_panel(box)
        return True

    def leave(self) -> None:
        with contextlib.suppress(Exception):
            self.input.wake_pointer()
        for button in self.driver.find_elements(By.CSS_SELECTOR, '[aria-label="Leave call"]'):
            with contextlib.suppress(Exception):
                self.input.click(button)
                return
