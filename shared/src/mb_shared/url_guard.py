"""The one SSRF guard for every outbound URL a customer controls (webhooks, `bot_image`,
streaming sockets, ...): OWASP API7:2023, Server Side Request Forgery.

It owns two checks that share one address rule (`is_public_address`):

- `check_url` (and `check_socket_url` for WebSocket URLs), at request time, without DNS: the scheme is allowed, the host is present and well
  formed, a literal IP address (in any spelling `socket.inet_aton` accepts, or bracketed IPv6,
  with the IPv4 address that IPv4-mapped, IPv4-compatible, 6to4, Teredo and NAT64 addresses embed)
  is public, and a name is not one of the local, cluster or cloud-metadata names, nor a single
  label. It never looks a name up: a name is judged where it is connected.
- `GuardedConnector` (through `guarded_connector` / `guarded_session`), at connect time: every
  address the connection may use is checked, after resolution, for names and literal addresses
  alike, on every request and every redirect hop, and the connection is made to exactly the
  addresses that passed, so a name re-pointed between the two checks (DNS rebinding) gains
  nothing.

Development and tests reach servers on 127.0.0.1 only through `OutboundPolicy(allow_loopback=True)`
(`MB_OUTBOUND_ALLOW_LOOPBACK`, refused outside development): that one address, not 127.0.0.0/8,
`::1` nor any private range, and never the name `localhost` at request time.

Messages name the reason and at most the host: never a URL's path, query or user information.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.abc import ResolveResult
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

LOOPBACK = ipaddress.IPv4Address("127.0.0.1")
"""The only address `OutboundPolicy.allow_loopback` opens."""

_NETWORKS: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(network), reason) for network, reason in (
        ("0.0.0.0/8", "a 'this network' address"),
        ("10.0.0.0/8", "a private address"),
        ("100.64.0.0/10", "a carrier-grade NAT address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "a link-local address (where cloud metadata services answer)"),
        ("172.16.0.0/12", "a private address"),
        ("192.0.0.0/24", "an IETF protocol address"),
        ("192.0.2.0/24", "a documentation address"),
        ("192.88.99.0/24", "a 6to4 relay address"),
        ("192.168.0.0/16", "a private address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("224.0.0.0/4", "a multicast address"),
        ("255.255.255.255/32", "the broadcast address"),
        ("240.0.0.0/4", "a reserved address"),
        ("::/128", "the unspecified address"),
        ("::1/128", "a loopback address"),
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
        ("100::/64", "a discard-only address"),
        ("2001:db8::/32", "a documentation address"),
        ("3fff::/20", "a documentation address"),
        ("5f00::/16", "a segment-routing address"),
        ("fc00::/7", "a unique-local (private) address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address"),
        ("ff00::/8", "a multicast address"),
    )
)
"""Ranges refused with their reason, spelt out so that the answer does not depend on the Python
release's `ipaddress` tables; anything else `ipaddress` does not call global is refused too."""

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_IPV4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")

METADATA_NAMES = frozenset({
    "metadata", "metadata.google.internal", "instance-data", "instance-data.ec2.internal",
})
"""Names under which cloud metadata services answer (Google Cloud, AWS). Azure, Oracle,
Alibaba and DigitalOcean serve theirs on link-local or CGNAT addresses, refused as addresses."""

LOCAL_SUFFIXES = ("localhost", "internal", "local", "localdomain", "svc", "home.arpa")
"""Names ending in these (or equal to them) are this machine's, a cluster's (`*.svc`,
`*.svc.cluster.local`) or a local network's, never a customer's public host."""


class UnsafeUrl(ValueError):
    """A URL the platform will not call; the message says why, naming at most the host."""


class AddressNotPublic(OSError):
    """Raised by `GuardedConnector` when no address of a host may be connected. aiohttp wraps it
    in a `ClientConnectorError` (an `OSError` and a `ClientError`) as `os_error`."""

    def __init__(self, host: str, addresses: Sequence[str]) -> None:
        listed = ", ".join(dict.fromkeys(_without_zone(a) for a in addresses))
        if listed and listed != host:
            message = f"{host} resolves to {listed}, which is not a public address"
        else:
            message = f"{host} is not a public address"
        super().__init__(errno.EACCES, message)
        self.host = host
        self.addresses = tuple(addresses)

    def __str__(self) -> str:
        return self.strerror


