"""A guest joins the simulated Microsoft Teams in a real Chromium and sees what the real Teams shows."""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest
from guest_page import GuestPage
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC

from meeting_simulator import new_teams_meeting_id, new_teams_numeric_id

PARTICIPANTS = [{"name": "Alice"}, {"name": "Bob"}]
CONTEXT = json.dumps({"Tid": "7c3e0f5a-0000-4000-8000-000000000001", "Oid": "o-1"})

NAME_INPUT = (By.CSS_SELECTOR, '[data-tid="prejoin-display-name-input"]')
JOIN_BUTTON = (By.CSS_SELECTOR, '[data-tid="prejoin-join-button"]')
HANGUP = (By.CSS_SELECTOR, '#hangup-button[data-tid="hangup-main-btn"][aria-label="Leave"]')
MODAL = (By.CSS_SELECTOR, '[role="dialog"][aria-modal="true"]')


def quoted(code: str) -> str:
    return urllib.parse.quote(code, safe="")


def meetup_join_link(code: str) -> str:
    return (
        f"https://teams.microsoft.com/l/meetup-join/{quoted(code)}/0"
        f"?context={urllib.parse.quote(CONTEXT, safe='')}"
    )


def web_client_link(code: str) -> str:
    """The v2 form bots normalize meetup-join links to."""
    return (
        f"https://teams.microsoft.com/v2/?meetingjoin=true#/l/meetup-join/{quoted(code)}/0"
        f"?context={urllib.parse.quote(CONTEXT, safe='')}&anon=true"
    )


def by_text(text: str) -> tuple[str, str]:
    """A button whose text, or the text of one of its parts, is `text`."""
    return By.XPATH, f"//button[normalize-space(.)={text!r} or .//*[normalize-space(.)={text!r}]]"


class TeamsGuest(GuestPage):
    """What a user does and sees on the simulated Teams launcher and web client."""
    def find(self, locator: tuple[str, str]) -> WebElement:
        return self.driver.find_element(*locator)

    def present(self, locator: tuple[str, str]) -> bool:
        return bool(self.driver.find_elements(*locator))

    def wait_prejoin(self) -> None:
        self.wait().until(EC.presence_of_element_located(NAME_INPUT))

    def continue_on_browser(self) -> None:
        self.wait().until(EC.element_to_be_clickable(by_text("Continue on this browser"))).click()

    def dismiss_modal(self, timeout: float = 5.0) -> None:
        dialog = self.wait(timeout).until(EC.visibility_of_element_located(MODAL))
        assert "Are you sure you don't want audio or video?" in dialog.text
        dialog.find_element(*by_text("Continue without audio or video")).click()
        self.wait(3).until(EC.invisibility_of_element_located(MODAL))

    def switch(self, kind: str) -> WebElement:
        return self.find((By.CSS_SELECTOR, f'[role="switch"][data-tid="toggle-{kind}"]'))

    def switches_off(self) -> None:
        for kind in ("mute", "video"):
            node = self.switch(kind)
            if node.get_attribute("aria-checked") == "true":
                node.click()
            assert node.get_attribute("aria-checked") == "false"

    def type_name(self, name: str) -> None:
        join = self.find(JOIN_BUTTON)
        assert join.text == "Join now" and not join.is_enabled()
        self.find(NAME_INPUT).send_keys(name)
        self.wait(3).until(lambda d: join.is_enabled())

    def join_after_modal(self, name: str) -> None:
        """Pre-join of a meeting whose modal comes first: dismiss it, type, join."""
        self.wait_prejoin()
        self.dismiss_modal()
        self.type_name(name)
        self.find(JOIN_BUTTON).click()

    def wait_in_call(self, timeout: float = 15.0) -> None:
        self.wait(timeout).until(EC.presence_of_element_located(HANGUP))

    def tile_names(self) -> list[str]:
        return self.driver.execute_script(
            "return [...document.querySelectorAll('[data-stream-type=\"Video\"]')]"
            ".map(t => t.dataset.tid)"
        )

    def tile(self, name: str) -> WebElement:
        return self.find((By.CSS_SELECTOR, f'[data-stream-type="Video"][data-tid="{name}"]'))


@pytest.fixture
def teams(driver: webdriver.Chrome) -> TeamsGuest:
    return TeamsGuest(driver)


