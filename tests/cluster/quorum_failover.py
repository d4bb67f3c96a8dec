"""Failover times of a 3-voter KRaft quorum of processes: SIGKILL the quorum's leader (the
active controller), then measure until

- ``quorum_s``: a surviving controller answers DescribeQuorum as the leader of a later epoch;
- ``create_s``: a CreateTopics sent to a surviving broker right after the kill (and again after
  each error answer) creates its topic — the broker had to find the new active controller.

The killed node is restarted and caught up before the next kill, so every kill is of a
healthy quorum. The same loop runs against ferrokafka (``serve`` processes) or Apache Kafka
4.4 (three combined nodes from the jars). Figures, not assertions:

    python tests/cluster/quorum_failover.py --kills 10            # ferrokafka
    python tests/cluster/quorum_failover.py --kills 10 --kafka    # Apache Kafka, same machine

``tests/cluster/test_quorum_failover.py`` runs the loop (FERROKAFKA_FAILOVER_KILLS, default 2).
Every wait is bounded (``*_TIMEOUT_S``), every process is stopped by its PID.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import trio

HERE = Path(__file__).resolve().parent
for _path in (HERE, HERE.parent):  # kraft_processes, kafka_support
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from kraft_processes import LOOPBACK, KRaftCluster  # noqa: E402

import kafka_support as ks  # noqa: E402
from ferrokafka.cluster.node_client import NodeClient, NodeUnavailableError  # noqa: E402
from ferrokafka.protocol.error_codes import NONE  # noqa: E402
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest  # noqa: E402
from ferrokafka.protocol.messages.describe_quorum import DescribeQuorumRequest  # noqa: E402
from kafka_support.broker import (  # noqa: E402
    BROKER_CLASS,
    BROKER_JVM_OPTIONS,
    STORAGE_TOOL_CLASS,
    free_loopback_port,
    random_cluster_id,
)
from kafka_support.jars import write_log4j2_config  # noqa: E402

KILLS_MAX = 100
FAILOVER_TIMEOUT_S = 60.0  # one failover, both measures
CATCH_UP_TIMEOUT_S = 90.0  # a restarted node rejoining
POLL_S = 0.01  # between two DescribeQuorum rounds, or after an error answer
CALL_TIMEOUT_S = 5.0
CREATE_TIMEOUT_MS = 30_000
VOTERS = (1, 2, 3)


class QuorumProcesses(Protocol):
    """A cluster of 3 combined nodes whose processes can be killed and restarted."""

    def controller_address(self, node_id: int) -> tuple[str, int]: ...

    def broker_address(self, node_id: int) -> tuple[str, int]: ...

    def kill(self, node_id: int) -> None: ...

    def restart(self, node_id: int) -> None: ...


@dataclass(frozen=True)
class Failover:
    killed: int
    old_epoch: int
    new_leader: int
    new_epoch: int
    quorum_s: float
    create_s: float


@dataclass(frozen=True)
class QuorumView:
    leader: int
    epoch: int
    high_watermark: int
    end_offsets: dict[int, int]


def describe_request() -> DescribeQuorumRequest:
    return DescribeQuorumRequest(
        topics=[
            DescribeQuorumRequest.TopicData(
                topic_name="__cluster_metadata",
                partitions=[DescribeQuorumRequest.PartitionData(partition_index=0)],
            )
        ]
    )


async def ask_quorum(client: NodeClient) -> QuorumView | None:
    """The leader's view, or None when this node does not lead or cannot be reached."""
    try:
        response = await client.call(describe_request())
    except NodeUnavailableError:
        return None
    (partition,) = response.topics[0].partitions
    if response.error_code != NONE or partition.error_code != NONE:
        return None
    return QuorumView(
        partition.leader_id,
        partition.leader_epoch,
        partition.high_watermark,
        {r.replica_id: r.log_end_offset for r in partition.current_voters},
    )


