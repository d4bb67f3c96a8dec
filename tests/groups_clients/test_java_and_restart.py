"""Apache Kafka 4.4.0's console consumer with ``--group`` (the classic protocol) reads a topic
once and commits; a second run of the same group reads nothing new. Committed offsets and
groups survive a broker restart on the same data directory: OffsetFetch answers them and a
confluent-kafka consumer resumes from them."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

import kafka_support as ks
from ferrokafka.testing import run_broker
from kafka_support.jars import TOOL_JVM_OPTIONS, TOOL_TIMEOUT_S, write_log4j2_config

RECORDS = 40
PARTITIONS = 2
TIMEOUT_S = 60
OVERRIDES = {"group.initial.rebalance.delay.ms": 0, "offsets.topic.num.partitions": 3}


def _setup(bootstrap: str, topic: str, count: int = RECORDS, start: int = 0) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    if start == 0:
        admin.create_topics([NewTopic(topic, PARTITIONS, 1)])[topic].result(30)
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(start, start + count):
        producer.produce(topic, f"v{i}".encode(), partition=i % PARTITIONS)
    assert producer.flush(30) == 0


def _console_consumer(bootstrap: str, topic: str, group: str, work_dir: Path, max_messages: int):
    args = [
        "--bootstrap-server",
        bootstrap,
        "--topic",
        topic,
        "--group",
        group,
        "--from-beginning",
        "--timeout-ms",
        "8000",
        "--consumer-property",
        "group.protocol=classic",
    ]
    if max_messages:
        args += ["--max-messages", str(max_messages)]
    classpath = ks.kafka_classpath()
    log4j = work_dir / "log4j2.properties"
    write_log4j2_config(log4j, log_file=None, level="error")
    command = [
        ks.java_executable(),
        *TOOL_JVM_OPTIONS,
        f"-Dlog4j2.configurationFile={log4j}",
        "-cp",
        classpath,
        "org.apache.kafka.tools.consumer.ConsoleConsumer",
        *args,
    ]
    # The console consumer exits non-zero on its --timeout-ms; its output is the records.
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, cwd=work_dir
    )
    return [line for line in done.stdout.splitlines() if line.startswith("v")], done.stderr


def test_java_console_consumer_group_reads_once(tmp_path: Path) -> None:
    ks.require_kafka()
    with run_broker(None, OVERRIDES) as broker:
        _setup(broker.bootstrap_servers, "lines")
        first, err = _console_consumer(broker.bootstrap_servers, "lines", "cg", tmp_path, RECORDS)
        assert sorted(first) == sorted(f"v{i}" for i in range(RECORDS)), err[-2000:]
        second, _ = _console_consumer(broker.bootstrap_servers, "lines", "cg", tmp_path, 0)
        assert second == []
        _setup(broker.bootstrap_servers, "lines", 4, start=RECORDS)
        third, _ = _console_consumer(broker.bootstrap_servers, "lines", "cg", tmp_path, 4)
        assert sorted(third) == [f"v{i}" for i in range(RECORDS, RECORDS + 4)]


def _read(bootstrap: str, group: str, count: int) -> list[tuple[int, int]]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
        }
    )
    consumer.subscribe(["events"])
    got: list[tuple[int, int]] = []
    deadline = time.monotonic() + TIMEOUT_S
    try:
        while len(got) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None or message.error():
                continue
            got.append((message.partition(), message.offset()))
            consumer.commit(message=message, asynchronous=False)
    finally:
        consumer.close()
    return got


def test_offsets_and_groups_survive_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "broker"
    with run_broker(data, OVERRIDES) as broker:
        _setup(broker.bootstrap_servers, "events")
        first = _read(broker.bootstrap_servers, "resume", 15)
        assert len(first) == 15
        committed = {p: max(o for q, o in first if q == p) + 1 for p, _ in first}
    with run_broker(data, OVERRIDES) as broker:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
        request = ConsumerGroupTopicPartitions(
            "resume", [TopicPartition("events", p) for p in range(PARTITIONS)]
        )
        deadline = time.monotonic() + TIMEOUT_S
        while True:  # the coordinator answers COORDINATOR_LOAD_IN_PROGRESS while it loads
            try:
                fetched = admin.list_consumer_group_offsets([request])["resume"].result(30)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert {tp.partition: tp.offset for tp in fetched.topic_partitions if tp.offset >= 0} == (
            committed
        )
        listed = admin.list_consumer_groups(request_timeout=30).result(30)
        assert "resume" in {g.group_id for g in listed.valid}
        rest = _read(broker.bootstrap_servers, "resume", RECORDS - 15)
    assert sorted(first + rest) == sorted((i % PARTITIONS, i // PARTITIONS) for i in range(RECORDS))
