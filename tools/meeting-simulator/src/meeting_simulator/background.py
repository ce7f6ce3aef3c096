"""Owns running a simulator on its own event loop in a background thread, for synchronous callers."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Self

from .client import SimulatorClient
from .server import MeetingSimulator


class SimulatorThread:
    """``with SimulatorThread() as sim:`` — the same attributes as MeetingSimulator, plus `client`."""

    def __init__(self, **simulator_kwargs: Any) -> None:
        self.simulator = MeetingSimulator(**simulator_kwargs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def https_port(self) -> int:
        return self.simulator.https_port

    @property
    def control_url(self) -> str:
        return self.simulator.control_url

    def chromium_args(self) -> list[str]:
        return self.simulator.chromium_args()

    @property
    def client(self) -> SimulatorClient:
        return SimulatorClient(self.control_url)

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                await self.simulator.start()
            except Exception as exc:  # noqa: BLE001 - re-raised in the caller's thread
                self._error = exc
                self._ready.set()
                return
            self._ready.set()
            try:
                await self._stop.wait()
            finally:
                await self.simulator.stop()

        asyncio.run(main())

    def start(self) -> SimulatorThread:
        self._thread = threading.Thread(target=self._run, name="meeting-simulator", daemon=True)
        self._thread.start()
        self._ready.wait(60)
        if self._error is not None:
            self._thread.join()
            raise self._error
        if not self._ready.is_set():
            raise TimeoutError("the meeting simulator did not start")
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
