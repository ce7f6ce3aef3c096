"""The bot's microphone in a real headless Chromium: a page that takes the microphone hears what
the runner gives it, and silence otherwise."""

from __future__ import annotations

import math
import struct
import time
from pathlib import Path

import pytest

from bot_runner.media.microphone import TabMicrophone

pytestmark = pytest.mark.timeout(120)

RATE = 16_000
FRAME_S = 0.04

LISTEN = """
const done = arguments[0];
navigator.mediaDevices.getUserMedia({audio: true, video: true}).then((stream) => {
  const ctx = new AudioContext();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 2048;
  ctx.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  window.levels = [];
  setInterval(() => {
    analyser.getFloatTimeDomainData(samples);
    let peak = 0;
    for (const v of samples) peak = Math.max(peak, Math.abs(v));
    window.levels.push([Date.now() / 1000, peak]);
  }, 20);
  done({audio: stream.getAudioTracks().length, video: stream.getVideoTracks().length});
}).catch((e) => done(String(e)));
"""


def tone(seconds: float, hz: float = 440.0, amplitude: float = 0.5) -> list[bytes]:
    count = int(seconds / FRAME_S)
    per_frame = int(RATE * FRAME_S)
    frames = []
    for index in range(count):
        samples = [round(amplitude * 32767 * math.sin(2 * math.pi * hz * (index * per_frame + i)
                                                      / RATE)) for i in range(per_frame)]
        frames.append(struct.pack(f"<{per_frame}h", *samples))
    return frames


def open_page(driver, url: str) -> None:
    driver.get(url)
    deadline = time.monotonic() + 10
    while driver.execute_script("return document.readyState") != "complete":
        assert time.monotonic() < deadline, "test page did not load"
        time.sleep(0.05)


def test_the_page_hears_what_the_microphone_is_given(chromium, meeting_server: str,
                                                     tmp_path: Path) -> None:
    driver = chromium()
    microphone = TabMicrophone(driver, RATE)
    microphone.install()
    open_page(driver, f"{meeting_server}/?path=webrtc")
    tracks = driver.execute_async_script(LISTEN)
    assert tracks == {"audio": 1, "video": 1}, tracks  # the camera still comes from the device
    microphone.open()
    try:
        time.sleep(1.0)
        spoke_at = time.time()
        for frame in tone(1.5):
            microphone.speak(frame)
            time.sleep(FRAME_S)
        stopped_at = time.time()
        time.sleep(1.0)
        levels = driver.execute_script("return window.levels")
        status = microphone.status()
    finally:
        microphone.close()
    before = [peak for at, peak in levels if at < spoke_at]
    during = [peak for at, peak in levels if spoke_at + 0.3 < at < stopped_at]
    after = [peak for at, peak in levels if at > stopped_at + 0.5]
    assert before and during and after
    assert max(before) < 0.01, "the microphone was not silent before it was given audio"
    # A frame the page gets late (a busy machine) is a short gap the microphone reports as an
    # underrun, after which it buffers more: the tone is heard all along but for such gaps.
    quiet = [peak for peak in during if peak <= 0.3]
    assert len(quiet) <= 0.1 * len(during), f"the tone was not heard ({len(quiet)}/{len(during)})"
    assert not quiet or status["underruns"] >= 1, (quiet, status)
    assert max(after) < 0.01, "the microphone did not fall silent after the audio"
    assert status["frames"] == len(tone(1.5)) and status["ready"], status
