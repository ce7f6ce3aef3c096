"""Measures one bot on the real platform and the meeting simulator, and prints the figures.

For each platform asked for (`--platforms meet,teams,zoom`; Meet by default):

- seconds from `POST /bots/` to the `in_call_recording` webhook;
- seconds from the meeting's end to the `complete` webhook, for a 1-minute and a 5-minute meeting;
- CPU (share of one core) and peak memory (PSS) of the bot while in the call: its Chromium,
  chromedriver and ffmpeg processes plus the runner process.

With `--streaming`, every bot also streams its audio (`streaming.output`) to a receiver on
loopback, and the figures add the delay from each line's first word played in the simulator to
the arrival of its audio at the receiver (median and p95 over the lines; the line's start is when
the simulator's page started playing it, so a clip's own lead-in counts in).

Run with `make bench`. Not a test: nothing is asserted, the machine may be shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

from devstack.platform import PlatformStack
from devstack.receivers import AudioConnection, AudioReceiver, BackgroundServer, WebhookReceiver
from meeting_simulator.client import (
    SimulatorClient,
    new_meet_code,
    new_teams_numeric_id,
    new_zoom_meeting_id,
)

LINES = [
    ("Alice", "Let us go through the numbers for this quarter one by one."),
    ("Bob", "Revenue grew in every region, and support tickets went down."),
    ("Alice", "Good, then we can hire two more engineers for the platform team."),
    ("Bob", "I will prepare the job descriptions and share them on Monday."),
]


def script(duration_s: float) -> list[dict]:
    lines, at, i = [], 2.0, 0
    while at < duration_s - 6:
        speaker, text = LINES[i % len(LINES)]
        lines.append({"speaker": speaker, "text": text, "at": at})
        at, i = at + 7.0, i + 1
    return lines


class BotSampler:
    """Samples the runner's process tree (which holds the bot) once a second."""

    def __init__(self, runner_pid: int) -> None:
        self._runner = psutil.Process(runner_pid)
        self._stop = threading.Event()
        self.cpu_share: list[float] = []
        self.peak_pss_mb = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree(self) -> list[psutil.Process]:
        return [self._runner, *self._runner.children(recursive=True)]

    def _cpu_seconds(self, procs) -> float:
        total = 0.0
        for proc in procs:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        previous, t0 = self._cpu_seconds(self._tree()), time.monotonic()
        while not self._stop.wait(1.0):
            procs = self._tree()
            now_cpu, now = self._cpu_seconds(procs), time.monotonic()
            self.cpu_share.append((now_cpu - previous) / (now - t0))
            previous, t0 = now_cpu, now
            pss = 0
            for proc in procs:
                try:
                    pss += proc.memory_full_info().pss
                except psutil.Error:
                    pass
            self.peak_pss_mb = max(self.peak_pss_mb, pss / 2**20)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


SOUND = 1000  # peak sample (about -30 dBFS) above which a frame holds speech


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def audio_delays(connections: list[AudioConnection], utterances: list[dict]) -> list[float]:
    """For each line played: seconds from its start in the simulator to the arrival of the
    first frame holding its sound (after at least 0.2 s of quiet) at the receiver."""
    frames = [(arrived, max(abs(v) for v in memoryview(data).cast("h")))
              for connection in connections for arrived, data in connection.frames]
    delays = []
    for utterance in utterances:
        start = utterance.get("actual_start")
        if start is None:
            continue
        quiet = 0
        for arrived, peak in frames:
            if arrived < start:
                continue
            if peak >= SOUND and quiet >= 5:
                delays.append(arrived - start)
                break
            quiet = quiet + 1 if peak < SOUND else 0
    return delays


PASSCODE = "Bench42"


def new_meeting(platform: str) -> tuple[str, str, dict]:
    """A fresh meeting code, the link a user would paste, and the simulator's extra settings."""
    if platform == "teams":
        code = new_teams_numeric_id()
        return code, f"https://teams.live.com/meet/{code}?p={PASSCODE}", {"passcode": PASSCODE}
    if platform == "zoom":
        code = new_zoom_meeting_id()
        return code, f"https://zoom.us/j/{code}?pwd={PASSCODE}", {"passcode": PASSCODE}
    code = new_meet_code()
    return code, f"https://meet.google.com/{code}", {}


