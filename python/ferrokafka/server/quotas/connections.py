"""Connections per client IP: ``max.connections.per.ip`` and
``max.connections.per.ip.overrides`` (Kafka's ``ConnectionQuotas``).

The acceptor counts the open connections of each address; one more than its limit is accepted
and closed at once (Kafka's TooManyConnectionsException), and the connections already open keep
working. An override is ``host:count`` pairs separated by commas, a host being an IP address or
a name (resolved once, when the config is read); an empty host name is Kafka's error too.
"""

from __future__ import annotations

import ipaddress
import socket
from collections import Counter
from collections.abc import Mapping

from ferrokafka.config import ConfigError

INT_MAX = 2**31 - 1


OVERRIDES_KEY = "max.connections.per.ip.overrides"


class ConnectionLimitConfigError(ConfigError):
    """A malformed ``max.connections.per.ip.overrides``: one line saying which pair."""

    def __init__(self, value: str, reason: str) -> None:
        super().__init__(OVERRIDES_KEY, value, reason)


def parse_overrides(text: str) -> dict[str, int]:
    """``host:count,host:count`` as a map of IP address (text) to limit."""
    overrides: dict[str, int] = {}
    for pair in (p.strip() for p in text.split(",")):
        if not pair:
            continue
        host, sep, count = pair.rpartition(":")
        if not sep or not host or not count.strip().isdigit():
            raise ConnectionLimitConfigError(text, f"{pair!r} is not host:count")
        overrides[_address(host.strip())] = int(count)
    return overrides


def _address(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    try:
        return str(socket.getaddrinfo(host, None)[0][4][0])
    except OSError as exc:
        raise ConnectionLimitConfigError(host, f"cannot resolve {host!r} ({exc})") from exc


class ConnectionsPerIp:
    """Open connections per client address, and whether one more may open."""

    def __init__(self, per_ip: int = INT_MAX, overrides: Mapping[str, int] | None = None):
        self.per_ip = per_ip
        self.overrides = dict(overrides or {})
        self._open: Counter[str] = Counter()

    @property
    def unlimited(self) -> bool:
        return self.per_ip >= INT_MAX and not self.overrides

    def limit(self, address: str) -> int:
        return self.overrides.get(address, self.per_ip)

    def try_open(self, address: str) -> bool:
        """Count a new connection of ``address``; False (not counted) when over its limit."""
        if self._open[address] >= self.limit(address):
            return False
        self._open[address] += 1
        return True

    def closed(self, address: str) -> None:
        left = self._open[address] - 1
        if left > 0:
            self._open[address] = left
        else:
            self._open.pop(address, None)

    def count(self, address: str) -> int:
        return self._open.get(address, 0)


def normalized(address: str) -> str:
    """A peer address as the overrides key it (an IPv4-mapped IPv6 address as IPv4)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)
