"""The real infrastructure: NATS JetStream, PostgreSQL, SeaweedFS S3, all on 127.0.0.1.

One Infrastructure for the module; the last test stops it and checks nothing is left.
"""

from __future__ import annotations

import asyncio
import datetime
import io
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import aiohttp
import nats
import psycopg
import pytest
from minio import Minio

from devstack.infra import (
    InfraEndpoints,
    InfraStartError,
    Infrastructure,
    remove_stale_weed_sockets,
    weed_grpc_sockets,
)
from devstack.processes import process_gone
from devstack.sockets import (
    ephemeral_port_range,
    find_free_ports,
    listening_sockets,
    port_is_free,
)


def wait_gone(pids: list[int], timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in pids if not process_gone(p)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def pgrep(pattern: str) -> list[int]:
    out = subprocess.run(
        ["pgrep", "-f", pattern], check=False, capture_output=True, text=True
    ).stdout
    return [int(p) for p in out.split() if not process_gone(int(p))]


@pytest.fixture(scope="module")
def infra():
    # Outside pytest's temporary root, for the reason tests/conftest.py's platform_dir gives.
    with tempfile.TemporaryDirectory(prefix="mb-infra-", ignore_cleanup_errors=True) as base:
        infrastructure = Infrastructure(Path(base))
        infrastructure.start()
        yield infrastructure
        infrastructure.stop()


@pytest.fixture(scope="module")
def endpoints(infra: Infrastructure) -> InfraEndpoints:
    assert infra.endpoints is not None
    return infra.endpoints


def minio_client(ep: InfraEndpoints) -> Minio:
    return Minio(
        ep.s3_endpoint,
        access_key=ep.s3_access_key,
        secret_key=ep.s3_secret_key,
        secure=ep.s3_secure,
    )


def test_endpoints_shape(infra: Infrastructure, endpoints: InfraEndpoints) -> None:
    assert re.fullmatch(r"nats://127\.0\.0\.1:\d+", endpoints.nats_url)
    assert re.fullmatch(
        r"postgresql://postgres:[^@]+@127\.0\.0\.1:\d+/postgres", endpoints.postgres_dsn
    )
    assert re.fullmatch(r"127\.0\.0\.1:\d+", endpoints.s3_endpoint)
    assert endpoints.s3_secure is False
    written = json.loads((infra.base_dir / "endpoints.json").read_text())
    assert written["nats_url"] == endpoints.nats_url
    assert (infra.base_dir / "credentials.json").stat().st_mode & 0o077 == 0
    assert endpoints.as_env()["DATABASE_URL"] == endpoints.postgres_dsn
    print("start-up seconds:", infra.startup_seconds)


async def test_nats_jetstream(infra: Infrastructure, endpoints: InfraEndpoints) -> None:
    nc = await nats.connect(endpoints.nats_url, connect_timeout=2, max_reconnect_attempts=0)
    try:
        js = nc.jetstream()
        info = await js.add_stream(
            name="DEVSTACK_TEST", subjects=["devstack.test.>"], storage="file"
        )
        assert info.config.name == "DEVSTACK_TEST"
        for i in range(3):
            ack = await js.publish(f"devstack.test.{i}", f"hello {i}".encode())
            assert ack.stream == "DEVSTACK_TEST" and ack.seq == i + 1
        sub = await js.pull_subscribe("devstack.test.>", durable="devstack-consumer")
        msgs = await sub.fetch(3, timeout=5)
        assert [m.data for m in msgs] == [b"hello 0", b"hello 1", b"hello 2"]
        for m in msgs:
            await m.ack()
    finally:
        await nc.close()
    # The file store lives under base_dir.
    store = infra.base_dir / "nats" / "jetstream"
    assert any("DEVSTACK_TEST" in str(p) for p in store.rglob("*"))


def test_postgres(endpoints: InfraEndpoints) -> None:
    with psycopg.connect(endpoints.postgres_dsn, autocommit=True) as conn:
        assert conn.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone() == (True,)
        conn.execute("CREATE DATABASE devstack_test")
    with psycopg.connect(endpoints.database_dsn("devstack_test")) as conn:
        conn.execute("CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)")
        conn.execute("INSERT INTO items (name) VALUES (%s), (%s)", ("a", "b"))
        conn.commit()
        assert conn.execute("SELECT name FROM items ORDER BY id").fetchall() == [("a",), ("b",)]
    # Password authentication is required on TCP.
    wrong = endpoints.postgres_dsn.replace(
        endpoints.postgres_dsn.split(":")[2].split("@")[0], "nope"
    )
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(wrong, connect_timeout=2).close()


async def test_s3(endpoints: InfraEndpoints) -> None:
    client = minio_client(endpoints)
    bucket = "devstack-test"
    client.make_bucket(bucket)
    assert bucket in [b.name for b in client.list_buckets()]
    body = b"recording bytes " * 1000
    client.put_object(
        bucket,
        "dir/object.bin",
        io.BytesIO(body),
        len(body),
        content_type="application/octet-stream",
    )
    resp = client.get_object(bucket, "dir/object.bin")
    try:
        assert resp.read() == body
    finally:
        resp.close()
        resp.release_conn()
    url = client.presigned_get_object(
        bucket, "dir/object.bin", expires=datetime.timedelta(minutes=5)
    )
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as r:
            assert r.status == 200
            assert await r.read() == body
        async with session.get(url.split("?")[0]) as r:
            assert r.status == 403  # unsigned access refused
    bad = Minio(
        endpoints.s3_endpoint, access_key=endpoints.s3_access_key, secret_key="wrong", secure=False
    )
    with pytest.raises(Exception, match="SignatureDoesNotMatch|AccessDenied|InvalidAccessKeyId"):
        bad.list_buckets()


def test_everything_listens_on_loopback_only(infra: Infrastructure) -> None:
    pids = infra.pids()
    socks = listening_sockets(infra.all_pids())
    assert socks, "no listening socket found"
    assert [str(s) for s in socks if not s.loopback_only] == []
    listened = {s.port for s in socks}
    # Every port we configured is really in use by our processes, and no other.
    assert listened == set(infra.ports.values()), (listened, infra.ports)
    owners = {s.port: s.pid for s in socks}
    assert owners[infra.ports["nats"]] == pids["nats"][0]
    assert owners[infra.ports["postgres"]] == pids["postgres"][0]
    assert owners[infra.ports["s3"]] == pids["seaweedfs"][0]
    # Cross-check with ss: nothing of ours on 0.0.0.0, [::] or *.
    if shutil.which("ss"):
        out = subprocess.run(["ss", "-ltnpH"], check=True, capture_output=True, text=True).stdout
        ours = set(infra.all_pids())
        for line in out.splitlines():
            line_pids = {int(p) for p in re.findall(r"pid=(\d+)", line)}
            if line_pids & ours:
                local = line.split()[3]
                assert local.startswith("127.0.0.1:"), line
    # PostgreSQL has no Unix socket at all.
    unix = Path("/proc/net/unix").read_text()
    assert f".s.PGSQL.{infra.ports['postgres']}" not in unix


def test_postgres_backends_are_tracked(infra: Infrastructure, endpoints: InfraEndpoints) -> None:
    with psycopg.connect(endpoints.postgres_dsn) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        assert backend in infra.pids()["postgres"]


def test_stop_leaves_no_process(infra: Infrastructure) -> None:
    # Keep a client connection open: its backend must go too.
    conn = psycopg.connect(infra.endpoints.postgres_dsn)
    pids = infra.all_pids()
    assert len(pids) >= 4
    t = time.monotonic()
    infra.stop()
    elapsed = time.monotonic() - t
    conn.close()
    assert wait_gone(pids, timeout=1) == []
    assert pgrep(str(infra.base_dir)) == []
    assert not (infra.base_dir / "endpoints.json").exists()
    assert [p for p in weed_grpc_sockets(infra.ports) if p.exists()] == []
    print(f"stop took {elapsed:.2f}s")


def test_a_stale_weed_socket_goes_even_when_its_port_is_a_client_connections() -> None:
    # Once weed has released a port, the kernel may give it to any outgoing connection as its
    # local port: the socket file left behind is still stale, and one a server answers is not.
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname())
    listener = socket.socket(socket.AF_UNIX)
    ports = {
        "weed_master_grpc": client.getsockname()[1],  # the stale one: first in weed's order
        "weed_filer_grpc": server.getsockname()[1],
    }
    stale, served = weed_grpc_sockets(ports)
    try:
        with socket.socket(socket.AF_UNIX) as left_behind:
            left_behind.bind(str(stale))
        listener.bind(str(served))
        listener.listen()
        assert remove_stale_weed_sockets(ports) == [stale]
        assert not stale.exists()
        assert served.exists()
    finally:
        listener.close()
        stale.unlink(missing_ok=True)
        served.unlink(missing_ok=True)
        client.close()
        server.close()