def run_meeting(stack: PlatformStack, receiver: WebhookReceiver, platform: str, duration_s: float,
                sample: bool, audio: tuple[AudioReceiver, str] | None = None) -> dict:
    endpoints = stack.endpoints
    simulator = SimulatorClient(endpoints.simulator_control_url)
    code, link, settings = new_meeting(platform)
    simulator.create_meeting(code, platform=platform,
                             participants=[{"name": "Alice"}, {"name": "Bob"}],
                             script=script(duration_s), admission={"action": "admit", "after": 1.0},
                             end_after=duration_s, **settings)
    join = {"meeting_url": link, "bot_name": "Bench", "webhook_url": receiver.url + "/bench",
            "speech_to_text": {"provider": "Default"}}
    if audio is not None:
        join["streaming"] = {"output": f"{audio[1]}/{code}"}
    body = json.dumps(join).encode()
    request = urllib.request.Request(
        endpoints.gateway_url + "/bots/", data=body, method="POST",
        headers={"Content-Type": "application/json", "x-meeting-baas-api-key": endpoints.api_key})
    posted = time.time()
    with urllib.request.urlopen(request, timeout=30) as response:
        bot_id = json.loads(response.read())["bot_id"]
    recording = receiver.wait_for(
        bot_id, lambda w: w.body["data"].get("status", {}).get("code") == "in_call_recording",
        timeout=180)
    sampler = BotSampler(stack.processes["bot-runner"].pid) if sample else None
    if sampler:
        sampler.start()
    receiver.wait_for(bot_id, lambda w: w.body["data"].get("status", {}).get("code")
                      == "call_ended", timeout=duration_s + 120)
    if sampler:
        sampler.stop()
    final = receiver.wait_final(bot_id, timeout=600)
    meeting = simulator.meeting(code)
    ended_at = meeting["ended_at"]
    result = {
        "platform": platform,
        "meeting_s": duration_s,
        "event": final.body["event"],
        "post_to_in_call_recording_s": round(recording.received_at - posted, 2),
        "meeting_end_to_complete_s": round(final.received_at - ended_at, 2),
    }
    if sampler and sampler.cpu_share:
        shares = sorted(sampler.cpu_share)
        result["bot_cpu_mean_core_share"] = round(sum(shares) / len(shares), 2)
        result["bot_cpu_p95_core_share"] = round(shares[int(0.95 * (len(shares) - 1))], 2)
        result["bot_peak_pss_mb"] = round(sampler.peak_pss_mb)
    if audio is not None:
        delays = audio_delays(audio[0].on_path(f"/{code}"), meeting["utterances"])
        result["lines_heard_by_receiver"] = f"{len(delays)}/{len(meeting['utterances'])}"
        if delays:
            result["word_to_receiver_median_ms"] = round(percentile(delays, 0.5) * 1000)
            result["word_to_receiver_p95_ms"] = round(percentile(delays, 0.95) * 1000)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=float, default=60.0, help="first meeting, seconds")
    parser.add_argument("--long", type=float, default=300.0,
                        help="second meeting, seconds (0: none)")
    parser.add_argument("--platforms", default="meet",
                        help="comma-separated: meet, teams, zoom")
    parser.add_argument("--streaming", action="store_true",
                        help="stream each bot's audio to a receiver on loopback")
    args = parser.parse_args()
    platforms = [p.strip() for p in args.platforms.split(",") if p.strip()]
    unknown = set(platforms) - {"meet", "teams", "zoom"}
    if unknown:
        parser.error(f"unknown platforms: {', '.join(sorted(unknown))}")
    receiver = WebhookReceiver()
    server = BackgroundServer(receiver.app())
    server.start()
    receiver.url = server.url
    audio_receiver = AudioReceiver()
    audio_server = BackgroundServer(audio_receiver.app())
    audio_server.start()
    audio = (audio_receiver, f"ws://127.0.0.1:{audio_server.port}") if args.streaming else None
    try:
        with tempfile.TemporaryDirectory(prefix="mb-bench-") as base:
            with PlatformStack(Path(base)) as stack:
                for platform in platforms:
                    for duration, sample in ((args.short, True), (args.long, False)):
                        if duration > 0:
                            print(json.dumps(run_meeting(stack, receiver, platform, duration,
                                                         sample, audio)), flush=True)
    finally:
        audio_server.stop()
        server.stop()


if __name__ == "__main__":
    main()
