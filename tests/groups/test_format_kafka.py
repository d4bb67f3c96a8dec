"""Our ``__consumer_offsets`` record codecs against Apache Kafka 4.4.0, both ways:

- a real Kafka broker with a confluent-kafka group consumer that commits: its
  ``__consumer_offsets`` partition is read with our storage ``Log`` and every record decoded
  with our codecs (offset commits with the committed offsets, group metadata with the member);
- ferrokafka with the same consumer: Kafka's DumpLogSegments ``--offsets-decoder`` decodes
  every record we wrote into the same fields.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

import kafka_support as ks
from ferrokafka._ferrokafka import Log
from ferrokafka.groups.coordinator import OFFSETS_TOPIC, partition_for
from ferrokafka.groups.records import GroupMetadataValue, OffsetCommitValue
from ferrokafka.groups.serde import decode_record
from ferrokafka.testing import run_broker
from kafka_support.jars import dump_log_segments_class, kafka_classpath, run_kafka_tool

RECORDS = 12
TIMEOUT_S = 60
GROUP = "fmt-group"


def _consume_and_commit(bootstrap: str, create_topic) -> None:
    create_topic()
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(RECORDS):
        producer.produce("t", f"v{i}".encode(), partition=0)
    assert producer.flush(30) == 0
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": GROUP,
            "client.id": "fmt-client",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
        }
    )
    consumer.subscribe(["t"])
    got = 0
    deadline = time.monotonic() + TIMEOUT_S
    while got < RECORDS and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and not message.error():
            got += 1
            if got in (5, RECORDS):
                consumer.commit(message=message, asynchronous=False)
    consumer.close()
    assert got == RECORDS


def test_we_decode_what_kafka_writes(tmp_path: Path) -> None:
    try:
        ks.kafka_classpath()
    except ks.KafkaNotFetchedError as exc:
        pytest.fail(f"Apache Kafka is needed for this test: {exc}", pytrace=False)
    partitions = 7
    config = {
        "offsets.topic.num.partitions": str(partitions),
        "group.initial.rebalance.delay.ms": "0",
    }
    with ks.KafkaBroker(tmp_path / "kafka", broker_config=config) as kafka:
        _consume_and_commit(kafka.bootstrap_servers, lambda: kafka.create_topic("t"))
        kafka.stop()
        # Kafka put the group where our hash says, and nothing anywhere else.
        mine = partition_for(GROUP, partitions)
        sizes = {
            p: sum(f.stat().st_size for f in kafka.partition_dir(OFFSETS_TOPIC, p).glob("*.log"))
            for p in range(partitions)
        }
        assert [p for p, size in sizes.items() if size] == [mine], sizes
        log = Log(str(kafka.partition_dir(OFFSETS_TOPIC, mine)))
        decoded = [
            decode_record(r.key, r.value)
            for b in log.read_batches(0, 16 << 20)
            for r in b.records()
            if not b.is_control
        ]
    commits = [d for d in decoded if d.record_type == 1]
    metadata = [d for d in decoded if d.record_type == 2 and d.value is not None]
    assert [(d.key.group, d.key.topic, d.key.partition) for d in commits] == [(GROUP, "t", 0)] * 2
    assert [d.value.offset for d in commits] == [5, RECORDS]
    assert all(isinstance(d.value, OffsetCommitValue) for d in commits)
    # Our writer picks the same versions Kafka wrote.
    assert {d.value_version for d in commits} == {4}
    assert all(d.value.topic_id.int != 0 for d in commits)
    assert {d.value_version for d in metadata} == {3}
    stable = [d.value for d in metadata if d.value.members]
    assert stable, "Kafka wrote no group metadata with a member"
    value = stable[-1]
    assert isinstance(value, GroupMetadataValue)
    assert (value.protocol_type, value.protocol) == ("consumer", "range")
    assert value.members[0].client_id == "fmt-client"
    assert value.leader == value.members[0].member_id
    # The consumer's close left the group: Kafka stored it empty last.
    assert metadata[-1].value.members == []


_RECORD_LINE = re.compile(r"\| offset: (\d+) .*? key: (\{.*\}) payload: (.*)$")


def test_kafka_decodes_what_we_write(tmp_path: Path) -> None:
    overrides = {"offsets.topic.num.partitions": 1, "group.initial.rebalance.delay.ms": 0}
    with run_broker(tmp_path / "ours", overrides) as broker:
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
        _consume_and_commit(
            broker.bootstrap_servers,
            lambda: admin.create_topics([NewTopic("t", 1, 1)])["t"].result(30),
        )
        directory = broker.partition(OFFSETS_TOPIC, 0).log.dir
    segments = sorted(str(p) for p in Path(directory).glob("*.log"))
    out = run_kafka_tool(
        dump_log_segments_class(kafka_classpath()),
        ["--offsets-decoder", "--deep-iteration", "--files", ",".join(segments)],
        work_dir=tmp_path,
    ).stdout
    lines = [m for m in map(_RECORD_LINE.search, out.splitlines()) if m]
    assert lines, out[-3000:]
    assert "Exception" not in out and "Unknown" not in out, out[-3000:]
    keys = [m.group(2) for m in lines]
    payloads = [m.group(3) for m in lines]
    commit_payloads = [p for k, p in zip(keys, payloads, strict=True) if '"type":"1"' in k]
    assert len(commit_payloads) == 2, out[-3000:]
    assert '"offset":5' in commit_payloads[0] and f'"offset":{RECORDS}' in commit_payloads[1]
    assert all(
        '"group":"fmt-group","topic":"t","partition":0' in k for k in keys if '"type":"1"' in k
    )
    group_payloads = [p for k, p in zip(keys, payloads, strict=True) if '"type":"2"' in k]
    assert any('"protocol":"range"' in p and '"clientId":"fmt-client"' in p for p in group_payloads)
