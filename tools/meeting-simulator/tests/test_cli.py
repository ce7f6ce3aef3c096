"""`python -m meeting_simulator` prints its addresses as one JSON line and stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request


def test_cli_runs_in_the_foreground_and_stops_on_sigterm():
    process = subprocess.Popen(
        [sys.executable, "-m", "meeting_simulator"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(process.stdout.readline())
        assert info["control_url"].startswith("http://127.0.0.1:")
        assert isinstance(info["https_port"], int) and info["https_port"] > 0
        assert any(a.startswith("--host-resolver-rules=") for a in info["chromium_args"])
        with urllib.request.urlopen(info["control_url"] + "/health", timeout=5) as response:
            assert json.load(response)["https_port"] == info["https_port"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
