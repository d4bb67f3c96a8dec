"""Eligible leader replicas (KIP-966) across ``ferrokafka serve`` processes formatted with
eligible.leader.replicas.version=1, checked with real clients and Kafka's own tools: one
controller-only node and three ferrokafka brokers (the layout of test_elections_processes.py),
the controller being ferrokafka's or Apache Kafka 4.4's — which accepts our brokers with ELR
1 and must take the same ELR decisions, so the same assertions hold under both.

Topic RF 3, min.insync.replicas 2, brokers 2 (leader), 3, 4:

* 4 and then 3 are killed (SIGKILL): the ISR shrinks to [2] and 3, which left an ISR already
  at min.insync.replicas, is eligible: Kafka's ``kafka-topics --describe`` shows ``Elr: 3``;
* with the ISR below min.insync.replicas the leader's high watermark stays (acks=1 records are
  appended and acknowledged, a consumer's high watermark does not move);
* 2 shuts down cleanly (SIGTERM): the ISR becomes empty, ``Elr: 2,3``, ``LastKnownElr: 2``;
* 3 comes back after its unclean shutdown: out of the ELR (``Elr: 2``), still no leader;
* 2 comes back after its clean shutdown: elected from the ELR — and every acknowledged
  record is there, in order, once 4 is back too.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mixed_processes import FERROKAFKA, KAFKA, UNSUPPORTED_FEATURES_OFF, MixedCluster
from test_elections_processes import (
    BROKERS,
    CLIENT_TIMEOUT_S,
    CONTROLLER,
    FAST_FAILURE,
    POLL_S,
    TOPIC_COMMAND,
    create_topic,
    kafka_tool,
    numbered,
    produce_ok,
    read_all,
    wait_state,
)

ELR_ON = {**UNSUPPORTED_FEATURES_OFF, "eligible.leader.replicas.version": 1}


@pytest.fixture(
    params=[
        pytest.param(FERROKAFKA, id="ferrokafka-controller"),
        pytest.param(KAFKA, id="kafka-controller", marks=[pytest.mark.kafka, pytest.mark.slow]),
    ]
)
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MixedCluster]:
    if request.param == KAFKA:
        request.getfixturevalue("kafka_classpath")  # fails saying how to fetch Kafka
    layout = {
        CONTROLLER: (request.param, ("controller",)),
        **{b: (FERROKAFKA, ("broker",)) for b in BROKERS},
    }
    made = MixedCluster(
        tmp_path / "cluster",
        layout,
        overrides={**FAST_FAILURE, "auto.leader.rebalance.enable": "false"},
        features=dict(ELR_ON),
    )
    try:
        made.format()
        for node_id in made.nodes:
            made.start(node_id)
        made.wait_brokers()
        yield made
    finally:
        made.close()


def described(tmp_path: Path, bootstrap: str, topic: str) -> dict[str, str]:
    """Leader, Isr, Elr and LastKnownElr of partition 0 as ``kafka-topics --describe`` prints
    them (Kafka's TopicCommand over DescribeTopicPartitions)."""
    out = kafka_tool(
        tmp_path, TOPIC_COMMAND, "--bootstrap-server", bootstrap, "--describe", "--topic", topic
    )
    line = next((x for x in out.splitlines() if "Partition: 0" in x), "")
    fields = dict(re.findall(r"(Leader|Isr|Elr|LastKnownElr): ([^\t\n]*)", line))
    return {k: v.strip() for k, v in fields.items()} | {"line": line}


def wait_described(
    tmp_path: Path, bootstrap: str, topic: str, want: dict[str, str]
) -> dict[str, str]:
    deadline = time.monotonic() + CLIENT_TIMEOUT_S
    while True:
        found = described(tmp_path, bootstrap, topic)
        if all(found.get(k) == v for k, v in want.items()):
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {want}: {found['line']!r}"
        time.sleep(POLL_S)


def high_watermark(bootstrap: str, topic: str) -> int:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "hw", "log_level": 0})
    try:
        _low, high = consumer.get_watermark_offsets(
            TopicPartition(topic, 0), timeout=CLIENT_TIMEOUT_S
        )
    finally:
        consumer.close()
    return high


def test_an_eligible_replica_is_elected_when_the_isr_is_empty(
    cluster: MixedCluster, tmp_path: Path
) -> None:
    boot, topic = cluster.bootstrap, "elr"
    create_topic(boot, topic, {"min.insync.replicas": "2"})
    produce_ok(boot, topic, numbered("a"), "all")
    only_2 = cluster.nodes[2].bootstrap

    cluster.kill(4)
    wait_state(only_2, topic, lambda leader, isr: (leader, isr) == (2, [2, 3]), "ISR [2, 3]")
    produce_ok(only_2, topic, numbered("b"), "all")
    cluster.kill(3)
    wait_state(only_2, topic, lambda leader, isr: (leader, isr) == (2, [2]), "ISR [2]")
    wait_described(tmp_path, only_2, topic, {"Leader": "2", "Isr": "2", "Elr": "3"})

    # Below min.insync.replicas the high watermark does not move (KIP-966).
    hw = high_watermark(only_2, topic)
    assert hw == 2 * len(numbered("a"))
    produce_ok(only_2, topic, numbered("c"), "1")
    assert high_watermark(only_2, topic) == hw

    assert cluster.stop(2) == 0  # a clean shutdown: 2 stays eligible
    cluster.start(3)
    cluster.wait_brokers(3)
    only_3 = cluster.nodes[3].bootstrap
    # 3 crashed: it left the ELR when it registered again; no one may lead yet.
    found = wait_described(tmp_path, only_3, topic, {"Leader": "none", "Elr": "2"})
    assert found.get("Isr") == "" and found.get("LastKnownElr") == "2", found["line"]

    cluster.start(2)
    cluster.wait_brokers(2)
    wait_described(tmp_path, boot, topic, {"Leader": "2"})
    cluster.start(4)
    cluster.wait_brokers()
    wait_state(boot, topic, lambda leader, isr: (leader, isr) == (2, [2, 3, 4]), "ISR back")
    found = wait_described(tmp_path, boot, topic, {"Elr": "", "LastKnownElr": ""})
    values = read_all(boot, topic)
    # Every acknowledged record, once, in order (the acks=1 ones too: 2 kept its log).
    assert values == numbered("a") + numbered("b") + numbered("c")