@dataclass(frozen=True)
class OutboundPolicy:
    """Which addresses outbound calls may reach beyond public ones: with `allow_loopback`,
    127.0.0.1 (development and tests, whose servers listen there), and nothing else."""

    allow_loopback: bool = False

    def allows_address(self, address: str | IPAddress) -> bool:
        ip = _address(address)
        if self.allow_loopback and ip == LOOPBACK:
            return True
        return not_public_reason(ip) is None


def _without_zone(address: str) -> str:
    return address.split("%", 1)[0]


def _address(address: str | IPAddress) -> IPAddress:
    if isinstance(address, str):
        return ipaddress.ip_address(_without_zone(address))
    return address


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 address carries, with the kind of carrier."""
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.ipv4_mapped is not None:
        return [("IPv4-mapped", ip.ipv4_mapped)]
    if ip in _IPV4_TRANSLATED:
        return [("IPv4-translated", low32)]
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:
        return [("IPv4-compatible", low32)]
    if ip in _NAT64:
        return [("NAT64", low32)]
    if ip.sixtofour is not None:
        return [("6to4", ip.sixtofour)]
    if ip.teredo is not None:
        server, client = ip.teredo
        return [("Teredo server", server), ("Teredo client", client)]
    return []


def not_public_reason(address: str | IPAddress) -> str | None:
    """Why `address` is not public ("a private address", ...), or None when it is."""
    ip = _address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        for kind, inner in _embedded_ipv4(ip):
            reason = not_public_reason(inner)
            if reason is not None:
                return f"{kind} form of {inner}, {reason}"
        if ip.ipv4_mapped is not None or ip in _NAT64:
            return None  # it reaches exactly the IPv4 address, which is public
    for network, reason in _NETWORKS:
        if ip in network:
            return reason
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return "not a globally routable address"
    return None


def is_public_address(address: str | IPAddress) -> bool:
    """Whether `address` (an `ipaddress` object or a string, IPv6 zone allowed) is a global
    unicast address, and so is every IPv4 address it embeds."""
    return not_public_reason(address) is None


def _literal_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address a host spells in any form `inet_aton` takes (`127.1`, `0x7f.1`, `0177.0.0.1`,
    `2130706433`, ...); None for a name. A host whose last label is a number but that is no
    address is refused: resolvers and browsers disagree on what it means."""
    last = host.rsplit(".", 1)[-1]
    numeric = last.isdigit() or (last[:2] == "0x" and all(c in "0123456789abcdef" for c in last[2:]))
    if not (last.isascii() and numeric):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        raise UnsafeUrl(f"the host {host} ends in a number but is not an IPv4 address") from None


def _check_address(ip: IPAddress, shown: str, policy: OutboundPolicy) -> None:
    if policy.allows_address(ip):
        return
    reason = not_public_reason(ip) or "not a public address"
    raise UnsafeUrl(f"the host {shown} is not a public address: {reason}")


def _check_name(name: str) -> None:
    if any(not label for label in name.split(".")):
        raise UnsafeUrl(f"the host {name} has an empty label")
    if not all(c.isascii() and (c.isalnum() or c in "-_.") for c in name):
        raise UnsafeUrl("the host holds characters a host name cannot")
    if name in METADATA_NAMES:
        raise UnsafeUrl(f"the host {name} is a cloud metadata service")
    for suffix in LOCAL_SUFFIXES:
        if name == suffix or name.endswith("." + suffix):
            raise UnsafeUrl(f"the host {name} is a local or internal name (*.{suffix})")
    if "." not in name:
        raise UnsafeUrl(f"the host {name} is a single-label name, as internal services are; "
                        "use a fully qualified public name")


def _bad_character(text: str) -> bool:
    return any(c.isspace() or c == "\\" or unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp", "Zs")
               for c in text)


