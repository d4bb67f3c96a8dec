"""Apache Kafka's own command-line tools against ferrokafka: kafka-topics (TopicCommand),
kafka-configs (ConfigCommand) and kafka-broker-api-versions (BrokerApiVersionsCommand), run as
Kafka ships them, with the Java admin client inside.

The jars come from tests/kafka/fetch.sh; without them these fail saying how to fetch them
(never skip). Each tool run is one bounded JVM (kafka_support.jars.TOOL_TIMEOUT_S).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import kafka_support as ks
from ferrokafka.server.handlers.api_versions import ApiVersionsHandler
from ferrokafka.testing import RunningBroker

TOPIC_COMMAND = "org.apache.kafka.tools.TopicCommand"
# ConfigCommand moved from the Scala core (kafka.admin) to the tools module in Kafka 4.4.
CONFIG_COMMAND = "org.apache.kafka.tools.ConfigCommand"
BROKER_API_VERSIONS_COMMAND = "org.apache.kafka.tools.BrokerApiVersionsCommand"
PRODUCER_PERFORMANCE = "org.apache.kafka.tools.ProducerPerformance"


@pytest.fixture(scope="module")
def tool_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ks.require_kafka()
    return tmp_path_factory.mktemp("kafka-tools")


def run(tool_dir: Path, main_class: str, broker: RunningBroker, *args: str) -> str:
    return ks.run_kafka_tool(
        main_class, ["--bootstrap-server", broker.bootstrap_servers, *args], work_dir=tool_dir
    ).stdout


def test_kafka_topics(tool_dir: Path, ferrokafka_broker: RunningBroker) -> None:
    b = ferrokafka_broker
    out = run(
        tool_dir,
        TOPIC_COMMAND,
        b,
        "--create",
        "--topic",
        "java-topics",
        "--partitions",
        "2",
        "--replication-factor",
        "1",
        "--config",
        "retention.ms=86400000",
    )
    assert "Created topic java-topics." in out
    assert "java-topics" in run(tool_dir, TOPIC_COMMAND, b, "--list").split()

    run(tool_dir, TOPIC_COMMAND, b, "--alter", "--topic", "java-topics", "--partitions", "4")
    described = run(tool_dir, TOPIC_COMMAND, b, "--describe", "--topic", "java-topics")
    summary, *partitions = [line for line in described.splitlines() if line.strip()]
    assert "PartitionCount: 4" in summary and "ReplicationFactor: 1" in summary
    assert "retention.ms=86400000" in summary
    assert len(partitions) == 4
    assert all("Leader: 1" in line and "Isr: 1" in line for line in partitions)

    with pytest.raises(ks.KafkaToolError, match="(?s)InvalidReplicationFactor|replication factor"):
        run(
            tool_dir,
            TOPIC_COMMAND,
            b,
            "--create",
            "--topic",
            "java-rf3",
            "--partitions",
            "1",
            "--replication-factor",
            "3",
        )

    run(tool_dir, TOPIC_COMMAND, b, "--delete", "--topic", "java-topics")
    assert "java-topics" not in run(tool_dir, TOPIC_COMMAND, b, "--list").split()


def test_kafka_configs(tool_dir: Path, ferrokafka_broker: RunningBroker) -> None:
    b = ferrokafka_broker
    run(tool_dir, TOPIC_COMMAND, b, "--create", "--topic", "java-configs")
    entity = ["--entity-type", "topics", "--entity-name", "java-configs"]
    out = run(
        tool_dir,
        CONFIG_COMMAND,
        b,
        "--alter",
        *entity,
        "--add-config",
        "retention.ms=123456,cleanup.policy=compact",
    )
    assert "Completed updating config for topic java-configs." in out
    described = run(tool_dir, CONFIG_COMMAND, b, "--describe", *entity)
    assert "retention.ms=123456" in described and "cleanup.policy=compact" in described

    run(tool_dir, CONFIG_COMMAND, b, "--alter", *entity, "--delete-config", "cleanup.policy")
    described = run(tool_dir, CONFIG_COMMAND, b, "--describe", *entity)
    assert "retention.ms=123456" in described and "cleanup.policy" not in described
    handle = b.partition("java-configs", 0)
    assert handle is not None and handle.log.config.retention_ms == 123456

    broker_out = run(
        tool_dir,
        CONFIG_COMMAND,
        b,
        "--describe",
        "--entity-type",
        "brokers",
        "--entity-name",
        "1",
        "--all",
    )
    assert "num.partitions=1" in broker_out


def test_kafka_broker_api_versions_and_the_identity_check(
    tool_dir: Path, ferrokafka_broker: RunningBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Java client of Kafka 4.4 negotiates ApiVersions v5 with us, and its producer, once
    Metadata told it the cluster id, names the cluster and node it connects to (KIP-1242):
    our check lets it through. (The admin client names neither: it has no cluster id to give.)"""
    seen: list[tuple[int, str | None, int, int]] = []
    answer = ApiVersionsHandler.__call__

    async def recording(self: ApiVersionsHandler, ctx: Any, request: Any) -> Any:
        response = await answer(self, ctx, request)
        seen.append((ctx.api_version, request.cluster_id, request.node_id, response.error_code))
        return response

    monkeypatch.setattr(ApiVersionsHandler, "__call__", recording)
    b = ferrokafka_broker
    out = run(tool_dir, BROKER_API_VERSIONS_COMMAND, b)
    assert f"{b.bootstrap_servers} (id: 1 rack: null" in out
    assert "ApiVersions(18): 0 to 5 [usable: 5]" in out
    assert "DeleteGroups(42): 0 to 3 [usable: 3]" in out
    assert "TxnOffsetCommit(28): 0 to 6 [usable: 6]" in out
    assert seen and all(entry == (5, None, -1, 0) for entry in seen), seen

    run(tool_dir, TOPIC_COMMAND, b, "--create", "--topic", "java-identity")
    seen.clear()
    produced = run(
        tool_dir,
        PRODUCER_PERFORMANCE,
        b,
        "--topic",
        "java-identity",
        "--num-records",
        "20",
        "--record-size",
        "16",
        "--throughput",
        "-1",
    )
    assert "20 records sent" in produced
    # the bootstrap connection names nothing; the one to node 1 names it and this cluster
    assert (5, None, -1, 0) in seen
    assert (5, b.cluster_id, 1, 0) in seen
    assert all(code == 0 for *_, code in seen), seen