def test_chosen_ports_are_free_and_never_ones_an_outgoing_connection_could_get() -> None:
    first, last = ephemeral_port_range()
    with socket.create_server(("127.0.0.1", 0)) as taken:
        ports = find_free_ports(200, avoid=[taken.getsockname()[1]])
    assert len(set(ports)) == 200
    assert [p for p in ports if first <= p <= last or p < 1024] == []
    assert all(port_is_free(p) for p in ports)


def test_seaweedfs_that_cannot_bind_one_of_its_ports_fails_the_start_naming_it(
        tmp_path: Path) -> None:
    # `weed mini` goes on without a server whose port is the local end of a connection; S3
    # would answer all the same.
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname())
    infra = Infrastructure(tmp_path / "infra", ports={"weed_admin_grpc": client.getsockname()[1]},
                           start_timeout=60)
    try:
        with pytest.raises(InfraStartError, match=r"does not listen on \['weed_admin_grpc'\]"):
            infra.start()
        assert infra.all_pids() == []
    finally:
        infra.stop()
        client.close()
        server.close()


ORPHAN_PARENT = textwrap.dedent(
    """
    import json, sys, time
    import psycopg
    from devstack.infra import Infrastructure

    infra = Infrastructure(sys.argv[1])
    ep = infra.start()
    conn = psycopg.connect(ep.postgres_dsn)  # one client backend more
    conn.execute("SELECT 1")
    print(json.dumps({"pids": infra.pids(), "ports": infra.ports}), flush=True)
    time.sleep(600)
    """
)