def check_url(url: str, *, policy: OutboundPolicy,
              schemes: Iterable[str] = ("http", "https")) -> str:
    """`url` unchanged if the platform may call it, else `UnsafeUrl` saying why.

    A request-time check: no name is looked up, so it neither waits on DNS nor sends anything;
    names are judged again, on their addresses, by `GuardedConnector` when connected.
    """
    allowed = tuple(schemes)
    if not isinstance(url, str) or not url:
        raise UnsafeUrl("not a URL")
    if _bad_character(url):
        raise UnsafeUrl("the URL holds white space, a backslash or a control character")
    try:
        parsed = URL(url)
        raw_host = parsed.raw_host
        parsed.port  # noqa: B018 - an out-of-range port raises here
    except (ValueError, TypeError, UnicodeError):
        raise UnsafeUrl("not a URL") from None
    if parsed.scheme not in allowed:
        raise UnsafeUrl(f"the scheme must be {' or '.join(allowed)}")
    if not raw_host:
        raise UnsafeUrl("the URL has no host")
    host = raw_host.lower()
    authority = url.partition("//")[2]
    for end in "/?#":
        authority = authority.partition(end)[0]
    if authority.rpartition("@")[2].startswith("["):
        try:
            ip = ipaddress.IPv6Address(_without_zone(host.replace("%25", "%")))
        except ValueError:
            raise UnsafeUrl("the host in brackets is not an IPv6 address") from None
        _check_address(ip, f"[{ip.compressed}]", policy)
        return url
    if host.endswith("."):  # one trailing dot makes a name absolute, the same host
        host = host[:-1]
    literal = _literal_ipv4(host)
    if literal is not None:
        _check_address(literal, host, policy)
        return url
    _check_name(host)
    return url


def check_socket_url(url: str, *, policy: OutboundPolicy) -> str:
    """A WebSocket URL (streaming sockets) the platform may connect to: `wss://`, whose
    certificate is checked when connecting; `ws://` only to 127.0.0.1 where `policy` opens loopback
    (development and tests). Otherwise `UnsafeUrl` saying why."""
    check_url(url, policy=policy, schemes=("ws", "wss") if policy.allow_loopback else ("wss",))
    if URL(url).scheme == "ws" and URL(url).raw_host != str(LOOPBACK):
        raise UnsafeUrl("ws:// is only for 127.0.0.1 in development; use wss://")
    return url


class GuardedConnector(aiohttp.TCPConnector):
    """A `TCPConnector` that connects only to addresses `policy` allows.

    It overrides `_resolve_host`, the step of `TCPConnector` (aiohttp 3.14) that turns a request's
    host into the list of addresses `_create_direct_connection` then connects to, one by one
    (happy eyeballs), and only those. It is the hook because it sees both kinds of host: a literal
    IP address does not go to the resolver at all (so a resolver alone would miss it), and a name
    comes back from the resolver or the DNS cache here. Keeping only the allowed addresses means
    the connection uses exactly what was checked; with none left, `AddressNotPublic` is raised
    before any socket is opened, which aiohttp wraps in a `ClientConnectorError`. Every new
    connection passes here: the first request, each redirect hop, and `ws://`/`wss://` sockets.
    A pooled connection is reused only for the same host and port, and was checked when opened.

    Proxies are refused: a proxy resolves the target itself, out of the guard's sight.
    """

    def __init__(self, policy: OutboundPolicy, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.policy = policy

    async def _resolve_host(self, host: str, port: int,
                            traces: Sequence[Any] | None = None) -> list[ResolveResult]:
        results = await super()._resolve_host(host, port, traces=traces)
        allowed = [r for r in results if self.policy.allows_address(r["host"])]
        if not allowed:
            raise AddressNotPublic(host, [r["host"] for r in results])
        return allowed

    async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> Any:
        if req.proxy:
            raise aiohttp.ClientConnectionError(
                "outbound calls to customer URLs do not go through a proxy")
        return await super()._create_connection(req, traces, timeout)


def guarded_connector(policy: OutboundPolicy, **kwargs: Any) -> GuardedConnector:
    """A `GuardedConnector`; `kwargs` go to `aiohttp.TCPConnector` (`resolver`, `force_close`,
    `limit`, ...)."""
    return GuardedConnector(policy, **kwargs)


def guarded_session(policy: OutboundPolicy, *, connector_kwargs: Mapping[str, Any] | None = None,
                    **kwargs: Any) -> aiohttp.ClientSession:
    """An `aiohttp.ClientSession` over a `GuardedConnector` that it owns, ignoring the
    environment's proxy settings; `kwargs` go to `ClientSession` (not `connector`, `trust_env`)."""
    for name in ("connector", "trust_env"):
        if name in kwargs:
            raise TypeError(f"guarded_session sets {name} itself")
    return aiohttp.ClientSession(connector=guarded_connector(policy, **dict(connector_kwargs or {})),
                                 trust_env=False, **kwargs)
