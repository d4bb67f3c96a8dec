"""Leader elections across ``ferrokafka serve`` processes, checked with real clients and Kafka's
own tools: one controller-only node and three brokers, so that two brokers can die while the
controller lives on.

* Topic RF 3, min.insync.replicas 2: two brokers lost (SIGKILL) → acks=all refused with
  NOT_ENOUGH_REPLICAS, acks=1 accepted; the brokers come back, rejoin the ISR, and nothing
  that was acknowledged is missing; the preferred replica does not lead again by itself
  (auto.leader.rebalance.enable=false) until Kafka's ``kafka-leader-election --election-type
  PREFERRED --all-topic-partitions`` asks, as ``kafka-topics --describe`` then shows.
* unclean.leader.election.enable on the topic: the whole ISR lost, an out-of-sync replica
  comes back and is elected — what only the lost ISR held is gone (Kafka's documented
  trade), nothing acknowledged before or after is, and the replicas agree again.
* Controlled shutdown (SIGTERM) moves leadership before the broker exits (the session timeout
  is far longer than the test, so no fencing can be what moved it), and the automatic
  balancer (a 1 s check interval) gives it back once the broker is back in the ISR.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mixed_processes import FERROKAFKA, UNSUPPORTED_FEATURES_OFF, MixedCluster

import kafka_support as ks
from kafka_support.dump import dump_cluster_metadata

CLIENT_TIMEOUT_S = 60.0
POLL_S = 0.2
CONTROLLER = 1
BROKERS = (2, 3, 4)
LEADER_ELECTION = "org.apache.kafka.tools.LeaderElectionCommand"
TOPIC_COMMAND = "org.apache.kafka.tools.TopicCommand"
# Records per phase; small: every phase is about who has them, not throughput.
RECORDS = 50
NOT_ENOUGH_REPLICAS = 19

ELR_OFF = {**UNSUPPORTED_FEATURES_OFF, "eligible.leader.replicas.version": 0}
LAYOUT = {
    CONTROLLER: (FERROKAFKA, ("controller",)),
    **{b: (FERROKAFKA, ("broker",)) for b in BROKERS},
}
FAST_FAILURE = {
    "broker.session.timeout.ms": "3000",
    "broker.heartbeat.interval.ms": "500",
    "replica.lag.time.max.ms": "3000",
    "replica.fetch.backoff.ms": "200",
}


def cluster_with(tmp_path: Path, overrides: dict[str, str]) -> Iterator[MixedCluster]:
    # Formatted with eligible.leader.replicas.version 0: these are the elections without ELR
    # (KIP-966); test_elr_processes.py runs the ELR ones.
    made = MixedCluster(tmp_path / "cluster", LAYOUT, overrides=overrides, features=dict(ELR_OFF))
    try:
        made.format()
        for node_id in made.nodes:
            made.start(node_id)
        made.wait_brokers()
        yield made
    finally:
        made.close()


def brokers_but(cluster: MixedCluster, *gone: int) -> str:
    return ",".join(cluster.nodes[b].bootstrap for b in BROKERS if b not in gone)


def partition_state(bootstrap: str, topic: str) -> tuple[int, list[int]]:
    """(leader, ISR) of partition 0 as a client's Metadata sees it; (-1, []) while the broker
    asked does not know it."""
    from confluent_kafka.admin import AdminClient

    metadata = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0}).list_topics(
        topic, timeout=CLIENT_TIMEOUT_S
    )
    found = metadata.topics.get(topic)
    part = found.partitions.get(0) if found is not None else None
    if part is None:  # a broker that has not seen the topic yet (metadata propagates)
        return -1, []
    return part.leader, sorted(part.isrs)


def wait_state(
    bootstrap: str, topic: str, condition: Callable[[int, list[int]], bool], what: str
) -> tuple[int, list[int]]:
    deadline = time.monotonic() + CLIENT_TIMEOUT_S
    while True:
        found = partition_state(bootstrap, topic)
        if condition(*found):
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {found}"
        time.sleep(POLL_S)


def create_topic(bootstrap: str, topic: str, config: dict[str, str]) -> None:
    """One partition on brokers 2, 3, 4 in that order: 2 is the preferred leader."""
    from confluent_kafka.admin import AdminClient, NewTopic

    client = AdminClient({"bootstrap.servers": bootstrap})
    new = NewTopic(topic, num_partitions=1, replica_assignment=[list(BROKERS)], config=config)
    client.create_topics([new], operation_timeout=CLIENT_TIMEOUT_S)[topic].result(CLIENT_TIMEOUT_S)
    wait_state(bootstrap, topic, lambda leader, isr: leader == 2 and len(isr) == 3, "ISR of 3")


def produce(bootstrap: str, topic: str, values: list[bytes], acks: str) -> list[Any]:
    """Send ``values`` (no retries: the first answer counts); the delivery errors (None: ok)."""
    from confluent_kafka import Producer

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": acks,
            "retries": 0,
            "enable.idempotence": False,
            "message.timeout.ms": int(CLIENT_TIMEOUT_S * 1000),
            "log_level": 0,
        }
    )
    outcomes: list[Any] = []
    for value in values:
        producer.produce(topic, value=value, partition=0,
                         on_delivery=lambda err, _m: outcomes.append(err))  # fmt: skip
        producer.poll(0)
    assert producer.flush(CLIENT_TIMEOUT_S) == 0
    return outcomes


def produce_ok(bootstrap: str, topic: str, values: list[bytes], acks: str) -> None:
    errors = [e for e in produce(bootstrap, topic, values, acks) if e is not None]
    assert errors == [], errors[:3]


def read_all(bootstrap: str, topic: str) -> list[bytes]:
    """Every record of partition 0 up to its end, from the beginning."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "reader",
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    _low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=CLIENT_TIMEOUT_S)
    consumer.assign([TopicPartition(topic, 0, 0)])
    values: list[bytes] = []
    deadline = time.monotonic() + CLIENT_TIMEOUT_S
    while len(values) < high and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            values.append(message.value())
    consumer.close()
    return values


