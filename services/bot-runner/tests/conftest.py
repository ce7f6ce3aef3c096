"""One meeting simulator and one Chromium per test module, for the adapter tests that drive the
simulated meeting pages (the bootstrap installs Chromium: without it these tests fail)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot_runner.browser import Browser
from meeting_simulator import SimulatorThread

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(host="127.0.0.1") as simulator:
        yield simulator


@pytest.fixture(scope="module")
def browser(sim, request, tmp_path_factory) -> Iterator[Browser]:
    b = Browser(CHROMIUM, CHROMEDRIVER, sim.chromium_args(),
                tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]))
    yield b
    b.close()
