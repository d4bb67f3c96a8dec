"""Kafka's production layout, all ferrokafka: three controller-only ``ferrokafka serve``
processes (a static quorum) and three broker-only ones, each its own process, used only through
tools and clients we did not write.

- ``kafka-metadata-quorum --bootstrap-controller describe --status / --replication`` shows
  voters 1-3 (one leading) and observers 4-6, every one caught up.
- ``kafka-features``: describe through a broker and through the controllers; a downgrade of
  group.version through a broker and the upgrade back through ``--bootstrap-controller``; every
  node's ApiVersions shows the new level and epoch; a level we do not support is refused.
- Clients: kafka-topics (Java admin) creates an RF 3 topic, confluent-kafka an RF 1 one; an
  idempotent confluent-kafka producer writes to every partition of both through each broker;
  kafka-python reads every partition back through each broker, and Kafka's console consumer
  through one.
- The active controller is SIGKILLed: another voter becomes active within the election
  timeout bound; the topics made before are all there; a new topic is created and used; the
  quorum tool shows the new leader.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kraft_processes import LOOPBACK, KRaftCluster
from wire_call import api_versions, call

import kafka_support as ks
from ferrokafka.protocol import RequestHeader, decode_response, encode_request
from ferrokafka.protocol.messages.envelope import EnvelopeRequest
from ferrokafka.protocol.messages.update_features import UpdateFeaturesRequest

CLIENT_TIMEOUT_S = 60.0
NOT_CONTROLLER = 41
QUIET = {"log_level": 0}
QUORUM_COMMAND = "org.apache.kafka.tools.MetadataQuorumCommand"
FEATURE_COMMAND = "org.apache.kafka.tools.FeatureCommand"
TOPIC_COMMAND = "org.apache.kafka.tools.TopicCommand"
CONSOLE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
ELECTION_TIMEOUT_MS = 1000
# A new active controller within this bound of the SIGKILL: a few election timeouts, with the
# margin a shared 2-core machine needs (the measured figure is in the README).
FAILOVER_BOUND_S = 30.0
RECORDS_PER_PARTITION = 20
CONTROLLERS = (1, 2, 3)
BROKERS = (4, 5, 6)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KRaftCluster]:
    made = KRaftCluster(
        tmp_path / "cluster",
        size=3,
        brokers=3,
        combined=False,
        overrides={
            "broker.session.timeout.ms": "3000",
            "broker.heartbeat.interval.ms": "500",
            "controller.quorum.election.timeout.ms": str(ELECTION_TIMEOUT_MS),
            "controller.quorum.fetch.timeout.ms": str(2 * ELECTION_TIMEOUT_MS),
        },
    )
    with made.running():
        yield made


def tool(work_dir: Path, main_class: str, *args: str) -> str:
    return ks.run_kafka_tool(main_class, list(args), work_dir=work_dir).stdout


def update(level: int, **fields: Any) -> UpdateFeaturesRequest:
    """UpdateFeatures for group.version (``upgrade_type``, ``allow_downgrade`` by version)."""
    return UpdateFeaturesRequest(
        feature_updates=[
            UpdateFeaturesRequest.FeatureUpdateKey(
                feature="group.version",
                max_version_level=level,
                allow_downgrade=fields.pop("allow_downgrade", False),
                upgrade_type=fields.pop("upgrade_type", 1),
            )
        ],
        **fields,
    )


def finalized(address: str) -> tuple[dict[str, int], int]:
    response = api_versions(address)
    levels = {f.name: f.max_version_level for f in response.finalized_features}
    return levels, response.finalized_features_epoch


def wait_finalized(addresses: list[str], feature: str, level: int) -> set[int]:
    """Until every address reports ``feature`` at ``level`` at one epoch (every node applied
    the same log; nothing else is written meanwhile in a quiet cluster); that epoch."""
    deadline = time.monotonic() + CLIENT_TIMEOUT_S
    while True:
        seen = {a: finalized(a) for a in addresses}
        epochs = {epoch for _, epoch in seen.values()}
        if len(epochs) == 1 and all(levels.get(feature, 0) == level for levels, _ in seen.values()):
            return epochs
        assert time.monotonic() < deadline, f"{feature} not {level} everywhere: {seen}"
        time.sleep(0.2)


def admin(bootstrap: str) -> Any:
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap, **QUIET})


def topic_leaders(bootstrap: str, topic: str) -> dict[int, tuple[int, list[int]]]:
    found = admin(bootstrap).list_topics(topic, timeout=CLIENT_TIMEOUT_S).topics.get(topic)
    if found is None or found.error is not None:
        return {}
    return {p: (m.leader, list(m.isrs)) for p, m in found.partitions.items()}


def wait_ready_topic(bootstrap: str, topic: str, partitions: int, rf: int) -> dict[int, int]:
    """Until every partition has a leader and a full ISR; partition -> leader."""
    deadline = time.monotonic() + CLIENT_TIMEOUT_S
    while True:
        found = topic_leaders(bootstrap, topic)
        if len(found) == partitions and all(
            leader >= 0 and len(isr) == rf for leader, isr in found.values()
        ):
            return {p: leader for p, (leader, _) in found.items()}
        assert time.monotonic() < deadline, f"{topic} stayed {found}"
        time.sleep(0.2)


def create_rf1(bootstrap: str, name: str, partitions: int) -> None:
    from confluent_kafka.admin import NewTopic

    client = admin(bootstrap)
    futures = client.create_topics(
        [NewTopic(name, partitions, 1)],
        operation_timeout=CLIENT_TIMEOUT_S,
        request_timeout=CLIENT_TIMEOUT_S,
    )
    futures[name].result(CLIENT_TIMEOUT_S)


def produce_everywhere(cluster: KRaftCluster, topic: str, partitions: int) -> set[bytes]:
    """RECORDS_PER_PARTITION records to every partition, each broker in turn the bootstrap."""
    from confluent_kafka import Producer

    sent: set[bytes] = set()
    for broker_id in BROKERS:
        producer = Producer(
            {
                "bootstrap.servers": cluster.nodes[broker_id].bootstrap,
                "acks": "all",
                "enable.idempotence": True,
                **QUIET,
            }
        )
        failures: list[Any] = []
        for partition in range(partitions):
            for i in range(RECORDS_PER_PARTITION // len(BROKERS) + 1):
                value = b"%s-b%d-p%d-%d" % (topic.encode(), broker_id, partition, i)
                producer.produce(
                    topic,
                    value=value,
                    partition=partition,
                    on_delivery=lambda err, _m, out=failures: out.append(err) if err else None,
                )
                sent.add(value)
        assert producer.flush(CLIENT_TIMEOUT_S) == 0
        assert failures == []
    return sent


def consume_with_kafka_python(
    bootstrap: str, topic: str, partitions: int, count: int
) -> set[bytes]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=int(CLIENT_TIMEOUT_S * 1000),
    )
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        seen: set[bytes] = set()
        deadline = time.monotonic() + CLIENT_TIMEOUT_S
        while len(seen) < count and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                seen.update(r.value for r in records)
        return seen
    finally:
        consumer.close()


def test_three_controllers_three_brokers_with_real_tools_and_a_controller_killed(
    cluster: KRaftCluster, tmp_path: Path
) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    controllers = cluster.bootstrap_controller
    brokers = [cluster.nodes[b].bootstrap for b in BROKERS]

    # -- the quorum, as Kafka's tool sees it ------------------------------------------------
    leader, epoch = cluster.wait_active_controller()
    status = tool(
        tools, QUORUM_COMMAND, "--bootstrap-controller", controllers, "describe", "--status"
    )
    assert re.search(rf"LeaderId:\s+{leader}\n", status), status
    voters = [int(v) for v in re.findall(r'\{"id": (\d+)', status.split("CurrentObservers")[0])]
    assert sorted(voters) == list(CONTROLLERS), status
    observers = [int(v) for v in re.findall(r'\{"id": (\d+)', status.split("CurrentObservers")[1])]
    assert sorted(observers) == list(BROKERS), status
    deadline = time.monotonic() + CLIENT_TIMEOUT_S
    while True:
        replication = tool(
            tools,
            QUORUM_COMMAND,
            "--bootstrap-controller",
            controllers,
            "describe",
            "--replication",
        )
        rows = [line.split() for line in replication.splitlines()[1:] if line.strip()]
        kinds = {int(r[0]): r[-1] for r in rows}
        lags = {int(r[0]): int(r[3]) for r in rows}
        if set(kinds) == set(CONTROLLERS + BROKERS) and not any(lags.values()):
            break
        assert time.monotonic() < deadline, replication
    assert kinds[leader] == "Leader"
    assert sorted(k for k, v in kinds.items() if v == "Follower") == sorted(
        set(CONTROLLERS) - {leader}
    )
    assert sorted(k for k, v in kinds.items() if v == "Observer") == list(BROKERS)

    # -- features ---------------------------------------------------------------------------
    described = tool(tools, FEATURE_COMMAND, "--bootstrap-server", brokers[0], "describe")
    assert re.search(r"Feature: group.version\s+SupportedMinVersion: 0\s+SupportedMaxVersion: 1"
                     r"\s+FinalizedVersionLevel: 1", described), described  # fmt: skip
    assert re.search(r"Feature: metadata.version.*FinalizedVersionLevel: 4.4-IV2", described)
    dry = tool(tools, FEATURE_COMMAND, "--bootstrap-server", brokers[1], "downgrade",
               "--feature", "group.version=0", "--dry-run")  # fmt: skip
    assert "group.version can be downgraded to 0." in dry
    assert finalized(brokers[1])[0]["group.version"] == 1  # nothing written
    down = tool(tools, FEATURE_COMMAND, "--bootstrap-server", brokers[1], "downgrade",
                "--feature", "group.version=0")  # fmt: skip
    assert "group.version was downgraded to 0." in down
    controller_addresses = controllers.split(",")
    every_node = brokers + controller_addresses
    [down_epoch] = wait_finalized(every_node, "group.version", 0)
    up = tool(tools, FEATURE_COMMAND, "--bootstrap-controller", controllers, "upgrade",
              "--feature", "group.version=1")  # fmt: skip
    assert "group.version was upgraded to 1." in up
    [up_epoch] = wait_finalized(every_node, "group.version", 1)
    assert up_epoch > down_epoch
    # On the wire: v0's allow_downgrade forwarded by a broker, v2 (no per-feature results),
    # validate_only, and a standby controller's NOT_CONTROLLER.
    standby = next(c for c in CONTROLLERS if c != leader)
    not_active = call(f"{LOOPBACK}:{cluster.nodes[standby].controller_port}", update(0), 1)
    assert not_active.error_code == NOT_CONTROLLER
    checked = call(brokers[2], update(0, validate_only=True, upgrade_type=2), 1)
    assert checked.error_code == 0 and [r.feature for r in checked.results] == ["group.version"]
    assert finalized(brokers[2])[0]["group.version"] == 1
    v0 = call(brokers[0], update(0, allow_downgrade=True), 0)
    assert (v0.error_code, [(r.feature, r.error_code) for r in v0.results]) == (
        0,
        [("group.version", 0)],
    )
    wait_finalized(every_node, "group.version", 0)
    v2 = call(brokers[1], update(1), 2)
    assert (v2.error_code, v2.results) == (0, [])
    wait_finalized(every_node, "group.version", 1)
    # As a Kafka broker forwards: inside an Envelope, answered at the inner request's version.
    active = f"{LOOPBACK}:{cluster.nodes[leader].controller_port}"
    inner = RequestHeader(request_api_key=57, request_api_version=0, correlation_id=77,
                          client_id="enveloped")  # fmt: skip
    frame = encode_request(inner, update(0, allow_downgrade=True))[4:]
    envelope = EnvelopeRequest(
        request_data=memoryview(frame), client_host_address=bytes([127, 0, 0, 1])
    )
    enveloped = call(active, envelope, 0)
    assert enveloped.error_code == 0
    header, answer = decode_response(bytes(enveloped.response_data), 57, 0)
    assert header.correlation_id == 77
    assert [(r.feature, r.error_code) for r in answer.results] == [("group.version", 0)]
    wait_finalized(every_node, "group.version", 0)
    assert call(brokers[0], update(1), 1).error_code == 0
    [up_epoch] = wait_finalized(every_node, "group.version", 1)
    by_controller = tool(tools, FEATURE_COMMAND, "--bootstrap-controller", controllers, "describe")
    assert re.search(rf"Feature: group.version.*FinalizedVersionLevel: 1\s+Epoch: {up_epoch}",
                     by_controller), by_controller  # fmt: skip
    with pytest.raises(ks.KafkaToolError) as refused:
        tool(tools, FEATURE_COMMAND, "--bootstrap-server", brokers[2], "upgrade",
             "--feature", "group.version=2")  # fmt: skip
    assert "only supports versions 0-1" in str(refused.value)

    # -- clients ----------------------------------------------------------------------------
    created = tool(tools, TOPIC_COMMAND, "--bootstrap-server", brokers[2], "--create",
                   "--topic", "rf3", "--partitions", "3", "--replication-factor", "3")  # fmt: skip
    assert "Created topic rf3." in created
    create_rf1(brokers[0], "rf1", 6)
    assert set(wait_ready_topic(brokers[0], "rf3", 3, 3).values()) == set(BROKERS)
    assert set(wait_ready_topic(brokers[0], "rf1", 6, 1).values()) == set(BROKERS)
    # kafka-topics --describe (DescribeTopicPartitions, a page per partition): full ISRs.
    described = tool(tools, TOPIC_COMMAND, "--bootstrap-server", brokers[1], "--describe",
                     "--topic", "rf3", "--partition-size-limit-per-response", "1")  # fmt: skip
    rows = [dict(re.findall(r"(\w+): ([^\t]*)", line))
            for line in described.splitlines() if "Partition:" in line]  # fmt: skip
    assert [r["Partition"] for r in rows] == ["0", "1", "2"], described
    assert all(sorted(r["Isr"].split(",")) == ["4", "5", "6"] for r in rows), described
    assert "Elr: N/A" not in described  # DescribeTopicPartitions answered, not Metadata
    sent = {t: produce_everywhere(cluster, t, n) for t, n in (("rf3", 3), ("rf1", 6))}
    for topic, partitions in (("rf3", 3), ("rf1", 6)):
        for bootstrap in brokers:
            got = consume_with_kafka_python(bootstrap, topic, partitions, len(sent[topic]))
            assert got == sent[topic], (topic, bootstrap, len(got), len(sent[topic]))
    console = tool(tools, CONSOLE_CONSUMER, "--bootstrap-server", brokers[1], "--topic", "rf3",
                   "--from-beginning", "--max-messages", str(len(sent["rf3"])),
                   "--timeout-ms", str(int(CLIENT_TIMEOUT_S * 1000)))  # fmt: skip
    assert {line.encode() for line in console.splitlines()} == sent["rf3"]

    # -- the active controller dies -----------------------------------------------------------
    killed_at = time.monotonic()
    cluster.kill(leader)
    new_leader, new_epoch = cluster.wait_active_controller(epoch, timeout_s=FAILOVER_BOUND_S)
    failover_s = time.monotonic() - killed_at
    print(f"failover: node {new_leader} active in epoch {new_epoch} {failover_s:.2f} s after")
    assert new_leader != leader and new_leader in CONTROLLERS
    listed = admin(brokers[0]).list_topics(timeout=CLIENT_TIMEOUT_S).topics
    assert {"rf1", "rf3"} <= set(listed)
    create_rf1(brokers[2], "after", 3)
    wait_ready_topic(brokers[2], "after", 3, 1)
    after = produce_everywhere(cluster, "after", 3)
    assert consume_with_kafka_python(brokers[0], "after", 3, len(after)) == after
    assert consume_with_kafka_python(brokers[1], "rf3", 3, len(sent["rf3"])) == sent["rf3"]
    survivors = ",".join(
        f"{LOOPBACK}:{cluster.nodes[c].controller_port}" for c in CONTROLLERS if c != leader
    )
    status = tool(
        tools, QUORUM_COMMAND, "--bootstrap-controller", survivors, "describe", "--status"
    )
    assert re.search(rf"LeaderId:\s+{new_leader}\n", status), status
    assert re.search(rf"LeaderEpoch:\s+{new_epoch}\n", status), status
