"""What every platform adapter offers: observe the page, act on it, and report speaking."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from mb_shared.contracts.bot import BotParams, EndReason, Platform, RecordingMode
from mb_shared.url_guard import OutboundPolicy


class PageState(StrEnum):
    LOADING = "loading"
    PRE_JOIN = "pre_join"
    WAITING_ROOM = "waiting_room"
    IN_CALL = "in_call"
    NOT_JOINABLE = "not_joinable"
    DENIED = "denied"
    NO_RESPONSE = "no_response"
    REMOVED = "removed"
    ENDED = "ended"


@dataclass(frozen=True)
class Observation:
    """What the page shows now; `evidence` keeps the meeting's own words for debugging."""

    state: PageState
    reason: EndReason | None = None
    evidence: str = ""
    participants: list[str] = field(default_factory=list)
    dialog: bool = False
    """In the call, a notice that `dismiss_dialogs` accepts (a recording notice, say) is over the
    call now. The recording shows whatever covers the call, so the session accepts it at once
    instead of waiting for its next periodic `dismiss_dialogs`. Reported by the Meet adapter."""


class InputDriver:
    """The one place adapters send input through, so synthetic input can be swapped for OS input."""

    def __init__(self, driver: WebDriver) -> None:
        self._driver = driver

    def wake_pointer(self) -> None:
        body = self._driver.find_element("tag name", "body")
        ActionChains(self._driver).move_to_element_with_offset(body, 5, 5).move_by_offset(
            20, 10
        ).perform()

    def click(self, element: WebElement) -> None:
        try:
            element.click()
        except Exception:
            self._driver.execute_script("arguments[0].click();", element)

    def type_text(self, element: WebElement, text: str, key_delay_s: float = 0.03, *,
                  click_first: bool = True) -> None:
        """Type key by key; `click_first=False` for a field something may cover (the keys still
        reach it: typing needs focus, not a visible spot)."""
        if click_first:
            element.click()
        for char in text:
            element.send_keys(char)
            time.sleep(key_delay_s)


def load_script(name: str) -> str:
    return resources.files("bot_runner.platforms").joinpath(name).read_text()


SPEAKER_PROBE = load_script("speaker_probe.js")
ROSTER_PROBE = load_script("roster_probe.js")
CHAT_PROBE = load_script("chat_probe.js")
HIDE_PANEL = load_script("hide_panel.js")
SPEAKER_STAGE = load_script("speaker_stage.js")


class PlatformAdapter(ABC):
    platform: Platform
    observe_script: str
    speaking_tiles_script: str
    roster_script: str
    chat_script: str
    voices_apart = False
    """The page plays remote voices on separate elements, one voice at a time on each (Meet's
    pool): the recorder keeps each element's audio apart, for each participant's own audio."""
    videos_apart = False
    """The page plays each webcam and screenshare on a `<video>` of its own (Meet, Teams; Zoom
    paints them all on canvases): the recorder records them as separate video parts."""

    def __init__(self, driver: WebDriver, input_driver: InputDriver,
                 outbound: OutboundPolicy | None = None) -> None:
        self.driver = driver
        self.input = input_driver
        self.outbound = outbound or OutboundPolicy()
        """What customer URLs the adapter may call itself (a token URL, say)."""
        self.microphone = False
        """The bot speaks (`streaming.input`): its microphone stays on; otherwise it is off."""

    def join_url(self, params: BotParams) -> str:
        """The address the browser opens (a platform may add what joining needs, e.g. a token)."""
        return params.meeting_url

    def observe(self) -> Observation:
        raw = self.driver.execute_script(self.observe_script) or {}
        reason = raw.get("reason")
        return Observation(
            state=PageState(raw.get("state", PageState.LOADING)),
            reason=EndReason(reason) if reason else None,
            evidence=(raw.get("evidence") or "")[:300],
            participants=list(raw.get("participants") or []),
            dialog=bool(raw.get("dialog")),
        )

    def tend(self, seen: Observation) -> None:
        """Called on every look at the page until the bot is in the call, whatever the state:
        for what a platform needs beyond filling the pre-join form (banners, reloads)."""

    @abstractmethod
    def ask_to_join(self, bot_name: str) -> bool:
        """Act on the pre-join page; True once the join request was sent."""

    def dismiss_dialogs(self) -> None:
        """Accept what the platform puts over the call (recording notices and the like); called
        at admission, at once whenever `observe()` reports a dialog, and otherwise again every
        second or so, since such dialogs come at any moment."""

    @abstractmethod
    def leave(self) -> None:
        """Leave the meeting from the in-call page."""

    def send_chat(self, text: str) -> bool:
        """Post `text` in the meeting chat; False where a guest bot has no chat."""
        return False

    def arrange(self, mode: RecordingMode) -> None:
        """Lay the call out as the recording mode asks: the speaker fills the frame in
        `speaker_view`; `gallery_view` records the gallery of tiles the page shows."""
        if mode == RecordingMode.SPEAKER_VIEW:
            self.driver.execute_script(SPEAKER_STAGE, self.speaking_tiles_script)

    def start_speaker_probe(self) -> None:
        """Watch speaking indicators; events land in `window.__mbSpeaking` (page clock, ms)."""
        self.driver.execute_script(SPEAKER_PROBE, self.speaking_tiles_script)

    def start_roster_probe(self, *, record_video: bool = False) -> None:
        """Watch who is in the call; joins, leaves, updates and camera and screenshare switches land
        in `window.__mbRoster`. With `record_video`, the recorder records each webcam and
        screenshare the page plays on a `<video>` as separate video parts."""
        self.driver.execute_script(ROSTER_PROBE, self.roster_script, record_video)

    def open_chat(self) -> bool:
        """Open the meeting chat so that the chat probe can read it (kept out of the recording
        where it would take the call's room); True once it is open. Called until it is."""
        return False

    def start_chat_probe(self) -> None:
        """Watch the chat; new messages land in `window.__mbChat`."""
        self.driver.execute_script(CHAT_PROBE, self.chat_script)

    def hide_panel(self, inside: WebElement, hidden: bool = True) -> None:
        """Take the side panel holding `inside` out of the layout (or put it back)."""
        self.driver.execute_script(HIDE_PANEL, inside, hidden)

    def drain_page_events(self) -> tuple[list[dict], list[dict], list[dict]]:
        """What the probes saw since the last call: speaking events, roster events, chat
        messages."""
        drained = self.driver.execute_script(
            "const s = window.__mbSpeaking || [], r = window.__mbRoster || [],"
            " c = window.__mbChat || [];"
            " window.__mbSpeaking = []; window.__mbRoster = []; window.__mbChat = [];"
            " return [s, r, c];"
        ) or [[], [], []]
        return list(drained[0] or []), list(drained[1] or []), list(drained[2] or [])
