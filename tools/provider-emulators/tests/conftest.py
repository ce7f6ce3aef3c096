"""Fixtures: the Whisper base model, a spoken WAV, a loopback file server and both emulators.

The emulators run in background threads (their own event loops) and are driven over real HTTP
from the tests' loop. One faster-whisper model is shared by both (``shared_engine``).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from provider_emulators import BackgroundEmulator, GladiaEmulator, RunpodEmulator

REPO_ROOT = Path(__file__).resolve().parents[3]
SENTENCE = "Good morning everyone, welcome to the weekly project meeting."
EXPECTED_WORDS = {"good", "morning", "everyone", "welcome", "weekly", "project", "meeting"}

GLADIA_KEY = "gladia-test-key"
RUNPOD_KEY = "runpod-test-key"
ENDPOINT = "whisper-endpoint"


def words_of(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


@pytest.fixture(scope="session")
def model_dir() -> Path:
    from transcriber.whisper_model import ensure_whisper_model

    return ensure_whisper_model(REPO_ROOT / "var" / "models")


@pytest.fixture(scope="session")
def files_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory served over HTTP on loopback, holding ``speech.wav`` and ``noise.bin``."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is needed to synthesise test speech")
    directory = tmp_path_factory.mktemp("served")
    subprocess.run(
        ["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(directory / "speech.wav"), SENTENCE],
        check=True,
        capture_output=True,
    )
    (directory / "noise.bin").write_bytes(b"this is not audio at all" * 64)
    return directory


@pytest.fixture(scope="session")
def speech_wav(files_dir: Path) -> Path:
    return files_dir / "speech.wav"


@pytest.fixture(scope="session")
def file_server(files_dir: Path) -> Iterator[str]:
    """Base URL of a plain static file server on 127.0.0.1 (stands in for the object store)."""
    app = web.Application()
    app.router.add_static("/files/", files_dir)
    with BackgroundEmulator(app) as server:
        yield server.base_url + "/files"


@pytest.fixture(scope="module")
def gladia_server(model_dir: Path) -> Iterator[BackgroundEmulator]:
    with BackgroundEmulator(GladiaEmulator(model_dir, api_keys=[GLADIA_KEY])) as server:
        yield server


@dataclass(frozen=True)
class Target:
    base_url: str
    emulator: Any
    key: str


@pytest.fixture
def gladia(gladia_server: BackgroundEmulator) -> Iterator[Target]:
    """The running Gladia emulator; its knobs are put back after the test."""
    emulator = gladia_server.emulator
    assert isinstance(emulator, GladiaEmulator)
    yield Target(gladia_server.base_url, emulator, GLADIA_KEY)
    emulator.fail_jobs, emulator.fail_next = False, 0
    emulator.queue_delay = emulator.delay = 0.0


@pytest.fixture(scope="module")
def runpod_server(model_dir: Path) -> Iterator[BackgroundEmulator]:
    emulator = RunpodEmulator(model_dir, api_keys=[RUNPOD_KEY], endpoint_ids=[ENDPOINT])
    with BackgroundEmulator(emulator) as server:
        yield server


@pytest.fixture
def runpod(runpod_server: BackgroundEmulator) -> Iterator[Target]:
    """The running Runpod emulator (endpoint ``ENDPOINT``); knobs are put back after the test."""
    emulator = runpod_server.emulator
    assert isinstance(emulator, RunpodEmulator)
    yield Target(f"{runpod_server.base_url}/v2/{ENDPOINT}", emulator, RUNPOD_KEY)
    emulator.fail_jobs, emulator.fail_next = False, 0
    emulator.queue_delay = emulator.delay = 0.0


async def _poll(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    *,
    field: str,
    until: set[str],
    timeout: float = 60.0,
) -> tuple[dict[str, Any], list[str]]:
    """GET ``url`` until ``body[field]`` is in ``until``; returns the body and the values seen."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        async with session.get(url, headers=headers) as response:
            assert response.status == 200, await response.text()
            body = await response.json()
        if not seen or seen[-1] != body[field]:
            seen.append(body[field])
        if body[field] in until:
            return body, seen
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} still {body[field]!r} after {timeout} s (saw {seen})")
        await asyncio.sleep(0.05)


@pytest.fixture(scope="session")
def poll() -> Any:
    """``await poll(session, url, headers, field=..., until={...})`` -> (body, values seen)."""
    return _poll


@pytest.fixture(scope="session")
def spoken() -> Any:
    """``spoken(text)``: asserts the test sentence's words are in ``text``."""

    def check(text: str) -> None:
        missing = EXPECTED_WORDS - words_of(text)
        assert len(missing) <= 1, f"{sorted(missing)} not recognised in {text!r}"

    return check
