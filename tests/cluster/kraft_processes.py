"""A KRaft cluster of ``ferrokafka serve`` processes on loopback for tests: each node formatted
with ``ferrokafka storage format`` (one cluster id, static ``controller.quorum.voters``),
started, killed (SIGKILL) and restarted by PID, and stopped by PID at the end.

Every wait is bounded (``*_TIMEOUT_S``); what a node logged is in ``<work_dir>/n<id>/err``.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

REPO = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
POLL_S = 0.1
READY_LINE = "listening on"
ACTIVE_LINE = re.compile(r"node (\d+) is the active controller \(epoch (\d+)\)")


# Listener ports are picked below the kernel's ephemeral range: a port the kernel handed out
# with bind(0) and then released is in that range, where the outgoing connections of the nodes
# started first (a controller dialing its peers) may take it before the node meant for it binds.
PORT_LOW = 10_000
PORT_ATTEMPTS_MAX = 200
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def _free_port() -> int:
    """A loopback port free now, outside the ephemeral range, never handed out twice here."""
    high = _ephemeral_low()
    for _ in range(PORT_ATTEMPTS_MAX):
        port = random.randrange(PORT_LOW, high) if high > PORT_LOW else 0
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind((LOOPBACK, port))
            except OSError:
                continue
            port = int(sock.getsockname()[1])
        _handed_out.add(port)
        return port
    raise AssertionError("no free loopback port below the ephemeral range")


def _env() -> dict[str, str]:
    """Run the ferrokafka this process imports (the source tree's when it is on the path)."""
    import ferrokafka

    env = dict(os.environ)
    package_root = str(Path(ferrokafka.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in [package_root, str(REPO), env.get("PYTHONPATH", "")] if p
    )
    return env


def ferrokafka_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from ferrokafka_cli.main import main; main()", *args],
        env=_env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        check=False,
    )


@dataclass
class Node:
    node_id: int
    work_dir: Path
    port: int
    controller_port: int
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def config_file(self) -> Path:
        return self.work_dir / "server.properties"

    @property
    def err(self) -> Path:
        return self.work_dir / f"err.{self.starts}"

    @property
    def out(self) -> Path:
        return self.work_dir / f"out.{self.starts}"

    @property
    def bootstrap(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def logged(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.work_dir.glob("err.*")))

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class KRaftCluster:
    """``size`` voters sharing one static quorum — combined (broker+controller) nodes, or
    controller-only ones when ``combined`` is False (Kafka's production layout, e.g. 3+3) —
    and ``brokers`` broker-only nodes (ids after the voters'; the quorum's observers)."""

    work_dir: Path
    size: int = 3
    overrides: dict[str, str] = field(default_factory=dict)
    nodes: dict[int, Node] = field(default_factory=dict)
    cluster_id: str = ""
    brokers: int = 0
    combined: bool = True
    # The brokers' one listener (clients and inter-broker), its protocol and the controller
    # listener's (tests/security/test_internode_*.py: SASL_SSL and SSL); extra
    # ``storage format`` arguments (``--add-scram ...``).
    broker_listener: str = "PLAINTEXT"
    protocol_map: str = "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
    format_args: tuple[str, ...] = ()

    def is_broker(self, node_id: int) -> bool:
        return self.combined or not self.is_voter(node_id)

    def is_voter(self, node_id: int) -> bool:
        return node_id <= self.size

    @property
    def bootstrap_controller(self) -> str:
        voters = [n for n in self.nodes.values() if self.is_voter(n.node_id)]
        return ",".join(f"{LOOPBACK}:{n.controller_port}" for n in voters)

    def __post_init__(self) -> None:
        for node_id in range(1, self.size + self.brokers + 1):
            self.nodes[node_id] = Node(
                node_id, self.work_dir / f"n{node_id}", _free_port(), _free_port()
            )

    @property
    def bootstrap(self) -> str:
        return ",".join(n.bootstrap for n in self.nodes.values() if self.is_broker(n.node_id))

    def format(self) -> None:
        made = ferrokafka_cli("storage", "random-uuid")
        assert made.returncode == 0, made.stderr
        self.cluster_id = made.stdout.strip()
        voters = ",".join(
            f"{n.node_id}@{LOOPBACK}:{n.controller_port}"
            for n in self.nodes.values()
            if self.is_voter(n.node_id)
        )
        for node in self.nodes.values():
            node.work_dir.mkdir(parents=True)
            voter = self.is_voter(node.node_id)
            broker = self.is_broker(node.node_id)
            roles = [r for r, has in (("broker", broker), ("controller", voter)) if has]
            client = self.broker_listener
            listeners = [f"{client}://{LOOPBACK}:{node.port}"] if broker else []
            if voter:
                listeners.append(f"CONTROLLER://{LOOPBACK}:{node.controller_port}")
            broker_settings = {
                "advertised.listeners": f"{client}://{LOOPBACK}:{node.port}",
                "inter.broker.listener.name": client,
            }
            settings = {
                "process.roles": ",".join(roles),
                "node.id": str(node.node_id),
                "controller.quorum.voters": voters,
                "listeners": ",".join(listeners),
                **(broker_settings if broker else {}),
                "controller.listener.names": "CONTROLLER",
                "listener.security.protocol.map": self.protocol_map,
                "log.dirs": str(node.work_dir / "logs"),
                "metadata.log.dir": str(node.work_dir / "metadata"),
                # Internal topics of one replica (data topics choose their own factor).
                "offsets.topic.replication.factor": "1",
                "transaction.state.log.replication.factor": "1",
                "transaction.state.log.min.isr": "1",
                **self.overrides,
            }
            node.config_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
            formatted = ferrokafka_cli(
                "storage", "format", "-t", self.cluster_id, "-c", str(node.config_file),
                *self.format_args,
            )  # fmt: skip
            assert formatted.returncode == 0, formatted.stderr

    def start(self, node_id: int) -> None:
        node = self.nodes[node_id]
        assert not node.running(), f"node {node_id} is running"
        node.starts += 1
        node.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from ferrokafka_cli.main import main; main()",
                "serve",
                "--config",
                str(node.config_file),
                "--log-level",
                "INFO",
            ],
            env=_env(),
            cwd=REPO,
            stdout=node.out.open("wb"),
            stderr=node.err.open("wb"),
        )

    # How long a node may take to start, and how it says it is ready.
    start_timeout_s = START_TIMEOUT_S

    def _ready(self, node: Node) -> bool:
        """It printed its ready line (it is registered and unfenced)."""
        return node.out.exists() and READY_LINE in node.out.read_text(errors="replace")

    def wait_ready(self, *node_ids: int, timeout_s: float | None = None) -> float:
        """Until each node is ready (:meth:`_ready`)."""
        timeout_s = self.start_timeout_s if timeout_s is None else timeout_s
        started = time.monotonic()
        deadline = started + timeout_s
        waiting = set(node_ids or self.nodes)
        while waiting:
            for node_id in list(waiting):
                node = self.nodes[node_id]
                if not node.running():
                    raise AssertionError(f"node {node_id} exited: {node.logged()[-3000:]}")
                if self._ready(node):
                    waiting.discard(node_id)
            if waiting and time.monotonic() > deadline:
                raise AssertionError(f"nodes {sorted(waiting)} not ready in {timeout_s} s")
            time.sleep(POLL_S)
        return time.monotonic() - started

    def active_controller(self, after_epoch: int = 0) -> tuple[int, int] | None:
        """The (node, epoch) of the newest activation logged past ``after_epoch``."""
        found = [
            (int(epoch), int(node_id))
            for node in self.nodes.values()
            for node_id, epoch in ACTIVE_LINE.findall(node.logged())
            if int(epoch) > after_epoch and self.nodes[int(node_id)].running()
        ]
        if not found:
            return None
        epoch, node_id = max(found)
        return node_id, epoch

    def wait_active_controller(
        self, after_epoch: int = 0, timeout_s: float = START_TIMEOUT_S
    ) -> tuple[int, int]:
        deadline = time.monotonic() + timeout_s
        while (found := self.active_controller(after_epoch)) is None:
            assert time.monotonic() < deadline, f"no active controller past epoch {after_epoch}"
            time.sleep(POLL_S)
        return found

    def kill(self, node_id: int) -> None:
        kill_node(self.nodes[node_id])

    def close(self) -> None:
        """Kill every node by PID (the end of a test: no quorum is left to shut down under)."""
        close_nodes(self.nodes.values())

    @contextlib.contextmanager
    def running(self) -> Iterator[KRaftCluster]:
        """Formatted, every node started and ready, for the block; killed by PID after it."""
        try:
            self.format()
            for node_id in self.nodes:
                self.start(node_id)
            self.wait_ready()
            yield self
        finally:
            self.close()


class _HasProcess(Protocol):
    process: subprocess.Popen[bytes] | None


def kill_node(node: _HasProcess) -> None:
    """SIGKILL a running node by its PID and reap it."""
    assert node.process is not None
    os.kill(node.process.pid, signal.SIGKILL)
    node.process.wait(STOP_TIMEOUT_S)
    node.process = None


def close_nodes(nodes: Iterable[_HasProcess]) -> None:
    """Kill whatever of ``nodes`` still runs, by PID; never raises for a stopped one."""
    for node in nodes:
        if node.process is not None and node.process.poll() is None:
            kill_node(node)
        node.process = None
