"""The SSRF guard: the request-time check of a URL (every spelling of an address, local and
metadata names) and the connect-time check of the addresses actually connected (resolved names,
literal addresses, redirects, sockets).

No test sends anything anywhere but 127.0.0.1: names are resolved by a resolver the test gives the
connector, and an audit hook records every `connect` and name lookup made while this module runs;
each test ends by checking that none went elsewhere.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from mb_shared.settings import BaseServiceSettings
from mb_shared.url_guard import (
    AddressNotPublic,
    OutboundPolicy,
    UnsafeUrl,
    check_socket_url,
    check_url,
    guarded_session,
    is_public_address,
)

PUBLIC_ONLY = OutboundPolicy()
LOOPBACK_TOO = OutboundPolicy(allow_loopback=True)

# --- no traffic but loopback -------------------------------------------------------------------

_AUDIT = {"on": False, "elsewhere": []}


def _loopback_literal(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    try:
        return ipaddress.ip_address(str(host).split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _audit(event: str, args: tuple) -> None:
    if not _AUDIT["on"]:
        return
    if event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple) and not _loopback_literal(address[0]):
            _AUDIT["elsewhere"].append(f"connect {address[0]}:{address[1]}")
    elif event == "socket.getaddrinfo" and args[0] is not None and not _loopback_literal(args[0]):
        _AUDIT["elsewhere"].append(f"lookup {args[0]!r}")


if not getattr(sys, "_mb_url_guard_audit", False):  # an audit hook cannot be removed: add it once
    sys.addaudithook(_audit)
    sys._mb_url_guard_audit = True


@pytest.fixture(autouse=True)
def only_loopback_traffic():
    _AUDIT["elsewhere"].clear()
    _AUDIT["on"] = True
    yield
    _AUDIT["on"] = False
    assert _AUDIT["elsewhere"] == [], "traffic or lookups beyond 127.0.0.1"


def test_the_audit_hook_sees_a_connect_elsewhere():
    """The hook that proves the other tests quiet does see a connect (refused at once here: the
    socket is closed before the call, so nothing is sent)."""
    probe = socket.socket()
    probe.close()
    with pytest.raises(OSError):
        probe.connect(("192.0.2.1", 9))
    assert _AUDIT["elsewhere"] == ["connect 192.0.2.1:9"]
    _AUDIT["elsewhere"].clear()


# --- request time ------------------------------------------------------------------------------

ALLOWED = None

REQUEST_CASES = [
    # public
    ("https://hooks.example.org/meetings?x=1", PUBLIC_ONLY, ALLOWED),
    ("http://8.8.8.8:8080/hook", PUBLIC_ONLY, ALLOWED),
    ("https://[2606:4700:4700::1111]/hook", PUBLIC_ONLY, ALLOWED),
    ("https://bücher.example/hook", PUBLIC_ONLY, ALLOWED),
    ("https://hooks.example.org./hook", PUBLIC_ONLY, ALLOWED),
    ("http://[64:ff9b::808:808]/", PUBLIC_ONLY, ALLOWED),  # NAT64 of a public address
    # loopback: only 127.0.0.1, and only with the setting
    ("http://127.0.0.1:9000/hook", PUBLIC_ONLY, "loopback"),
    ("http://127.0.0.1:9000/hook", LOOPBACK_TOO, ALLOWED),
    ("http://127.1:9000/", LOOPBACK_TOO, ALLOWED),  # the same address, short
    ("http://127.0.0.2/", LOOPBACK_TOO, "loopback"),
    ("http://[::1]/", LOOPBACK_TOO, "loopback"),
    ("http://[::ffff:127.0.0.1]/", LOOPBACK_TOO, "IPv4-mapped form of 127.0.0.1"),
    ("http://localhost:9000/", LOOPBACK_TOO, r"local or internal name \(\*\.localhost\)"),
    ("http://10.0.0.5/", LOOPBACK_TOO, "private"),
    # every spelling of an IPv4 address
    ("http://2130706433/", PUBLIC_ONLY, "loopback"),
    ("http://0177.0.0.1/", PUBLIC_ONLY, "loopback"),
    ("http://0x7f.1/", PUBLIC_ONLY, "loopback"),
    ("http://0x7f000001/", PUBLIC_ONLY, "loopback"),
    ("http://127.1/", PUBLIC_ONLY, "loopback"),
    ("http://0/", PUBLIC_ONLY, "'this network'"),
    ("http://１２７.０.０.１/", PUBLIC_ONLY, "loopback"),  # full-width digits, IDNA-mapped
    ("http://1.2.3.4.5/", PUBLIC_ONLY, "ends in a number but is not an IPv4 address"),
    ("http://08.8.8.8/", PUBLIC_ONLY, "ends in a number"),
    # ranges
    ("http://169.254.169.254/latest/meta-data/", PUBLIC_ONLY, "link-local"),
    ("http://10.0.0.5/", PUBLIC_ONLY, "private"),
    ("http://172.16.4.4/", PUBLIC_ONLY, "private"),
    ("http://192.168.1.1/", PUBLIC_ONLY, "private"),
    ("http://100.64.0.1/", PUBLIC_ONLY, "carrier-grade NAT"),
    ("http://100.100.100.200/", PUBLIC_ONLY, "carrier-grade NAT"),  # Alibaba's metadata
    ("http://192.0.0.192/", PUBLIC_ONLY, "IETF protocol"),  # Oracle's metadata
    ("http://224.0.0.251/", PUBLIC_ONLY, "multicast"),
    ("http://255.255.255.255/", PUBLIC_ONLY, "broadcast"),
    ("http://240.0.0.1/", PUBLIC_ONLY, "reserved"),
    ("http://0.0.0.0/", PUBLIC_ONLY, "'this network'"),
    ("http://192.0.2.10/", PUBLIC_ONLY, "documentation"),
    ("http://198.51.100.1/", PUBLIC_ONLY, "documentation"),
    ("http://203.0.113.9/", PUBLIC_ONLY, "documentation"),
    ("http://198.18.0.1/", PUBLIC_ONLY, "benchmarking"),
    # IPv6, and IPv4 inside IPv6
    ("http://[::]/", PUBLIC_ONLY, "unspecified"),
    ("http://[fe80::1%25eth0]/", PUBLIC_ONLY, "link-local"),
    ("http://[fd00:ec2::254]/", PUBLIC_ONLY, "unique-local"),  # AWS's IPv6 metadata
    ("http://[ff0e::1]/", PUBLIC_ONLY, "multicast"),
    ("http://[2001:db8::1]/", PUBLIC_ONLY, "documentation"),
    ("http://[::ffff:10.0.0.5]/", PUBLIC_ONLY, "IPv4-mapped form of 10.0.0.5, a private"),
    ("http://[::ffff:7f00:1]/", PUBLIC_ONLY, "IPv4-mapped form of 127.0.0.1"),
    ("http://[::127.0.0.1]/", PUBLIC_ONLY, "IPv4-compatible form of 127.0.0.1"),
    ("http://[2002:a9fe:a9fe::1]/", PUBLIC_ONLY, "6to4 form of 169.254.169.254"),
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", PUBLIC_ONLY,
     "Teredo client form of 127.0.0.1"),
    ("http://[64:ff9b::a00:5]/", PUBLIC_ONLY, "NAT64 form of 10.0.0.5"),
    ("http://[64:ff9b:1::808:808]/", PUBLIC_ONLY, "local-use NAT64"),
    ("http://[v1.fe80]/", PUBLIC_ONLY, "in brackets is not an IPv6 address"),
    # names
    ("http://localhost/", PUBLIC_ONLY, "local or internal name"),
    ("http://LOCALHOST./", PUBLIC_ONLY, "local or internal name"),
    ("http://api.localhost/", PUBLIC_ONLY, r"\*\.localhost"),
    ("http://ⓛocalhost/", PUBLIC_ONLY, "local or internal name"),  # IDNA maps it to localhost
    ("http://metadata.google.internal/computeMetadata/v1/", PUBLIC_ONLY, "cloud metadata"),
    ("http://metadata/", PUBLIC_ONLY, "cloud metadata"),
    ("http://instance-data/latest/", PUBLIC_ONLY, "cloud metadata"),
    ("http://db.internal/", PUBLIC_ONLY, r"\*\.internal"),
    ("http://printer.local/", PUBLIC_ONLY, r"\*\.local"),
    ("http://box.localdomain/", PUBLIC_ONLY, r"\*\.localdomain"),
    ("http://scheduler.meeting-bots.svc/", PUBLIC_ONLY, r"\*\.svc"),
    ("http://scheduler.meeting-bots.svc.cluster.local./", PUBLIC_ONLY, r"\*\.local"),
    ("http://router.home.arpa/", PUBLIC_ONLY, r"\*\.home\.arpa"),
    ("http://scheduler/", PUBLIC_ONLY, "single-label"),
    ("http://scheduler.:8080/", PUBLIC_ONLY, "single-label"),
    ("http://a..example.org/", PUBLIC_ONLY, "empty label"),
    ("http://%31%32%37.0.0.1/", PUBLIC_ONLY, "ends in a number"),
    ("http://exa%6dple.org/", PUBLIC_ONLY, "characters a host name cannot"),
    # shape
    ("ftp://example.org/file", PUBLIC_ONLY, "scheme must be http or https"),
    ("file:///etc/passwd", PUBLIC_ONLY, "scheme must be http or https"),
    ("ws://example.org/socket", PUBLIC_ONLY, "scheme must be http or https"),
    ("//example.org/hook", PUBLIC_ONLY, "scheme"),
    ("http:///hook", PUBLIC_ONLY, "no host"),
    ("http://exa mple.org/", PUBLIC_ONLY, "white space"),
    ("http://example.org/\x00", PUBLIC_ONLY, "control character"),
    ("http://example.org\\@10.0.0.1/", PUBLIC_ONLY, "backslash"),
    ("http://example.org:99999/", PUBLIC_ONLY, "not a URL"),
    ("", PUBLIC_ONLY, "not a URL"),
]


@pytest.mark.parametrize(("url", "policy", "refusal"), REQUEST_CASES,
                         ids=[f"{i}:{c[0][:40]}" for i, c in enumerate(REQUEST_CASES)])
def test_the_request_time_check(url, policy, refusal):
    if refusal is ALLOWED:
        assert check_url(url, policy=policy) == url
    else:
        with pytest.raises(UnsafeUrl, match=refusal):
            check_url(url, policy=policy)


def test_a_refusal_never_echoes_the_path_query_or_user_information():
    url = "http://alice:hunter2@10.1.2.3:8080/billing/path?token=s3cr3t#frag"
    with pytest.raises(UnsafeUrl) as refused:
        check_url(url, policy=PUBLIC_ONLY)
    message = str(refused.value)
    assert "10.1.2.3" in message
    for secret in ("alice", "hunter2", "billing", "token", "s3cr3t", "frag"):
        assert secret not in message


def test_socket_urls_take_their_own_schemes():
    assert check_url("wss://stream.example.org/out", policy=PUBLIC_ONLY,
                     schemes=("ws", "wss")) == "wss://stream.example.org/out"
    with pytest.raises(UnsafeUrl, match="scheme must be ws or wss"):
        check_url("https://stream.example.org/out", policy=PUBLIC_ONLY, schemes=("ws", "wss"))
    with pytest.raises(UnsafeUrl, match="private"):
        check_url("ws://10.0.0.8/out", policy=PUBLIC_ONLY, schemes=("ws", "wss"))


@pytest.mark.parametrize(("url", "policy", "refusal"), [
    ("wss://stream.example.org/out", PUBLIC_ONLY, None),
    ("wss://127.0.0.1:9000/out", LOOPBACK_TOO, None),
    ("ws://127.0.0.1:9000/out", LOOPBACK_TOO, None),
    ("ws://stream.example.org/out", PUBLIC_ONLY, "the scheme must be wss"),
    ("ws://127.0.0.1:9000/out", PUBLIC_ONLY, "the scheme must be wss"),
    ("ws://stream.example.org/out", LOOPBACK_TOO, "only for 127.0.0.1 in development"),
    ("ws://8.8.8.8/out", LOOPBACK_TOO, "only for 127.0.0.1 in development"),
    ("wss://10.0.0.8/out", PUBLIC_ONLY, "private"),
    ("https://stream.example.org/out", LOOPBACK_TOO, "the scheme must be ws or wss"),
])
def test_socket_urls_are_wss_and_ws_only_on_loopback_in_development(url, policy, refusal):
    if refusal is None:
        assert check_socket_url(url, policy=policy) == url
    else:
        with pytest.raises(UnsafeUrl, match=refusal):
            check_socket_url(url, policy=policy)


@pytest.mark.parametrize(("address", "public"), [
    ("8.8.8.8", True), ("2606:4700:4700::1111", True), ("::ffff:8.8.8.8", True),
    ("64:ff9b::808:808", True), ("2002:808:808::1", True),
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.31.0.9", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("::1", False),
    ("fe80::1%eth0", False), ("fd00::1", False), ("::ffff:127.0.0.1", False),
    ("224.0.0.251", False), ("ff02::1", False), ("2002:a00:1::1", False),
    (ipaddress.ip_address("192.0.2.1"), False),
])
def test_public_addresses_are_global_unicast_all_the_way_down(address, public):
    assert is_public_address(address) is public


def test_the_loopback_setting_opens_127_0_0_1_alone():
    assert LOOPBACK_TOO.allows_address("127.0.0.1")
    for address in ("127.0.0.2", "::1", "::ffff:127.0.0.1", "10.0.0.1", "169.254.169.254"):
        assert not LOOPBACK_TOO.allows_address(address), address
    assert not PUBLIC_ONLY.allows_address("127.0.0.1")


# --- settings ----------------------------------------------------------------------------------

def test_the_loopback_setting_is_refused_outside_development(monkeypatch):
    monkeypatch.setenv("S3_SECRET_KEY", "a-real-secret-for-this-test")
    monkeypatch.setenv("MB_OUTBOUND_ALLOW_LOOPBACK", "true")
    monkeypatch.setenv("MB_ENVIRONMENT", "production")
    with pytest.raises(ValueError, match="MB_OUTBOUND_ALLOW_LOOPBACK"):
        BaseServiceSettings()
    monkeypatch.setenv("MB_ENVIRONMENT", "development")
    assert BaseServiceSettings().outbound_policy == LOOPBACK_TOO
    monkeypatch.delenv("MB_OUTBOUND_ALLOW_LOOPBACK")
    monkeypatch.setenv("MB_ENVIRONMENT", "production")
    assert BaseServiceSettings().outbound_policy == PUBLIC_ONLY


# --- connect time ------------------------------------------------------------------------------

class TableResolver(AbstractResolver):
    """Names answered from a table, one answer per lookup in turn (the last one repeats): the
    DNS the connector would ask, without asking any."""

    def __init__(self, table: dict[str, list[list[str]]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        self.lookups.append(host)
        answers = self.table.get(host)
        if not answers:
            raise OSError(f"{host}: no such name here")
        addresses = answers.pop(0) if len(answers) > 1 else answers[0]
        return [{"hostname": host, "host": a, "port": port,
                 "family": socket.AF_INET6 if ":" in a else socket.AF_INET,
                 "proto": 0, "flags": 0} for a in addresses]

    async def close(self) -> None:
        pass


class Local:
    """A server on 127.0.0.1 that counts what reaches it."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.port = 0

    def app(self) -> web.Application:
        app = web.Application()

        async def record(request: web.Request) -> web.StreamResponse:
            self.paths.append(request.path)
            return web.Response(text="ok")

        async def socket_echo(request: web.Request) -> web.StreamResponse:
            self.paths.append(request.path)
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            async for message in ws:
                await ws.send_str(message.data)
            return ws

        app.router.add_get("/ok", record)
        app.router.add_get("/ws", socket_echo)
        app.router.add_get("/moved", lambda _: web.HTTPFound("/ok"))
        app.router.add_get("/to-private", lambda _: web.HTTPFound("http://10.0.0.1/admin"))
        app.router.add_get("/to-metadata", lambda _: web.HTTPFound(
            "http://169.254.169.254/latest/meta-data/iam/security-credentials/"))
        app.router.add_get("/to-rebound", lambda _: web.HTTPFound(
            f"http://rebound.example.test:{self.port}/ok"))
        return app

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@pytest.fixture
async def local() -> AsyncIterator[Local]:
    server = Local()
    runner = web.AppRunner(server.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.port = runner.addresses[0][1]
    yield server
    await runner.cleanup()


def session(policy: OutboundPolicy, resolver: AbstractResolver | None = None,
            **connector: object) -> aiohttp.ClientSession:
    options = {"resolver": resolver or TableResolver({}), **connector}
    return guarded_session(policy, connector_kwargs=options)


async def refused(policy: OutboundPolicy, url: str, resolver: AbstractResolver | None = None
                  ) -> aiohttp.ClientConnectorError:
    async with session(policy, resolver) as client:
        with pytest.raises(aiohttp.ClientConnectorError) as caught:
            async with client.get(url):
                pass
    assert isinstance(caught.value.os_error, AddressNotPublic)
    return caught.value


async def test_a_name_resolving_to_a_private_address_is_refused_at_connect():
    dns = TableResolver({"hooks.example.test": [["10.0.0.7"]]})
    error = await refused(PUBLIC_ONLY, "http://hooks.example.test/billing?token=s3cr3t", dns)
    assert "hooks.example.test resolves to 10.0.0.7, which is not a public address" in str(error)
    assert "token" not in str(error) and "billing" not in str(error)
    assert isinstance(error, OSError) and isinstance(error, aiohttp.ClientError)
    assert dns.lookups == ["hooks.example.test"]


async def test_a_name_resolving_to_127_0_0_1_connects_only_with_the_loopback_setting(local):
    url = local.url("/ok", host="hooks.example.test")
    await refused(PUBLIC_ONLY, url, TableResolver({"hooks.example.test": [["127.0.0.1"]]}))
    assert local.paths == []
    async with session(LOOPBACK_TOO, TableResolver({"hooks.example.test": [["127.0.0.1"]]})
                       ) as client, client.get(url) as response:
        assert response.status == 200
    assert local.paths == ["/ok"]


async def test_only_the_checked_addresses_of_a_name_are_connected(local):
    """The private address the name also has is dropped, not tried: the audit hook would see a
    connect to it."""
    dns = TableResolver({"hooks.example.test": [["10.0.0.7", "169.254.169.254", "127.0.0.1"]]})
    async with session(LOOPBACK_TOO, dns) as client, client.get(
            local.url("/ok", host="hooks.example.test")) as response:
        assert response.status == 200
    assert local.paths == ["/ok"]


async def test_a_name_rebound_to_a_private_address_is_refused_on_the_next_connection(local):
    dns = TableResolver({"rebound.example.test": [["127.0.0.1"], ["10.0.0.9"]]})
    async with session(LOOPBACK_TOO, dns, use_dns_cache=False, force_close=True) as client:
        async with client.get(local.url("/ok", host="rebound.example.test")) as response:
            assert response.status == 200
        with pytest.raises(aiohttp.ClientConnectorError, match="10.0.0.9, which is not a public"):
            async with client.get(local.url("/ok", host="rebound.example.test")):
                pass
    assert local.paths == ["/ok"]
    assert dns.lookups == ["rebound.example.test", "rebound.example.test"]


@pytest.mark.parametrize("url", [
    "http://10.0.0.1/admin?key=1",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:10.0.0.1]/",
    "http://[fd00:ec2::254]/",
    "http://[fe80::1%25lo]/",
    "https://192.168.0.1/",
])
async def test_a_literal_private_address_is_refused_at_connect_without_the_request_check(url):
    error = await refused(LOOPBACK_TOO, url)
    assert "is not a public address" in str(error) and "key" not in str(error)


