"""A real NATS server (JetStream, file store) per test, on loopback, for the messaging kit, and
databases yet to be made on the devstack's PostgreSQL (`infra`, `fresh_database` come from
`devstack.pytest_plugin`)."""

from __future__ import annotations

import json
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from devstack.infra import binaries
from devstack.processes import ManagedProcess
from devstack.sockets import find_free_ports


class NatsServer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port, self.monitor = find_free_ports(2)
        self.url = f"nats://127.0.0.1:{self.port}"
        conf = root / "nats.conf"
        conf.write_text(
            f"listen: 127.0.0.1:{self.port}\nhttp: 127.0.0.1:{self.monitor}\n"
            f"jetstream {{ store_dir: {json.dumps(str(root / 'js'))} }}\n"
        )
        self.process = ManagedProcess("nats", [binaries().nats_server, "--config", conf],
                                      log_dir=root)

    def start(self) -> NatsServer:
        self.process = ManagedProcess("nats", self.process.argv, log_dir=self.root)
        self.process.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                url = f"http://127.0.0.1:{self.monitor}/healthz?js-enabled-only=true"
                with urllib.request.urlopen(url, timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nats-server did not start:\n{self.process.log_tail()}")

    def stop(self) -> None:
        self.process.stop(timeout=5)


@pytest.fixture
def nats_server():
    with tempfile.TemporaryDirectory(prefix="mb-nats-") as root:
        server = NatsServer(Path(root)).start()
        yield server
        server.stop()


@pytest.fixture
def new_database(infra):
    """`new_database()` gives the URL of a database that does not exist yet, on the session's
    PostgreSQL (for what creates its own database, like `migrate`)."""
    import uuid

    return lambda: infra.database_dsn(f"test_{uuid.uuid4().hex[:12]}")
