"""Measures meetings on the real platform: importing a recording and summarising it.

For each length in `--minutes` (5 and 30 by default) a conversation of that length is spoken by
three espeak-ng voices into an mp3, served on loopback, and imported with `POST /meetings/`
(`file_url`); the benchmark prints how long the import took until the meeting was complete
(fetch, checks, transcription, speakers found, summary, notes and keywords), its real-time
factor, the speakers found, and how long the local summariser alone takes on that transcript.

Run with `uv run python benchmarks/meeting_benchmark.py [--minutes 5,30]`. Not a test: nothing
is asserted, the machine may be shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from aiohttp import web

from devstack.platform import PlatformStack
from devstack.receivers import BackgroundServer
from meeting_simulator.conversation import render_conversation
from meeting_simulator.speech import Voice
from meetings.summaries import LocalSummariser, Utterance

VOICES = {"Ana": Voice("en-us", 50), "Ben": Voice("en-us+kaukovalta", 40),
          "Cleo": Voice("en-us+f3", 66)}
SENTENCES = (
    "Let us start with the marketing budget for next year.",
    "Our engineers need more storage for the customer database.",
    "I will send the final report to finance on Friday.",
    "The customer database should move to the new storage servers in March.",
    "Then the marketing budget must also pay for the storage servers.",
    "I will ask finance to approve the budget for the new servers.",
    "The sales team wants a new price list before the spring campaign.",
    "We should hire two more support engineers this quarter.",
    "The spring campaign starts with a webinar for our largest customers.",
    "Support tickets doubled after the last release of the mobile app.",
    "The mobile app needs a faster login screen and fewer crashes.",
    "Can we move the release date of the mobile app to April?",
    "Legal has to review the new contract with the hosting provider.",
    "The hosting provider offers a discount if we sign for three years.",
    "I think three years is too long for a contract like that.",
    "Let us compare two offers before we decide on hosting.",
)


def conversation(minutes: float) -> list[tuple[str, str]]:
    speakers = list(VOICES)
    lines, spoken_s, n = [], 0.0, 0
    while spoken_s < minutes * 60:
        text = SENTENCES[n % len(SENTENCES)]
        lines.append((speakers[(n * 7 // 5) % len(speakers)], text))
        spoken_s += len(text.split()) / 2.4 + 0.8  # about 145 words a minute, and the pause
        n += 1
    return lines


def request(base_url: str, api_key: str, method: str, path: str, body: Any = None) -> Any:
    req = urllib.request.Request(
        base_url + path, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "x-meeting-baas-api-key": api_key})
    with urllib.request.urlopen(req, timeout=300) as response:
        return json.loads(response.read() or b"null")


def files_app(directory: Path) -> web.Application:
    app = web.Application()

    async def serve(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(directory / request.match_info["name"])

    app.router.add_get("/{name}", serve)
    return app


def measure(stack: PlatformStack, files_url: str, name: str, duration_s: float) -> dict:
    endpoints = stack.endpoints
    assert endpoints is not None
    base, key = endpoints.gateway_url, endpoints.api_key
    started = time.monotonic()
    meeting = request(base, key, "POST", "/meetings/", {
        "organization_id": endpoints.account_id, "title": f"Benchmark {name}",
        "file_url": f"{files_url}/{name}"})
    while meeting["status"] not in ("completed", "failed"):
        time.sleep(1.0)
        meeting = request(base, key, "GET", f"/meetings/{meeting['id']}")
    took = time.monotonic() - started
    lines = request(base, key, "GET", f"/meetings/{meeting['id']}/transcript")["transcripts"]
    utterances = [Utterance(speaker=s["speaker"], text=s["text"], start=s["start_time"],
                            end=s["end_time"]) for s in lines]
    summariser = LocalSummariser()
    summariser.summarise_now(language="en", utterances=utterances[:5])  # imports, warm-up
    summary_started = time.monotonic()
    summariser.summarise_now(language="en", utterances=utterances)
    return {"file": name, "audio_min": round(duration_s / 60, 1), "status": meeting["status"],
            "error": meeting["error"], "import_to_complete_s": round(took, 1),
            "real_time_factor": round(took / duration_s, 3),
            "speakers_found": meeting["num_cluster"], "segments": len(lines),
            "words": sum(len(s["text"].split()) for s in lines),
            "local_summary_s": round(time.monotonic() - summary_started, 3),
            "keywords": meeting["keywords"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", default="5,30", help="conversation lengths, comma-separated")
    args = parser.parse_args()
    lengths = [float(m) for m in args.minutes.split(",")]
    with tempfile.TemporaryDirectory(prefix="mb-meeting-bench-") as tmp:
        work = Path(tmp)
        made = {}
        for minutes in lengths:
            name = f"conversation-{minutes:g}min.mp3"
            spoken = render_conversation(conversation(minutes), VOICES, work / "files" / name)
            made[name] = spoken[-1].end + 0.8
            print(f"made {name}: {made[name] / 60:.1f} min, {len(spoken)} lines", flush=True)
        server = BackgroundServer(files_app(work / "files"))
        server.start()
        try:
            with PlatformStack(work / "platform",
                               settings={"MEETINGS_IMPORT_MAX_MB": "500"}) as stack:
                results = [measure(stack, server.url, name, duration)
                           for name, duration in made.items()]
        finally:
            server.stop()
    for result in results:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
