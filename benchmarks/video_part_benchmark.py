"""What recording separate video parts costs a bot's browser for webcams like real ones.

The meeting simulator's webcams are small, slow canvases; a real webcam arrives at 640x360 and
up to 30 frames a second. This plays `--streams` such webcams in one headless Chromium (a canvas
of moving noise and shapes, 640x360 at `--fps`, on a `<video>` as the pages play remote video)
and measures the browser's CPU for `--seconds`, first only playing them, then also recording
each one as the recorder's `videoSlot` does (MediaRecorder, WebM/VP8 at its bit rate). Printed:
CPU of both (cores), their difference per stream, and the bytes recorded per minute per stream.

Not a test: nothing is asserted, the machine may be shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

import psutil

from bot_runner.browser import Browser
from bot_runner.media import recorder_chromium_flags

RECORDER_JS = Path(__file__).parents[1] / "services/bot-runner/src/bot_runner/media/recorder.js"

WEBCAMS = """
const [count, fps] = arguments;
window.__bench = {bytes: 0, recorders: []};
window.__benchVideos = [];
for (let i = 0; i < count; i++) {
  const canvas = document.createElement('canvas');
  canvas.width = 640; canvas.height = 360;
  const ctx = canvas.getContext('2d');
  const noise = ctx.createImageData(640, 360);
  let frame = 0;
  setInterval(() => {
    for (let p = 0; p < noise.data.length; p += 4) {
      const v = (Math.random() * 60) | 0;
      noise.data[p] = 90 + v; noise.data[p + 1] = 70 + v; noise.data[p + 2] = 60 + v;
      noise.data[p + 3] = 255;
    }
    ctx.putImageData(noise, 0, 0);
    ctx.fillStyle = '#f0c090';
    ctx.beginPath();
    ctx.arc(320 + 80 * Math.sin(frame / 15), 170 + 20 * Math.cos(frame / 11), 90, 0, 7);
    ctx.fill();
    frame++;
  }, 1000 / fps);
  const video = document.createElement('video');
  video.muted = true; video.autoplay = true;
  video.srcObject = canvas.captureStream(fps);
  document.body.appendChild(video);
  video.play();
  window.__benchVideos.push(video);
}
"""

RECORD = """
const bps = arguments[0];
for (const video of window.__benchVideos) {
  const rec = new MediaRecorder(new MediaStream(video.srcObject.getVideoTracks()),
                                {mimeType: 'video/webm;codecs=vp8', videoBitsPerSecond: bps});
  rec.ondataavailable = (ev) => { window.__bench.bytes += ev.data.size; };
  rec.start(1000);
  window.__bench.recorders.push(rec);
}
"""


def browser_cpu(browser: Browser, seconds: float) -> float:
    """Cores the browser's processes used over `seconds`."""
    root = psutil.Process(browser.service.process.pid)

    def used() -> float:
        total = 0.0
        for proc in (root, *root.children(recursive=True)):
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
        return total

    before, t0 = used(), time.monotonic()
    time.sleep(seconds)
    return (used() - before) / (time.monotonic() - t0)


def bits_per_second() -> int:
    """The bit rate the recorder gives each part (`VIDEO_PART_BPS` in recorder.js)."""
    return int(re.search(r"VIDEO_PART_BPS = (\d+)", RECORDER_JS.read_text()).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=2)
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    bps = bits_per_second()
    with tempfile.TemporaryDirectory(prefix="mb-video-bench-") as work:
        browser = Browser("/usr/bin/chromium", "/usr/bin/chromedriver",
                          recorder_chromium_flags(), Path(work))
        try:
            browser.driver.get("about:blank")
            browser.driver.execute_script(WEBCAMS, args.streams, args.fps)
            time.sleep(3.0)
            playing = browser_cpu(browser, args.seconds)
            browser.driver.execute_script(RECORD, bps)
            time.sleep(3.0)
            start_bytes = browser.driver.execute_script("return window.__bench.bytes")
            recording = browser_cpu(browser, args.seconds)
            recorded = browser.driver.execute_script("return window.__bench.bytes") - start_bytes
        finally:
            browser.close()
    print(json.dumps({
        "streams": args.streams, "size": "640x360", "fps": args.fps, "bits_per_second": bps,
        "browser_cores_playing": round(playing, 2),
        "browser_cores_playing_and_recording": round(recording, 2),
        "recording_cores_per_stream": round((recording - playing) / args.streams, 3),
        "bytes_per_minute_per_stream": round(recorded / args.streams / (args.seconds + 0.0) * 60),
    }), flush=True)


if __name__ == "__main__":
    main()
