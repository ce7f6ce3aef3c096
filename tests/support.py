"""Test-side helpers: a webhook receiver, an OTLP trace collector, and a small API client."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import jiwer
import numpy as np
from aiohttp import web

from devstack.receivers import BackgroundServer, ReceivedWebhook, WebhookReceiver

__all__ = ["BackgroundServer", "ReceivedWebhook", "WebhookReceiver", "TraceCollector", "Api"]


@dataclass
class TraceCollector:
    """An OTLP/HTTP receiver keeping (trace_id, service, span name) of every span."""

    spans: list[tuple[str, str, str]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/traces", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.read())
        for resource_spans in message.resource_spans:
            service = next(
                (a.value.string_value for a in resource_spans.resource.attributes
                 if a.key == "service.name"),
                "?",
            )
            for scope in resource_spans.scope_spans:
                for span in scope.spans:
                    self.spans.append((span.trace_id.hex(), service, span.name))
        return web.Response(status=200)

    def spans_of(self, trace_id: str) -> list[tuple[str, str]]:
        return [(service, name) for tid, service, name in self.spans if tid == trace_id]

    def services_in(self, trace_id: str) -> set[str]:
        return {service for tid, service, _ in self.spans if tid == trace_id}


@dataclass
class ApiResponse:
    status: int
    body: Any
    headers: dict[str, str]


def account_api(platform, name: str) -> Api:
    """The REST surface as a new account of its own sees it."""
    return Api(platform.endpoints.gateway_url, platform.create_account(name)["api_key"])


class Api:
    """The REST surface as a client sees it."""

    def __init__(self, base_url: str, api_key: str | None) -> None:
        self.base_url = base_url
        self.api_key = api_key

    def request(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
                headers: dict[str, str] | None = None, api_key: str | None = "default") -> ApiResponse:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        key = self.api_key if api_key == "default" else api_key
        if key is not None:
            all_headers["x-meeting-baas-api-key"] = key
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers=all_headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return ApiResponse(response.status, json.loads(response.read() or b"null"),
                                   dict(response.headers))
        except urllib.error.HTTPError as error:
            return ApiResponse(error.code, json.loads(error.read() or b"null"), dict(error.headers))

    def join(self, **body: Any) -> ApiResponse:
        return self.request("POST", "/bots/", body)


def ffprobe(url_or_path: str) -> dict[str, Any]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", url_or_path],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@dataclass
class SpeechProviders:
    """The Gladia and Runpod emulators of a test session, and the keys they accept."""

    gladia_key: str = "gladia-test-key"
    runpod_key: str = "runpod-test-key"
    runpod_endpoint: str = "faster-whisper-test"
    gladia: Any = None
    gladia_url: str = ""
    runpod: Any = None
    runpod_url: str = ""


def video_frames(url_or_path: str, fps: float = 2.0) -> np.ndarray:
    """The video's frames at `fps`, as an (n, height, width, 3) array of RGB bytes."""
    stream = next(s for s in ffprobe(url_or_path)["streams"] if s["codec_type"] == "video")
    width, height = int(stream["width"]), int(stream["height"])
    result = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", url_or_path, "-vf", f"fps={fps}", "-f", "rawvideo",
         "-pix_fmt", "rgb24", "-"],
        capture_output=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return np.frombuffer(result.stdout, dtype=np.uint8).reshape(-1, height, width, 3)


