"""Meetings imported from a file URL, on the real stack: a two-speaker recording ends with a
transcript whose speakers the platform found itself, a summary, notes, keywords, participants and
a playable recording; a French one is heard in French; an unreachable, huge, non-media or
private-address URL, and a file where nothing is said, each end with a clear error and nothing
stored."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import jiwer
import pytest
from aiohttp import web

from meeting_simulator.conversation import SpokenLine, render_conversation
from meeting_simulator.speech import Voice
from support import (
    ENGLISH_WORDS,
    FRENCH_LINES,
    FRENCH_TOPIC,
    FRENCH_VOICES,
    FRENCH_WORDS,
    BackgroundServer,
    decodes,
    ffprobe,
    normalize,
)

LINES = (
    ("Alice", "Let us start with the marketing budget for next year."),
    ("Bob", "Our engineers need more storage for the customer database."),
    ("Alice", "I will send the final report to finance on Friday."),
    ("Bob", "The customer database should move to the new storage servers in March."),
    ("Alice", "Then the marketing budget must also pay for the storage servers."),
    ("Bob", "I will ask finance to approve the budget for the new servers."),
)
VOICES = {"Alice": Voice("en-us", 50), "Bob": Voice("en-us+f3", 60)}
SUBJECTS = {"budget", "marketing", "storage", "database", "report", "finance", "servers",
            "customer"}
TOKEN = f"imp{uuid.uuid4().hex[:6]}"
TEN_GB = 10 * 10**9


class Files:
    """The customer's file host: a recording, and the ways a file URL goes wrong."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.requests: list[str] = []

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/files/{name}", self.file)
        app.router.add_get("/endless", self.endless)
        app.router.add_get("/claims-ten-gigabytes", self.claims_huge)
        app.router.add_get("/redirect-to-private", self.redirect_private)
        return app

    async def file(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path)
        path = self.directory / request.match_info["name"]
        if not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    async def endless(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path)
        response = web.StreamResponse(headers={"Content-Type": "audio/mpeg"})
        await response.prepare(request)
        try:
            while True:
                await response.write(b"\0" * 65536)
                await asyncio.sleep(0)
        except (ConnectionResetError, RuntimeError):
            pass
        return response

    async def claims_huge(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path)
        response = web.StreamResponse(headers={"Content-Type": "video/mp4",
                                               "Content-Length": str(TEN_GB)})
        await response.prepare(request)
        await response.write(b"\0" * 1024)
        return response

    async def redirect_private(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path)
        raise web.HTTPFound("http://10.1.2.3/recording.mp3")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    directory = tmp_path_factory.mktemp("files")
    host = Files(directory)
    server = BackgroundServer(host.app())
    server.start()
    host.url = server.url
    yield host
    server.stop()


@pytest.fixture(scope="module")
def conversation(files) -> list[SpokenLine]:
    spoken = render_conversation(LINES, VOICES, files.directory / "budget-talk.mp3")
    (files.directory / "notes.txt").write_text("These are not the recording you are after.\n")
    render_conversation([], {}, files.directory / "silence.wav", lead_s=6.0)
    return spoken


