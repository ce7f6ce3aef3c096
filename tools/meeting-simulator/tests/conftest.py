"""Fixtures: one simulator (in a background thread) and one headless Chromium per test module."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator

import pytest
from guest_page import GuestPage
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC

from meeting_simulator import SimulatorClient, SimulatorThread, new_meet_code

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

BASE_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--window-size=1280,800",
    "--lang=en-US",
)


def start_chromium(extra_flags: list[str]) -> tuple[webdriver.Chrome, str]:
    profile = tempfile.mkdtemp(prefix="sim-test-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*BASE_FLAGS, f"--user-data-dir={profile}", *extra_flags):
        options.add_argument(flag)
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except BaseException:
        shutil.rmtree(profile, ignore_errors=True)
        raise
    driver.set_page_load_timeout(20)
    return driver, profile


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(no_response_after=600.0) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def client(sim: SimulatorThread) -> SimulatorClient:
    return sim.client


@pytest.fixture(scope="module")
def driver(sim: SimulatorThread) -> Iterator[webdriver.Chrome]:
    browser, profile = start_chromium(sim.chromium_args())
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


def button_with_text(text: str) -> tuple[str, str]:
    return By.XPATH, f"//button[normalize-space(.)={text!r}]"


class MeetGuest(GuestPage):
    """What a user does and sees on the simulated Meet guest page."""
    def open(self, code: str) -> None:
        self.driver.get(f"https://meet.google.com/{code}")

    def open_prejoin(self, code: str) -> None:
        self.open(code)
        self.wait().until(
            EC.presence_of_element_located((By.CSS_SELECTOR, 'input[aria-label="Your name"]'))
        )

    def dismiss_popups(self) -> None:
        self.wait(5).until(EC.element_to_be_clickable(button_with_text("Got it"))).click()
        for dismiss in self.driver.find_elements(*button_with_text("Dismiss")):
            dismiss.click()

    def ask_to_join(self, name: str) -> None:
        self.dismiss_popups()
        ask = self.driver.find_element(*button_with_text("Ask to join"))
        assert not ask.is_enabled(), "Ask to join must stay disabled until a name is typed"
        self.driver.find_element(By.CSS_SELECTOR, 'input[aria-label="Your name"]').send_keys(name)
        self.wait(3).until(EC.element_to_be_clickable(button_with_text("Ask to join"))).click()

    def join(self, code: str, name: str) -> None:
        self.open_prejoin(code)
        self.ask_to_join(name)

    def wait_in_call(self, timeout: float = 15.0) -> None:
        self.wait(timeout).until(
            EC.presence_of_element_located(
                (By.CSS_SELECTOR, '[role="region"][aria-label="Call controls"]')
            )
        )

    def accept_recording_notice(self) -> None:
        modal = (By.CSS_SELECTOR, '[role="dialog"][aria-modal="true"]')
        dialog = self.wait(5).until(EC.visibility_of_element_located(modal))
        assert "being recorded" in dialog.text
        dialog.find_element(*button_with_text("OK")).click()
        self.wait(3).until(EC.invisibility_of_element_located(modal))

    def show_toolbar(self) -> None:
        """The in-call toolbar hides until the pointer moves: move it, as a user would."""
        grid = self.driver.find_element(By.CSS_SELECTOR, ".grid")
        ActionChains(self.driver).move_to_element_with_offset(grid, 5, 5).move_by_offset(
            10, 10
        ).perform()
        controls = self.driver.find_element(By.CSS_SELECTOR, '[aria-label="Call controls"]')
        self.wait(3).until(lambda d: "autohide" not in (controls.get_attribute("class") or ""))

    def toolbar_button(self, label_prefix: str) -> WebElement:
        self.show_toolbar()
        button = self.driver.find_element(By.CSS_SELECTOR, f'button[aria-label^="{label_prefix}"]')
        self.wait(3).until(lambda d: button.is_displayed())
        return button

    def tile_of(self, name: str) -> WebElement:
        for tile in self.driver.find_elements(By.CSS_SELECTOR, "[data-participant-id]"):
            if any(span.text == name for span in tile.find_elements(By.TAG_NAME, "span")):
                return tile
        raise AssertionError(f"no tile for {name}")


@pytest.fixture
def launch_chromium() -> Iterator[Callable[[list[str]], webdriver.Chrome]]:
    """Start extra browsers with chosen flags; they are quit when the test ends."""
    started: list[tuple[webdriver.Chrome, str]] = []

    def launch(flags: list[str]) -> webdriver.Chrome:
        started.append(start_chromium(flags))
        return started[-1][0]

    yield launch
    for browser, profile in started:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def meet(driver: webdriver.Chrome) -> MeetGuest:
    return MeetGuest(driver)


@pytest.fixture
def code() -> str:
    return new_meet_code()
