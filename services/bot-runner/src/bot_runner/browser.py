"""Starting and stopping the bot's own Chromium through Selenium (one browser per bot)."""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from mb_shared.processes import die_with_parent

log = logging.getLogger(__name__)

BASE_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
    "--disable-blink-features=AutomationControlled",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    # A bot's page is never in front of anyone: without these Chromium would treat it as a
    # background tab, lower its renderer's priority and slow its timers.
    "--disable-renderer-backgrounding",
    "--disable-background-timer-throttling",
    "--disable-backgrounding-occluded-windows",
    "--lang=en-US",
    "--window-size=1280,720",
]


class Browser:
    """Owns a Chromium and its chromedriver; `close()` always leaves no process behind."""

    def __init__(self, chromium_path: str, chromedriver_path: str, flags: list[str],
                 work_dir: Path) -> None:
        work_dir.mkdir(parents=True, exist_ok=True)
        self.profile_dir = Path(tempfile.mkdtemp(prefix="profile-", dir=work_dir))
        options = webdriver.ChromeOptions()
        options.binary_location = str(self._guarded(chromium_path))
        for flag in [*BASE_FLAGS, *flags, f"--user-data-dir={self.profile_dir}"]:
            options.add_argument(flag)
        options.add_experimental_option("excludeSwitches", ["enable-automation"])
        options.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en"})
        self.service = Service(chromedriver_path, popen_kw={"preexec_fn": die_with_parent})
        self.driver = webdriver.Chrome(service=self.service, options=options)

    def _guarded(self, chromium_path: str) -> Path:
        """A launcher that makes Chromium die with chromedriver, which dies with the runner."""
        launcher = self.profile_dir.parent / "chromium-guarded"
        if not launcher.exists():
            tmp = launcher.with_suffix(f".{id(self)}")
            tmp.write_text(f'#!/bin/sh\nexec setpriv --pdeathsig KILL -- {chromium_path} "$@"\n')
            tmp.chmod(0o755)
            tmp.replace(launcher)
        return launcher

    def responds(self) -> bool:
        """False once Chromium (or its page) is gone: crashed, killed or out of memory."""
        try:
            return self.driver.execute_script("return 1") == 1
        except Exception:
            return False

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.driver.quit()
        with contextlib.suppress(Exception):
            self.service.stop()
        shutil.rmtree(self.profile_dir, ignore_errors=True)