def numbered(prefix: str) -> list[bytes]:
    return [f"{prefix}{i}".encode() for i in range(RECORDS)]


def kafka_tool(tmp_path: Path, main_class: str, *args: str) -> str:
    work = tmp_path / "tool"
    work.mkdir(exist_ok=True)
    return ks.run_kafka_tool(main_class, list(args), work_dir=work).stdout


def described_leader(tmp_path: Path, bootstrap: str, topic: str) -> int:
    described = kafka_tool(
        tmp_path, TOPIC_COMMAND, "--bootstrap-server", bootstrap, "--describe", "--topic", topic
    )
    return int(described.split("Leader:")[1].split()[0])


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[MixedCluster]:
    yield from cluster_with(tmp_path, {**FAST_FAILURE, "auto.leader.rebalance.enable": "false"})


def test_min_insync_refuses_acks_all_and_a_preferred_election_restores_the_leader(
    cluster: MixedCluster, tmp_path: Path
) -> None:
    boot, topic = cluster.bootstrap, "durable"
    create_topic(boot, topic, {"min.insync.replicas": "2"})
    produce_ok(boot, topic, numbered("a"), "all")

    for broker in (2, 3):
        cluster.kill(broker)
    alive = brokers_but(cluster, 2, 3)
    wait_state(alive, topic, lambda leader, isr: (leader, isr) == (4, [4]), "leader 4 alone")
    refused = produce(alive, topic, numbered("refused"), "all")
    assert {e.code() if e is not None else None for e in refused} == {NOT_ENOUGH_REPLICAS}
    produce_ok(alive, topic, numbered("b"), "1")

    for broker in (2, 3):
        cluster.start(broker)
    cluster.wait_brokers()
    leader, _ = wait_state(boot, topic, lambda _l, isr: isr == [2, 3, 4], "the ISR back")
    assert leader == 4  # no automatic balancing here
    values = read_all(boot, topic)
    assert values == numbered("a") + numbered("b")  # every acknowledged record, once, in order

    report = kafka_tool(
        tmp_path,
        LEADER_ELECTION,
        "--bootstrap-server",
        boot,
        "--election-type",
        "PREFERRED",
        "--all-topic-partitions",
    )
    assert f"Successfully completed leader election (PREFERRED) for partitions {topic}-0" in (
        report
    ), report
    wait_state(boot, topic, lambda leader, _isr: leader == 2, "the preferred leader")
    assert described_leader(tmp_path, boot, topic) == 2
    again = kafka_tool(
        tmp_path,
        LEADER_ELECTION,
        "--bootstrap-server",
        boot,
        "--election-type",
        "PREFERRED",
        "--topic",
        topic,
        "--partition",
        "0",
    )
    assert f"Valid replica already elected for partitions {topic}-0" in again, again
    assert read_all(boot, topic) == numbered("a") + numbered("b")


