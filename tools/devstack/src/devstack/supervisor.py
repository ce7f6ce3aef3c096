"""Restarts the platform's services when they die, as Kubernetes restarts a crashed container.

A service that exits without being asked to is started again after a delay that doubles with
each crash in a row (1 s, 2 s, 4 s, ... up to 30 s), and its crash streak is forgotten once it has
run for a minute. Every restart is recorded (`restarts`), so that a test or the chaos suite can
see how often, and how soon, a service came back. A process a caller stops on purpose is
`hold`-ed first, and left alone until `release`d.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from devstack.processes import ProcessGroup

log = logging.getLogger("devstack.supervisor")


@dataclass
class Restart:
    name: str
    exit_code: int | None
    died_at: float
    restarted_at: float
    delay_s: float
    """The wait the supervisor chose (the backoff), before `restarted_at - died_at` elapsed."""


@dataclass
class _Watch:
    restart: Callable[[], object]
    crashes_in_a_row: int = 0
    started_at: float = 0.0
    died_at: float | None = None
    held: bool = False


class Supervisor:
    def __init__(self, group: ProcessGroup, *, first_delay_s: float = 1.0,
                 max_delay_s: float = 30.0, forgive_after_s: float = 60.0,
                 poll_s: float = 0.25) -> None:
        self.group = group
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        self.forgive_after_s = forgive_after_s
        self.poll_s = poll_s
        self.restarts: list[Restart] = []
        self._watches: dict[str, _Watch] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, name: str, restart: Callable[[], object] | None = None) -> None:
        """Supervise the group's process `name`; `restart` starts it again (by default, as it
        was started)."""
        with self._lock:
            self._watches[name] = _Watch(restart=restart or (lambda: self.group.restart(name)),
                                         started_at=time.monotonic())

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="devstack-supervisor",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def hold(self, name: str) -> None:
        """Leave `name` alone (a caller stops it on purpose)."""
        with self._lock:
            self._watches[name].held = True

    def release(self, name: str) -> None:
        with self._lock:
            watch = self._watches[name]
            watch.held, watch.died_at = False, None
            watch.started_at = time.monotonic()

    def restarts_of(self, name: str) -> list[Restart]:
        with self._lock:
            return [r for r in self.restarts if r.name == name]

    def _delay(self, watch: _Watch) -> float:
        return min(self.max_delay_s, self.first_delay_s * 2 ** max(0, watch.crashes_in_a_row - 1))

    def _run(self) -> None:
        while not self._stop.wait(self.poll_s):
            with self._lock:
                for name, watch in self._watches.items():
                    if watch.held:
                        continue
                    try:
                        self._tend(name, watch)
                    except Exception:
                        log.exception("supervising %s failed", name)

    def _tend(self, name: str, watch: _Watch) -> None:
        process = self.group[name]
        now = time.monotonic()
        if process.is_running():
            if watch.crashes_in_a_row and now - watch.started_at > self.forgive_after_s:
                watch.crashes_in_a_row = 0
            return
        if watch.died_at is None:
            watch.died_at = now
            watch.crashes_in_a_row += 1
            log.warning("%s exited (code %s); starting it again in %.0f s", name,
                        process.returncode, self._delay(watch))
            return
        if now - watch.died_at < self._delay(watch):
            return
        code = process.returncode
        watch.restart()
        self.restarts.append(Restart(name, code, time.time() - (now - watch.died_at),
                                     time.time(), self._delay(watch)))
        watch.died_at, watch.started_at = None, time.monotonic()
