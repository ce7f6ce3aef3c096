"""The whole platform on loopback: infrastructure, migrations, every service, the meeting simulator.

Used by `mb-devstack run` (the README's run command) and by the end-to-end tests, so that both
start exactly the same thing.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from devstack.infra import InfraEndpoints, Infrastructure
from devstack.processes import ManagedProcess, ProcessGroup
from devstack.sockets import find_free_ports

DATABASES = {
    "api-gateway": "gateway",
    "scheduler": "scheduler",
    "transcriber": "transcriber",
    "webhook-dispatcher": "webhooks",
}
SERVICES = ("scheduler", "transcriber", "webhook-dispatcher", "bot-runner", "api-gateway")


_PROBE_BOT = "00000000-0000-0000-0000-000000000000"
QUERY_SUBJECTS = {
    "scheduler.bot.get": json.dumps({"account_id": 0, "bot_id": _PROBE_BOT}).encode(),
    "transcriber.transcript.get": json.dumps({"bot_id": _PROBE_BOT}).encode(),
}
DURABLE_CONSUMERS = {
    name: ("DISPATCH" if name == "bot-runner" else "EVENTS", name)
    for name in (
        "bot-runner",
        "scheduler-status",
        "scheduler-recording",
        "scheduler-transcription",
        "transcriber-recording",
        "transcriber-retranscription",
        "webhook-dispatcher-requested",
        "webhook-dispatcher-status",
        "webhook-dispatcher-completed",
        "webhook-dispatcher-failed",
        "webhook-dispatcher-transcription",
    )
}


class PlatformStartError(RuntimeError):
    pass


@dataclass
class PlatformEndpoints:
    gateway_url: str
    api_key: str
    account_id: int
    simulator_control_url: str
    simulator_chromium_args: list[str]
    infra: InfraEndpoints
    env: dict[str, str] = field(repr=False)


def _bin(name: str) -> str:
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else (shutil.which(name) or name)


class PlatformStack:
    """Start with `start()`, stop with `stop()` (also a context manager)."""

    def __init__(self, base_dir: Path, *, settings: dict[str, str] | None = None,
                 gateway_port: int | None = None) -> None:
        self.base_dir = Path(base_dir)
        self.settings = settings or {}
        self.gateway_port = gateway_port
        self.infra = Infrastructure(self.base_dir / "infra")
        self.processes = ProcessGroup(self.base_dir / "logs")
        self.endpoints: PlatformEndpoints | None = None

    def __enter__(self) -> PlatformStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> PlatformEndpoints:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> PlatformEndpoints:
        infra = self.infra.start()
        simulator = self._start_simulator()
        env = {
            **os.environ,
            **infra.as_env(),
            "S3_BUCKET": "meeting-bots",
            "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
            "TRANSCRIBER_MODEL_CACHE_DIR": str(self.base_dir / "models"),
            "TRANSCRIBER_WORK_DIR": str(self.base_dir / "transcriber"),
            "RUNNER_WORK_DIR": str(self.base_dir / "bot-runner"),
            "RUNNER_EXTRA_CHROMIUM_ARGS": json.dumps(simulator["chromium_args"]),
            "MB_OUTBOUND_ALLOW_LOOPBACK": "true",
            "GATEWAY_PORT": str(self.gateway_port or find_free_ports(1)[0]),
            "GATEWAY_HOST": "127.0.0.1",
            **self.settings,
        }
        for service in DATABASES:
            self._run([_bin(f"mb-{service}"), "migrate"], self._service_env(env, service), service)
        account = self._create_account("local", env)
        for service in SERVICES:
            self.processes.start(service, [_bin(f"mb-{service}")],
                                 env=self._service_env(env, service), cwd=self.base_dir)
        gateway_url = f"http://127.0.0.1:{env['GATEWAY_PORT']}"
        self._wait_for_gateway(gateway_url)
        asyncio.run(self._wait_for_consumers(infra.nats_url))
        self.endpoints = PlatformEndpoints(
            gateway_url=gateway_url,
            api_key=account["api_key"],
            account_id=account["account_id"],
            simulator_control_url=simulator["control_url"],
            simulator_chromium_args=simulator["chromium_args"],
            infra=infra,
            env=env,
        )
        return self.endpoints

    def _service_env(self, env: dict[str, str], service: str) -> dict[str, str]:
        database = DATABASES.get(service)
        out = dict(env)
        if database:
            out["DATABASE_URL"] = self.infra_endpoints.database_dsn(database)
        else:
            out.pop("DATABASE_URL", None)
        return out

    @property
    def infra_endpoints(self) -> InfraEndpoints:
        assert self.infra.endpoints is not None
        return self.infra.endpoints

    def _run(self, argv: list[str], env: dict[str, str], label: str) -> str:
        result = subprocess.run(argv, env=env, cwd=self.base_dir, capture_output=True, text=True,
                                timeout=300)
        if result.returncode != 0:
            raise PlatformStartError(f"{label} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def _start_simulator(self) -> dict:
        proc = self.processes.start(
            "meeting-simulator",
            [_bin("mb-meeting-simulator"), "--cache-dir", str(self.base_dir / "speech-cache")],
            cwd=self.base_dir,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for line in proc.log_path.read_text(errors="replace").splitlines():
                if line.startswith("{") and "control_url" in line:
                    return json.loads(line)
            if not proc.is_running():
                break
            time.sleep(0.1)
        raise PlatformStartError(f"the meeting simulator did not start:\n{proc.log_tail()}")

    def _wait_for_gateway(self, url: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = self.processes.dead()
            if dead:
                raise PlatformStartError(
                    f"{dead[0].name} exited during start-up:\n{dead[0].log_tail()}"
                )
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise PlatformStartError("the api-gateway did not answer /health in time")

    async def _wait_for_consumers(self, nats_url: str, timeout: float = 120.0) -> None:
        """Ready means consuming: queries have responders and every durable consumer exists."""
        import nats
        from nats.errors import NoRespondersError
        from nats.js.errors import NotFoundError

        client = await nats.connect(nats_url)
        try:
            js = client.jetstream()
            deadline = time.monotonic() + timeout
            pending = set(QUERY_SUBJECTS) | set(DURABLE_CONSUMERS)
            while pending and time.monotonic() < deadline:
                for item in list(pending):
                    try:
                        if item in QUERY_SUBJECTS:
                            await client.request(item, QUERY_SUBJECTS[item], timeout=2)
                        else:
                            await js.consumer_info(*DURABLE_CONSUMERS[item])
                        pending.discard(item)
                    except (NoRespondersError, NotFoundError, TimeoutError):
                        pass
                if pending:
                    if self.processes.dead():
                        dead = self.processes.dead()[0]
                        raise PlatformStartError(f"{dead.name} exited:\n{dead.log_tail()}")
                    await asyncio.sleep(0.3)
            if pending:
                raise PlatformStartError(f"not consuming after {timeout} s: {sorted(pending)}")
        finally:
            await client.close()

    def _create_account(self, name: str, env: dict[str, str]) -> dict:
        return json.loads(
            self._run([_bin("mb-api-gateway"), "create-account", name],
                      self._service_env(env, "api-gateway"), "create-account")
        )

    def create_account(self, name: str) -> dict:
        """A new account: `{"account_id": ..., "api_key": ...}`."""
        assert self.endpoints is not None
        return self._create_account(name, self.endpoints.env)

    def restart(self, service: str) -> ManagedProcess:
        """Start a service again after a test stopped or killed it."""
        old = self.processes.processes.pop(service)
        old.stop(timeout=5)
        assert self.endpoints is not None
        return self.processes.start(service, [_bin(f"mb-{service}")],
                                    env=self._service_env(self.endpoints.env, service),
                                    cwd=self.base_dir)

    def stop(self) -> None:
        self.processes.stop()
        self.infra.stop()
