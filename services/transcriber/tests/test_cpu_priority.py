"""The transcriber yields the CPU to the bots' browsers: the threads it starts after lowering its
priority (the model's, the workers that run it) run at that niceness too."""

from __future__ import annotations

import os
import threading

from transcriber.app import yield_cpu_to_calls


def test_threads_started_afterwards_inherit_the_lower_priority():
    seen: dict[str, int] = {}
    base = os.getpriority(os.PRIO_PROCESS, 0)
    lower = min(19, base + 5)

    def service_thread() -> None:
        yield_cpu_to_calls(lower)
        seen["service"] = os.getpriority(os.PRIO_PROCESS, 0)
        worker = threading.Thread(
            target=lambda: seen.__setitem__("worker", os.getpriority(os.PRIO_PROCESS, 0)))
        worker.start()
        worker.join()
        yield_cpu_to_calls(base)  # never raised back
        seen["after"] = os.getpriority(os.PRIO_PROCESS, 0)

    thread = threading.Thread(target=service_thread)
    thread.start()
    thread.join()
    assert seen == {"service": lower, "worker": lower, "after": lower}
    assert os.getpriority(os.PRIO_PROCESS, 0) == base  # this test's own thread is left alone
