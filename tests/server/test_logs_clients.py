"""The INFO lines an operator reads, made by real clients against ``ferrokafka serve``:
confluent-kafka's admin client creates, grows, reconfigures and deletes topics and gets a
request rejected; its producer auto-creates a topic and fences a transactional producer;
kafka-python joins a classic group and confluent-kafka a consumer-protocol group. With
``--log-format json`` every stderr line parses as one object; no secret ever appears."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    ResourceType,
)
from serve_process import EPHEMERAL, Serve, serving

from kafka import KafkaConsumer

CLIENT_TIMEOUT_S = 30.0
# Polls of a consumer waiting for its assignment, at most (each up to 1 s).
ASSIGNMENT_POLLS_MAX = 60
SECRET = "hunter2-do-not-log"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    data = tmp_path_factory.mktemp("logs") / "data"
    with serving(*EPHEMERAL, "--log-dirs", str(data), "--log-format", "json") as serve:
        yield serve


def events(serve: Serve, name: str, timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """The parsed JSON lines of event ``name``, waiting (bounded) for at least one."""
    serve.wait_stderr(f'"event": "{name}"', timeout_s)
    return [e for e in map(json.loads, serve.stderr_lines) if e.get("event") == name]


def admin(serve: Serve) -> AdminClient:
    return AdminClient({"bootstrap.servers": serve.bootstrap, "client.id": "logs-admin"})


def wait_all(futures: dict[Any, Any]) -> None:
    for future in futures.values():
        future.result(timeout=CLIENT_TIMEOUT_S)


def test_start_line_and_every_line_is_json(broker: Serve) -> None:
    started = events(broker, "broker_started")[0]
    assert started["level"] == "INFO" and started["logger"] == "ferrokafka.serve"
    assert started["version"] and started["cluster_id"] and started["node_id"] == 1
    assert started["roles"] == ["broker", "controller"]
    assert started["config_source"].startswith("defaults")
    assert any(address.startswith("PLAINTEXT://") for address in started["listeners"])
    assert f"cluster id {started['cluster_id']}" in started["message"]
    loaded = next(
        e for e in map(json.loads, broker.stderr_lines) if e["message"].startswith("loaded 0 logs")
    )
    assert "new dirs, formatted" in loaded["message"] and "recovered dirs: []" in loaded["message"]
    for line in broker.stderr_lines:
        entry = json.loads(line)
        assert {"ts", "level", "logger", "message"} <= entry.keys(), line


def test_topic_lifecycle_lines(broker: Serve) -> None:
    client = admin(broker)
    topic = f"logs-{uuid.uuid4().hex[:6]}"
    wait_all(client.create_topics([NewTopic(topic, 3, 1, config={"retention.ms": "123456"})]))
    created = [e for e in events(broker, "topic_created") if e["topic"] == topic]
    assert created and created[0]["partitions"] == 3 and created[0]["replication_factor"] == 1
    assert created[0]["configs"] == {"retention.ms": "123456"}

    wait_all(client.create_partitions([NewPartitions(topic, 5)]))
    added = [e for e in events(broker, "partitions_added") if e["topic"] == topic]
    assert added and added[0]["added"] == 2 and added[0]["partitions"] == 5

    change = ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=[change])
    wait_all(client.incremental_alter_configs([resource]))
    changed = [e for e in events(broker, "config_changed") if e["resource"] == f"topic {topic}"]
    assert changed and changed[0]["key"] == "cleanup.policy" and changed[0]["value"] == "compact"

    with pytest.raises(KafkaException):
        wait_all(client.create_topics([NewTopic(topic, 1, 1)]))
    rejected = [
        e
        for e in events(broker, "request_rejected")
        if e["api"] == "CreateTopics" and e["error"] == "TOPIC_ALREADY_EXISTS"
    ]
    assert rejected and rejected[0]["client_id"] == "logs-admin"
    assert rejected[0]["client_address"].startswith("127.0.0.1:")

    wait_all(client.delete_topics([topic]))
    deleted = [e for e in events(broker, "topic_deleted") if e["topic"] == topic]
    assert deleted and deleted[0]["partitions"] == 5


def test_auto_create_names_the_client(broker: Serve) -> None:
    topic = f"logs-auto-{uuid.uuid4().hex[:6]}"
    producer = Producer({"bootstrap.servers": broker.bootstrap, "client.id": "logs-producer"})
    producer.produce(topic, b"x")
    assert producer.flush(CLIENT_TIMEOUT_S) == 0
    auto = [e for e in events(broker, "topic_auto_created") if e["topic"] == topic]
    assert auto and auto[0]["api"] == "Metadata" and auto[0]["client_id"] == "logs-producer"


def test_producer_fencing(broker: Serve) -> None:
    txn_id = f"logs-txn-{uuid.uuid4().hex[:6]}"
    first = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": txn_id})
    first.init_transactions(CLIENT_TIMEOUT_S)
    second = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": txn_id})
    second.init_transactions(CLIENT_TIMEOUT_S)
    fenced = [e for e in events(broker, "producer_fenced") if e["transactional_id"] == txn_id]
    assert fenced
    assert (fenced[0]["producer_id"], fenced[0]["producer_epoch"]) != (
        fenced[0]["fenced_producer_id"],
        fenced[0]["fenced_epoch"],
    )


def _topic_with_a_record(broker: Serve) -> str:
    topic = f"logs-group-{uuid.uuid4().hex[:6]}"
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    producer.produce(topic, b"x")
    assert producer.flush(CLIENT_TIMEOUT_S) == 0
    return topic


def test_classic_group_rebalance_with_kafka_python(broker: Serve) -> None:
    topic = _topic_with_a_record(broker)
    group = f"logs-classic-{uuid.uuid4().hex[:6]}"
    consumer = KafkaConsumer(
        topic, bootstrap_servers=broker.bootstrap, group_id=group, auto_offset_reset="earliest"
    )
    try:
        for _ in range(ASSIGNMENT_POLLS_MAX):
            consumer.poll(timeout_ms=1000)
            if consumer.assignment():
                break
        assert consumer.assignment()
        lines = [e for e in events(broker, "group_rebalanced") if e["group"] == group]
    finally:
        consumer.close()
    assert lines[0]["group_protocol"] == "classic" and lines[0]["members"] == 1
    assert lines[0]["generation"] >= 1 and lines[0]["protocol_type"] == "consumer"
    assert lines[0]["protocol_name"]  # the assignor both agreed on (range, roundrobin, ...)


def test_consumer_protocol_group_rebalance(broker: Serve) -> None:
    topic = _topic_with_a_record(broker)
    group = f"logs-consumer-{uuid.uuid4().hex[:6]}"
    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": group,
            "group.protocol": "consumer",
            "auto.offset.reset": "earliest",
        }
    )
    try:
        consumer.subscribe([topic])
        for _ in range(ASSIGNMENT_POLLS_MAX):
            consumer.poll(1.0)
            if consumer.assignment():
                break
        assert consumer.assignment()
        lines = [e for e in events(broker, "group_rebalanced") if e["group"] == group]
    finally:
        consumer.close()
    assert lines[0]["group_protocol"] == "consumer" and lines[0]["members"] == 1
    assert lines[0]["generation"] >= 1 and lines[0]["protocol_name"] in ("uniform", "range")


def test_secrets_never_logged(broker: Serve) -> None:
    client = admin(broker)
    topic = f"logs-secret-{uuid.uuid4().hex[:6]}"
    wait_all(client.create_topics([NewTopic(topic, 1, 1)]))
    attempts = [
        ConfigResource(
            ResourceType.BROKER,
            "1",
            incremental_configs=[
                ConfigEntry(
                    "listener.name.plaintext.ssl.key.password",
                    SECRET,
                    incremental_operation=AlterConfigOpType.SET,
                )
            ],
        ),
        ConfigResource(
            ResourceType.TOPIC,
            topic,
            incremental_configs=[
                ConfigEntry("x.password", SECRET, incremental_operation=AlterConfigOpType.SET)
            ],
        ),
    ]
    for resource in attempts:
        futures = client.incremental_alter_configs([resource])
        for future in futures.values():
            try:
                future.result(timeout=CLIENT_TIMEOUT_S)
            except KafkaException:
                pass  # refused or not: either way the value must not reach the log
    # Something was logged about each (a change or a rejection), so the check below is real.
    deadline = time.monotonic() + CLIENT_TIMEOUT_S
    while time.monotonic() < deadline:
        text = broker.stderr()
        if "x.password" in text or "[hidden]" in text:
            break
        time.sleep(0.1)
    text = broker.stderr()
    assert "IncrementalAlterConfigs" in text or "[hidden]" in text
    assert SECRET not in text


def test_text_start_and_stop_lines(tmp_path: Path) -> None:
    with serving(*EPHEMERAL, "--log-dirs", str(tmp_path / "data")) as serve:
        started = serve.wait_stderr(r"INFO ferrokafka\.serve: ferrokafka \S+ started: ")
        assert re.search(
            r"started: cluster id \S+, node 1, roles broker\+controller, listeners "
            r"PLAINTEXT://127\.0\.0\.1:\d+, CONTROLLER://127\.0\.0\.1:\d+, data dirs "
            + re.escape(str(tmp_path / "data"))
            + r", config defaults",
            started,
        ), started
        assert serve.stop() == 0, serve.stderr()  # one SIGTERM (a second would stop at once)
    stopped = "INFO ferrokafka.serve: ferrokafka node 1 stopped (SIGTERM, graceful shutdown)"
    assert stopped in serve.stderr(), serve.stderr()
