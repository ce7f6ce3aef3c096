"""A guest joins the simulated Google Meet in a real Chromium and sees what the real Meet shows."""

from __future__ import annotations

import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

PARTICIPANTS = [{"name": "Alice"}, {"name": "Bob"}]


def test_guest_waits_then_is_admitted(meet, client, code):
    client.create_meeting(
        code, participants=PARTICIPANTS, admission={"action": "admit", "after": 3.0}
    )

    meet.join(code, "Test Bot")

    meet.wait_for_text("Asking to be let in\u2026")
    assert "You\u2019ll join the call when someone lets you in" in meet.text()
    driver = meet.driver
    assert driver.find_elements(By.XPATH, "//button[normalize-space(.)='Return to home screen']")
    assert driver.find_elements(By.CSS_SELECTOR, 'button[aria-label="Leave call"]')
    assert len(driver.find_elements(By.CSS_SELECTOR, "[data-participant-id]")) == 1
    assert not driver.find_elements(By.CSS_SELECTOR, '[aria-label="Call controls"]')
    state = client.meeting(code)
    assert [(g["name"], g["status"]) for g in state["guests"]] == [("Test Bot", "asking")]
    assert state["started_at"] is None

    meet.wait_in_call()
    assert "Asking to be let in" not in meet.text()
    assert driver.find_elements(By.CSS_SELECTOR, 'button[aria-label="People - 3 joined"]')
    assert driver.find_elements(By.CSS_SELECTOR, 'button[aria-label="Chat with everyone"]')
    assert driver.find_elements(By.CSS_SELECTOR, 'button[aria-label="Turn on captions"]')
    assert len(driver.find_elements(By.CSS_SELECTOR, "[data-participant-id]")) == 3
    assert (
        driver.find_element(By.CSS_SELECTOR, "[data-self-name]").get_attribute("data-self-name")
        == "Test Bot"
    )
    assert meet.tile_of("Alice") and meet.tile_of("Bob")
    meet.accept_recording_notice()

    state = client.meeting(code)
    (guest,) = state["guests"]
    assert guest["name"] == "Test Bot" and guest["status"] == "admitted"
    assert guest["admitted_at"] - guest["asked_at"] >= 2.9
    assert state["started_at"] == guest["admitted_at"]
    assert guest["dialog_accepted_at"] is not None

    meet.toolbar_button("People").click()
    names = [
        item.get_attribute("aria-label")
        for item in driver.find_elements(
            By.CSS_SELECTOR, '[role="list"][aria-label="Participants"] [role="listitem"]'
        )
    ]
    assert names == ["Test Bot", "Alice", "Bob"]

    meet.toolbar_button("Leave call").click()
    meet.wait_for_text("You left the meeting")
    guest = client.meeting(code)["guests"][0]
    assert guest["left"] is True and guest["status"] == "left"


def test_toolbar_hides_until_the_pointer_moves(meet, client, code):
    client.create_meeting(
        code, participants=PARTICIPANTS, admission={"action": "admit", "after": 0.2}
    )
    meet.join(code, "Toolbar Bot")
    meet.wait_in_call()
    controls = meet.driver.find_element(By.CSS_SELECTOR, '[aria-label="Call controls"]')
    meet.wait(8).until(lambda d: not controls.is_displayed())
    leave = meet.driver.find_element(By.CSS_SELECTOR, 'button[aria-label="Leave call"]')
    assert not leave.is_displayed()
    meet.show_toolbar()
    assert leave.is_displayed()


def test_chat_unread_label_and_sending(meet, client, code):
    client.create_meeting(
        code,
        participants=PARTICIPANTS,
        admission={"action": "admit", "after": 0.2},
        script=[{"chat": "Alice", "text": "Welcome, everyone!", "at": 2.5}],
    )
    meet.join(code, "Chatty Bot")
    meet.wait_in_call()
    meet.accept_recording_notice()
    meet.wait(6).until(
        lambda d: d.find_elements(
            By.CSS_SELECTOR, 'button[aria-label="Chat with everyone - New message"]'
        )
    )
    assert not meet.driver.find_elements(By.CSS_SELECTOR, "[data-message-id]")

    meet.toolbar_button("Chat with everyone").click()
    meet.wait(3).until(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-message-id]"))
    assert "Welcome, everyone!" in meet.text()
    assert meet.driver.find_elements(By.CSS_SELECTOR, 'button[aria-label="Chat with everyone"]')

    box = meet.driver.find_element(By.CSS_SELECTOR, 'textarea[aria-label="Send a message"]')
    box.send_keys("Hello from the bot", Keys.ENTER)
    meet.wait(3).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "[data-message-id]")) == 2)
    chat = client.meeting(code)["chat"]
    assert [(m["sender"], m["text"]) for m in chat] == [
        ("Alice", "Welcome, everyone!"),
        ("Chatty Bot", "Hello from the bot"),
    ]
    assert chat[1]["from_guest"] is not None


