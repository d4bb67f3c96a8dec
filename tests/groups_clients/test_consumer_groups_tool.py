"""Apache Kafka 4.4.0's kafka-consumer-groups (ConsumerGroupCommand, the Java admin client)
against a classic group of a confluent-kafka consumer: list, describe (offsets, members,
state), reset offsets (OffsetCommit from outside the group), delete offsets (OffsetDelete) and
delete the group (DeleteGroups)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

import kafka_support as ks
from ferrokafka.testing import RunningBroker, run_broker

COMMAND = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
TIMEOUT_S = 60
OVERRIDES = {"group.initial.rebalance.delay.ms": 0, "offsets.topic.num.partitions": 3}


def tool(broker: RunningBroker, work_dir: Path, *args: str) -> list[list[str]]:
    out = ks.run_kafka_tool(
        COMMAND, ["--bootstrap-server", broker.bootstrap_servers, *args], work_dir=work_dir
    ).stdout
    return [re.split(r"\s+", line.strip()) for line in out.splitlines() if line.strip()]


def test_kafka_consumer_groups_tool(tmp_path: Path) -> None:
    try:
        ks.kafka_classpath()
    except ks.KafkaNotFetchedError as exc:
        pytest.fail(f"Apache Kafka is needed for this test: {exc}", pytrace=False)
    with run_broker(None, OVERRIDES) as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
        admin.create_topics([NewTopic("t", 2, 1)])["t"].result(30)
        producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
        for i in range(20):
            producer.produce("t", b"x", partition=i % 2)
        assert producer.flush(30) == 0
        consumer = Consumer(
            {
                "bootstrap.servers": broker.bootstrap_servers,
                "group.id": "jg",
                "client.id": "cg-client",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
            }
        )
        consumer.subscribe(["t"])
        read = 0
        deadline = time.monotonic() + TIMEOUT_S
        while read < 12 and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and not message.error():
                read += 1
                consumer.commit(message=message, asynchronous=False)
        assert read == 12
        try:
            assert tool(broker, tmp_path, "--list") == [["jg"]]
            state = tool(broker, tmp_path, "--describe", "--group", "jg", "--state")
            assert state[1][-3:] == ["range", "Stable", "1"]
            rows = tool(broker, tmp_path, "--describe", "--group", "jg")[1:]
            # GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID
            assert sum(int(r[3]) for r in rows) == 12  # committed: every record read
            assert {r[8] for r in rows} == {"cg-client"}
            assert {r[7] for r in rows} == {"/127.0.0.1"}
        finally:
            consumer.close()
        reset = tool(
            broker,
            tmp_path,
            "--reset-offsets",
            "--group",
            "jg",
            "--topic",
            "t",
            "--to-offset",
            "3",
            "--execute",
        )
        assert sorted(r[2:] for r in reset[1:]) == [["0", "3"], ["1", "3"]]
        deleted = tool(broker, tmp_path, "--delete-offsets", "--group", "jg", "--topic", "t:1")
        assert ["t", "1", "Successful"] in deleted
        rows = tool(broker, tmp_path, "--describe", "--group", "jg", "--offsets")
        assert [r[1:4] for r in rows if r[0] == "jg"] == [["t", "0", "3"]]
        gone = tool(broker, tmp_path, "--delete", "--group", "jg")
        assert "successful" in " ".join(gone[0])
        assert tool(broker, tmp_path, "--list") == []