def test_children_die_when_parent_is_sigkilled(tmp_path: Path) -> None:
    base = tmp_path / "orphans"
    parent = subprocess.Popen(
        [sys.executable, "-c", ORPHAN_PARENT, str(base)], stdout=subprocess.PIPE, text=True
    )
    try:
        line = parent.stdout.readline()
        assert line, f"parent failed to start the infrastructure (exit {parent.wait(5)})"
        info = json.loads(line)
        pids = [p for ps in info["pids"].values() for p in ps]
        assert len(info["pids"]["postgres"]) >= 3  # postmaster, aux processes, backends
        assert all(not process_gone(p) for p in pids)
        parent.send_signal(signal.SIGKILL)
        parent.wait(5)
        t = time.monotonic()
        assert wait_gone(pids, timeout=5) == []
        print(f"orphans gone {time.monotonic() - t:.2f}s after SIGKILL")
        assert pgrep(str(base)) == []
    finally:
        parent.kill()
        parent.wait(5)
        parent.stdout.close()

    # The same directory starts again after the crash (stale postmaster.pid, same credentials).
    with Infrastructure(base) as again:
        with psycopg.connect(again.endpoints.postgres_dsn) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        minio_client(again.endpoints).list_buckets()
        pids = again.all_pids()
    assert wait_gone(pids, timeout=1) == []
    # ... and the /tmp gRPC sockets of the killed SeaweedFS were cleaned up by that start.
    assert [p for p in weed_grpc_sockets(info["ports"]) if p.exists()] == []


def test_cli_infra_prints_endpoints_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack", "infra", "--dir", str(tmp_path / "cli")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        ep = InfraEndpoints(**json.loads(line))
        with psycopg.connect(ep.postgres_dsn) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        asyncio.run(_nats_roundtrip(ep.nats_url))
        minio_client(ep).list_buckets()
        survivors = [p for p in pgrep(str(tmp_path / "cli")) if p != proc.pid]
        assert len(survivors) == 3  # nats, postgres (postmaster), weed
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        assert wait_gone(survivors, timeout=1) == []
        assert pgrep(str(tmp_path / "cli")) == []
    finally:
        proc.kill()
        proc.wait(5)
        proc.stdout.close()
        proc.stderr.close()


async def _nats_roundtrip(url: str) -> None:
    nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
    try:
        subject = f"devstack.cli.{uuid.uuid4().hex}"
        sub = await nc.subscribe(subject)
        await nc.publish(subject, b"ping")
        msg = await sub.next_msg(timeout=2)
        assert msg.data == b"ping"
    finally:
        await nc.close()
