"""ManagedProcess / ProcessGroup: children never outlive their parent, stop() reaches the
whole tree, signals stop everything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from devstack.processes import ManagedProcess, ProcessGroup, process_gone


def wait_gone(pids: list[int], timeout: float = 5.0) -> list[int]:
    """The pids still running after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in pids if not process_gone(p)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_logs_to_file_and_reports_exit(tmp_path: Path) -> None:
    proc = ManagedProcess(
        "echo", ["sh", "-c", "echo hello; echo oops >&2; exit 3"], log_dir=tmp_path
    )
    proc.start()
    assert proc.wait(5) == 3
    text = (tmp_path / "echo.log").read_text()
    assert "hello" in text and "oops" in text


def test_output_is_what_this_run_wrote_though_the_log_keeps_earlier_runs(
        tmp_path: Path) -> None:
    for said in ("first", "second"):
        proc = ManagedProcess("echo", ["echo", said], log_dir=tmp_path).start()
        assert proc.wait(5) == 0
    assert proc.output() == "second\n"
    text = (tmp_path / "echo.log").read_text()
    assert "first" in text and "second" in text


def test_stop_kills_grandchildren_in_the_group(tmp_path: Path) -> None:
    proc = ManagedProcess("tree", ["sh", "-c", "sleep 300 & sleep 300 & wait"], log_dir=tmp_path)
    proc.start()
    assert wait_for(lambda: len(proc.pids()) == 3)
    pids = proc.pids()
    assert os.getpgid(pids[1]) == proc.pid  # own process group
    t = time.monotonic()
    proc.stop(timeout=5)
    assert time.monotonic() - t < 3
    assert wait_gone(pids) == []


def test_stop_escalates_to_sigkill(tmp_path: Path) -> None:
    proc = ManagedProcess(
        "stubborn", ["sh", "-c", "trap '' TERM; sleep 300 & wait; sleep 300"], log_dir=tmp_path
    )
    proc.start()
    assert wait_for(lambda: len(proc.pids()) == 2)
    pids = proc.pids()
    t = time.monotonic()
    proc.stop(timeout=0.5)
    assert 0.4 < time.monotonic() - t < 4
    assert proc.returncode == -signal.SIGKILL
    assert wait_gone(pids) == []


def test_stop_kills_descendants_that_left_the_group(tmp_path: Path) -> None:
    # Like PostgreSQL's backends: a grandchild in a session of its own is out of reach of
    # killpg, but stop() remembers and kills it.
    proc = ManagedProcess("escapee", ["sh", "-c", "setsid sleep 300 & wait"], log_dir=tmp_path)
    proc.start()
    # wait for the grandchild to have become `sleep`, i.e. after its setsid()
    assert wait_for(lambda: [p.name() for p in proc.descendants()] == ["sleep"])
    pids = proc.pids()
    assert os.getpgid(pids[1]) != proc.pid
    proc.stop(timeout=0.5)
    assert wait_gone(pids) == []


def test_group_stops_all_together(tmp_path: Path) -> None:
    group = ProcessGroup(tmp_path)
    for i in range(3):
        group.start(f"s{i}", ["sleep", "300"], stop_timeout=5)
    pids = [p for ps in group.pids().values() for p in ps]
    assert len(pids) == 3
    t = time.monotonic()
    group.stop()
    assert time.monotonic() - t < 2
    assert wait_gone(pids) == []
    assert {p.name for p in group.dead()} == {"s0", "s1", "s2"}


ORPHAN_PARENT = textwrap.dedent(
    """
    import json, sys, threading, time
    from pathlib import Path
    from devstack.processes import ProcessGroup

    group = ProcessGroup(Path(sys.argv[1]))
    group.start("direct", ["sh", "-c", "sleep 300 & wait"])
    # Started from a short-lived thread: the child must survive the thread (PR_SET_PDEATHSIG
    # follows the forking thread) and still die with the process.
    t = threading.Thread(target=lambda: group.start("from_thread", ["sleep", "300"]))
    t.start(); t.join()
    time.sleep(0.5)
    print(json.dumps(group.pids()), flush=True)
    time.sleep(300)
    """
)


def test_children_die_with_a_sigkilled_parent(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", ORPHAN_PARENT, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        pids = json.loads(parent.stdout.readline())
        flat = [p for ps in pids.values() for p in ps]
        assert len(pids["direct"]) == 2 and len(pids["from_thread"]) == 1
        assert all(not process_gone(p) for p in flat), "a child died with its forking thread"
        parent.kill()
        parent.wait(5)
        assert wait_gone(flat) == []
    finally:
        parent.kill()
        parent.wait(5)
        parent.stdout.close()


SIGNAL_PARENT = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from devstack.processes import ProcessGroup, ShutdownRequested, shutdown_on_signals

    group = ProcessGroup(Path(sys.argv[1]))
    try:
        with shutdown_on_signals(group):
            group.start("sleeper", ["sh", "-c", "sleep 300 & wait"])
            time.sleep(0.3)
            print(json.dumps(group.pids()["sleeper"]), flush=True)
            time.sleep(300)
    except ShutdownRequested as exc:
        print("stopped", exc.signum, flush=True)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_everything(tmp_path: Path, sig: int) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", SIGNAL_PARENT, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        pids = json.loads(parent.stdout.readline())
        parent.send_signal(sig)
        assert parent.wait(10) == 0
        assert parent.stdout.read().strip() == f"stopped {int(sig)}"
        assert wait_gone(pids, timeout=1) == []
    finally:
        parent.kill()
        parent.wait(5)
        parent.stdout.close()
