"""The bounce proof of replication (issue 14): one controller and three ``ferrokafka serve``
brokers, a topic of 3 partitions with RF 3 and min.insync.replicas 2, written by Kafka's own
VerifiableProducer and by a confluent-kafka producer (both idempotent, acks=all) and read by
one consumer group of Kafka's VerifiableConsumer and a confluent-kafka consumer (both commit
after every batch), while each broker in turn is bounced cleanly (SIGTERM: controlled
shutdown, restart) and hard (SIGKILL, restart). Each broker leads one partition and follows
two when its turn comes (the leader balancer gives leadership back after each restart), so
every bounce hits a leader and a follower.

After the bounces: every acknowledged record is in the final read by offset exactly once,
each producer's records in a partition in the order sent, at the offset it was told; the
group consumed every acknowledged record; a member re-read records only from where the
group's commits said; offsets read in a session only increase; committed offsets never went
back; the high watermark the confluent consumer saw never went back.

While a broker is down (hard bounce of broker 2), Kafka's ``kafka-topics --describe`` with
each of ``--under-replicated-partitions``, ``--under-min-isr-partitions``,
``--at-min-isr-partitions`` and ``--unavailable-partitions`` and ``ferrokafka topics
describe`` with the same filter list the same partitions (a topic of one replica on broker 2
makes the unavailable and under-min-isr lists non-empty).

``FERROKAFKA_BOUNCE_ROUNDS`` (default 1) repeats the six bounces; the CI slice is one round.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bounce_checks import (
    final_read_once_in_order,
    group_missed,
    rereads_behind_commits,
    watermark_regressions,
)
from health_views import both_views
from mixed_processes import FERROKAFKA, MixedCluster

from faults import checkers
from faults.history import COMMIT, FAULT, READ, SEND, History, Op
from faults.java_consumer import JavaConsumer
from faults.workloads import (
    GroupConsumer,
    JavaProducer,
    RdkafkaProducer,
    committed_offsets,
    final_read,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

CONTROLLER = 1
BROKERS = (2, 3, 4)
TOPIC = "bounce"
SOLO_TOPIC = "solo"  # one replica, on broker 2: unavailable while 2 is down
GROUP = "bounce-group"
PARTITIONS = 3
ROUNDS = int(os.environ.get("FERROKAFKA_BOUNCE_ROUNDS", "1"))
RATE_PER_S = 40  # per producer
JAVA_MESSAGES_MAX = 1_000_000  # stopped by SIGTERM once the bounces are done
WAIT_TIMEOUT_S = 90.0
CATCH_UP_TIMEOUT_S = 90.0
POLL_S = 0.2
STATS_INTERVAL_MS = 200

LAYOUT = {
    CONTROLLER: (FERROKAFKA, ("controller",)),
    **{b: (FERROKAFKA, ("broker",)) for b in BROKERS},
}
OVERRIDES = {
    "broker.session.timeout.ms": "3000",
    "broker.heartbeat.interval.ms": "500",
    "replica.lag.time.max.ms": "3000",
    "replica.fetch.backoff.ms": "200",
    "auto.leader.rebalance.enable": "true",
    "leader.imbalance.check.interval.seconds": "1",
    # The group's commits survive a bounce of the coordinator: RF 3 like the data.
    "offsets.topic.replication.factor": "3",
    "offsets.topic.num.partitions": "3",
}
# Replicas in preference order: broker b leads partition b - 2 and follows the others.
ASSIGNMENT = [[2, 3, 4], [3, 4, 2], [4, 2, 3]]


class WatermarkConsumer(GroupConsumer):
    """The confluent-kafka group member, also noting each partition's high watermark as the
    client last learned it from a fetch (librdkafka's statistics, ``hi_offset``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.watermarks: dict[int, list[tuple[float, int]]] = {}

    def _config(self) -> dict[str, Any]:
        return {
            **super()._config(),
            "statistics.interval.ms": STATS_INTERVAL_MS,
            "stats_cb": self._on_stats,
            # librdkafka's group protocol trace in the captured log, for a failing run.
            **({"debug": "cgrp"} if os.environ.get("FERROKAFKA_BOUNCE_DEBUG") else {}),
        }

    def _on_stats(self, text: str) -> None:
        at = self.history.now()
        partitions = json.loads(text).get("topics", {}).get(self.topic, {}).get("partitions", {})
        for key, stats in partitions.items():
            mark = int(stats.get("hi_offset", -1))
            if int(key) >= 0 and mark >= 0:
                self.watermarks.setdefault(int(key), []).append((at, mark))


def metadata(bootstrap: str) -> dict[str, list[tuple[int, list[int], list[int]]]]:
    """topic -> [(leader, replicas, isr)] by partition, as a client's Metadata sees it."""
    from confluent_kafka.admin import AdminClient

    found = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(timeout=30)
    return {
        name: [
            (p.leader, list(p.replicas), sorted(p.isrs))
            for _i, p in sorted(topic.partitions.items())
        ]
        for name, topic in found.topics.items()
    }


def wait_for(bootstrap: str, what: str, condition: Any) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_TIMEOUT_S
    while True:
        try:
            seen = metadata(bootstrap)
        except Exception:  # KafkaException while the asked broker is going away
            seen = {}
        if seen and condition(seen):
            return seen
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {seen}"
        time.sleep(POLL_S)


def topic_balanced(seen: dict[str, Any]) -> bool:
    """Every partition of the bounced topic led by its preferred replica with a full ISR."""
    parts = seen.get(TOPIC, [])
    return len(parts) == PARTITIONS and all(
        leader == ASSIGNMENT[i][0] and isr == sorted(BROKERS)
        for i, (leader, _r, isr) in enumerate(parts)
    )


def balanced(seen: dict[str, Any]) -> bool:
    """The topic balanced, and every __consumer_offsets partition with a full ISR."""
    offsets = seen.get("__consumer_offsets", [])
    return (
        topic_balanced(seen)
        and len(offsets) == 3  # OVERRIDES' offsets.topic.num.partitions
        and all(len(isr) == 3 for _l, _r, isr in offsets)
    )


def left_isrs(broker: int) -> Any:
    def condition(seen: dict[str, Any]) -> bool:
        return all(
            broker not in isr or replicas == [broker]
            for name in (TOPIC, "__consumer_offsets")
            for _leader, replicas, isr in seen.get(name, [])
        ) and all(leader != broker for _l in seen.values() for leader, _r, _i in _l)

    return condition


def create_topics(bootstrap: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = [
        NewTopic(
            TOPIC,
            num_partitions=PARTITIONS,
            replica_assignment=ASSIGNMENT,
            config={"min.insync.replicas": "2"},
        ),
        NewTopic(SOLO_TOPIC, num_partitions=1, replica_assignment=[[2]]),
    ]
    for future in admin.create_topics(topics, operation_timeout=30).values():
        future.result(30)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[MixedCluster]:
    made = MixedCluster(tmp_path / "cluster", LAYOUT, overrides=OVERRIDES)
    try:
        made.format()
        for node_id in made.nodes:
            made.start(node_id)
        made.wait_brokers()
        yield made
    finally:
        made.close()


def bounce(
    cluster: MixedCluster, history: History, broker: int, hard: bool, down: Any = None
) -> None:
    """Bounce ``broker`` once it leads its preferred partition (a leader and a follower);
    ``down()`` runs while it is out of every ISR."""
    boot = cluster.bootstrap
    wait_for(boot, "leaders balanced and ISRs full", balanced)
    kind = "hard" if hard else "clean"
    invoked = history.now()
    if hard:
        cluster.kill(broker)
    else:
        assert cluster.stop(broker) == 0  # exits once its controlled shutdown is done
    alive = ",".join(cluster.nodes[b].bootstrap for b in BROKERS if b != broker)
    wait_for(alive, f"{broker} out of the ISRs", left_isrs(broker))
    if down is not None:
        down(alive)
    cluster.start(broker)
    cluster.wait_brokers(broker)
    history.add(Op(FAULT, "bounce", invoked, history.now(), True, f"{kind}-{broker}"))


def health_check(tmp_path: Path) -> Any:
    """While broker 2 is down: Kafka's kafka-topics and ours list the same partitions under
    each filter, and those are the ones expected (the bounced topic's partitions have an ISR
    of 2 = min.insync.replicas; __consumer_offsets, RF 3 and min.insync.replicas 1, is only
    under-replicated; the one-replica topic has no leader and, eligible leader replicas being
    on (KIP-966, the format's default), an empty ISR: its replica moved to the ELR)."""
    bounced = {(TOPIC, p) for p in range(PARTITIONS)}
    offsets = {("__consumer_offsets", p) for p in range(3)}
    solo = {(SOLO_TOPIC, 0)}
    expected = {
        "--under-replicated-partitions": bounced | offsets | solo,
        "--under-min-isr-partitions": solo,
        "--at-min-isr-partitions": bounced,
        "--unavailable-partitions": solo,
    }

    def check(alive: str) -> None:
        views = both_views(alive, tmp_path / "kafka-topics")
        for flag, (kafka, ours) in views.items():
            assert ours == kafka, (flag, sorted(kafka), sorted(ours))
            assert {(t, p) for t, p, *_rest in kafka} == expected[flag], (flag, sorted(kafka))
        assert [row[:4] for row in views["--unavailable-partitions"][0]] == [
            ("solo", 0, "none", "2")
        ]

    return check


def test_bounces_lose_nothing_acknowledged(cluster: MixedCluster, tmp_path: Path) -> None:
    boot = cluster.bootstrap
    create_topics(boot)
    wait_for(boot, "the topic balanced", topic_balanced)
    history = History()
    work = tmp_path / "clients"
    rd_producer = RdkafkaProducer(history, boot, TOPIC, "rd-producer", rate_per_s=RATE_PER_S)
    java_producer = JavaProducer(
        history, boot, TOPIC, 7, work, rate_per_s=RATE_PER_S, max_messages=JAVA_MESSAGES_MAX
    )
    rd_consumer = WatermarkConsumer(history, boot, TOPIC, GROUP, "rd-consumer")
    # The Java member is replaced half-way: two rebalances, partitions change hands mid-stream.
    java_consumers = [
        JavaConsumer(history, boot, TOPIC, GROUP, f"java-consumer-{n}", work) for n in (1, 2)
    ]
    members = {rd_consumer.name, *(c.name for c in java_consumers)}
    for worker in (rd_producer, java_producer, rd_consumer, java_consumers[0]):
        worker.start()
    try:
        # The group forms before the first bounce (see the README: before the coordinator
        # loaded to the log end, a bounce while the group formed twice left the confluent
        # member without an assignment for the whole run).
        wait_until("both members assigned", lambda: rd_consumer.assignment and (
            java_consumers[0].assignment))  # fmt: skip
        for turn in range(ROUNDS):
            for broker in BROKERS:
                for hard in (False, True):
                    down = health_check(tmp_path) if (turn, broker, hard) == (0, 2, True) else None
                    bounce(cluster, history, broker, hard, down)
                    if (turn, broker, hard) == (0, 3, False):
                        java_consumers[0].stop()
                        java_consumers[1].start()
        java_producer.terminate()
        java_producer.stop()
        rd_producer.stop()
        wait_consumed(history, members)
    finally:
        # Every worker, the confluent producer too: one left running after a failure keeps
        # reconnecting to the stopped cluster and logs ERRORs into later tests' captures.
        for worker in (rd_producer, java_producer, rd_consumer, *java_consumers):
            stop_quietly(worker)
        history.dump(tmp_path / "history.jsonl")
    committed_offsets(history, boot, TOPIC, GROUP, PARTITIONS)
    assert final_read(history, boot, TOPIC, PARTITIONS) == {}
    ops = history.ops()
    print(summary(ops, rd_consumer, java_consumers))
    anomalies = {
        "final read": final_read_once_in_order(ops),
        "group missed": group_missed(ops, members),
        "re-read behind a commit": rereads_behind_commits(ops, GROUP),
        "watermark went back": watermark_regressions(rd_consumer.watermarks),
        **{
            kind: [a.detail for a in found]
            for kind, found in checkers.check(ops, liveness_bound_s=WAIT_TIMEOUT_S).items()
            if kind != checkers.DUPLICATE  # a re-read after a rebalance is allowed (above)
        },
    }
    assert {k: v[:10] for k, v in anomalies.items() if v} == {}
    assert rd_producer.failure is None and rd_consumer.failure is None
    # Not vacuous: both producers were acknowledged through the bounces, every member read,
    # the confluent consumer saw high watermarks, and the group's commits reached the broker.
    readers = {op.process for op in ops if op.kind == READ}
    assert members <= readers, readers
    acked_by = {op.process for op in ops if op.kind == SEND and op.ok}
    assert {rd_producer.name, java_producer.name} <= acked_by, acked_by
    assert rd_consumer.watermarks
    assert [op for op in ops if op.kind == COMMIT and op.ok and op.process == "java-consumer-2"]


def wait_until(what: str, condition: Any) -> None:
    deadline = time.monotonic() + WAIT_TIMEOUT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(POLL_S)


def stop_quietly(worker: Any) -> None:
    try:
        worker.stop()
    except TimeoutError:
        pass


def wait_consumed(history: History, members: set[str]) -> None:
    """Until the group's members have read every acknowledged value (bounded)."""
    deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
    while time.monotonic() < deadline:
        ops = history.ops()
        if not group_missed(ops, members):
            return
        time.sleep(POLL_S * 5)


def summary(ops: list[Op], rd_consumer: WatermarkConsumer, java: list[JavaConsumer]) -> str:
    """The run in figures (printed: pytest -s shows it)."""
    acked = Counter(op.process for op in ops if op.kind == SEND and op.ok)
    failed = sum(1 for op in ops if op.kind == SEND and op.ok is False)
    reads = Counter(op.process for op in ops if op.kind == READ)
    bounces = [
        (op.value, round((op.complete_s or 0.0) - (op.invoke_s or 0.0), 1))
        for op in ops
        if op.kind == FAULT
    ]
    marks = sum(map(len, rd_consumer.watermarks.values()))
    return (
        f"acked {dict(acked)}, failed {failed}, reads {dict(reads)}, bounces (s) {bounces}, "
        f"java assignments {[c.assignments for c in java]}, java failed commits "
        f"{[c.commit_failures for c in java]}, high-watermark samples {marks}"
    )
