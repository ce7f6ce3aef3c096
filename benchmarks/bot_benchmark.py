"""Measures one bot on the real platform and the meeting simulator, and prints the figures.

For each platform asked for (`--platforms meet,teams,zoom`; Meet by default):

- seconds from `POST /bots/` to the `in_call_recording` webhook;
- seconds from the meeting's end to the `complete` webhook, for a 1-minute and a 5-minute meeting
  (`--meetings 60,300,1800` for others);
- CPU (share of one core) and peak memory (PSS) of the bot while in the call: its Chromium,
  chromedriver and ffmpeg processes, the runner process and the transcriber (which transcribes
  during the call).

With `--streaming`, every bot also streams its audio (`streaming.output`) to a receiver on
loopback, and the figures add the delay from each line's first word played in the simulator to
the arrival of its audio at the receiver (median and p95 over the lines; the line's start is when
the simulator's page started playing it, so a clip's own lead-in counts in).

With `--live`, bots ask for `bot.live_transcript` webhooks, and the figures add the delay from
each word spoken in the simulator to the webhook that carried it. With `--bots N`, N bots run at
once (each in its own meeting) and CPU and memory are per bot, sampled while all of them are in
the call (with the whole machine's CPU beside them); with `--streaming` the receiver's audio is
counted too (seconds received against the recording's, `audio_gap` messages: audio the bot had to
skip; each line's delay; per 10 s of audio, how late it came). `--recording-mode audio_only`
measures bots that record no video. Every result gives the bytes of each of the meeting's data files
(participants, their events, diarization, timeline, transcript, provider data) per minute of
meeting; `--participants N` puts N people in each
meeting (two of them speak), to see what a crowd costs the bot. With `--cameras`, the two who speak
have their webcams on throughout and one of them shares a screen for the middle third: the results
add the separate video parts' count and bytes per minute; `--no-separate-video` runs the same bots
with the parts turned off (`RUNNER_SEPARATE_VIDEO=false`), to see what recording them costs.

Run with `make bench` (`make bench-live` for four bots streaming with live transcripts). Not a test: nothing is asserted, the machine may be shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import urllib.request
from collections import Counter
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


DATA_FILES = ("meeting_participants_file", "participant_events_file", "speaker_diarization_file",
              "speaker_timeline_file", "transcript_file", "transcript_provider_data_file")
"""The meeting's data files of `complete`, whose size per minute of meeting each result gives."""


def script(duration_s: float, cameras: bool) -> list[dict]:
    lines, at, i = [], 2.0, 0
    while at < duration_s - 6:
        speaker, text = LINES[i % len(LINES)]
        lines.append({"speaker": speaker, "text": text, "at": at})
        at, i = at + 7.0, i + 1
    if cameras:
        lines += [{"screenshare": "Alice", "on": True, "at": round(duration_s / 3, 1)},
                  {"screenshare": "Alice", "on": False, "at": round(2 * duration_s / 3, 1)}]
    return lines


