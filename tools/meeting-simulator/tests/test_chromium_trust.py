"""Chromium reaches the simulator under the real hostname, trusting only its certificate."""

from __future__ import annotations

from selenium.webdriver.common.by import By


def test_chromium_loads_meet_from_the_simulator(meet, client):
    client.create_meeting("abc-defg-hij", participants=[{"name": "Alice"}])
    try:
        meet.open_prejoin("abc-defg-hij")
        driver = meet.driver
        assert (
            driver.execute_script("return location.href") == "https://meet.google.com/abc-defg-hij"
        )
        assert driver.execute_script("return window.isSecureContext") is True
        assert driver.title == "Meet - abc-defg-hij"
    finally:
        client.delete("abc-defg-hij")


def test_without_the_spki_flag_the_certificate_is_refused(sim, launch_chromium):
    rules = [a for a in sim.chromium_args() if a.startswith("--host-resolver-rules=")]
    driver = launch_chromium(rules)
    driver.get("https://meet.google.com/abc-defg-hij")
    text = driver.find_element(By.TAG_NAME, "body").text
    assert "Your connection is not private" in text or "ERR_CERT" in text
    assert not driver.find_elements(By.CSS_SELECTOR, 'input[aria-label="Your name"]')