def allow_unclean(bootstrap: str, topic: str) -> None:
    """Turn unclean.leader.election.enable on for ``topic`` (IncrementalAlterConfigs)."""
    from confluent_kafka.admin import (
        AdminClient,
        AlterConfigOpType,
        ConfigEntry,
        ConfigResource,
        ResourceType,
    )

    resource = ConfigResource(
        ResourceType.TOPIC,
        topic,
        incremental_configs=[
            ConfigEntry(
                "unclean.leader.election.enable",
                "true",
                incremental_operation=AlterConfigOpType.SET,
            )
        ],
    )
    client = AdminClient({"bootstrap.servers": bootstrap})
    client.incremental_alter_configs([resource])[resource].result(CLIENT_TIMEOUT_S)


@pytest.fixture
def unclean_cluster(tmp_path: Path) -> Iterator[MixedCluster]:
    yield from cluster_with(
        tmp_path,
        {
            **FAST_FAILURE,
            "auto.leader.rebalance.enable": "false",
            # The controller's look for leaderless partitions that now allow an unclean leader.
            "unclean.leader.election.interval.ms": "1000",
        },
    )


def test_unclean_election_loses_only_what_the_lost_isr_alone_held(
    unclean_cluster: MixedCluster, tmp_path: Path
) -> None:
    """Three topics lose their whole ISR and get back only an out-of-sync replica: "lossy"
    allows unclean elections from the start, "forced" never does (Kafka's kafka-leader-election
    --election-type UNCLEAN forces one), "dynamic" is allowed them once leaderless."""
    cluster = unclean_cluster
    boot = cluster.bootstrap
    topics = ("lossy", "forced", "dynamic")
    for topic in topics:
        config = {"unclean.leader.election.enable": "true"} if topic == "lossy" else {}
        create_topic(boot, topic, config)
        produce_ok(boot, topic, numbered("a"), "all")  # on all three

    cluster.kill(4)
    for topic in topics:
        wait_state(brokers_but(cluster, 4), topic, lambda _l, isr: isr == [2, 3], "4 dropped")
        produce_ok(brokers_but(cluster, 4), topic, numbered("lost"), "all")  # 2 and 3 only

    for broker in (2, 3):
        cluster.kill(broker)
    cluster.start(4)
    cluster.wait_brokers(4)
    alive = brokers_but(cluster, 2, 3)
    # 4 comes back with the whole ISR gone: elected for "lossy" although out of sync.
    wait_state(alive, "lossy", lambda leader, isr: (leader, isr) == (4, [4]), "unclean leader")
    for topic in ("forced", "dynamic"):
        assert partition_state(alive, topic)[0] == -1  # not allowed: leaderless
    report = kafka_tool(
        tmp_path,
        LEADER_ELECTION,
        "--bootstrap-server",
        alive,
        "--election-type",
        "UNCLEAN",
        "--topic",
        "forced",
        "--partition",
        "0",
    )
    assert "Successfully completed leader election (UNCLEAN) for partitions forced-0" in report
    allow_unclean(alive, "dynamic")
    for topic in topics:
        wait_state(alive, topic, lambda leader, isr: (leader, isr) == (4, [4]), "leader 4")
        produce_ok(alive, topic, numbered("b"), "all")

    for broker in (2, 3):
        cluster.start(broker)
    cluster.wait_brokers()
    # What 4 never had is lost, on every replica (2 and 3 truncate to the new leader's log);
    # everything else acknowledged is there, once.
    expected = numbered("a") + numbered("b")
    for topic in topics:
        wait_state(boot, topic, lambda _l, isr: isr == [2, 3, 4], "the ISR back")
        assert read_all(boot, topic) == expected
    report = kafka_tool(
        tmp_path,
        LEADER_ELECTION,
        "--bootstrap-server",
        boot,
        "--election-type",
        "PREFERRED",
        "--all-topic-partitions",
    )
    assert "Successfully completed leader election (PREFERRED)" in report, report
    for topic in topics:
        wait_state(boot, topic, lambda leader, _isr: leader == 2, "the preferred leader")
        assert read_all(boot, topic) == expected  # read from 2 now: it truncated too
    recovery_states(cluster, tmp_path, topics)


