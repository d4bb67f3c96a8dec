"""Replication across three ``ferrokafka serve`` processes (a KRaft cluster): a topic of
replication factor 3 with min.insync.replicas 2, an idempotent acks=all producer
(confluent-kafka) writing a numbered stream, and the partition's leader killed with SIGKILL in
the middle of it. A new leader comes from the ISR, and every record the producer had
acknowledged is read back exactly once (no loss, no duplicate) from the new leader. Restarted,
the killed broker catches up (truncating what it had that the new leader does not) and rejoins
the ISR, as Kafka's own kafka-topics --describe reports; its log then holds the same records."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kraft_processes import KRaftCluster

import kafka_support as ks

CLIENT_TIMEOUT_S = 60.0
SESSION_TIMEOUT_MS = 3000
TOPIC = "ha"
# Records sent before the kill and after it; the producer paces itself (one batch per ~5 ms).
RECORDS_BEFORE_KILL = 1500
RECORDS_AFTER_KILL = 1500
SEND_PAUSE_S = 0.002
TOPIC_COMMAND = "org.apache.kafka.tools.TopicCommand"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KRaftCluster]:
    made = KRaftCluster(
        tmp_path / "cluster",
        overrides={
            "broker.session.timeout.ms": str(SESSION_TIMEOUT_MS),
            "broker.heartbeat.interval.ms": "500",
            "replica.lag.time.max.ms": "3000",
            "replica.fetch.backoff.ms": "200",
        },
    )
    with made.running():
        yield made


def partition_state(bootstrap: str) -> tuple[int, list[int]]:
    """(leader, ISR) of partition 0 as the cluster's metadata says."""
    from confluent_kafka.admin import AdminClient

    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(
        TOPIC, timeout=CLIENT_TIMEOUT_S
    )
    part = metadata.topics[TOPIC].partitions[0]
    return part.leader, list(part.isrs)


def wait_state(bootstrap: str, condition: Any, what: str) -> tuple[int, list[int]]:
    deadline = time.monotonic() + CLIENT_TIMEOUT_S
    while True:
        found = partition_state(bootstrap)
        if condition(*found):
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {found}"
        time.sleep(0.2)


def create_topic(bootstrap: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    client = AdminClient({"bootstrap.servers": bootstrap})
    topic = NewTopic(TOPIC, 1, 3, config={"min.insync.replicas": "2"})
    client.create_topics([topic], operation_timeout=CLIENT_TIMEOUT_S)[TOPIC].result(
        CLIENT_TIMEOUT_S
    )


class NumberedProducer:
    """Sends v0, v1, ... with acks=all and idempotence; remembers what was acknowledged."""

    def __init__(self, bootstrap: str) -> None:
        from confluent_kafka import Producer

        self.producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "acks": "all",
                "enable.idempotence": True,
                "message.timeout.ms": int(CLIENT_TIMEOUT_S * 1000),
                "linger.ms": 5,
            }
        )
        self.acked: list[bytes] = []
        self.failed: list[Any] = []
        self.sent = 0

    def _delivered(self, err: Any, message: Any) -> None:
        if err is None:
            self.acked.append(message.value())
        else:
            self.failed.append(err)

    def send(self, count: int) -> None:
        for _ in range(count):
            self.producer.produce(TOPIC, value=b"v%d" % self.sent, partition=0,
                                  on_delivery=self._delivered)  # fmt: skip
            self.sent += 1
            self.producer.poll(0)
            time.sleep(SEND_PAUSE_S)

    def flush(self) -> None:
        assert self.producer.flush(CLIENT_TIMEOUT_S) == 0


def read_all(bootstrap: str, expected: int) -> list[bytes]:
    """Every record of partition 0 from the beginning (no group: its coordinator may be gone)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "reader", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(TOPIC, 0, 0)])
    values: list[bytes] = []
    deadline = time.monotonic() + CLIENT_TIMEOUT_S
    idle_until = 0.0
    while time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            values.append(message.value())
            idle_until = time.monotonic() + 2.0
        elif len(values) >= expected and time.monotonic() > idle_until:
            break
    consumer.close()
    return values


def test_acknowledged_records_survive_the_leaders_sigkill(
    cluster: KRaftCluster, tmp_path: Path
) -> None:
    boot = cluster.bootstrap
    create_topic(boot)
    leader, isr = wait_state(boot, lambda _l, isr: len(isr) == 3, "an ISR of three")
    producer = NumberedProducer(boot)
    producer.send(RECORDS_BEFORE_KILL)
    sent_at_kill: list[int] = []

    def kill() -> None:
        sent_at_kill.append(producer.sent)
        cluster.kill(leader)

    killer = threading.Timer(0.3, kill)
    killer.start()  # SIGKILL while the stream goes on
    producer.send(RECORDS_AFTER_KILL)
    killer.join()
    producer.flush()
    total = RECORDS_BEFORE_KILL + RECORDS_AFTER_KILL
    assert RECORDS_BEFORE_KILL < sent_at_kill[0] < total  # killed mid-stream
    survivors = ",".join(n.bootstrap for i, n in cluster.nodes.items() if i != leader)
    new_leader, new_isr = wait_state(
        survivors,
        lambda found, _isr: found not in (-1, leader),
        "a new leader",
    )
    assert new_leader in isr and leader not in new_isr
    assert producer.failed == []
    acked = set(producer.acked)
    assert len(acked) == total
    values = read_all(survivors, len(acked))
    print(f"leader {leader} killed after {sent_at_kill[0]} sends; new leader {new_leader}, "
          f"ISR {new_isr}; {len(acked)} acknowledged, {len(values)} read")  # fmt: skip
    duplicates = len(values) - len(set(values))
    lost = acked - set(values)
    assert not lost, f"{len(lost)} acknowledged records lost, e.g. {sorted(lost)[:5]}"
    assert duplicates == 0, f"{duplicates} duplicates"

    # Restarted, the old leader follows the new one, and rejoins the ISR once caught up.
    cluster.start(leader)
    cluster.wait_ready(leader)
    wait_state(boot, lambda _l, isr: sorted(isr) == [1, 2, 3], "the old leader back in the ISR")
    tool_dir = tmp_path / "tool"
    tool_dir.mkdir()
    described = ks.run_kafka_tool(
        TOPIC_COMMAND,
        ["--bootstrap-server", boot, "--describe", "--topic", TOPIC],
        work_dir=tool_dir,
    ).stdout
    isr_field = described.split("Isr:")[1].split()[0]
    assert sorted(int(b) for b in isr_field.split(",")) == [1, 2, 3], described
    assert f"Leader: {new_leader}" in described, described
