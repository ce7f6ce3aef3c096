"""What every simulated guest page offers a test: waiting on it and reading its text."""

from __future__ import annotations

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


class GuestPage:
    """A guest page in `driver`; subclasses add what a user does on their platform's page."""

    timeout = 10.0
    poll_frequency = 0.1

    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver

    def wait(self, timeout: float | None = None) -> WebDriverWait:
        return WebDriverWait(self.driver, self.timeout if timeout is None else timeout,
                             poll_frequency=self.poll_frequency)

    def text(self) -> str:
        return self.driver.find_element(By.TAG_NAME, "body").text

    def wait_for_text(self, text: str, timeout: float | None = None) -> None:
        self.wait(timeout).until(lambda d: text in self.text(), f"text {text!r} never appeared")
