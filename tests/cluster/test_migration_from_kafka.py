"""Live migration from Apache Kafka to ferrokafka, the way an operator would do it (README's
migration guide): a cluster whose controller is Apache Kafka 4.4 (node 1), with two Kafka
brokers (2, 3) and three ferrokafka brokers (10, 11, 12) registered with it. A topic of
replication factor 3 (min.insync.replicas 2) spans both kinds: partition 0 is led by Kafka and
followed by ferrokafka, partition 1 led by ferrokafka and followed by Kafka. An idempotent
acks=all producer and a consumer run throughout while Kafka's kafka-reassign-partitions
(--generate, --execute, --verify; Kafka's controller decides) moves every replica onto the
ferrokafka brokers, with __consumer_offsets (a group's offsets committed through a Kafka
broker's group coordinator); then the Kafka brokers are shut down (SIGTERM: controlled
shutdown).

Checked: no acknowledged record lost or duplicated (the consumer that ran throughout, and a
reader afterwards); kafka-topics --describe shows every partition on ferrokafka brokers with a
full ISR; the group's committed offset is read back through a ferrokafka coordinator (which
loaded what Kafka's coordinator wrote); and before the move, the ferrokafka follower's segment
file of the Kafka-led partition is byte-for-byte a prefix of Kafka's own segment file (the
follower copies the leader's batches unchanged), and Kafka's DumpLogSegments reads the same
batches from both.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mixed_processes import FERROKAFKA, KAFKA, MixedCluster
from reassign_support import (
    NumberedProducer,
    RunningConsumer,
    check_no_loss_no_duplicate,
    describe,
    execute,
    generate,
    plan_replicas,
    read_partitions,
    verify_until_complete,
)

import kafka_support as ks

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

CONTROLLER = 1
KAFKA_BROKERS = (2, 3)
OUR_BROKERS = (10, 11, 12)
TOPIC = "migrating"
# Partition 0: a Kafka leader with a ferrokafka follower; 1: the reverse; 2: mostly ours.
ASSIGNMENT = [[2, 10, 3], [10, 2, 11], [3, 11, 12]]
SEGMENT = "00000000000000000000.log"
# Records the follower must have copied before its segment is compared with the leader's.
COPIED_BYTES_MIN = 10_000
COPY_TIMEOUT_S = 60.0
JVM_SIGTERM_EXIT = 143
# __consumer_offsets (Kafka's default offsets.topic.num.partitions; RF 1 in the harness).
OFFSETS_TOPIC = "__consumer_offsets"
OFFSETS_PARTITIONS = 50
GROUP_CANDIDATES = 500
COMMITTED_OFFSET = 42


@pytest.fixture
def cluster(tmp_path: Path, kafka_classpath: str) -> Iterator[MixedCluster]:
    layout = {CONTROLLER: (KAFKA, ("controller",))}
    layout.update({i: (KAFKA, ("broker",)) for i in KAFKA_BROKERS})
    layout.update({i: (FERROKAFKA, ("broker",)) for i in OUR_BROKERS})
    made = MixedCluster(
        tmp_path / "cluster",
        layout,
        overrides={"replica.lag.time.max.ms": "10000", "replica.fetch.backoff.ms": "200"},
    )
    try:
        made.format()
        for node_id in made.nodes:
            made.start(node_id)
        made.wait_brokers()
        yield made
    finally:
        made.close()


def create_topic(bootstrap: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    client = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    topic = NewTopic(
        TOPIC,
        num_partitions=len(ASSIGNMENT),
        replica_assignment=ASSIGNMENT,
        config={"min.insync.replicas": "2"},
    )
    client.create_topics([topic], operation_timeout=60)[TOPIC].result(60)


def wait_full_isr(bootstrap: str, tool_dir: Path) -> None:
    deadline = time.monotonic() + COPY_TIMEOUT_S
    while True:
        state = describe(bootstrap, TOPIC, tool_dir)
        if len(state) == len(ASSIGNMENT) and all(
            sorted(isr) == sorted(replicas) for _, replicas, isr in state.values()
        ):
            return
        assert time.monotonic() < deadline, f"ISRs not full: {state}"
        time.sleep(1.0)


def compare_follower_segment(cluster: MixedCluster, tool_dir: Path) -> tuple[int, int]:
    """Partition 0's segment on ferrokafka follower 10 against Kafka leader 2's: the
    follower's bytes are the leader's first bytes, and DumpLogSegments reads the same batches
    from both (the follower's a prefix of the leader's). Returns (bytes, batches) compared."""
    ours = cluster.nodes[10].work_dir / "logs" / f"{TOPIC}-0" / SEGMENT
    theirs = cluster.nodes[2].work_dir / "logs" / f"{TOPIC}-0" / SEGMENT
    deadline = time.monotonic() + COPY_TIMEOUT_S
    while not ours.exists() or ours.stat().st_size < COPIED_BYTES_MIN:
        assert time.monotonic() < deadline, "the ferrokafka follower copied too little"
        time.sleep(0.5)
    copied = ours.read_bytes()  # first: the leader's file can only be longer
    original = theirs.read_bytes()
    assert original[: len(copied)] == copied, "the follower's segment is not the leader's"
    # Still files for DumpLogSegments (both logs keep growing).
    files = []
    for name, content in (("ferrokafka", copied), ("kafka", original)):
        still = tool_dir / name / f"{TOPIC}-0" / SEGMENT
        still.parent.mkdir(parents=True)
        still.write_bytes(content)
        files.append(still)
    dumped = ks.dump_log_segments(files, work_dir=tool_dir, print_data=False)
    assert dumped.problems == [], dumped.problems
    our_batches = dumped.file(files[0]).batches
    their_batches = dumped.file(files[1]).batches
    assert our_batches and our_batches == their_batches[: len(our_batches)]
    return len(copied), len(our_batches)


def java_string_hash(text: str) -> int:
    """Java's ``String.hashCode`` (UTF-16 code units; ASCII here)."""
    h = 0
    for ch in text:
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    return h - (1 << 32) if h >= (1 << 31) else h