@pytest.fixture
def thread_id() -> str:
    return new_teams_meeting_id()


def test_launcher_prejoin_lobby_and_call(teams, client, thread_id):
    client.create_meeting(
        thread_id,
        platform="teams",
        participants=PARTICIPANTS,
        admission={"action": "admit", "after": 2.5},
        prejoin_modal="before",
        recording_notice=False,
    )
    driver = teams.driver
    launcher_url = meetup_join_link(thread_id)
    driver.get(launcher_url)
    teams.wait_for_text("How do you want to join your Teams meeting?")
    driver.find_element(*by_text("Join on the Teams app")).click()
    time.sleep(1.0)
    assert driver.current_url == launcher_url, "the msteams: deep link must not get anywhere"
    assert not teams.present(NAME_INPUT)

    driver.get("about:blank")  # Chromium keeps a page that tried msteams: from navigating on clicks
    driver.get(launcher_url)
    teams.continue_on_browser()
    teams.wait_prejoin()
    assert driver.current_url.startswith("https://teams.microsoft.com/v2/?meetingjoin=true#/l/")
    assert driver.current_url.endswith("&anon=true")
    name = teams.find(NAME_INPUT)
    assert name.get_attribute("placeholder") == "Type your name"
    assert teams.switch("mute").get_attribute("aria-checked") == "true"
    assert teams.switch("video").get_attribute("aria-checked") == "true"

    teams.dismiss_modal()
    assert teams.switch("mute").get_attribute("aria-checked") == "false"
    assert teams.switch("video").get_attribute("aria-checked") == "false"
    teams.type_name("Teams Bot")
    teams.find(JOIN_BUTTON).click()

    teams.wait_for_text("Someone will let you in shortly")
    assert "Waiting to be admitted" in teams.text()
    join = teams.find(JOIN_BUTTON)
    assert join.is_displayed() and not join.is_enabled(), "Join now stays in the lobby, disabled"
    assert not teams.present(HANGUP)
    state = client.meeting(thread_id)
    assert state["platform"] == "teams" and state["code"] == thread_id
    assert [(g["name"], g["status"]) for g in state["guests"]] == [("Teams Bot", "asking")]

    teams.wait_in_call()
    for locator in (
        "#chat-button",
        '[data-tid="roster-button"]',
        '[aria-label="React"]',
        '[aria-label="Raise"]',
    ):
        assert teams.present((By.CSS_SELECTOR, locator)), locator
    assert not teams.present(NAME_INPUT) and not teams.present(JOIN_BUTTON)
    assert "Someone will let you in" not in teams.text()
    assert teams.tile_names() == ["Teams Bot", "Alice", "Bob"]
    assert "Teams Bot" in teams.tile("Teams Bot").text
    outline = teams.tile("Alice").find_element(
        By.CSS_SELECTOR, '[data-tid="voice-level-stream-outline"]'
    )
    assert not outline.is_displayed()

    driver.find_element(By.CSS_SELECTOR, '[data-tid="roster-button"]').click()
    teams.wait(3).until(EC.presence_of_element_located((By.CSS_SELECTOR, '[role="tree"]')))
    items = driver.execute_script(
        "return [...document.querySelectorAll("
        '\'[role="tree"] [data-tid^="participantsInCall-"]\')].map(i => [i.dataset.tid, i.innerText])'
    )
    assert [tid for tid, _ in items] == [
        "participantsInCall-Teams Bot",
        "participantsInCall-Alice",
        "participantsInCall-Bob",
    ]
    assert "Teams Bot" in items[0][1]

    (guest,) = client.meeting(thread_id)["guests"]
    assert guest["status"] == "admitted" and guest["admitted_at"] - guest["asked_at"] >= 2.4

    driver.find_element(*HANGUP).click()
    teams.wait_for_text("Call ended")
    guest = client.meeting(thread_id)["guests"][0]
    assert guest["left"] is True and guest["status"] == "left"


