"""The supervisor restarts a service that dies, as Kubernetes would: after a delay that doubles
with each crash in a row, and forgets the streak once the service has run long enough; a process
stopped on purpose is left alone."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from devstack.processes import ProcessGroup
from devstack.supervisor import Supervisor

SLEEPER = [sys.executable, "-c", "import time; time.sleep(600)"]


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_a_killed_service_comes_back_later_and_later(tmp_path: Path) -> None:
    group = ProcessGroup(tmp_path)
    group.start("service", SLEEPER)
    supervisor = Supervisor(group, first_delay_s=0.3, max_delay_s=1.2, forgive_after_s=60,
                            poll_s=0.02)
    supervisor.watch("service")
    supervisor.start()
    try:
        pids = [group["service"].pid]
        for crash in range(4):
            os.kill(group["service"].pid, signal.SIGKILL)
            wait_for(lambda: len(supervisor.restarts) == crash + 1)
            pids.append(group["service"].pid)
            assert group["service"].is_running()
        assert [r.delay_s for r in supervisor.restarts] == [0.3, 0.6, 1.2, 1.2]
        waits = [r.restarted_at - r.died_at for r in supervisor.restarts]
        assert all(w >= r.delay_s * 0.9 for w, r in zip(waits, supervisor.restarts,
                                                         strict=True)), waits
        assert len(set(pids)) == 5, "a new process each time"
        assert [r.exit_code for r in supervisor.restarts] == [-signal.SIGKILL] * 4
    finally:
        supervisor.stop()
        group.stop(timeout=2)


def test_a_long_run_forgives_the_earlier_crashes(tmp_path: Path) -> None:
    group = ProcessGroup(tmp_path)
    group.start("service", SLEEPER)
    supervisor = Supervisor(group, first_delay_s=0.2, max_delay_s=5, forgive_after_s=0.5,
                            poll_s=0.02)
    supervisor.watch("service")
    supervisor.start()
    try:
        os.kill(group["service"].pid, signal.SIGKILL)
        wait_for(lambda: len(supervisor.restarts) == 1)
        time.sleep(1.0)  # runs past forgive_after_s
        os.kill(group["service"].pid, signal.SIGKILL)
        wait_for(lambda: len(supervisor.restarts) == 2)
        assert [r.delay_s for r in supervisor.restarts] == [0.2, 0.2], "back to the first delay"
    finally:
        supervisor.stop()
        group.stop(timeout=2)


def test_a_held_process_is_left_stopped_until_released(tmp_path: Path) -> None:
    group = ProcessGroup(tmp_path)
    group.start("service", SLEEPER)
    supervisor = Supervisor(group, first_delay_s=0.1, poll_s=0.02)
    supervisor.watch("service")
    supervisor.start()
    try:
        supervisor.hold("service")
        group["service"].stop(timeout=2)
        time.sleep(0.6)
        assert not group["service"].is_running() and supervisor.restarts == []
        supervisor.release("service")
        wait_for(lambda: group["service"].is_running())
        assert len(supervisor.restarts) == 1
    finally:
        supervisor.stop()
        group.stop(timeout=2)