def test_denied(meet, client, code):
    client.create_meeting(
        code, participants=PARTICIPANTS, admission={"action": "deny", "after": 1.0}
    )
    meet.join(code, "Unwanted Bot")
    meet.wait_for_text("Someone in the call denied your request to join")
    assert not meet.driver.find_elements(By.CSS_SELECTOR, '[aria-label="Call controls"]')
    (guest,) = client.meeting(code)["guests"]
    assert guest["name"] == "Unwanted Bot" and guest["status"] == "denied"


def test_no_one_responds(meet, client, code):
    client.create_meeting(
        code,
        participants=PARTICIPANTS,
        admission={"action": "ignore"},
        no_response_after=3.0,
    )
    meet.join(code, "Patient Bot")
    meet.wait_for_text("Asking to be let in\u2026")
    meet.wait_for_text("No one responded to your request to join the call", timeout=8)
    assert client.meeting(code)["guests"][0]["status"] == "no_response"


def test_manual_admission_and_removal(meet, client, code):
    client.create_meeting(code, participants=PARTICIPANTS, admission={"action": "ignore"})
    meet.join(code, "Manual Bot")
    meet.wait_for_text("Asking to be let in\u2026")
    time.sleep(0.5)
    client.admit(code)
    meet.wait_in_call()
    client.remove(code)
    meet.wait_for_text("You've been removed from the meeting")
    assert not meet.driver.find_elements(By.CSS_SELECTOR, '[aria-label="Call controls"]')
    assert client.meeting(code)["guests"][0]["status"] == "removed"


def test_host_ends_the_meeting(meet, client, code):
    client.create_meeting(
        code, participants=PARTICIPANTS, admission={"action": "admit", "after": 0.2}
    )
    meet.join(code, "Ending Bot")
    meet.wait_in_call()
    client.end(code)
    meet.wait_for_text("Your host ended the meeting for everyone")
    state = client.meeting(code)
    assert state["status"] == "ended" and state["ended_at"] is not None


def test_scripted_end_and_participants_leaving(meet, client, code):
    client.create_meeting(
        code,
        participants=PARTICIPANTS,
        admission={"action": "admit", "after": 0.2},
        script=[{"leave": "Bob", "at": 1.0}, {"leave": "Alice", "at": 2.0}],
        end_after=4.0,
    )
    meet.join(code, "Lonely Bot")
    meet.wait_in_call()
    meet.wait(5).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "[data-participant-id]")) == 1
    )
    assert meet.driver.find_elements(By.CSS_SELECTOR, 'button[aria-label="People - 1 joined"]')
    meet.wait_for_text("Your host ended the meeting for everyone", timeout=6)
    state = client.meeting(code)
    assert all(p["left_at"] is not None for p in state["participants"])
    assert state["ended_at"] - state["started_at"] >= 3.9


def test_unknown_code(meet, code):
    meet.open(code)
    meet.wait_for_text("Check your meeting code")
    assert not meet.driver.find_elements(By.CSS_SELECTOR, 'input[aria-label="Your name"]')


def test_sign_in_wall(meet, client, code):
    client.create_meeting(code, participants=PARTICIPANTS, require_sign_in=True)
    meet.open(code)
    meet.wait_for_text("to continue to your Google Account")
    assert meet.driver.find_element(By.TAG_NAME, "h1").text == "Sign in"
    assert not meet.driver.find_elements(By.CSS_SELECTOR, 'input[aria-label="Your name"]')


def test_prejoin_controls_and_synthetic_input(meet, client, code):
    client.create_meeting(
        code,
        participants=PARTICIPANTS,
        admission={"action": "ignore"},
        reject_synthetic_input=True,
    )
    meet.open_prejoin(code)
    meet.dismiss_popups()
    driver = meet.driver
    mic = driver.find_element(By.CSS_SELECTOR, 'button[aria-label="Turn off microphone"]')
    mic.click()
    assert mic.get_attribute("aria-label") == "Turn on microphone"
    camera = driver.find_element(By.CSS_SELECTOR, 'button[aria-label="Turn off camera"]')
    camera.click()
    assert camera.get_attribute("aria-label") == "Turn on camera"

    driver.execute_script(
        "const i = document.querySelector('input[aria-label=\"Your name\"]');"
        "i.value = 'Scripted Bot'; i.dispatchEvent(new Event('input', {bubbles: true}));"
    )
    ask = driver.find_element(By.XPATH, "//button[normalize-space(.)='Ask to join']")
    assert not ask.is_enabled()
    name = driver.find_element(By.CSS_SELECTOR, 'input[aria-label="Your name"]')
    name.clear()
    name.send_keys("Typed Bot")
    meet.wait(3).until(lambda d: ask.is_enabled())
    driver.execute_script("arguments[0].click()", ask)
    time.sleep(0.5)
    assert client.meeting(code)["guests"] == []
    ask.click()
    meet.wait_for_text("Asking to be let in\u2026")
    assert [g["name"] for g in client.meeting(code)["guests"]] == ["Typed Bot"]
