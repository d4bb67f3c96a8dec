"""KIP-951 leader hints on Produce and Fetch (server/handlers/leader_hint.py), on an in-process
cluster of three brokers: Produce v10+ answers NOT_LEADER_OR_FOLLOWER with the partition's
current leader and epoch and lists that leader's endpoint; Fetch v16+ does the same for
NOT_LEADER_OR_FOLLOWER and FENCED_LEADER_EPOCH; older versions carry none (Kafka 4.4's
``handleProduceRequest`` / ``handleFetchRequest``). Kafka's Java producer and consumer, kept
running while the leadership moves to another live broker, take the new leader from the hint
(their DEBUG lines "For <tp> updating leader information" / "as the leader was updated") and
lose nothing."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from server_wire import RawClient

import kafka_support as ks
from ferrokafka._ferrokafka import BatchBuilder
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.alter_partition_reassignments import (
    AlterPartitionReassignmentsRequest as Alter,
)
from ferrokafka.protocol.messages.elect_leaders import ElectLeadersRequest
from ferrokafka.protocol.messages.fetch import FetchRequest
from ferrokafka.protocol.messages.produce import ProduceRequest
from ferrokafka.testing.cluster import RunningCluster, run_cluster, wait_for
from kafka_support import jars

WIRE_TOPIC = "hinted"  # replicas [1, 2]: broker 3 hosts none of it
MOVED_TOPIC = "moved"  # replicas [1, 2, 3], then [2, 1, 3] and a preferred election
DEADLINE_S = 30.0
PRODUCE_HINT_V, PRODUCE_OLD_V = 11, 9
FETCH_HINT_V, FETCH_OLD_V = 17, 15
RECORDS = 900
RATE_PER_S = 150
MOVE_AFTER_ACKED = 300
JAVA_TIMEOUT_S = 90.0
PRODUCER_CLASS = "org.apache.kafka.tools.VerifiableProducer"
CONSUMER_CLASS = "org.apache.kafka.tools.consumer.ConsoleConsumer"
PRODUCER_HINT_LINE = f"For {MOVED_TOPIC}-0 updating leader information"
CONSUMER_HINT_LINE = f"For {MOVED_TOPIC}-0, as the leader was updated"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCluster]:
    overrides = {"offsets.topic.replication.factor": 1, "offsets.topic.num.partitions": 1}
    with run_cluster(3, tmp_path_factory.mktemp("cluster"), overrides) as running:
        admin = AdminClient({"bootstrap.servers": running.bootstrap_servers})
        topics = [
            NewTopic(WIRE_TOPIC, num_partitions=1, replica_assignment=[[1, 2]]),
            NewTopic(MOVED_TOPIC, num_partitions=1, replica_assignment=[[1, 2, 3]]),
        ]
        for future in admin.create_topics(topics, operation_timeout=10).values():
            future.result(timeout=DEADLINE_S)
        wait_for(lambda: leader(running, WIRE_TOPIC) == (1, 0), "the wire topic's leader")
        wait_for(lambda: leader(running, MOVED_TOPIC)[0] == 1, "the moved topic's leader")
        yield running


def leader(cluster: RunningCluster, topic: str) -> tuple[int, int]:
    found = cluster.controller.image.topic(topic)
    if found is None:
        return -1, -1
    part = found.partitions[0]
    return part.leader, part.leader_epoch


def topic_id(cluster: RunningCluster, topic: str) -> uuid.UUID:
    found = cluster.controller.image.topic(topic)
    assert found is not None
    return found.topic_id


def endpoint(cluster: RunningCluster, node_id: int) -> tuple[int, str, int]:
    host, port = cluster.broker(node_id).bootstrap_servers.rsplit(":", 1)
    return node_id, host, int(port)


def produce(cluster: RunningCluster, node_id: int, version: int) -> Any:
    builder = BatchBuilder(compression="none")
    builder.append(b"v", key=b"k", headers=[])
    request = ProduceRequest(
        acks=-1,
        timeout_ms=5_000,
        topic_data=[
            ProduceRequest.TopicProduceData(
                name=WIRE_TOPIC,
                topic_id=topic_id(cluster, WIRE_TOPIC),
                partition_data=[
                    ProduceRequest.PartitionProduceData(index=0, records=builder.build())
                ],
            )
        ],
    )
    with RawClient(cluster.broker(node_id).bootstrap_servers) as client:
        return client.call(request, version)


def fetch(cluster: RunningCluster, node_id: int, version: int, leader_epoch: int = -1) -> Any:
    request = FetchRequest(
        replica_id=-1,
        max_wait_ms=0,
        max_bytes=1 << 20,
        session_epoch=-1,
        topics=[
            FetchRequest.FetchTopic(
                topic=WIRE_TOPIC,
                topic_id=topic_id(cluster, WIRE_TOPIC),
                partitions=[
                    FetchRequest.FetchPartition(
                        partition=0,
                        current_leader_epoch=leader_epoch,
                        fetch_offset=0,
                        partition_max_bytes=1 << 20,
                    )
                ],
            )
        ],
    )
    with RawClient(cluster.broker(node_id).bootstrap_servers) as client:
        return client.call(request, version)


def hint(part: Any) -> tuple[int, int]:
    return part.current_leader.leader_id, part.current_leader.leader_epoch


def endpoints(response: Any) -> list[tuple[int, str, int]]:
    return [(e.node_id, e.host, e.port) for e in response.node_endpoints]


def test_produce_to_a_follower_or_a_stranger_names_the_leader(cluster: RunningCluster) -> None:
    # Broker 2 follows (the hint from its replica), broker 3 hosts nothing (from the image).
    for node_id in (2, 3):
        answer = produce(cluster, node_id, PRODUCE_HINT_V)
        part = answer.responses[0].partition_responses[0]
        assert part.error_code == ec.NOT_LEADER_OR_FOLLOWER
        assert hint(part) == (1, 0)
        assert endpoints(answer) == [endpoint(cluster, 1)]
    # Before v10 the fields are not on the wire.
    answer = produce(cluster, 2, PRODUCE_OLD_V)
    part = answer.responses[0].partition_responses[0]
    assert part.error_code == ec.NOT_LEADER_OR_FOLLOWER
    assert hint(part) == (-1, -1) and endpoints(answer) == []
    # The leader appends, with no hint.
    answer = produce(cluster, 1, PRODUCE_HINT_V)
    part = answer.responses[0].partition_responses[0]
    assert part.error_code == ec.NONE and hint(part) == (-1, -1) and endpoints(answer) == []


def test_fetch_from_a_stranger_names_the_leader(cluster: RunningCluster) -> None:
    answer = fetch(cluster, 3, FETCH_HINT_V)
    part = answer.responses[0].partitions[0]
    assert part.error_code == ec.NOT_LEADER_OR_FOLLOWER
    assert hint(part) == (1, 0)
    assert endpoints(answer) == [endpoint(cluster, 1)]
    answer = fetch(cluster, 3, FETCH_OLD_V)
    part = answer.responses[0].partitions[0]
    assert part.error_code == ec.NOT_LEADER_OR_FOLLOWER
    assert hint(part) == (-1, -1) and endpoints(answer) == []
    # An epoch newer than the leader's: UNKNOWN_LEADER_EPOCH, not a leadership error.
    answer = fetch(cluster, 1, FETCH_HINT_V, leader_epoch=5)
    part = answer.responses[0].partitions[0]
    assert part.error_code == ec.UNKNOWN_LEADER_EPOCH
    assert hint(part) == (-1, -1) and endpoints(answer) == []


def move_leadership(cluster: RunningCluster, to: int) -> None:
    """Broker ``to`` first in the replica list, then a preferred election: the old leader
    stays up as a follower, so clients that still send to it are answered with a hint."""
    order = [to] + [n for n in (1, 2, 3) if n != to]
    with RawClient(cluster.broker(1).bootstrap_servers) as client:
        moved = client.call(
            Alter(
                timeout_ms=10_000,
                topics=[
                    Alter.ReassignableTopic(
                        name=MOVED_TOPIC,
                        partitions=[Alter.ReassignablePartition(partition_index=0, replicas=order)],
                    )
                ],
            ),
            0,
        )
        assert moved.error_code == ec.NONE
        assert moved.responses[0].partitions[0].error_code == ec.NONE
        wait_for(
            lambda: (
                list(cluster.controller.image.topic(MOVED_TOPIC).partitions[0].replicas) == order
            ),
            "the new replica order",
        )
        elected = client.call(
            ElectLeadersRequest(
                election_type=0,
                topic_partitions=[
                    ElectLeadersRequest.TopicPartitions(topic=MOVED_TOPIC, partitions=[0])
                ],
                timeout_ms=10_000,
            ),
            1,
        )
        result = elected.replica_election_results[0].partition_result[0]
        assert result.error_code == ec.NONE, result
    wait_for(lambda: leader(cluster, MOVED_TOPIC)[0] == to, f"broker {to} leading")


def java(tmp_path: Path, name: str, main_class: str, args: list[str]) -> subprocess.Popen[str]:
    """A Kafka Java tool, stdout to ``<name>.out``, its client's hint lines at DEBUG in
    ``<name>.log``."""
    config = tmp_path / f"{name}-log4j2.properties"
    jars.write_log4j2_config(config, log_file=tmp_path / f"{name}.log", level="warn")
    with config.open("a") as out:
        for i, logger in enumerate(
            (
                "org.apache.kafka.clients.Metadata",
                "org.apache.kafka.clients.consumer.internals.AbstractFetch",
            )
        ):
            out.write(f"logger.l{i}.name = {logger}\nlogger.l{i}.level = debug\n")
    command = [
        ks.java_executable(),
        *jars.TOOL_JVM_OPTIONS,
        f"-Dlog4j2.configurationFile={config}",
        "-cp",
        ks.kafka_classpath(),
        main_class,
        *args,
    ]
    return subprocess.Popen(
        command,
        cwd=tmp_path,
        stdout=(tmp_path / f"{name}.out").open("w"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def acked(out: Path) -> int:
    events = [json.loads(line) for line in out.read_text().splitlines() if line.startswith("{")]
    errors = [e for e in events if e.get("name") == "producer_send_error"]
    assert not errors, errors[:3]
    return sum(1 for e in events if e.get("name") == "producer_send_success")


def test_java_clients_follow_the_hint_to_the_new_leader(
    cluster: RunningCluster, tmp_path: Path
) -> None:
    bootstrap = cluster.bootstrap_servers
    config = tmp_path / "producer.properties"
    # VerifiableProducer's own default is retries=0: a retried send would be a failed one.
    config.write_text("acks=all\nenable.idempotence=true\nretries=2147483647\n")
    producer = java(
        tmp_path,
        "producer",
        PRODUCER_CLASS,
        [
            "--bootstrap-server",
            bootstrap,
            "--topic",
            MOVED_TOPIC,
            "--max-messages",
            str(RECORDS),
            "--throughput",
            str(RATE_PER_S),
            "--producer.config",
            str(config),
        ],
    )
    consumer = java(
        tmp_path,
        "consumer",
        CONSUMER_CLASS,
        [
            "--bootstrap-server",
            bootstrap,
            "--topic",
            MOVED_TOPIC,
            "--partition",
            "0",
            "--offset",
            "earliest",
            "--max-messages",
            str(RECORDS),
            "--timeout-ms",
            str(int(DEADLINE_S * 1000)),
        ],
    )
    try:
        wait_for(
            lambda: acked(tmp_path / "producer.out") >= MOVE_AFTER_ACKED,
            "the producer under way",
            timeout_s=JAVA_TIMEOUT_S,
        )
        move_leadership(cluster, to=2)
        assert producer.wait(JAVA_TIMEOUT_S) == 0
        assert consumer.wait(JAVA_TIMEOUT_S) == 0
    finally:
        for process in (producer, consumer):
            if process.poll() is None:
                process.kill()
                process.wait(JAVA_TIMEOUT_S)
    assert acked(tmp_path / "producer.out") == RECORDS
    consumed = [
        line for line in (tmp_path / "consumer.out").read_text().splitlines() if line.isdigit()
    ]
    assert sorted(map(int, consumed)) == list(range(RECORDS))
    producer_log = (tmp_path / "producer.log").read_text()
    consumer_log = (tmp_path / "consumer.log").read_text()
    print(
        f"leader hints: producer {producer_log.count(PRODUCER_HINT_LINE)}, "
        f"consumer {consumer_log.count(CONSUMER_HINT_LINE)}"
    )
    assert PRODUCER_HINT_LINE in producer_log
    assert CONSUMER_HINT_LINE in consumer_log
