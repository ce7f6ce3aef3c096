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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from devstack.infra import InfraEndpoints, Infrastructure
from devstack.processes import ManagedProcess, ProcessGroup
from devstack.sockets import find_free_ports
from devstack.supervisor import Supervisor
from mb_shared.contracts.catalogue import durable_consumers

DATABASES = {
    "api-gateway": "gateway",
    "scheduler": "scheduler",
    "transcriber": "transcriber",
    "webhook-dispatcher": "webhooks",
    "calendar-sync": "calendars",
    "meetings": "meetings",
}
SERVICES = ("scheduler", "transcriber", "webhook-dispatcher", "calendar-sync", "meetings",
            "bot-runner", "api-gateway")
WORKERS = ("scheduler", "transcriber", "webhook-dispatcher", "calendar-sync", "meetings",
           "bot-runner")


_PROBE_BOT = "00000000-0000-0000-0000-000000000000"
QUERY_SUBJECTS = {
    "scheduler.bot.get": json.dumps({"account_id": 0, "bot_id": _PROBE_BOT}).encode(),
    "transcriber.transcript.get": json.dumps({"bot_id": _PROBE_BOT}).encode(),
    "accounts.delivery_profile": json.dumps({"account_id": 0}).encode(),
    "calendars.list": json.dumps({"account_id": 0}).encode(),
    "meetings.topics": json.dumps({"account_id": 0}).encode(),
}
DURABLE_CONSUMERS = {name: (stream, name) for name, stream in durable_consumers().items()}


class PlatformStartError(RuntimeError):
    pass


@dataclass
class PlatformEndpoints:
    gateway_url: str
    """The first gateway; `gateway_urls` lists every replica."""
    api_key: str
    account_id: int
    simulator_control_url: str
    simulator_chromium_args: list[str]
    infra: InfraEndpoints
    env: dict[str, str] = field(repr=False)
    gateway_urls: list[str] = field(default_factory=list)


def _bin(name: str) -> str:
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else (shutil.which(name) or name)


def replica_names(service: str, count: int) -> list[str]:
    """`scheduler` alone, or `scheduler-1`, `scheduler-2`, ..."""
    return [service] if count == 1 else [f"{service}-{i}" for i in range(1, count + 1)]


class PlatformStack:
    """Start with `start()`, stop with `stop()` (also a context manager).

    `replicas` of each worker (scheduler, transcriber, webhook-dispatcher, bot-runner) and
    `gateway_replicas` of the api-gateway (each on its own port) run side by side, as in
    Kubernetes; a service that dies is started again by the supervisor.
    """

    def __init__(self, base_dir: Path, *, settings: dict[str, str] | None = None,
                 gateway_port: int | None = None, replicas: int = 1,
                 gateway_replicas: int = 1) -> None:
        self.base_dir = Path(base_dir)
        self.settings = settings or {}
        self.gateway_port = gateway_port
        self.replicas = {service: replicas for service in WORKERS} | {
            "api-gateway": gateway_replicas}
        self.infra = Infrastructure(self.base_dir / "infra")
        self.processes = ProcessGroup(self.base_dir / "logs")
        self.supervisor = Supervisor(self.processes)
        self.infra_supervisor = Supervisor(self.infra.group)
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
            "GATEWAY_HOST": "127.0.0.1",
            "MB_SECRET_KEYS": self._secret_keys(),
            **self.settings,
        }
        with ThreadPoolExecutor(max_workers=len(DATABASES)) as pool:
            migrations = [pool.submit(self._run, [_bin(f"mb-{service}"), "migrate"],
                                      self._service_env(env, service), service)
                          for service in DATABASES]
            for migration in migrations:
                migration.result()
        account = self._create_account("local", env)
        gateway_ports = find_free_ports(self.replicas["api-gateway"])
        if self.gateway_port:
            gateway_ports[0] = self.gateway_port
        for service in SERVICES:
            for n, name in enumerate(replica_names(service, self.replicas[service])):
                service_env = self._service_env(env, service)
                if service == "api-gateway":
                    service_env["GATEWAY_PORT"] = str(gateway_ports[n])
                self.processes.start(name, [_bin(f"mb-{service}")], env=service_env,
                                     cwd=self.base_dir)
                self.supervisor.watch(name)
        gateway_urls = [f"http://127.0.0.1:{port}" for port in gateway_ports]
        for url in gateway_urls:
            self._wait_for_gateway(url)
        asyncio.run(self._wait_for_consumers(infra.nats_url))
        for component in ("nats", "postgres", "seaweedfs"):
            self.infra_supervisor.watch(
                component, lambda component=component: self.infra.start_component(component))
        self.supervisor.start()
        self.infra_supervisor.start()
        self.endpoints = PlatformEndpoints(
            gateway_url=gateway_urls[0],
            gateway_urls=gateway_urls,
            api_key=account["api_key"],
            account_id=account["account_id"],
            simulator_control_url=simulator["control_url"],
            simulator_chromium_args=simulator["chromium_args"],
            infra=infra,
            env=env,
        )
        return self.endpoints

    def _secret_keys(self) -> str:
        """The key ring of this state directory, made on first start (mode 0600): what is sealed
        in its databases stays readable from one start to the next."""
        from mb_shared.secrets import new_key

        path = self.base_dir / "secret-keys"
        if not path.exists():
            self.base_dir.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(new_key() + "\n")
        return ",".join(path.read_text().split())

    def _service_env(self, env: dict[str, str], service: str) -> dict[str, str]:
        database = DATABASES.get(service)
        out = dict(env)
        if service == "bot-runner":
            out.pop("MB_SECRET_KEYS", None)  # it handles no secret
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
            for line in proc.output().splitlines():
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

    def replicas_of(self, service: str) -> list[ManagedProcess]:
        return [self.processes[name] for name in replica_names(service, self.replicas[service])]

    def runner_of(self, bot_id: str) -> ManagedProcess:
        """The bot-runner replica whose browser runs this bot (its work directory is named
        after the bot)."""
        for runner in self.replicas_of("bot-runner"):
            for process in runner.descendants():
                try:
                    if bot_id in " ".join(process.cmdline()):
                        return runner
                except Exception:  # gone meanwhile
                    continue
        raise LookupError(f"no bot-runner runs bot {bot_id}")

    def restarts(self) -> list:
        """Every restart the supervisors made, services and infrastructure, oldest first."""
        return sorted(self.supervisor.restarts + self.infra_supervisor.restarts,
                      key=lambda r: r.restarted_at)

    def stop(self) -> None:
        self.supervisor.stop()
        self.infra_supervisor.stop()
        self.processes.stop()
        self.infra.stop()
