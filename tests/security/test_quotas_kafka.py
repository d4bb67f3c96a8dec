"""``kafka-configs`` quotas and controller mutation quotas on ferrokafka and on Apache Kafka 4.4,
side by side.

The same alters and describes (clients, users, user+client, defaults, a refused fractional
byte rate, a delete) go through Kafka's own ConfigCommand to both brokers; what it prints
must be the same. (Describing a user alone also lists its SCRAM credentials, which needs
DescribeUserScramCredentials: that form is left to the SCRAM part of issue 18.)

Then a client with a controller_mutation_rate of 1 creates four topics of five partitions
(CreateTopics v7, strict: the token bucket holds 11 s of quota) and deletes two (DeleteTopics
v5) as soon as the broker reads from it again: the same answers on both. And Produce requests
over a client-id quota, and over a user quota for ANONYMOUS (a PLAINTEXT client's principal),
get the same throttle times from both.

The jars come from tests/kafka/fetch.sh; without them these fail saying how to fetch them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_wire import RawClient

import kafka_support as ks
from ferrokafka.protocol.messages.alter_client_quotas import AlterClientQuotasRequest as ACQ
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest as CT
from ferrokafka.protocol.messages.delete_topics import DeleteTopicsRequest as DT
from ferrokafka.protocol.messages.produce import ProduceRequest as PR
from ferrokafka.storage import BatchBuilder
from ferrokafka.testing import run_broker

pytestmark = [pytest.mark.kafka, ks.COMPARE_OPT_IN]

CONFIG_COMMAND = "org.apache.kafka.tools.ConfigCommand"
CLIENT = ["--entity-type", "clients", "--entity-name", "slow"]
CLIENT_DEFAULT = ["--entity-type", "clients", "--entity-default"]
USER_DEFAULT = ["--entity-type", "users", "--entity-default"]
USER_CLIENT = ["--entity-type", "users", "--entity-name", "alice", *CLIENT]
TIMEOUT_MS = 30_000
# Kafka applies a quota once its broker and controller read the record from the metadata log.
SETTLE_S = 1.0
# A producer_byte_rate of 1 KiB/s and requests of 16 KiB: over the 10 s a first request may
# send, so the first is throttled about 6 s and the second, read after it, about 22 s.
PRODUCE_RATE = 1024.0
PRODUCE_RECORDS = 4
PRODUCE_VALUE_BYTES = 4096
TIMESTAMP_MS = 1_700_000_000_000
# Both brokers read their own clocks between the requests: a few ms apart, and the CPU is shared.
THROTTLE_SLACK_MS = 250
RATES = "producer_byte_rate=1048576,consumer_byte_rate=2097152,request_percentage=50"

# Each step: the tool's arguments after --bootstrap-server.
STEPS: list[list[str]] = [
    [*CLIENT, "--alter", "--add-config", RATES],
    [*CLIENT_DEFAULT, "--alter", "--add-config", "producer_byte_rate=4096"],
    [*USER_DEFAULT, "--alter", "--add-config", "consumer_byte_rate=8192,request_percentage=12.5"],
    [*USER_CLIENT, "--alter", "--add-config", "controller_mutation_rate=10"],
    [*CLIENT, "--describe"],
    ["--entity-type", "clients", "--describe"],
    [*USER_DEFAULT, "--describe"],
    [*USER_CLIENT, "--describe"],
    ["--entity-type", "users", "--entity-name", "alice", "--entity-type", "clients", "--describe"],
    [*CLIENT, "--alter", "--add-config", "producer_byte_rate=1.5"],
    [*CLIENT, "--alter", "--add-config", "request_percentage=0"],
    [*CLIENT, "--alter", "--delete-config", "producer_byte_rate,request_percentage"],
    [*CLIENT, "--describe"],
]


def config_command(work_dir: Path, bootstrap: str, args: list[str]) -> str:
    """What the tool prints: its output, or its error's last line (the broker's message)."""
    try:
        return ks.run_kafka_tool(
            CONFIG_COMMAND, ["--bootstrap-server", bootstrap, *args], work_dir=work_dir
        ).stdout.strip()
    except ks.KafkaToolError as exc:
        causes = [line for line in str(exc).splitlines() if "Exception:" in line]
        return "ERROR " + (causes[-1].strip() if causes else str(exc).splitlines()[0])


def run_steps(work_dir: Path, bootstrap: str) -> list[str]:
    return [config_command(work_dir, bootstrap, step) for step in STEPS]


@pytest.fixture(scope="module")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ks.KafkaBroker]:
    ks.require_kafka()
    with ks.KafkaBroker(tmp_path_factory.mktemp("kafka")) as broker:
        yield broker


def test_kafka_configs_quotas_same_as_kafka(kafka: ks.KafkaBroker, tmp_path: Path) -> None:
    with run_broker(tmp_path / "ferrokafka") as broker:
        ours = run_steps(tmp_path, broker.bootstrap_servers)
    theirs = run_steps(tmp_path, kafka.bootstrap_servers)
    assert ours == theirs
    # What Kafka printed, so a change on both sides is noticed too.
    assert theirs[4] == (
        "Quota configs for client-id 'slow' are consumer_byte_rate=2097152.0, "
        "request_percentage=50.0, producer_byte_rate=1048576.0"
    )
    assert "cannot be a fractional value" in theirs[9]
    assert "must be greater than 0" in theirs[10]
    assert theirs[12] == "Quota configs for client-id 'slow' are consumer_byte_rate=2097152.0"


def mutation_scenario(bootstrap: str) -> list:
    """A client over its controller_mutation_rate: which topics each request gets, and whether a
    throttle time came back (its value depends on timing)."""
    seen: list = []
    with RawClient(bootstrap, client_id="mutator") as client:
        quota = ACQ(
            entries=[
                ACQ.EntryData(
                    entity=[ACQ.EntityData(entity_type="client-id", entity_name="mutator")],
                    ops=[ACQ.OpData(key="controller_mutation_rate", value=1.0)],
                )
            ]
        )
        seen.append([e.error_code for e in client.call(quota, 1).entries])
        time.sleep(SETTLE_S)  # Kafka's brokers and controller apply the quota from the log
        topics = [
            CT.CreatableTopic(name=f"mut-{i}", num_partitions=5, replication_factor=1)
            for i in range(4)
        ]
        answer = client.call(CT(topics=topics, timeout_ms=TIMEOUT_MS), 7)
        seen.append(
            (
                [(t.name, t.error_code, t.error_message) for t in answer.topics],
                answer.throttle_time_ms > 0,
            )
        )
        answer = client.call(DT(topic_names=["mut-0", "mut-1"], timeout_ms=TIMEOUT_MS), 5)
        # Which of the two is refused is Kafka's hash order of topic ids: compare the answers.
        seen.append(
            (
                sorted((t.error_code, t.error_message) for t in answer.responses),
                answer.throttle_time_ms > 0,
            )
        )
    return seen


def test_controller_mutation_rate_same_as_kafka(kafka: ks.KafkaBroker, tmp_path: Path) -> None:
    with run_broker(tmp_path / "ferrokafka") as broker:
        ours = mutation_scenario(broker.bootstrap_servers)
    theirs = mutation_scenario(kafka.bootstrap_servers)
    assert ours == theirs
    created, _ = theirs[1]
    assert [code for _, code, _ in created] == [0, 0, 0, 89]
    assert [code for code, _ in theirs[2][0]] == [0, 89]


def produce_throttles(bootstrap: str, entity: tuple[str, str], client_id: str) -> list[int]:
    """The throttle times of two Produce v9 requests of 16 KiB, under a producer_byte_rate of
    1 KiB/s set for ``entity`` (the second is read once the first's throttle has passed)."""
    topic = f"throttled-{client_id}"
    quota = ACQ(
        entries=[
            ACQ.EntryData(
                entity=[ACQ.EntityData(entity_type=entity[0], entity_name=entity[1])],
                ops=[ACQ.OpData(key="producer_byte_rate", value=PRODUCE_RATE)],
            )
        ]
    )
    builder = BatchBuilder(compression="none")
    for _ in range(PRODUCE_RECORDS):
        builder.append(b"p" * PRODUCE_VALUE_BYTES, key=None, timestamp=TIMESTAMP_MS)
    data = PR.PartitionProduceData(index=0, records=builder.build())
    produce = PR(
        acks=1,
        timeout_ms=TIMEOUT_MS,
        topic_data=[PR.TopicProduceData(name=topic, partition_data=[data])],
    )
    with RawClient(bootstrap, client_id=client_id) as client:
        new = CT.CreatableTopic(name=topic, num_partitions=1, replication_factor=1)
        assert client.call(CT(topics=[new], timeout_ms=TIMEOUT_MS), 5).topics[0].error_code == 0
        assert [e.error_code for e in client.call(quota, 1).entries] == [0]
        time.sleep(SETTLE_S)
        throttles = []
        for _ in range(2):
            answer = client.call(produce, 9)
            assert answer.responses[0].partition_responses[0].error_code == 0
            throttles.append(answer.throttle_time_ms)
    return throttles


@pytest.mark.parametrize(
    ("entity", "client_id"),
    [(("client-id", "by-client"), "by-client"), (("user", "ANONYMOUS"), "any-client")],
)
def test_produce_throttle_time_same_as_kafka(
    kafka: ks.KafkaBroker, tmp_path: Path, entity: tuple[str, str], client_id: str
) -> None:
    """The throttle time Kafka computes, to a few ms (both brokers read their clocks); a user
    quota for ANONYMOUS applies to a PLAINTEXT client (User:ANONYMOUS) on both."""
    with run_broker(tmp_path / "ferrokafka") as broker:
        ours = produce_throttles(broker.bootstrap_servers, entity, client_id)
    theirs = produce_throttles(kafka.bootstrap_servers, entity, client_id)
    assert all(t > 0 for t in theirs), theirs
    for mine, kafkas in zip(ours, theirs, strict=True):
        assert abs(mine - kafkas) <= THROTTLE_SLACK_MS, (ours, theirs)
