"""Network namespaces for nodes (needs root and ``ip``): each node in its own namespace with
one veth link to a bridge on the host, so that a later nemesis can cut links with real kernel
behaviour (``ip link set ... down``, blackhole routes) instead of killing processes. ``tc
netem`` and iptables are not assumed: a blackhole route drops one direction, one route on
each side a whole link.

:class:`Bridge` is the host side: a bridge with the first address of a /24 and a namespace
per node (:meth:`Bridge.placement`), each a :class:`~.nodes.Placement` for
:class:`~.nodes.FerrokafkaNode`. Clients stay in the host namespace and reach the nodes
through the bridge. :meth:`Bridge.close` deletes every namespace and the bridge, whatever
state they are in.

Names carry this process's PID, so runs side by side do not collide; the subnet is drawn
among 10.213.0.0/16's /24s that no interface of the host uses.
"""

from __future__ import annotations

import ipaddress
import os
import random
import subprocess

IP_TIMEOUT_S = 10.0
SUBNETS = ipaddress.ip_network("10.213.0.0/16")
# The subnets this process's bridges took, and the draw (seeded by the PID: concurrent
# processes draw apart).
_SUBNETS_TAKEN: set[ipaddress.IPv4Network] = set()
_SUBNET_CHOICE = random.Random(os.getpid())
# Inside a fresh namespace nothing else listens: every node uses Kafka's ports.
NODE_PORTS = (9092, 9093)
NODES_MAX = 200


def _ip(*args: str, netns: str | None = None) -> str:
    command = ["ip", *(["-n", netns] if netns else []), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=IP_TIMEOUT_S)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}: {done.stderr.strip()}")
    return done.stdout


def _used_networks() -> list[ipaddress.IPv4Network]:
    """The networks of every IPv4 address on the host's interfaces."""
    used = []
    for line in _ip("-4", "-o", "addr", "show").splitlines():
        fields = line.split()
        if "inet" in fields:
            used.append(ipaddress.ip_interface(fields[fields.index("inet") + 1]).network)
    return used


class NamespacePlacement:
    """A node's namespace: its address on the bridge and ``ip netns exec`` to run there."""

    def __init__(self, netns: str, host: str) -> None:
        self.netns = netns
        self._host = host
        self._ports = list(NODE_PORTS)

    @property
    def host(self) -> str:
        return self._host

    def command_prefix(self) -> list[str]:
        # `ip netns exec` execs the command in place: the PID is the node's own.
        return ["ip", "netns", "exec", self.netns]

    def free_port(self) -> int:
        return self._ports.pop(0)

    def link_down(self) -> None:
        """Cut the node off (its end of the veth down); :meth:`link_up` restores it."""
        _ip("link", "set", "eth0", "down", netns=self.netns)

    def link_up(self) -> None:
        _ip("link", "set", "eth0", "up", netns=self.netns)

    def block(self, address: str) -> None:
        """Drop every packet this namespace sends to ``address`` (a blackhole route): one
        direction only. New connections from here fail at once (EINVAL, no route); packets of
        established ones vanish; the other side's packets still arrive, but as TCP needs the
        answers, its connections hang until they time out."""
        _ip("route", "add", "blackhole", f"{address}/32", netns=self.netns)

    def unblock(self, address: str) -> None:
        _ip("route", "del", "blackhole", f"{address}/32", netns=self.netns)

    def blocked(self) -> list[str]:
        """The addresses this namespace drops packets to (its blackhole routes)."""
        routes = _ip("route", "show", "type", "blackhole", netns=self.netns)
        return [line.split()[1].removesuffix("/32") for line in routes.splitlines() if line]


class Bridge:
    """A bridge on the host and one namespace per node placed on it."""

    def __init__(self, name: str | None = None) -> None:
        tag = name or f"fk{os.getpid() % 100_000}"
        self.bridge = f"{tag}br"
        self.tag = tag
        used = _used_networks()
        free = [n for n in SUBNETS.subnets(new_prefix=24) if not any(n.overlaps(u) for u in used)]
        # Not a subnet an earlier bridge of this process had: a client of an earlier run left
        # behind in this process (a librdkafka call that never returned) would reach the new
        # nodes at the same addresses, and its metadata requests auto-create topics there.
        fresh = [n for n in free if n not in _SUBNETS_TAKEN] or free
        self.subnet = _SUBNET_CHOICE.choice(fresh)
        _SUBNETS_TAKEN.add(self.subnet)
        self.gateway = str(self.subnet[1])
        self.namespaces: list[str] = []
        self.links: list[str] = []
        _ip("link", "add", self.bridge, "type", "bridge")
        try:
            _ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
        except BaseException:
            self.close()
            raise

    def placement(self, index: int) -> NamespacePlacement:
        """Namespace ``<tag>n<index>`` with address .(10 + index), reachable from the host."""
        if not 0 <= index < NODES_MAX:
            raise ValueError(f"node index {index} out of 0..{NODES_MAX - 1}")
        netns, link = f"{self.tag}n{index}", f"{self.tag}v{index}"
        address = str(self.subnet[10 + index])
        _ip("netns", "add", netns)
        self.namespaces.append(netns)
        _ip("link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", netns)
        self.links.append(link)
        _ip("link", "set", link, "master", self.bridge, "up")
        _ip("addr", "add", f"{address}/24", "dev", "eth0", netns=netns)
        _ip("link", "set", "lo", "up", netns=netns)
        _ip("link", "set", "eth0", "up", netns=netns)
        return NamespacePlacement(netns, address)

    def close(self) -> None:
        """Delete the namespaces (their veth ends go with them), the links and the bridge;
        errors on things already gone are ignored. Processes still running in a namespace
        must be stopped first (by the nodes that started them)."""
        for netns in self.namespaces:
            subprocess.run(["ip", "netns", "del", netns], capture_output=True, timeout=IP_TIMEOUT_S)
        for link in self.links:
            subprocess.run(["ip", "link", "del", link], capture_output=True, timeout=IP_TIMEOUT_S)
        subprocess.run(
            ["ip", "link", "del", self.bridge], capture_output=True, timeout=IP_TIMEOUT_S
        )
        self.namespaces, self.links = [], []