def wait_until_done(api, meeting_id: int, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        meeting = api.request("GET", f"/meetings/{meeting_id}").body
        if meeting["status"] in ("completed", "failed") or time.monotonic() > deadline:
            return meeting
        time.sleep(1.0)


def import_file(api, org: int, url: str, **body) -> dict:
    response = api.request("POST", "/meetings/", {"organization_id": org, "file_url": url,
                                                  "title": f"Imported {TOKEN}", **body})
    assert response.status == 201, response.body
    assert response.body["status"] == "scheduled" and response.body["bot_id"] is None
    return response.body


@pytest.fixture(scope="module")
def org(platform) -> int:
    return platform.endpoints.account_id


@pytest.fixture(scope="module")
def imported(api, org, files, conversation) -> dict:
    created = import_file(api, org, f"{files.url}/files/budget-talk.mp3", speaker_count=2,
                          participants=["alice@acme.example"])
    done = wait_until_done(api, created["id"])
    assert done["status"] == "completed", done
    return done


def test_the_import_is_a_completed_meeting(imported):
    assert imported["error"] is None and imported["summary_complete"] is True
    assert imported["num_cluster"] == 2
    assert imported["language"] == "en"


def test_its_transcript_is_what_was_said_with_the_speakers_found(api, imported, conversation):
    body = api.request("GET", f"/meetings/{imported['id']}/transcript").body
    segments = body["transcripts"]
    heard = " ".join(normalize(" ".join(s["text"] for s in segments)))
    said = " ".join(normalize(" ".join(line.text for line in conversation)))
    error_rate = jiwer.wer(said, heard)
    print(f"\nWER {error_rate:.3f}: {heard!r}")
    assert error_rate <= 0.2
    assert {s["speaker"] for s in segments} == {"Speaker 1", "Speaker 2"}
    # Each line's words mostly carry one found speaker, and Alice's and Bob's are different.
    found_for: dict[str, set[str]] = {}
    for line in conversation:
        middle = (line.start + line.end) / 2
        speaker = next(s["speaker"] for s in segments
                       if s["start_time"] - 0.5 <= middle <= s["end_time"] + 0.5)
        found_for.setdefault(line.speaker, set()).add(speaker)
    assert all(len(found) == 1 for found in found_for.values()), found_for
    assert found_for["Alice"] != found_for["Bob"]


def test_a_french_import_is_transcribed_in_french(api, org, files):
    render_conversation(FRENCH_LINES, {name: Voice(*voice) for name, voice
                                       in FRENCH_VOICES.items()},
                        files.directory / "point-projet.wav")
    created = import_file(api, org, f"{files.url}/files/point-projet.wav", topic_id=FRENCH_TOPIC)
    done = wait_until_done(api, created["id"])
    assert done["status"] == "completed" and done["language"] == "fr", done
    body = api.request("GET", f"/meetings/{created['id']}/transcript").body
    heard = {w for s in body["transcripts"] for w in normalize(s["text"])}
    print(f"\nheard in French: {sorted(heard & FRENCH_WORDS)}")
    assert len(heard & FRENCH_WORDS) >= 5 and not heard & ENGLISH_WORDS, body["transcripts"]


def test_its_summary_notes_and_keywords_hold_the_main_subjects(api, imported):
    body = api.request("GET", f"/meetings/{imported['id']}/summary").body
    assert body["summary"] and "Speaker 1" in body["summary"]
    assert body["notes"]
    found = {word for keyword in body["keywords"] for word in normalize(keyword)} & SUBJECTS
    assert len(found) >= 3, body["keywords"]


def test_its_participants_are_the_invited_and_the_found(api, imported):
    body = api.request("GET", f"/meetings/{imported['id']}/participants").body
    assert {"Speaker 1", "Speaker 2"} <= {p["name"] for p in body["participants"]}
    assert "alice@acme.example" in {p["email"] for p in body["participants"]}


def test_its_recording_is_the_file_and_plays(api, imported, conversation):
    body = api.request("GET", f"/meetings/{imported['id']}/recording").body
    assert body["format"] == "mp3"
    probe = ffprobe(body["recording_url"])
    assert abs(float(probe["format"]["duration"]) - body["duration"]) < 0.5
    assert body["duration"] >= conversation[-1].end
    assert decodes(body["recording_url"])


@pytest.mark.parametrize(("path", "why"), [
    ("/files/missing.mp3", "answered 404"),
    ("/files/notes.txt", "not an audio or video file"),
    ("/claims-ten-gigabytes", "10000.0 MB, over the 20 MB limit"),
    ("/endless", "over the 20 MB limit"),
    ("/redirect-to-private", "redirected"),
])
def test_a_file_that_cannot_be_imported_fails_its_meeting_clearly(api, org, files, conversation,
                                                                  platform, path, why):
    created = import_file(api, org, files.url + path)
    done = wait_until_done(api, created["id"], timeout=120)
    assert done["status"] == "failed", done
    assert why in done["error"], done["error"]
    assert done["error"].startswith("file_url"), done["error"]
    assert done["summary_complete"] is False
    recording = api.request("GET", f"/meetings/{created['id']}/recording").body
    assert recording["recording_url"] is None
    assert stored_under(platform, f"meetings/{created['id']}/") == []


def test_an_unreachable_file_is_tried_again_then_fails(api, org, platform):
    from devstack.sockets import find_free_ports

    (port,) = find_free_ports(1)
    created = import_file(api, org, f"http://127.0.0.1:{port}/recording.mp3")
    done = wait_until_done(api, created["id"], timeout=120)
    assert done["status"] == "failed", done
    assert "could not be reached" in done["error"] and "tried 5 times" in done["error"], done
    assert stored_under(platform, f"meetings/{created['id']}/") == []


def test_a_file_where_nothing_is_said_is_complete_without_a_summary(api, org, files,
                                                                   conversation):
    created = import_file(api, org, f"{files.url}/files/silence.wav")
    done = wait_until_done(api, created["id"])
    assert done["status"] == "completed", done
    assert done["error"] == "Nothing was said in this meeting, so there is nothing to summarise."
    summary = api.request("GET", f"/meetings/{created['id']}/summary").body
    assert summary["summary"] is None and summary["keywords"] == []
    assert api.request("GET", f"/meetings/{created['id']}/transcript").body["transcripts"] == []


def stored_under(platform, prefix: str) -> list[str]:
    from minio import Minio

    infra = platform.endpoints.infra
    client = Minio(infra.s3_endpoint, access_key=infra.s3_access_key,
                   secret_key=infra.s3_secret_key, secure=False)
    return [o.object_name for o in client.list_objects("meeting-bots", prefix=prefix,
                                                       recursive=True)]