class Clients:
    """One NodeClient per address, closed together."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, int], NodeClient] = {}

    def of(self, address: tuple[str, int]) -> NodeClient:
        if address not in self._clients:
            self._clients[address] = NodeClient(
                address, client_id="quorum-failover", timeout_s=CALL_TIMEOUT_S
            )
        return self._clients[address]

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()


async def wait_leader(
    cluster: QuorumProcesses,
    clients: Clients,
    voters: tuple[int, ...],
    done: Callable[[QuorumView], bool],
    timeout_s: float,
) -> QuorumView:
    with trio.fail_after(timeout_s):
        while True:
            for node_id in voters:
                view = await ask_quorum(clients.of(cluster.controller_address(node_id)))
                if view is not None and done(view):
                    return view
            await trio.sleep(POLL_S)


async def create_topic(client: NodeClient, name: str) -> None:
    """Until the topic is created (a broker answers an error while no controller is active)."""
    request = CreateTopicsRequest(
        topics=[
            CreateTopicsRequest.CreatableTopic(name=name, num_partitions=1, replication_factor=1)
        ],
        timeout_ms=CREATE_TIMEOUT_MS,
    )
    while True:
        try:
            response = await client.call(request)
        except NodeUnavailableError:
            response = None
        if response is not None and response.topics[0].error_code == NONE:
            return
        await trio.sleep(POLL_S)


async def one_failover(cluster: QuorumProcesses, clients: Clients, number: int) -> Failover:
    before = await wait_leader(cluster, clients, VOTERS, lambda v: True, FAILOVER_TIMEOUT_S)
    survivors = tuple(v for v in VOTERS if v != before.leader)
    broker = clients.of(cluster.broker_address(survivors[0]))
    # Connected before the clock starts (a connection to a node since restarted fails once).
    for _ in range(2):
        with contextlib.suppress(NodeUnavailableError):
            await broker.call(describe_request())
            break
    times: dict[str, float] = {}
    found: list[QuorumView] = []
    start = trio.current_time()
    cluster.kill(before.leader)

    async def quorum() -> None:
        found.append(
            await wait_leader(
                cluster, clients, survivors, lambda v: v.epoch > before.epoch, FAILOVER_TIMEOUT_S
            )
        )
        times["quorum"] = trio.current_time() - start

    async def create() -> None:
        with trio.fail_after(FAILOVER_TIMEOUT_S):
            await create_topic(broker, f"failover-{number}-{time.time_ns()}")
        times["create"] = trio.current_time() - start

    async with trio.open_nursery() as nursery:
        nursery.start_soon(quorum)
        nursery.start_soon(create)
    (after,) = found
    return Failover(
        before.leader, before.epoch, after.leader, after.epoch, times["quorum"], times["create"]
    )


async def rejoin(cluster: QuorumProcesses, clients: Clients, node_id: int) -> None:
    """Restart ``node_id`` and wait until the leader sees it at the high watermark."""
    await trio.to_thread.run_sync(cluster.restart, node_id)
    await wait_leader(
        cluster,
        clients,
        VOTERS,
        lambda v: v.end_offsets.get(node_id, -1) >= v.high_watermark > 0,
        CATCH_UP_TIMEOUT_S,
    )


async def measure(cluster: QuorumProcesses, kills: int) -> list[Failover]:
    if not 0 < kills <= KILLS_MAX:
        raise ValueError(f"kills must be in 1..{KILLS_MAX}")
    clients = Clients()
    results = []
    try:
        for number in range(kills):
            failover = await one_failover(cluster, clients, number)
            results.append(failover)
            await rejoin(cluster, clients, failover.killed)
    finally:
        await clients.aclose()
    return results


def summary(name: str, results: list[Failover]) -> str:
    def figures(values: list[float]) -> str:
        return f"median {statistics.median(values):.2f} s, max {max(values):.2f} s"

    return (
        f"{name}: {len(results)} kills of the leader; new leader answers DescribeQuorum: "
        f"{figures([r.quorum_s for r in results])}; CreateTopics through a broker: "
        f"{figures([r.create_s for r in results])}"
    )


# -- the two kinds of cluster ---------------------------------------------------------------


class FerrokafkaQuorum:
    def __init__(self, work_dir: Path) -> None:
        self.cluster = KRaftCluster(work_dir)

    def __enter__(self) -> FerrokafkaQuorum:
        self.cluster.format()
        for node_id in self.cluster.nodes:
            self.cluster.start(node_id)
        self.cluster.wait_ready()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cluster.close()

    def controller_address(self, node_id: int) -> tuple[str, int]:
        return (LOOPBACK, self.cluster.nodes[node_id].controller_port)

    def broker_address(self, node_id: int) -> tuple[str, int]:
        return (LOOPBACK, self.cluster.nodes[node_id].port)

    def kill(self, node_id: int) -> None:
        self.cluster.kill(node_id)

    def restart(self, node_id: int) -> None:
        self.cluster.start(node_id)
        self.cluster.wait_ready(node_id)


class KafkaQuorum:
    """Three Apache Kafka 4.4 combined nodes (static ``controller.quorum.voters``) from the
    jars, one JVM each (the test JVM flags of kafka_support), killed by PID."""

    START_TIMEOUT_S = 120.0
    STOP_TIMEOUT_S = 10.0

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.ports = {n: (free_loopback_port(), free_loopback_port()) for n in VOTERS}
        self.processes: dict[int, subprocess.Popen[bytes]] = {}
        self.starts = itertools.count()

    def _dir(self, node_id: int) -> Path:
        return self.work_dir / f"kafka{node_id}"

    def __enter__(self) -> KafkaQuorum:
        cluster_id = random_cluster_id()
        voters = ",".join(f"{n}@{LOOPBACK}:{c}" for n, (_, c) in self.ports.items())
        for node_id, (port, controller_port) in self.ports.items():
            directory = self._dir(node_id)
            directory.mkdir(parents=True)
            settings = {
                "process.roles": "broker,controller",
                "node.id": str(node_id),
                "controller.quorum.voters": voters,
                "listeners": f"PLAINTEXT://{LOOPBACK}:{port},CONTROLLER://{LOOPBACK}:{controller_port}",
                "advertised.listeners": f"PLAINTEXT://{LOOPBACK}:{port}",
                "controller.listener.names": "CONTROLLER",
                "inter.broker.listener.name": "PLAINTEXT",
                "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                "log.dirs": str(directory / "data"),
                "offsets.topic.replication.factor": "1",
                "transaction.state.log.replication.factor": "1",
                "transaction.state.log.min.isr": "1",
                "num.network.threads": "2",
                "num.io.threads": "2",
                "background.threads": "2",
            }
            config = directory / "server.properties"
            config.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
            write_log4j2_config(
                directory / "log4j2.properties", log_file=directory / "kafka.log", level="info"
            )
            ks.run_kafka_tool(
                STORAGE_TOOL_CLASS,
                ["format", "--cluster-id", cluster_id, "--config", str(config)],
                work_dir=directory,
            )
        for node_id in VOTERS:
            self._spawn(node_id)
        for node_id in VOTERS:
            self._wait_port(node_id)
        return self

    def __exit__(self, *exc: object) -> None:
        for node_id in list(self.processes):
            self.kill(node_id)

    def _spawn(self, node_id: int) -> None:
        directory = self._dir(node_id)
        command = [
            ks.java_executable(),
            *BROKER_JVM_OPTIONS,
            f"-Dlog4j2.configurationFile={directory / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={directory}",
            "-cp",
            ks.kafka_classpath(),
            BROKER_CLASS,
            str(directory / "server.properties"),
        ]
        with open(directory / f"console.{next(self.starts)}", "wb") as console:
            self.processes[node_id] = subprocess.Popen(
                command,
                cwd=directory,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
            )

    def _wait_port(self, node_id: int) -> None:
        import socket

        deadline = time.monotonic() + self.START_TIMEOUT_S
        while True:
            assert self.processes[node_id].poll() is None, f"Kafka node {node_id} exited"
            try:
                with socket.create_connection(self.broker_address(node_id), timeout=1):
                    return
            except OSError:
                assert time.monotonic() < deadline, f"Kafka node {node_id} did not start"
                time.sleep(0.1)

    def controller_address(self, node_id: int) -> tuple[str, int]:
        return (LOOPBACK, self.ports[node_id][1])

    def broker_address(self, node_id: int) -> tuple[str, int]:
        return (LOOPBACK, self.ports[node_id][0])

    def kill(self, node_id: int) -> None:
        process = self.processes.pop(node_id)
        if process.poll() is None:
            process.kill()
        process.wait(self.STOP_TIMEOUT_S)

    def restart(self, node_id: int) -> None:
        self._spawn(node_id)
        self._wait_port(node_id)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--kafka", action="store_true", help="Apache Kafka 4.4 instead")
    args = parser.parse_args(argv)
    work_dir = Path(tempfile.mkdtemp(prefix="quorum-failover-"))
    try:
        quorum: Any = KafkaQuorum(work_dir) if args.kafka else FerrokafkaQuorum(work_dir)
        with quorum:
            results = trio.run(measure, quorum, args.kills)
        for r in results:
            print(
                f"killed {r.killed} (epoch {r.old_epoch}) -> leader {r.new_leader} "
                f"(epoch {r.new_epoch}): quorum {r.quorum_s:.3f} s, create {r.create_s:.3f} s"
            )
        print(summary("Apache Kafka 4.4" if args.kafka else "ferrokafka", results))
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
