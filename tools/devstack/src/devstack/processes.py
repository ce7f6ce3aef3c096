"""Child processes that never outlive the Python process that started them.

Every child started here

* gets ``PR_SET_PDEATHSIG = SIGKILL`` (set with ``prctl`` from a ``preexec_fn``, after any
  switch of user, because the kernel clears the setting on a credential change), so the
  kernel kills it when its parent dies, even by SIGKILL;
* runs in its own session and process group, so that ``stop()`` can signal the whole group
  (grandchildren too) and a Ctrl-C typed in the terminal reaches only the parent, which then
  stops its children in order;
* writes stdout and stderr to ``<log_dir>/<name>.log``.

``stop()`` sends the stop signal (SIGTERM unless told otherwise), waits up to a timeout, then
sends SIGKILL to the process group and to every descendant seen while the child ran (some
programs, PostgreSQL for one, put their own children into new sessions, out of reach of a
group signal).

Linux only.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import queue
import signal
import subprocess
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import psutil

__all__ = [
    "ManagedProcess",
    "ProcessGroup",
    "ShutdownRequested",
    "install_shutdown_handlers",
    "process_gone",
    "shutdown_on_signals",
]

_PR_SET_PDEATHSIG = 1

# Resolved once in the parent: nothing may be loaded with dlopen between fork and exec.
_libc = ctypes.CDLL(None, use_errno=True)
_prctl = _libc.prctl
_prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_prctl.restype = ctypes.c_int


def _die_with_parent(parent_pid: int, death_signal: int) -> Callable[[], None]:
    """The ``preexec_fn`` run in the child between fork and exec.

    ``subprocess`` calls it after ``setsid`` and after ``setgid``/``setuid`` (``user=``), so the
    death signal survives into the exec'd program (it is kept across ``execve`` of a binary
    that is not set-user-ID).
    """

    def preexec() -> None:
        if _prctl(_PR_SET_PDEATHSIG, death_signal, 0, 0, 0) != 0:
            os._exit(127)
        # The parent may have died between fork and prctl: then nobody will send the signal.
        if os.getppid() != parent_pid:
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


# PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the process.
# Children are therefore always forked either by the main thread or by one daemon thread that
# lives as long as the process; never by a short-lived worker thread (asyncio.to_thread, ...).
_spawner_lock = threading.Lock()
_spawner_queue: queue.SimpleQueue[tuple[Callable[[], Any], queue.SimpleQueue[Any]]] | None = None


def _spawner_loop(q: queue.SimpleQueue[tuple[Callable[[], Any], queue.SimpleQueue[Any]]]) -> None:
    while True:
        fn, reply = q.get()
        try:
            reply.put((True, fn()))
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            reply.put((False, exc))


def _in_long_lived_thread(fn: Callable[[], Any]) -> Any:
    global _spawner_queue
    if threading.current_thread() is threading.main_thread():
        return fn()
    with _spawner_lock:
        if _spawner_queue is None:
            _spawner_queue = queue.SimpleQueue()
            threading.Thread(
                target=_spawner_loop, args=(_spawner_queue,), name="devstack-spawner", daemon=True
            ).start()
        q = _spawner_queue
    reply: queue.SimpleQueue[Any] = queue.SimpleQueue()
    q.put((fn, reply))
    ok, value = reply.get()
    if not ok:
        raise value
    return value


# PR_SET_PDEATHSIG reaches only the direct child: when this process is SIGKILLed, a child's
# own children would survive it. A small watchdog process (one per Python process) closes that
# gap: it reads "+<pgid>" / "-<pgid>" lines on a pipe whose write end only this process holds,
# and when the pipe reaches end-of-file (this process is gone, however it died) it SIGKILLs
# every process group still registered.
_WATCHDOG_CODE = """
import os, signal
groups, buf = set(), b""
while True:
    try:
        chunk = os.read(0, 4096)
    except InterruptedError:
        continue
    if not chunk:
        break
    buf += chunk
    *lines, buf = buf.split(b"\\n")
    for line in lines:
        if line[:1] == b"+":
            groups.add(int(line[1:]))
        elif line[:1] == b"-":
            groups.discard(int(line[1:]))