def recovery_states(cluster: MixedCluster, tmp_path: Path, topics: tuple[str, ...]) -> None:
    """KIP-704 in the metadata log, as Kafka's DumpLogSegments decodes it: each unclean
    election made the partition RECOVERING with the ISR [4]; the new leader later sent
    RECOVERED (with the ISR expansion that followed its recovery)."""
    metadata = cluster.nodes[CONTROLLER].work_dir / "metadata" / "__cluster_metadata-0"
    payloads, dumped = dump_cluster_metadata(metadata, work_dir=tmp_path / "dump")
    assert not dumped.problems
    ids = {p["data"]["name"]: p["data"]["topicId"] for p in payloads if p["type"] == "TOPIC_RECORD"}
    for topic in topics:
        changes = [
            p["data"]
            for p in payloads
            if p["type"] == "PARTITION_CHANGE_RECORD" and p["data"]["topicId"] == ids[topic]
        ]
        states = [c.get("leaderRecoveryState") for c in changes if "leaderRecoveryState" in c]
        unclean = [c for c in changes if c.get("leaderRecoveryState") == 1]
        assert len(unclean) == 1 and unclean[0]["leader"] == 4 and unclean[0]["isr"] == [4], (
            topic,
            changes,
        )
        assert states == [1, 0], (topic, changes)


def test_controlled_shutdown_moves_leadership_and_the_balancer_brings_it_back(
    tmp_path: Path,
) -> None:
    overrides = {
        **FAST_FAILURE,
        # Far beyond this test: a leadership move is the controlled shutdown's, not fencing's.
        "broker.session.timeout.ms": "600000",
        "auto.leader.rebalance.enable": "true",
        "leader.imbalance.check.interval.seconds": "1",
    }
    for cluster in cluster_with(tmp_path, overrides):
        boot, topic = cluster.bootstrap, "moving"
        create_topic(boot, topic, {"min.insync.replicas": "2"})
        produce_ok(boot, topic, numbered("a"), "all")
        assert cluster.stop(2) == 0  # SIGTERM: exits only once its controlled shutdown is done
        alive = brokers_but(cluster, 2)
        leader, isr = partition_state(alive, topic)
        assert leader in (3, 4) and 2 not in isr, (leader, isr)
        assert "controlled shutdown granted" in cluster.nodes[2].logged()
        produce_ok(alive, topic, numbered("b"), "all")

        cluster.start(2)
        cluster.wait_brokers(2)
        wait_state(
            boot, topic, lambda leader, isr: leader == 2 and isr == [2, 3, 4], "balanced back"
        )
        assert described_leader(tmp_path, boot, topic) == 2
        assert read_all(boot, topic) == numbered("a") + numbered("b")