def offsets_partition(group: str) -> int:
    """The __consumer_offsets partition of ``group`` (Kafka's Utils.abs(hashCode) % count)."""
    h = java_string_hash(group)
    return (0 if h == -(1 << 31) else abs(h)) % OFFSETS_PARTITIONS


def commit(bootstrap: str, group: str, offset: int) -> None:
    """Commit ``offset`` for partition 0 of the topic as ``group`` (retried while the group's
    coordinator, or __consumer_offsets itself, is still being set up)."""
    from confluent_kafka import Consumer, KafkaException, TopicPartition

    deadline = time.monotonic() + COPY_TIMEOUT_S
    while True:
        consumer = Consumer(
            {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False}
        )
        try:
            consumer.commit(offsets=[TopicPartition(TOPIC, 0, offset)], asynchronous=False)
            return
        except KafkaException as exc:
            assert time.monotonic() < deadline, f"commit for {group} failed: {exc}"
            time.sleep(0.5)
        finally:
            consumer.close()


def committed(bootstrap: str, group: str) -> int:
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
    request = ConsumerGroupTopicPartitions(group, [TopicPartition(TOPIC, 0)])
    answer = admin.list_consumer_group_offsets([request])[group].result(COPY_TIMEOUT_S)
    return int(answer.topic_partitions[0].offset)


def group_on_a_kafka_broker(bootstrap: str, tool_dir: Path) -> str:
    """A group id whose coordinator (its __consumer_offsets partition's leader) is a Kafka
    broker, with COMMITTED_OFFSET committed through that coordinator."""
    commit(bootstrap, "migrating-probe", 0)  # creates __consumer_offsets
    leaders = {p: state[0] for p, state in describe(bootstrap, OFFSETS_TOPIC, tool_dir).items()}
    group = next(
        name
        for name in (f"migrating-group-{i}" for i in range(GROUP_CANDIDATES))
        if leaders.get(offsets_partition(name)) in KAFKA_BROKERS
    )
    commit(bootstrap, group, COMMITTED_OFFSET)
    assert committed(bootstrap, group) == COMMITTED_OFFSET
    return group


def test_live_migration_from_kafka_brokers_to_ferrokafka(
    cluster: MixedCluster, tmp_path: Path
) -> None:
    boot = cluster.bootstrap
    tool_dir = tmp_path / "tool"
    tool_dir.mkdir()
    create_topic(boot)
    wait_full_isr(boot, tool_dir)
    group = group_on_a_kafka_broker(boot, tool_dir)
    producer = NumberedProducer(boot, TOPIC, len(ASSIGNMENT))
    consumer = RunningConsumer(boot, TOPIC, len(ASSIGNMENT))
    producer.start()
    consumer.start()
    try:
        compared = compare_follower_segment(cluster, tool_dir)
        plan = generate(boot, [TOPIC, OFFSETS_TOPIC], list(OUR_BROKERS), tool_dir)
        moved = plan_replicas(plan, TOPIC)
        assert all(sorted(r) == list(OUR_BROKERS) for r in moved.values()), plan
        offsets_plan = plan_replicas(plan, OFFSETS_TOPIC)
        assert len(offsets_plan) == OFFSETS_PARTITIONS
        assert all(set(r) <= set(OUR_BROKERS) for r in offsets_plan.values()), plan
        executed = execute(boot, plan, tool_dir)
        assert "Successfully started partition reassignments" in executed, executed
        _, runs = verify_until_complete(boot, tool_dir)
        for broker_id in KAFKA_BROKERS:
            # The JVM exits 143 (128 + SIGTERM) after its shutdown hooks ran.
            assert cluster.stop(broker_id) in (0, JVM_SIGTERM_EXIT), cluster.nodes[broker_id].tail()
    finally:
        producer.finish()
    acked = producer.acked
    assert producer.failed == [], producer.failed[:5]
    consumer.finish_when_read(set(acked))
    print(f"{compared[0]} segment bytes ({compared[1]} batches) identical; {len(acked)} "
          f"acknowledged; --verify ran "
          f"{runs} times; consumer read {consumer.count}")  # fmt: skip
    check_no_loss_no_duplicate(acked, consumer.values, "the consumer that ran throughout")
    ours = ",".join(cluster.nodes[i].bootstrap for i in OUR_BROKERS)
    after = describe(ours, TOPIC, tool_dir)
    for partition, replicas in moved.items():
        leader, described, isr = after[partition]
        assert described == replicas and sorted(isr) == list(OUR_BROKERS), after
        assert leader in OUR_BROKERS, after
    # The group's offsets, written by Kafka's group coordinator, are served by ours now.
    offsets_after = describe(ours, OFFSETS_TOPIC, tool_dir)
    assert all(state[0] in OUR_BROKERS for state in offsets_after.values()), offsets_after
    assert committed(ours, group) == COMMITTED_OFFSET
    read = read_partitions(ours, TOPIC, len(ASSIGNMENT), len(acked))
    check_no_loss_no_duplicate(acked, read, "a reader after the Kafka brokers left")