for pgid in groups:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
"""
_watchdog_lock = threading.Lock()
_watchdog: subprocess.Popen[bytes] | None = None
_watchdog_owner = 0


def _watchdog_send(line: str) -> None:
    global _watchdog, _watchdog_owner
    import sys

    with _watchdog_lock:
        if _watchdog is None or _watchdog_owner != os.getpid() or _watchdog.poll() is not None:
            _watchdog = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _WATCHDOG_CODE],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C in the terminal must not end it first
                close_fds=True,
            )
            _watchdog_owner = os.getpid()
        try:
            _watchdog.stdin.write(line.encode() + b"\n")  # type: ignore[union-attr]
            _watchdog.stdin.flush()  # type: ignore[union-attr]
        except (BrokenPipeError, OSError):
            pass


def process_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (absent, or a zombie waiting to be reaped)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _alive(procs: Iterable[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p)
        except psutil.NoSuchProcess:
            pass
    return alive


def _wait_gone(procs: Iterable[psutil.Process], timeout: float | None) -> list[psutil.Process]:
    """Wait until none of ``procs`` runs (zombies count as gone); those still running."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        alive = _alive(procs)
        if not alive or (deadline is not None and time.monotonic() >= deadline):
            return alive
        time.sleep(0.02)


class ManagedProcess:
    """One child process (and everything it starts), tied to the life of this process."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str | os.PathLike[str]],
        *,
        log_dir: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | int | None = None,
        group: str | int | None = None,
        stop_signal: int = signal.SIGTERM,
        signal_group: bool = True,
        stop_timeout: float = 10.0,
    ) -> None:
        """
        Args:
            name: used for the log file ``<log_dir>/<name>.log`` and in messages.
            argv: program and arguments (no shell).
            env: full environment of the child (default: a copy of this process's).
            user, group: run as this user (needs root); ``group`` defaults to the user's
                primary group and supplementary groups are dropped.
            stop_signal: first signal of ``stop()``.
            signal_group: send ``stop_signal`` to the whole process group (True) or only to
                the child itself (False; e.g. PostgreSQL, whose postmaster coordinates the
                shutdown of its children).
            stop_timeout: default grace period of ``stop()`` before SIGKILL.
        """
        self.name = name
        self.argv = [os.fspath(a) for a in argv]
        self.log_path = Path(log_dir) / f"{name}.log"
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.user = user
        self.group = group
        self.stop_signal = stop_signal
        self.signal_group = signal_group
        self.stop_timeout = stop_timeout
        self._popen: subprocess.Popen[bytes] | None = None
        self._leader: psutil.Process | None = None
        self._seen: dict[int, psutil.Process] = {}
        self._forgotten = False
        self._log_start = 0

    # ----------------------------------------------------------------- starting
    def start(self) -> ManagedProcess:
        if self._popen is not None:
            raise RuntimeError(f"{self.name}: already started")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {}
        if self.user is not None:
            import pwd

            entry = (
                pwd.getpwnam(self.user) if isinstance(self.user, str) else pwd.getpwuid(self.user)
            )
            kwargs["user"] = entry.pw_uid
            kwargs["group"] = self.group if self.group is not None else entry.pw_gid
            kwargs["extra_groups"] = []
        parent_pid = os.getpid()
        with open(self.log_path, "ab", buffering=0) as log:
            log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {self.argv}\n".encode())
            self._log_start = log.tell()

            def spawn() -> subprocess.Popen[bytes]:
                return subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self.env,
                    cwd=self.cwd,
                    start_new_session=True,
                    close_fds=True,
                    # only prctl/getppid/kill run there: nothing that takes a lock
                    preexec_fn=_die_with_parent(parent_pid, signal.SIGKILL),  # noqa: PLW1509
                    **kwargs,
                )

            self._popen = _in_long_lived_thread(spawn)
        _watchdog_send(f"+{self._popen.pid}")
        try:
            self._leader = psutil.Process(self._popen.pid)
        except psutil.NoSuchProcess:
            self._leader = None
        return self

    # ------------------------------------------------------------------ status
    @property
    def pid(self) -> int:
        if self._popen is None:
            raise RuntimeError(f"{self.name}: not started")
        return self._popen.pid

    @property
    def started(self) -> bool:
        return self._popen is not None

    @property
    def returncode(self) -> int | None:
        return None if self._popen is None else self._popen.poll()

    def is_running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def descendants(self) -> list[psutil.Process]:
        """Live descendants (children, grandchildren, ...) of the child, and remembers them."""
        if self._leader is None or not self.is_running():
            return _alive(self._seen.values())
        try:
            found = self._leader.children(recursive=True)
        except psutil.NoSuchProcess:
            found = []
        for p in found:
            self._seen.setdefault(p.pid, p)
        return _alive(self._seen.values())

    def pids(self) -> list[int]:
        """The child's pid followed by the pids of its live descendants."""
        if self._popen is None:
            return []
        head = [self._popen.pid] if self.is_running() else []
        return head + [p.pid for p in self.descendants()]

    def output(self) -> str:
        """What this run of the process has written so far (the log file keeps earlier runs')."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self._log_start)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # ---------------------------------------------------------------- stopping
    def _signal_group(self, sig: int) -> None:
        if self._popen is None:
            return
        try:
            os.killpg(self._popen.pid, sig)  # pgid == pid: the child leads its own group
        except (ProcessLookupError, PermissionError):
            pass

    def send_stop_signal(self) -> None:
        """First step of ``stop()``: remember the descendants, then send the stop signal."""
        if not self.is_running():
            return
        self.descendants()
        if self.signal_group:
            self._signal_group(self.stop_signal)
        else:
            try:
                self._popen.send_signal(self.stop_signal)  # type: ignore[union-attr]
            except ProcessLookupError:
                pass

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the child and its known descendants; the child's exit code, None on timeout."""
        if self._popen is None:
            return None
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if _wait_gone(self._seen.values(), left):
            return None
        return self._popen.returncode

    def kill(self) -> None:
        """SIGKILL the process group and every descendant seen; reap the child."""
        if self._popen is None:
            return
        self.descendants()
        self._signal_group(signal.SIGKILL)
        for p in _alive(self._seen.values()):
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        try:
            self._popen.wait(5)
        except subprocess.TimeoutExpired:  # pragma: no cover - a SIGKILLed child that stays
            pass
        _wait_gone(self._seen.values(), 2)
        self._forget()

    def stop(self, timeout: float | None = None) -> int | None:
        """Stop signal, wait up to ``timeout`` (default ``stop_timeout``), then SIGKILL."""
        if self._popen is None:
            return None
        self.send_stop_signal()
        if self.wait(self.stop_timeout if timeout is None else timeout) is None:
            self.kill()
        # Whatever is left in the group (e.g. a grandchild that ignored the signal) goes too.
        self._signal_group(signal.SIGKILL)
        self._forget()
        return self._popen.returncode

    def _forget(self) -> None:
        """Unregister the group from the watchdog once the child is reaped."""
        if self._popen is not None and self._popen.returncode is not None and not self._forgotten:
            self._forgotten = True
            _watchdog_send(f"-{self._popen.pid}")

    def __repr__(self) -> str:
        state = (
            "not started" if self._popen is None else f"pid={self._popen.pid} rc={self.returncode}"
        )
        return f"<ManagedProcess {self.name} {state}>"


_live_groups: weakref.WeakSet[ProcessGroup] = weakref.WeakSet()


@atexit.register
def _stop_live_groups() -> None:
    for group in list(_live_groups):
        group.stop()


class ProcessGroup:
    """Several managed processes, stopped together (all signalled first, then waited for).

    Groups still running when the interpreter exits normally are stopped by an ``atexit``
    hook; when the interpreter is killed, the kernel's parent-death signal takes over.
    """

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = Path(log_dir)
        self.processes: dict[str, ManagedProcess] = {}

    def start(
        self, name: str, argv: Sequence[str | os.PathLike[str]], **kwargs: Any
    ) -> ManagedProcess:
        if name in self.processes:
            raise ValueError(f"a process named {name!r} is already in this group")
        proc = ManagedProcess(name, argv, log_dir=self.log_dir, **kwargs)
        self.processes[name] = proc
        _live_groups.add(self)
        return proc.start()

    def __getitem__(self, name: str) -> ManagedProcess:
        return self.processes[name]

    def restart(self, name: str, timeout: float | None = None) -> ManagedProcess:
        """Stop `name` if it still runs, and start it again as it was started."""
        old = self.processes[name]
        old.stop(timeout)
        fresh = ManagedProcess(
            old.name, old.argv, log_dir=self.log_dir, env=old.env, cwd=old.cwd, user=old.user,
            group=old.group, stop_signal=old.stop_signal, signal_group=old.signal_group,
            stop_timeout=old.stop_timeout,
        )
        self.processes[name] = fresh
        return fresh.start()

    def pids(self) -> dict[str, list[int]]:
        return {name: p.pids() for name, p in self.processes.items()}

    def dead(self) -> list[ManagedProcess]:
        """Processes that were started and have exited."""
        return [p for p in self.processes.values() if p.started and not p.is_running()]

    def stop(self, timeout: float | None = None) -> None:
        procs = list(reversed(self.processes.values()))
        for p in procs:
            p.send_stop_signal()
        start = time.monotonic()
        for p in procs:
            grace = p.stop_timeout if timeout is None else timeout
            if p.wait(max(0.0, grace - (time.monotonic() - start))) is None:
                p.kill()
            p._signal_group(signal.SIGKILL)
            p._forget()
        _live_groups.discard(self)


class ShutdownRequested(BaseException):
    """Raised in the main thread by the handlers of ``install_shutdown_handlers``.

    A ``BaseException`` (like ``KeyboardInterrupt``) so that ``except Exception`` blocks
    do not swallow it; ``try/finally`` and context managers run their cleanup.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    def __str__(self) -> str:
        return f"shutdown requested by {signal.Signals(self.signum).name}"


def install_shutdown_handlers(
    *stoppables: Any,
    signals: Iterable[int] = (signal.SIGINT, signal.SIGTERM),
    raise_in_main: bool = True,
) -> Callable[[], None]:
    """Make SIGINT/SIGTERM stop everything.

    With ``raise_in_main`` (the default) the first signal raises ``ShutdownRequested`` in the
    main thread, which unwinds whatever it was doing (even a ``start()`` half done) through
    its ``finally`` blocks and context managers; ``stoppables`` are then stopped by
    ``shutdown_on_signals`` or by the caller. Without it, the handler itself stops every
    object in ``stoppables`` (anything with ``stop()``). Further signals are ignored once the
    first one arrived. Must be called from the main thread. Returns a function that restores
    the previous handlers.
    """
    signals = tuple(signals)
    previous = {s: signal.getsignal(s) for s in signals}
    fired = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if fired.is_set():
            return
        fired.set()
        for s in signals:
            signal.signal(s, signal.SIG_IGN)
        if raise_in_main:
            raise ShutdownRequested(signum)
        for obj in stoppables:
            obj.stop()

    for s in signals:
        signal.signal(s, handler)

    def restore() -> None:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)

    return restore


@contextlib.contextmanager
def shutdown_on_signals(
    *stoppables: Any, signals: Iterable[int] = (signal.SIGINT, signal.SIGTERM)
) -> Iterator[None]:
    """Run the block with SIGINT/SIGTERM turned into ``ShutdownRequested``; on leaving it, by
    any way, stop every object in ``stoppables`` (in reverse order) with those signals ignored,
    then restore the previous handlers. ``ShutdownRequested`` propagates to the caller."""
    signals = tuple(signals)
    restore = install_shutdown_handlers(signals=signals)
    try:
        yield
    finally:
        for s in signals:
            signal.signal(s, signal.SIG_IGN)
        try:
            for obj in reversed(stoppables):
                obj.stop()
        finally:
            restore()