class BotSampler:
    """Samples the process trees that work for the bots once a second: the runner (Chromium,
    chromedriver, ffmpeg) and the transcriber (the transcript made during the call)."""

    def __init__(self, *pids: int) -> None:
        self._roots = [psutil.Process(pid) for pid in pids]
        self._stop = threading.Event()
        self.samples: list[tuple[float, float, float]] = []
        """(wall time, cores used by the trees, cores used by the whole machine) per second."""
        self.peak_pss_mb = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree(self) -> list[psutil.Process]:
        return [p for root in self._roots for p in (root, *root.children(recursive=True))]

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
        psutil.cpu_percent()
        while not self._stop.wait(1.0):
            procs = self._tree()
            now_cpu, now = self._cpu_seconds(procs), time.monotonic()
            machine = psutil.cpu_percent() / 100 * (psutil.cpu_count() or 1)
            self.samples.append((time.time(), (now_cpu - previous) / (now - t0), machine))
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
    first frame holding its sound (after at least 0.2 s of quiet) at the receiver. The page
    reports a line's start a little after its sound leaves (so a delay can be below zero): the
    onset is looked for from 1 s before it."""
    frames = [(arrived, max(abs(v) for v in memoryview(data).cast("h")))
              for connection in connections for arrived, data in connection.frames]
    delays = []
    for utterance in utterances:
        start = utterance.get("actual_start")
        if start is None:
            continue
        quiet = 0
        for arrived, peak in frames:
            if arrived < start - 1.0:
                continue
            if peak >= SOUND and quiet >= 5:
                delays.append(arrived - start)
                break
            quiet = quiet + 1 if peak < SOUND else 0
    return delays


def lag_profile(connection: AudioConnection) -> list[int]:
    """How late the audio came, per 10 s of it: the largest delay of a frame's arrival behind
    the pace of the earliest one (frame k is due 40 ms after frame k-1)."""
    if not connection.frames:
        return []
    base = min(arrived - k * 0.04 for k, (arrived, _) in enumerate(connection.frames))
    profile: list[int] = []
    for k, (arrived, _) in enumerate(connection.frames):
        if k % 250 == 0:
            profile.append(0)
        profile[-1] = max(profile[-1], round((arrived - base - k * 0.04) * 1000))
    return profile


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


def live_word_delays(hooks: list, utterances: list[dict]) -> list[float]:
    """Seconds from each word spoken in the simulator to the `bot.live_transcript` webhook that
    carried it. When a word was spoken is the recording's start plus the word's own time; the
    recording's start is the one most lines agree on: a line's start in the simulator minus the
    time of a transcript word that is the line's first word (the script repeats its lines, so
    every such word is a candidate; the true start gathers one from each line)."""
    words = [(hook.received_at, w) for hook in hooks
             for segment in hook.body["data"]["transcript"] for w in segment["words"]]
    def key(text: str) -> str:
        return "".join(c for c in text.lower() if c.isalnum())
    starts_of: dict[str, list[float]] = {}
    for _, word in words:
        starts_of.setdefault(key(word["word"]), []).append(word["start"])
    candidates = [utterance["actual_start"] - start for utterance in utterances
                  if utterance.get("actual_start") is not None
                  for start in starts_of.get(key(utterance["text"].split()[0]), [])]
    if not candidates:
        return []
    votes = Counter(round(c * 2) for c in candidates)
    best = max(votes, key=lambda b: votes[b - 1] + votes[b] + votes[b + 1]) / 2
    agreeing = sorted(c for c in candidates if abs(c - best) <= 1.0)
    recording_start = agreeing[len(agreeing) // 2]
    return [received - (recording_start + word["start"]) for received, word in words]


def start_visit(stack: PlatformStack, receiver: WebhookReceiver, platform: str,
                duration_s: float, audio: tuple[AudioReceiver, str] | None, live: bool,
                recording_mode: str, participants: int, cameras: bool) -> dict:
    endpoints = stack.endpoints
    simulator = SimulatorClient(endpoints.simulator_control_url)
    code, link, settings = new_meeting(platform)
    people = [{"name": "Alice", "camera": cameras}, {"name": "Bob", "camera": cameras}] + [
        {"name": f"Listener {n}"} for n in range(1, participants - 1)]
    simulator.create_meeting(code, platform=platform, participants=people,
                             script=script(duration_s, cameras), admission={"action": "admit", "after": 1.0},
                             end_after=duration_s, **settings)
    join = {"meeting_url": link, "bot_name": "Bench", "webhook_url": receiver.url + "/bench",
            "recording_mode": recording_mode,
            "speech_to_text": {"provider": "Default", "live_transcript": live}}
    if audio is not None:
        join["streaming"] = {"output": f"{audio[1]}/{code}"}
    request = urllib.request.Request(
        endpoints.gateway_url + "/bots/", data=json.dumps(join).encode(), method="POST",
        headers={"Content-Type": "application/json", "x-meeting-baas-api-key": endpoints.api_key})
    posted = time.time()
    with urllib.request.urlopen(request, timeout=30) as response:
        bot_id = json.loads(response.read())["bot_id"]
    return {"platform": platform, "code": code, "bot_id": bot_id, "posted": posted,
            "duration_s": duration_s, "recording_mode": recording_mode}


def finish_visit(stack: PlatformStack, receiver: WebhookReceiver, visit: dict,
                 audio: tuple[AudioReceiver, str] | None) -> dict:
    simulator = SimulatorClient(stack.endpoints.simulator_control_url)
    bot_id, code = visit["bot_id"], visit["code"]
    final = receiver.wait_final(bot_id, timeout=visit["duration_s"] + 900)
    recording = next(w for w in receiver.for_bot(bot_id)
                     if (w.body["data"].get("status") or {}).get("code") == "in_call_recording")
    meeting = simulator.meeting(code)
    result = {
        "platform": visit["platform"],
        "meeting_s": visit["duration_s"],
        "recording_mode": visit["recording_mode"],
        "event": final.body["event"],
        "post_to_in_call_recording_s": round(recording.received_at - visit["posted"], 2),
        "meeting_end_to_complete_s": round(final.received_at - meeting["ended_at"], 2),
        "participants": len(meeting["participants"]),
    }
    data = final.body["data"]
    for field in DATA_FILES:
        if data.get(field):
            size = len(_download(data[field]))
            result[field.removesuffix("_file") + "_bytes_per_min"] = round(
                size / (visit["duration_s"] / 60))
    if data.get("separate_audio_parts"):
        size = sum(len(_download(part["download_url"])) for part in data["separate_audio_parts"])
        result["separate_audio_parts"] = len(data["separate_audio_parts"])
        result["separate_audio_bytes_per_min"] = round(size / (visit["duration_s"] / 60))
    if data.get("separate_video_parts"):
        size = sum(len(_download(part["download_url"])) for part in data["separate_video_parts"])
        result["separate_video_parts"] = len(data["separate_video_parts"])
        result["separate_video_bytes_per_min"] = round(size / (visit["duration_s"] / 60))
    if audio is not None:
        connections = audio[0].on_path(f"/{code}")
        delays = audio_delays(connections, meeting["utterances"])
        result["lines_heard_by_receiver"] = f"{len(delays)}/{len(meeting['utterances'])}"
        if delays:
            result["word_to_receiver_median_ms"] = round(percentile(delays, 0.5) * 1000)
            result["word_to_receiver_p95_ms"] = round(percentile(delays, 0.95) * 1000)
            result["word_to_receiver_each_ms"] = [round(d * 1000) for d in delays]
        received_s = sum(len(c.frames) for c in connections) * 0.04
        gaps = [t for c in connections for t in c.texts if t.get("type") == "audio_gap"]
        if connections:
            result["receiver_lag_ms_each_10s"] = lag_profile(connections[0])
        if connections and connections[0].header:
            result["receiver_first_offset_s"] = connections[0].header.get("offset_ms", 0) / 1000
        result["receiver_audio_s"] = round(received_s, 1)
        result["receiver_audio_gaps"] = len(gaps)
        result["recording_s"] = final.body["data"].get("duration")
    hooks = [w for w in receiver.for_bot(bot_id) if w.body["event"] == "bot.live_transcript"]
    if hooks:
        delays = live_word_delays(hooks, meeting["utterances"])
        result["live_transcript_webhooks"] = len(hooks)
        if delays:
            result["word_to_live_transcript_median_s"] = round(percentile(delays, 0.5), 2)
            result["word_to_live_transcript_p95_s"] = round(percentile(delays, 0.95), 2)
    return result


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def run_meetings(stack: PlatformStack, receiver: WebhookReceiver, platform: str,
                 duration_s: float, bots: int, sample: bool,
                 audio: tuple[AudioReceiver, str] | None, live: bool,
                 recording_mode: str, participants: int, cameras: bool) -> list[dict]:
    """`bots` meetings at once, one bot each; the runner's CPU and memory sampled while they are
    all in the call (per bot: the total divided by `bots`)."""
    visits = [start_visit(stack, receiver, platform, duration_s, audio, live, recording_mode,
                          participants, cameras) for _ in range(bots)]
    for visit in visits:
        receiver.wait_for(visit["bot_id"], lambda w: (w.body["data"].get("status") or {})
                          .get("code") == "in_call_recording", timeout=300)
    sampler = (BotSampler(stack.processes["bot-runner"].pid,
                          stack.processes["transcriber"].pid) if sample else None)
    if sampler:
        sampler.start()
    all_in_call = time.time()
    for visit in visits:
        receiver.wait_for(visit["bot_id"], lambda w: (w.body["data"].get("status") or {})
                          .get("code") == "call_ended", timeout=duration_s + 300)
    if sampler:
        sampler.stop()
    first_end = min(w.received_at for visit in visits for w in receiver.for_bot(visit["bot_id"])
                    if (w.body["data"].get("status") or {}).get("code") == "call_ended")
    results = [finish_visit(stack, receiver, visit, audio) for visit in visits]
    window = [s for s in sampler.samples if all_in_call <= s[0] <= first_end] if sampler else []
    if window:
        shares = sorted(s[1] for s in window)
        machine = sum(s[2] for s in window) / len(window)
        for result in results:
            result["concurrent_bots"] = bots
            result["all_in_call_s"] = round(first_end - all_in_call)
            result["bot_cpu_mean_core_share"] = round(sum(shares) / len(shares) / bots, 2)
            result["bot_cpu_p95_core_share"] = round(shares[int(0.95 * (len(shares) - 1))] / bots, 2)
            result["machine_cpu_mean_cores"] = round(machine, 2)
            result["bot_peak_pss_mb"] = round(sampler.peak_pss_mb / bots)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meetings", default="60,300",
                        help="comma-separated meeting lengths, seconds (the first is sampled)")
    parser.add_argument("--platforms", default="meet",
                        help="comma-separated: meet, teams, zoom")
    parser.add_argument("--streaming", action="store_true",
                        help="stream each bot's audio to a receiver on loopback")
    parser.add_argument("--live", action="store_true",
                        help="ask each bot for bot.live_transcript webhooks")
    parser.add_argument("--recording-mode", default="speaker_view",
                        choices=["speaker_view", "gallery_view", "audio_only"],
                        help="what the bots record")
    parser.add_argument("--bots", type=int, default=1,
                        help="bots at once, each in its own meeting")
    parser.add_argument("--participants", type=int, default=2,
                        help="people in each meeting (at least 2; two of them speak)")
    parser.add_argument("--cameras", action="store_true",
                        help="the two who speak have their webcams on; one shares a screen")
    parser.add_argument("--no-separate-video", action="store_true",
                        help="the runner records no separate video parts")
    args = parser.parse_args()
    platforms = [p.strip() for p in args.platforms.split(",") if p.strip()]
    unknown = set(platforms) - {"meet", "teams", "zoom"}
    if unknown:
        parser.error(f"unknown platforms: {', '.join(sorted(unknown))}")
    lengths = [float(x) for x in args.meetings.split(",") if x.strip()]
    receiver = WebhookReceiver()
    server = BackgroundServer(receiver.app())
    server.start()
    receiver.url = server.url
    audio_receiver = AudioReceiver()
    audio_server = BackgroundServer(audio_receiver.app())
    audio_server.start()
    audio = (audio_receiver, f"ws://127.0.0.1:{audio_server.port}") if args.streaming else None
    settings = {"RUNNER_MAX_CONCURRENT_BOTS": str(max(2, args.bots)),
                "RUNNER_SEPARATE_VIDEO": "false" if args.no_separate_video else "true"}
    try:
        with tempfile.TemporaryDirectory(prefix="mb-bench-") as base:
            with PlatformStack(Path(base), settings=settings) as stack:
                for platform in platforms:
                    for index, duration in enumerate(lengths):
                        for result in run_meetings(stack, receiver, platform, duration,
                                                   args.bots, index == 0, audio, args.live,
                                                   args.recording_mode,
                                                   max(2, args.participants),
                                                   args.cameras):
                            print(json.dumps(result), flush=True)
    finally:
        audio_server.stop()
        server.stop()


if __name__ == "__main__":
    main()