async def test_a_literal_loopback_address_is_refused_at_connect_without_the_setting(local):
    await refused(PUBLIC_ONLY, local.url("/ok"))
    assert local.paths == []


@pytest.mark.parametrize(("path", "target"), [("/to-private", "10.0.0.1"),
                                              ("/to-metadata", "169.254.169.254")])
async def test_a_redirect_to_a_private_address_is_refused_before_connecting(local, path, target):
    error = await refused(LOOPBACK_TOO, local.url(path))
    assert f"{target} is not a public address" in str(error)
    assert "security-credentials" not in str(error) and "admin" not in str(error)


async def test_a_redirect_to_a_name_is_checked_on_its_resolved_address(local):
    dns = TableResolver({"rebound.example.test": [["10.0.0.9"]]})
    error = await refused(LOOPBACK_TOO, local.url("/to-rebound"), dns)
    assert "rebound.example.test resolves to 10.0.0.9" in str(error)


async def test_a_loopback_server_works_with_the_setting_redirects_included(local):
    async with session(LOOPBACK_TOO) as client:
        async with client.get(local.url("/ok")) as response:
            assert response.status == 200
        async with client.get(local.url("/moved")) as response:
            assert response.status == 200 and str(response.url).endswith("/ok")
    assert local.paths == ["/ok", "/ok"]


async def test_sockets_go_through_the_same_guard(local):
    async with session(LOOPBACK_TOO) as client, client.ws_connect(
            local.url("/ws").replace("http", "ws", 1)) as ws:
        await ws.send_str("hello")
        assert (await ws.receive_str()) == "hello"
    async with session(PUBLIC_ONLY) as client:
        with pytest.raises(aiohttp.ClientConnectorError, match="not a public address"):
            await client.ws_connect(local.url("/ws").replace("http", "ws", 1))
    assert local.paths == ["/ws"]


async def test_a_guarded_session_keeps_its_own_connector_and_ignores_proxy_settings():
    with pytest.raises(TypeError, match="connector"):
        guarded_session(PUBLIC_ONLY, connector=None)
    async with session(LOOPBACK_TOO) as client:
        assert client.trust_env is False
        with pytest.raises(aiohttp.ClientConnectionError, match="proxy"):
            async with client.get("http://example.test/", proxy="http://127.0.0.1:9"):
                pass