def test_modal_after_the_join_click_from_the_dl_launcher(teams, client, thread_id):
    client.create_meeting(
        thread_id,
        platform="teams",
        participants=PARTICIPANTS,
        admission={"action": "admit", "after": 0.5},
        prejoin_modal="after",
    )
    route = f"/_#/l/meetup-join/{quoted(thread_id)}/0?context={urllib.parse.quote(CONTEXT)}"
    teams.driver.get(
        "https://teams.microsoft.com/dl/launcher/launcher.html"
        f"?url={urllib.parse.quote(route, safe='')}&type=meetup-join&directDl=true&msLaunch=true"
    )
    teams.continue_on_browser()
    teams.wait_prejoin()
    time.sleep(1.2)
    assert not teams.present(MODAL), "this meeting's modal comes after the join click"
    teams.switches_off()
    teams.type_name("After Bot")
    teams.find(JOIN_BUTTON).click()
    teams.dismiss_modal()
    teams.wait_in_call()
    (guest,) = client.meeting(thread_id)["guests"]
    assert guest["name"] == "After Bot" and guest["status"] == "admitted"


def test_denied_with_strict_input(teams, client, thread_id):
    client.create_meeting(
        thread_id,
        platform="teams",
        participants=PARTICIPANTS,
        admission={"action": "deny", "after": 1.0},
        prejoin_modal="before",
        reject_synthetic_input=True,
    )
    driver = teams.driver
    driver.get(web_client_link(thread_id))
    teams.wait_prejoin()
    teams.dismiss_modal()
    teams.type_name("Unwanted Bot")
    join = teams.find(JOIN_BUTTON)
    driver.execute_script("arguments[0].click()", join)
    time.sleep(0.5)
    assert client.meeting(thread_id)["guests"] == [], "a synthetic click must not join"
    join.click()
    teams.wait_for_text("Someone will let you in shortly")
    teams.wait_for_text("Sorry, but you were denied access to the meeting.")
    assert not teams.present(HANGUP)
    (guest,) = client.meeting(thread_id)["guests"]
    assert guest["name"] == "Unwanted Bot" and guest["status"] == "denied"


def test_toasts_removal_and_end(teams, client, thread_id):
    client.create_meeting(
        thread_id,
        platform="teams",
        participants=PARTICIPANTS,
        admission={"action": "ignore"},
        prejoin_modal="before",
    )
    teams.driver.get(web_client_link(thread_id))
    teams.join_after_modal("Removed Bot")
    teams.wait_for_text("Someone will let you in shortly")
    client.admit(thread_id)
    teams.wait_in_call()
    toast = teams.wait(6).until(
        EC.visibility_of_element_located((By.CSS_SELECTOR, '[role="alert"]'))
    )
    assert toast.text
    assert teams.present(HANGUP), "a role=alert toast is not the end of the call"
    assert client.meeting(thread_id)["guests"][0]["status"] == "admitted"

    client.remove(thread_id)
    title = teams.wait(5).until(
        EC.visibility_of_element_located((By.ID, "calling-retry-screen-title"))
    )
    assert title.text == "You've been removed from this meeting"
    assert not teams.present(HANGUP)
    assert client.meeting(thread_id)["guests"][0]["status"] == "removed"

    other = new_teams_meeting_id()
    client.create_meeting(
        other,
        platform="teams",
        participants=PARTICIPANTS,
        admission={"action": "admit", "after": 0.2},
        prejoin_modal="before",
    )
    teams.driver.get(web_client_link(other))
    teams.join_after_modal("Ending Bot")
    teams.wait_in_call()
    client.end(other)
    teams.wait_for_text("Meeting ended")
    assert not teams.present(HANGUP)
    state = client.meeting(other)
    assert state["status"] == "ended" and state["guests"][0]["status"] == "ended"


def test_meet_links_with_passcode(teams, client):
    meeting_id = new_teams_numeric_id()
    client.create_meeting(
        meeting_id,
        platform="teams",
        participants=PARTICIPANTS,
        passcode="Xy7pQ2",
        admission={"action": "admit", "after": 0.2},
        prejoin_modal="before",
    )
    driver = teams.driver
    driver.get(f"https://teams.live.com/meet/{meeting_id}?p=Xy7pQ2")
    teams.continue_on_browser()
    teams.join_after_modal("Passcode Bot")
    teams.wait_in_call()
    assert client.meeting(meeting_id)["guests"][0]["name"] == "Passcode Bot"

    driver.get(f"https://teams.microsoft.com/meet/{meeting_id}?p=wrong1")
    teams.continue_on_browser()
    teams.wait_for_text("Looks like the meeting URL is incorrect")
    assert "passcode is incorrect" in teams.text()
    assert not teams.present(NAME_INPUT)

    driver.get(f"https://teams.microsoft.com/meet/{meeting_id}")
    teams.continue_on_browser()
    teams.wait_for_text("Looks like the meeting URL is incorrect")
    assert "needs a passcode" in teams.text()

    driver.get(web_client_link(new_teams_meeting_id()))
    teams.wait_for_text("Looks like the meeting URL is incorrect")
    assert not teams.present(NAME_INPUT)
    assert len(client.meeting(meeting_id)["guests"]) == 1


