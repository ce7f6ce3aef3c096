"""The bot's microphone in its own Chromium tab: what `speak` is given, the meeting hears.

An init script (``microphone.js``) gives every ``getUserMedia`` call that asks for audio a track
of its own (instead of the device's), played by an AudioWorklet from the frames pushed here, and
silence between them. Frames go to the page over the runner's own DevTools connection, never
through Selenium, so `speak` may be called from any thread while the runner drives the page.
"""

from __future__ import annotations

import base64
import logging
from importlib import resources

from .cdp import CdpConnection, page_ws_url

log = logging.getLogger(__name__)


def microphone_script(rate: int) -> str:
    source = resources.files(__package__).joinpath("microphone.js").read_text(encoding="utf-8")
    return source.replace("__MB_MIC_RATE__", str(int(rate)))


class TabMicrophone:
    """Usage: `install()` before the meeting page loads, `open()` once there, `speak(pcm)` with
    16-bit little-endian mono PCM at `rate` Hz, `close()`."""

    def __init__(self, driver, rate: int) -> None:
        self._driver = driver
        self.rate = rate
        self._cdp: CdpConnection | None = None
        self.frames = 0

    def install(self) -> None:
        # The worklet is loaded from a blob: URL, which a meeting page's Content-Security-Policy
        # may refuse; the bot's own tab does not enforce it.
        self._driver.execute_cdp_cmd("Page.setBypassCSP", {"enabled": True})
        self._driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                     {"source": microphone_script(self.rate)})

    def open(self) -> None:
        cdp = CdpConnection(page_ws_url(self._driver))
        cdp.open()
        self._cdp = cdp

    def speak(self, pcm: bytes) -> None:
        """Queue `pcm` to be played after what is queued (from any thread; never waits)."""
        cdp = self._cdp
        if cdp is None or cdp.closed.is_set():
            return
        self.frames += 1
        expression = f"window.__mbMic && window.__mbMic.push('{base64.b64encode(pcm).decode()}')"
        cdp.spawn(self._push(cdp, expression))

    @staticmethod
    async def _push(cdp: CdpConnection, expression: str) -> None:
        try:
            await cdp.send("Runtime.evaluate", {"expression": expression})
        except Exception as exc:  # the page is going or gone: the frame is lost, not the bot
            log.debug("microphone: frame not delivered: %s", exc)

    def status(self) -> dict | None:
        cdp = self._cdp
        if cdp is None or cdp.closed.is_set():
            return None
        return cdp.evaluate("window.__mbMic ? window.__mbMic.status() : null", timeout=5)

    def close(self) -> None:
        if self._cdp is not None:
            self._cdp.close()
            self._cdp = None
