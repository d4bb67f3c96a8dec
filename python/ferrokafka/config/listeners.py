"""Listener, security-protocol-map and quorum address strings, parsed with Kafka's rules.

``listeners=PLAINTEXT://:9092,CONTROLLER://[::1]:9093`` becomes :class:`Endpoint` values
(name upper-cased as Kafka normalises it, empty host meaning every interface); names must be
unique and ports distinct except that one IPv4 and one IPv6 listener may share a port (Kafka's
KIP-797 rule); port 0 asks for an ephemeral port and never clashes.
"""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from dataclasses import dataclass

from ferrokafka.config.definitions import ConfigError

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SUPPORTED_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
# Listeners whose connections are TLS (SASL_SSL: TLS first, then SASL inside it).
TLS_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})
PORT_MAX = 65535

# Kafka's listener pattern: NAME://host:port, host optionally in brackets (IPv6 literals).
_LISTENER = re.compile(r"(.*)://\[?([0-9a-zA-Z\-%._:]*)\]?:(-?[0-9]+)")
# Kafka's host:port pattern (Utils.getHost/getPort) for quorum voters and bootstrap servers.
_HOST_PORT = re.compile(r"\[?([0-9a-zA-Z\-%._:]*)\]?:([0-9]+)")
_CSV = re.compile(r"\s*,\s*")


@dataclass(frozen=True)
class Endpoint:
    """One listener: ``name`` (upper case), ``host`` ("" = all interfaces), ``port``."""

    name: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.name}://{host}:{self.port}"


@dataclass(frozen=True)
class QuorumVoter:
    """One ``controller.quorum.voters`` entry: ``id@host:port``."""

    node_id: int
    host: str
    port: int


def split_csv(value: str) -> list[str]:
    """Kafka's ``Csv.parseCsvList``: comma-separated, whitespace around commas dropped, empty
    entries ignored."""
    return [item for item in _CSV.split(value.strip()) if item]


def parse_protocol_map(key: str, value: str) -> dict[str, str]:
    """``NAME:PROTOCOL,...`` to {listener name: security protocol}, both upper-cased."""
    result: dict[str, str] = {}
    for entry in split_csv(value):
        name, sep, protocol = (part.strip() for part in entry.partition(":"))
        if not sep or not name or not protocol:
            raise ConfigError(key, value, f"entry {entry!r} is not of the form NAME:PROTOCOL")
        protocol = protocol.upper()
        if protocol not in SECURITY_PROTOCOLS:
            raise ConfigError(
                key,
                value,
                f"unknown security protocol {protocol!r} (one of {', '.join(SECURITY_PROTOCOLS)})",
            )
        result[name.upper()] = protocol
    return result


def parse_listeners(key: str, value: str, *, require_distinct_ports: bool) -> list[Endpoint]:
    """``listeners`` / ``advertised.listeners`` to endpoints, checked as Kafka checks them."""
    endpoints = [_parse_endpoint(key, value, item) for item in split_csv(value)]
    names = [ep.name for ep in endpoints]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(key, value, f"each listener must have a different name: {duplicates}")
    if require_distinct_ports:
        _check_distinct_ports(key, value, endpoints)
    return endpoints


def _parse_endpoint(key: str, whole: str, item: str) -> Endpoint:
    match = _LISTENER.fullmatch(item)
    if match is None:
        raise ConfigError(
            key,
            whole,
            f"listener {item!r} is not of the form NAME://host:port (e.g. PLAINTEXT://:9092)",
        )
    name, host, port_text = match.groups()
    if not name:
        raise ConfigError(key, whole, f"listener {item!r} has no name")
    port = int(port_text)
    if not 0 <= port <= PORT_MAX:
        raise ConfigError(key, whole, f"listener {item!r}: port must be in [0, {PORT_MAX}]")
    return Endpoint(name.upper(), host, port)


def _ip_version(host: str) -> int | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).version
    except ValueError:
        return None


def _check_distinct_ports(key: str, whole: str, endpoints: list[Endpoint]) -> None:
    by_port: dict[int, list[Endpoint]] = defaultdict(list)
    for ep in endpoints:
        if ep.port != 0:  # port 0: the OS picks a free port, so these never collide
            by_port[ep.port].append(ep)
    for port, group in by_port.items():
        if len(group) == 1:
            continue
        versions = sorted(_ip_version(ep.host) or 0 for ep in group)
        if versions != [4, 6]:
            raise ConfigError(
                key,
                whole,
                f"each listener must have a different port (port {port} is used by "
                f"{', '.join(ep.name for ep in group)}) unless one is IPv4 and the other IPv6",
            )


def parse_host_port(key: str, whole: str, item: str) -> tuple[str, int]:
    match = _HOST_PORT.fullmatch(item)
    if match is None or not match.group(1):
        raise ConfigError(key, whole, f"{item!r} is not of the form host:port")
    port = int(match.group(2))
    if not 0 < port <= PORT_MAX:
        raise ConfigError(key, whole, f"{item!r}: port must be in [1, {PORT_MAX}]")
    return match.group(1), port


def parse_voters(key: str, items: list[str]) -> list[QuorumVoter]:
    """``controller.quorum.voters``: ``id@host:port`` entries with distinct ids."""
    whole = ",".join(items)
    voters: list[QuorumVoter] = []
    for item in items:
        node_id_text, sep, address = item.partition("@")
        if not sep or not node_id_text.isdigit():
            raise ConfigError(key, whole, f"voter {item!r} is not of the form id@host:port")
        host, port = parse_host_port(key, whole, address)
        voters.append(QuorumVoter(int(node_id_text), host, port))
    ids = [v.node_id for v in voters]
    if len(set(ids)) != len(ids):
        raise ConfigError(key, whole, "each voter must have a different id")
    return voters


def parse_bootstrap_servers(key: str, items: list[str]) -> list[tuple[str, int]]:
    """``controller.quorum.bootstrap.servers``: ``host:port`` entries."""
    whole = ",".join(items)
    return [parse_host_port(key, whole, item) for item in items]