def color_area(frame: np.ndarray, hex_color: str, tolerance: int = 40) -> int:
    """How many pixels of `frame` are within `tolerance` of `hex_color` on every channel."""
    target = np.array([int(hex_color[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)
    close = np.abs(frame.astype(np.int16) - target) <= tolerance
    return int(close.all(axis=-1).sum())


TEAMS_CONTEXT = json.dumps({"Tid": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                            "Oid": "5b1e4a3c-9d2f-4e61-8a7b-0c3d2e1f4a5b"})


def meetup_join_link(thread: str) -> str:
    """A Teams meeting link as Outlook and the Teams calendar hand it out."""
    return (f"https://teams.microsoft.com/l/meetup-join/{urllib.parse.quote(thread, safe='')}/0"
            f"?context={urllib.parse.quote(TEAMS_CONTEXT, safe='')}")


def meeting_link(platform: str, code: str) -> str:
    """The link a user would paste for a simulated meeting of `platform` ("meet", "teams",
    "zoom") with `code`."""
    return {"meet": f"https://meet.google.com/{code}",
            "teams": meetup_join_link(code),
            "zoom": f"https://zoom.us/j/{code}"}[platform]


# What the two participants of the end-to-end meetings say, seven seconds apart. The lines are
# ones the packaged Whisper model hears word for word from espeak-ng's voices (checked by
# test_meeting_script.py), so a word the platform's transcript gets wrong is a word it lost.
MEETING_LINES = (
    ("Alice", "Let us start with the marketing budget for next year."),
    ("Bob", "Our engineers need more storage for the customer database."),
    ("Alice", "I will send the final report to finance on Friday."),
)


def meeting_script(first_at: float) -> list[dict]:
    """The simulator's `script` for MEETING_LINES, the first line `first_at` s after admission."""
    return [{"speaker": speaker, "text": text, "at": first_at + 7.0 * index}
            for index, (speaker, text) in enumerate(MEETING_LINES)]


FRENCH_LINES = (
    ("Benoît", "Bonjour tout le monde, merci beaucoup d'être venus."),
    ("Amélie", "Nous avons besoin de plus de temps pour finir le projet."),
    ("Benoît", "Je pense que c'est une bonne idée."),
)
"""Said in a meeting whose topic is French; espeak-ng's French voices speak them."""
FRENCH_WORDS = {"bonjour", "monde", "merci", "beaucoup", "nous", "avons", "besoin", "projet",
                "pense", "bonne"}
"""Words of FRENCH_LINES that Whisper hears when told the language, and not when told English
(which it answers in English)."""
FRENCH_VOICES = {"Amélie": ("fr", 70), "Benoît": ("fr", 35)}
"""Voices of espeak-ng's own French that the packaged model hears well (its variants, such as
`fr+f3`, it often does not)."""
ENGLISH_WORDS = {"thank", "you", "the", "we", "i", "and"}
"""What Whisper, told the language is English, says of FRENCH_LINES (it translates)."""
FRENCH_TOPIC = 2
"""The topic "General (French)"."""

BOT_MEETING_SCRIPT = meeting_script(first_at=3.0)
BOT_MEETING_TOKEN = f"zq{uuid.uuid4().hex[:6]}"
"""In the title of the session's bot meeting (conftest.py `bot_meeting`)."""


class Together:
    """Scenarios that mostly wait for time to pass (a meeting's start, a bot that must not come),
    run at once, each in its own thread; each test then takes its scenario's outcome, its failure
    re-raised with the scenario's traceback."""

    def __init__(self, **scenarios: Callable[[], Any]) -> None:
        self._pool = ThreadPoolExecutor(max_workers=len(scenarios), thread_name_prefix="scenario")
        self._futures: dict[str, Future] = {name: self._pool.submit(run)
                                            for name, run in scenarios.items()}

    def outcome(self, name: str) -> Any:
        return self._futures[name].result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def wait_for(condition: Callable[[], Any], timeout: float, step: float = 0.5) -> Any:
    """`condition()`'s first truthy value, or its last falsy one after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def normalize(text: str) -> list[str]:
    """Lower-case words without punctuation, for comparing what was said with what was heard."""
    return re.sub(r"[^a-z0-9' ]+", " ", text.lower()).split()


def transcript_words(transcript: list[dict]) -> list[tuple[str, str]]:
    """(speaker, word) of a webhook's `transcript`, in order."""
    return [(segment["speaker"], word["word"]) for segment in transcript for word in segment["words"]]


def word_error_rate(transcript: list[dict], script: list[dict]) -> tuple[float, str]:
    """WER of the transcript against the script's lines, and what was heard."""
    heard = " ".join(normalize(" ".join(w for _, w in transcript_words(transcript))))
    said = " ".join(normalize(" ".join(line["text"] for line in script)))
    return jiwer.wer(said, heard), heard


def speaker_accuracy(transcript: list[dict], script: list[dict]) -> tuple[int, int]:
    """(right, judged): words only one speaker of the script says, and how many carry them."""
    owners_of: dict[str, set[str]] = {}
    for line in script:
        for word in normalize(line["text"]):
            owners_of.setdefault(word, set()).add(line["speaker"])
    judged = right = 0
    for speaker, word in transcript_words(transcript):
        for token in normalize(word):
            owners = owners_of.get(token)
            if owners and len(owners) == 1:
                judged += 1
                right += speaker in owners
    return right, judged


def status_of(url: str) -> int:
    """The HTTP status a GET of `url` answers (a download URL, say)."""
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def live_transcripts(webhooks: WebhookReceiver, bot_id: str) -> list[ReceivedWebhook]:
    return [hook for hook in webhooks.for_bot(bot_id)
            if hook.body["event"] == "bot.live_transcript"]


def end_when(simulator, code: str, condition: Callable[[], bool], timeout: float) -> None:
    """End the meeting once `condition()` holds, or after `timeout` s: a call that lasts until
    what a test waits for during it has come, however loaded the machine. A test that then
    finds it missing fails on its own assertion."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not condition():
        time.sleep(0.2)
    simulator.end(code)


def time_in_call(meeting: dict) -> float:
    """Seconds the simulator saw the (first) bot in the call."""
    guest = meeting["guests"][0]
    return (guest["left_at"] or guest["ended_at"] or meeting["ended_at"]) - guest["admitted_at"]


def assert_heard_the_script(final: dict, script: list[dict]) -> None:
    """A `complete` webhook's transcript is the script's words (WER <= 0.15)."""
    error_rate, hypothesis = word_error_rate(final["data"]["transcript"], script)
    print(f"\nWER {error_rate:.3f}: {hypothesis!r}")
    assert error_rate <= 0.15


def assert_words_carry_their_speaker(final: dict, script: list[dict]) -> None:
    """At least 15 words only one speaker says, 90 % of them under that speaker's name."""
    right, judged = speaker_accuracy(final["data"]["transcript"], script)
    print(f"\nspeaker accuracy {right}/{judged}")
    assert judged >= 15
    assert right / judged >= 0.9


def assert_mp4_lasts_the_time_in_call(final: dict, meeting: dict, tolerance_s: float) -> None:
    """The recording is h264 + aac and as long as the simulator saw the bot in the call."""
    probe = ffprobe(final["data"]["mp4"])
    kinds = {s["codec_type"]: s["codec_name"] for s in probe["streams"]}
    assert kinds.get("video") == "h264" and kinds.get("audio") == "aac", kinds
    in_call = time_in_call(meeting)
    duration = float(probe["format"]["duration"])
    print(f"\nmp4 {duration:.2f} s, bot in call {in_call:.2f} s")
    assert abs(duration - in_call) <= tolerance_s


def decodes(url_or_path: str) -> bool:
    result = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", url_or_path, "-f", "null", "-"],
        capture_output=True, text=True, timeout=300,
    )
    return result.returncode == 0 and not result.stderr.strip()
