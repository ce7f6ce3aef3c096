"""Sockets of this machine: the TCP ports given processes listen on (read from /proc, no `ss`
needed), free ports, and whether a Unix socket is served."""

from __future__ import annotations

import os
import random
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ListeningSocket",
    "ephemeral_port_range",
    "find_free_ports",
    "listening_sockets",
    "port_is_free",
    "unix_socket_is_served",
]

_TCP_LISTEN = "0A"
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST_CHOSEN_PORT = 10_000


@dataclass(frozen=True)
class ListeningSocket:
    pid: int
    family: str  # "tcp" or "tcp6"
    address: str
    port: int

    @property
    def loopback_only(self) -> bool:
        return self.address.startswith("127.") or self.address == "::1"

    def __str__(self) -> str:
        host = f"[{self.address}]" if self.family == "tcp6" else self.address
        return f"{host}:{self.port} (pid {self.pid})"


def _decode(hex_addr: str, family: str) -> str:
    raw = bytes.fromhex(hex_addr)
    if family == "tcp":
        return socket.inet_ntop(socket.AF_INET, struct.pack("<I", struct.unpack(">I", raw)[0]))
    # tcp6: four 32-bit words, each in host (little endian) order
    words = struct.unpack(">4I", raw)
    return socket.inet_ntop(socket.AF_INET6, struct.pack("<4I", *words))


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        entries = list(fd_dir.iterdir())
    except (FileNotFoundError, PermissionError, ProcessLookupError):
        return inodes
    for fd in entries:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def listening_sockets(pids: Iterable[int]) -> list[ListeningSocket]:
    """Every TCP socket in LISTEN state owned by one of ``pids``."""
    found: list[ListeningSocket] = []
    for pid in pids:
        inodes = _socket_inodes(pid)
        if not inodes:
            continue
        for family in ("tcp", "tcp6"):
            try:
                # The table of the process's own network namespace.
                lines = Path(f"/proc/{pid}/net/{family}").read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if len(fields) < 10 or fields[3] != _TCP_LISTEN or fields[9] not in inodes:
                    continue
                addr_hex, port_hex = fields[1].split(":")
                found.append(
                    ListeningSocket(pid, family, _decode(addr_hex, family), int(port_hex, 16))
                )
    return found


def ephemeral_port_range() -> tuple[int, int]:
    """The ports the kernel gives the local end of outgoing connections (first, last)."""
    try:
        first, last = map(int, _EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        return 32768, 60999
    return first, last


def find_free_ports(count: int, *, host: str = "127.0.0.1", avoid: Iterable[int] = ()) -> list[int]:
    """``count`` distinct TCP ports free on ``host`` right now (none of them in ``avoid``),
    outside the kernel's ephemeral range: a port handed to a server that binds it a moment
    later cannot meanwhile become the local end of some outgoing connection (a server that
    then fails to bind one of its ports may well go on without it)."""
    first, last = ephemeral_port_range()
    avoid = set(avoid)
    candidates = [p for p in range(_LOWEST_CHOSEN_PORT, 65536)
                  if not first <= p <= last and p not in avoid]
    ports: list[int] = []
    for port in random.sample(candidates, len(candidates)):
        if port_is_free(port, host):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise OSError(f"fewer than {count} free ports on {host} outside {first}-{last}")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on ``host:port`` now. SO_REUSEADDR, as servers set it:
    connections of a stopped server lingering in TIME_WAIT do not make the port busy."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def unix_socket_is_served(path: Path | str) -> bool:
    """Whether a server accepts connections on the Unix socket at ``path`` now. A file no one
    listens on (refused, or gone) is not served; any other answer counts as served."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(1.0)
        try:
            s.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            return False
        except OSError:
            return True
    return True