def test_sign_in_redirect_and_captcha(teams, client, thread_id):
    client.create_meeting(
        thread_id, platform="teams", participants=PARTICIPANTS, require_sign_in=True
    )
    driver = teams.driver
    driver.get(web_client_link(thread_id))
    teams.wait(8).until(lambda d: d.current_url.startswith("https://login.microsoftonline.com/"))
    teams.wait_for_text("Sign in")
    assert driver.find_elements(By.CSS_SELECTOR, 'input[type="email"][name="loginfmt"]')

    captcha = new_teams_meeting_id()
    client.create_meeting(captcha, platform="teams", participants=PARTICIPANTS, captcha=True)
    driver.get(web_client_link(captcha))
    teams.wait_for_text("Verify you're a real person")
    driver.find_element(*by_text("Start puzzle")).click()
    driver.find_element(*by_text("Submit")).click()
    teams.wait_for_text("Try the new puzzle")
    assert not teams.present(NAME_INPUT)
    assert client.meeting(thread_id)["guests"] == client.meeting(captcha)["guests"] == []


def test_scripted_participants_and_chat_with_and_without_guest_chat(teams, client, thread_id):
    script = [{"chat": "Alice", "text": "Welcome, everyone!", "at": 0.5}]
    client.create_meeting(
        thread_id,
        platform="teams",
        participants=[*PARTICIPANTS, {"name": "Carol"}],
        admission={"action": "admit", "after": 0.2},
        prejoin_modal="before",
        script=[*script, {"leave": "Bob", "at": 1.0}, {"join": "Carol", "at": 1.0}],
    )
    driver = teams.driver
    driver.get(web_client_link(thread_id))
    teams.join_after_modal("Quiet Bot")
    teams.wait_in_call()
    teams.wait(5).until(lambda d: teams.tile_names() == ["Quiet Bot", "Alice", "Carol"])
    client.wait_for(thread_id, lambda s: s["chat"], timeout=5)
    driver.find_element(By.ID, "chat-button").click()
    placeholder = teams.wait(3).until(
        EC.visibility_of_element_located((By.CSS_SELECTOR, '[aria-disabled="true"]'))
    )
    assert placeholder.text
    assert not teams.present((By.CSS_SELECTOR, '[aria-label="Type a message"]'))
    assert not teams.present((By.CSS_SELECTOR, '[data-tid="chat-pane-message"]'))

    chatty = new_teams_meeting_id()
    client.create_meeting(
        chatty,
        platform="teams",
        participants=PARTICIPANTS,
        admission={"action": "admit", "after": 0.2},
        prejoin_modal="before",
        guest_chat=True,
        script=script,
    )
    driver.get(web_client_link(chatty))
    teams.join_after_modal("Chatty Bot")
    teams.wait_in_call()
    client.wait_for(chatty, lambda s: s["chat"], timeout=5)
    driver.find_element(By.ID, "chat-button").click()
    message = teams.wait(3).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, '[data-tid="chat-pane-message"]'))
    )
    author = message.find_element(By.CSS_SELECTOR, '[data-tid="message-author-name"]').text
    body = message.find_element(By.CSS_SELECTOR, '[data-tid="messageBodyContent"]').text
    assert (author, body) == ("Alice", "Welcome, everyone!")

    box = driver.find_element(
        By.CSS_SELECTOR, '[contenteditable="true"][aria-label="Type a message"]'
    )
    box.send_keys("Hello from the bot", Keys.ENTER)
    teams.wait(3).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, '[data-tid="chat-pane-message"]')) == 2
    )
    chat = client.meeting(chatty)["chat"]
    assert [(m["sender"], m["text"]) for m in chat] == [
        ("Alice", "Welcome, everyone!"),
        ("Chatty Bot", "Hello from the bot"),
    ]
    assert chat[0]["from_guest"] is None and chat[1]["from_guest"] is not None
