"""Fixtures for the recorder tests: a local test meeting page and headless Chromiums."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web

from bot_runner.browser import BASE_FLAGS
from bot_runner.media import recorder_chromium_flags

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PAGE = Path(__file__).with_name("meeting_page.html")


SPEECH_TEXT = (
    "Good morning everyone. This is the weekly planning meeting. "
    "Let us start with the status of the recorder."
)


def _missing_tools() -> list[str]:
    tools = {"chromium": CHROMIUM, "chromedriver": CHROMEDRIVER}
    missing = [name for name, path in tools.items() if not Path(path).exists()]
    missing += [t for t in ("ffmpeg", "ffprobe", "espeak-ng") if shutil.which(t) is None]
    return missing


@pytest.fixture(scope="session", autouse=True)
def _require_tools() -> None:
    missing = _missing_tools()
    if missing:
        pytest.skip(f"recorder tests need {', '.join(missing)}")


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("speech") / "speech.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(path), SPEECH_TEXT], check=True)
    return path


@pytest.fixture(scope="session")
def meeting_server(speech_wav: Path) -> Iterator[str]:
    """Serves the test meeting page and the speech on 127.0.0.1 (own thread and loop)."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict = {}

    async def page(_request: web.Request) -> web.StreamResponse:
        return web.FileResponse(PAGE, headers={"Cache-Control": "no-store"})

    async def speech(_request: web.Request) -> web.StreamResponse:
        return web.FileResponse(speech_wav)

    async def serve() -> None:
        app = web.Application()
        app.router.add_get("/", page)
        app.router.add_get("/speech.wav", speech)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        state["runner"] = runner
        state["port"] = runner.addresses[0][1]
        ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(serve())
        loop.run_forever()

    thread = threading.Thread(target=run, name="meeting-server", daemon=True)
    thread.start()
    assert ready.wait(10), "test server did not start"
    try:
        yield f"http://127.0.0.1:{state['port']}"
    finally:
        asyncio.run_coroutine_threadsafe(state["runner"].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture
def chromium() -> Iterator[Callable[..., object]]:
    """Factory for headless Chromiums (each with its own profile); all quit at teardown.

    `own_process_group=True` starts chromedriver (and so Chromium) in a process group of its
    own, `driver.service.process.pid`, which a test may kill as a whole."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers = []
    profiles = []

    def make(*, own_process_group: bool = False):
        profile = tempfile.mkdtemp(prefix="rec-test-profile-")
        profiles.append(profile)
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for flag in [*BASE_FLAGS, *recorder_chromium_flags(), f"--user-data-dir={profile}"]:
            opts.add_argument(flag)
        popen_kw = {"process_group": 0} if own_process_group else {}
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER, popen_kw=popen_kw), options=opts)
        drivers.append(driver)
        driver.set_script_timeout(30)
        return driver

    try:
        yield make
    finally:
        for driver in drivers:
            with contextlib.suppress(Exception):  # keep quitting the others
                driver.quit()
        for profile in profiles:
            shutil.rmtree(profile, ignore_errors=True)
