"""Two RaftDrivers and one Apache Kafka 4.4 controller (``process.roles=controller``) in one
static quorum (``controller.quorum.voters``): a leader is elected among the three, every
member agrees on it and its epoch (Kafka's view read from its own ``quorum-state`` file), and
the records of the epoch commit on both drivers.

Twice: with Kafka's timeouts everywhere (a driver usually wins: it is up before the JVM), and
with the drivers' election timeout far longer than Kafka's, so that Kafka runs the election
(our Vote answers its pre-vote and vote), leads, and the drivers replicate its records — the
batches on our disk are then byte for byte the ones in Kafka's segment."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import trio

from ferrokafka.cluster.raft.driver import RaftDriver
from ferrokafka.cluster.raft.native_log import NativeRaftLog
from ferrokafka.cluster.raft.quorum import QuorumConfig
from ferrokafka.cluster.raft.quorum_state import QuorumStateError, QuorumStateFile
from ferrokafka.cluster.serde import decode_record
from ferrokafka.server.connection import ConnectionLimits
from ferrokafka.server.dispatcher import Dispatcher
from ferrokafka.server.handlers import build_dispatchers
from ferrokafka.server.handlers.raft import register_raft_handlers
from ferrokafka.server.server import ListenerSpec, Server, ServerLimits
from ferrokafka.storage import decode_batches
from kafka_support.broker import free_loopback_port
from kafka_support.jars import (
    file_tail,
    java_executable,
    kafka_classpath,
    run_kafka_tool,
    write_log4j2_config,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

CLUSTER_ID = "MkU3OEVBNTcwNTJENDM2Qg"
KAFKA_NODE = 3
AGREE_TIMEOUT_S = 90.0  # a cold JVM on two cores takes a while to start
POLL_S = 0.2
JVM = ("-Xms128m", "-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")


class KafkaController:
    def __init__(self, work: Path, voters: dict[int, tuple[str, int]]) -> None:
        self.work = work
        self.data = work / "data"
        self.config = work / "controller.properties"
        self.log_file = work / "controller.log"
        port = voters[KAFKA_NODE][1]
        quorum = ",".join(f"{i}@{h}:{p}" for i, (h, p) in sorted(voters.items()))
        settings = {
            "process.roles": "controller",
            "node.id": str(KAFKA_NODE),
            "controller.quorum.voters": quorum,
            "listeners": f"CONTROLLER://127.0.0.1:{port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data),
            "num.network.threads": "1",
            "num.io.threads": "1",
        }
        work.mkdir(parents=True, exist_ok=True)
        self.config.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        write_log4j2_config(work / "log4j2.properties", log_file=self.log_file, level="info")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        run_kafka_tool(
            "kafka.tools.StorageTool",
            ["format", "--cluster-id", CLUSTER_ID, "--config", str(self.config)],
            work_dir=self.work,
        )
        with open(self.work / "console.log", "ab") as console:
            self.process = subprocess.Popen(
                [
                    java_executable(),
                    *JVM,
                    f"-Dlog4j2.configurationFile={self.work / 'log4j2.properties'}",
                    f"-Dkafka.logs.dir={self.work}",
                    "-cp",
                    kafka_classpath(),
                    "kafka.Kafka",
                    str(self.config),
                ],
                cwd=self.work,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
            )

    def election(self):
        try:
            return QuorumStateFile(self.data / "__cluster_metadata-0").read()
        except QuorumStateError:
            return None  # being replaced as we read

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def tail(self) -> str:
        return file_tail(self.log_file) if self.log_file.exists() else ""


# Kafka's controller.quorum.election.timeout.ms is 1 s: ten times that, and Kafka's timer fires
# first.
SLOW_ELECTIONS = QuorumConfig(election_timeout_ms=10_000, fetch_timeout_ms=20_000)


@pytest.mark.parametrize("kafka_leads", [False, True], ids=["any-leader", "kafka-leads"])
def test_drivers_and_a_kafka_controller_elect_one_leader(tmp_path: Path, kafka_leads: bool) -> None:
    voters = {i: ("127.0.0.1", free_loopback_port()) for i in (1, 2, KAFKA_NODE)}
    kafka = KafkaController(tmp_path / "kafka", voters)
    config = SLOW_ELECTIONS if kafka_leads else QuorumConfig()
    drivers = {
        i: RaftDriver(
            node_id=i,
            voters=voters,
            cluster_id=CLUSTER_ID,
            metadata_dir=tmp_path / f"node-{i}",
            config=config,
        )
        for i in (1, 2)
    }

    def agreed() -> tuple[int, int] | None:
        stored = kafka.election()
        views = {(d.leader_id, d.epoch) for d in drivers.values()}
        if stored is None or stored.leader_id is None or len(views) != 1:
            return None
        [(leader, epoch)] = views
        if (leader, epoch) != (stored.leader_id, stored.epoch):
            return None
        if any(d.committed_offset < 1 for d in drivers.values()):
            return None  # the epoch's first record is not committed on both yet
        if kafka_leads and any(d.committed_offset < 2 for d in drivers.values()):
            return None  # Kafka's bootstrap records too
        return leader, epoch

    async def main() -> tuple[int, int] | None:
        async with trio.open_nursery() as nursery:
            for i, driver in drivers.items():
                dispatcher: Dispatcher = build_dispatchers()["controller"]  # with ApiVersions
                register_raft_handlers(dispatcher, driver)
                server = Server(
                    [ListenerSpec("CONTROLLER", "127.0.0.1", voters[i][1], dispatcher)],
                    ServerLimits(connection=ConnectionLimits(frame_bytes_max=16 << 20)),
                )
                await nursery.start(server.serve)
                await nursery.start(driver.run)
            kafka.start()
            result = None
            with trio.move_on_after(AGREE_TIMEOUT_S):
                while (result := agreed()) is None:
                    await trio.sleep(POLL_S)
            nursery.cancel_scope.cancel()
            return result

    started = time.monotonic()
    try:
        result = trio.run(main)
    finally:
        kafka.stop()
    states = {i: d.replica and d.replica.state for i, d in drivers.items()}
    assert result is not None, (
        f"no agreement in {time.monotonic() - started:.0f} s: drivers {states}, "
        f"kafka {kafka.election()}\n{kafka.tail()}"
    )
    leader, epoch = result
    assert leader in voters and epoch >= 1
    if not kafka_leads:
        return
    assert leader == KAFKA_NODE
    kafka_dir = kafka.data / "__cluster_metadata-0"
    kafka_segment = kafka_dir / "00000000000000000000.log"
    kafka_batches = {
        b.base_offset: b for b in decode_batches(kafka_segment.read_bytes(), allow_partial=True)
    }
    for i in drivers:
        ours = NativeRaftLog(tmp_path / f"node-{i}")
        try:
            batches = list(ours.batches(0, ours.end_offset()))
            assert batches and batches[0].is_control  # Kafka's LeaderChange
            assert batches[0].values[0].leader_id == KAFKA_NODE
            for record in ours.read(0, 1 << 30):
                theirs = kafka_batches[record.batch.base_offset]
                assert record.batch.data == theirs.to_bytes(), record.offset
            names = {
                decode_record(v).message.name
                for b in batches
                if not b.is_control
                for v in b.values
                if type(decode_record(v).message).__name__ == "FeatureLevelRecord"
            }
            assert "metadata.version" in names, names
            # The whole segment is a prefix of Kafka's (which went on writing NoOpRecords), and
            # the directory's other Kafka files match.
            ours_dir = tmp_path / f"node-{i}" / "__cluster_metadata-0"
            segment = (ours_dir / "00000000000000000000.log").read_bytes()
            assert segment == kafka_segment.read_bytes()[: len(segment)]
            for name in ("partition.metadata", "leader-epoch-checkpoint"):
                assert (ours_dir / name).read_bytes() == (kafka_dir / name).read_bytes(), name
        finally:
            ours.close()
