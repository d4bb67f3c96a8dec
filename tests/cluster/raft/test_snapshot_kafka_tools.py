"""Kafka's own tools read a metadata snapshot as ferrokafka's SnapshotGenerator writes it (the
image as Kafka's records, header and footer control records): DumpLogSegments with
``--cluster-metadata-decoder``. (The metadata shell, ``kafka-metadata-shell --snapshot``, is
in the kafka-shell jar, which tests/kafka/pom.xml does not fetch.)"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from ferrokafka.cluster.delta import MetadataDelta
from ferrokafka.cluster.image import EMPTY_IMAGE
from ferrokafka.cluster.image_records import image_records
from ferrokafka.cluster.records import (
    ConfigRecord,
    FeatureLevelRecord,
    PartitionRecord,
    ProducerIdsRecord,
    RegisterBrokerRecord,
    TopicRecord,
)
from ferrokafka.cluster.snapshot_file import SnapshotId, write_snapshot
from kafka_support.jars import (
    TOOL_JVM_OPTIONS,
    TOOL_TIMEOUT_S,
    dump_log_segments_class,
    java_executable,
    kafka_classpath,
    metadata_shell_classpath,
    run_kafka_tool,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

PAYLOAD = re.compile(r"\| offset: (\d+) .* payload: (\{.*\})$")
TOPICS = ("orders", "payments", "users")
SHELL_ATTEMPTS = 5


def _snapshot(directory: Path) -> Path:
    delta = MetadataDelta(EMPTY_IMAGE)
    records = [
        FeatureLevelRecord(name="metadata.version", feature_level=27),
        RegisterBrokerRecord(
            broker_id=1,
            incarnation_id=uuid.uuid4(),
            broker_epoch=5,
            end_points=[
                RegisterBrokerRecord.BrokerEndpoint(name="PLAINTEXT", host="127.0.0.1", port=9092)
            ],
            rack=None,
            fenced=False,
        ),
        ProducerIdsRecord(broker_id=1, broker_epoch=5, next_producer_id=1000),
    ]
    for name in TOPICS:
        topic_id = uuid.uuid4()
        records.append(TopicRecord(name=name, topic_id=topic_id))
        records += [
            PartitionRecord(
                partition_id=p,
                topic_id=topic_id,
                replicas=[1],
                isr=[1],
                leader=1,
                leader_epoch=0,
                partition_epoch=0,
                directories=[uuid.UUID(int=0)],
            )
            for p in range(2)
        ]
    records.append(
        ConfigRecord(resource_type=2, resource_name="orders", name="retention.ms", value="60000")
    )
    delta.replay_all(records, 41)
    image = delta.apply()
    return write_snapshot(
        directory,
        image_records(image),
        snapshot_id=SnapshotId(42, 3),
        last_contained_log_timestamp_ms=1_700_000_000_000,
    )


def test_kafka_dump_log_decodes_our_snapshot(tmp_path: Path) -> None:
    path = _snapshot(tmp_path / "__cluster_metadata-0")
    work = tmp_path / "dump"
    work.mkdir()
    result = run_kafka_tool(
        dump_log_segments_class(kafka_classpath()),
        [
            "--files",
            str(path),
            "--cluster-metadata-decoder",
            "--deep-iteration",
            "--print-data-log",
        ],
        work_dir=work,
    )
    out = result.stdout
    assert "Snapshot end offset: 42, epoch: 3" in out.splitlines()[1], out[:500]
    assert "SnapshotHeader" in out and "SnapshotFooter" in out, out[-2000:]
    payloads = [PAYLOAD.search(line) for line in out.splitlines() if " payload: " in line]
    types = [json.loads(m.group(2))["type"] for m in payloads if m]
    assert types.count("TOPIC_RECORD") == len(TOPICS)
    assert types.count("PARTITION_RECORD") == 2 * len(TOPICS)
    assert types[0] == "FEATURE_LEVEL_RECORD"
    assert {"REGISTER_BROKER_RECORD", "CONFIG_RECORD", "PRODUCER_IDS_RECORD"} <= set(types)
    names = {
        json.loads(m.group(2))["data"]["name"]
        for m in payloads
        if m and json.loads(m.group(2))["type"] == "TOPIC_RECORD"
    }
    assert names == set(TOPICS)


def test_kafka_metadata_shell_reads_our_snapshot(tmp_path: Path) -> None:
    """kafka-metadata-shell (org.apache.kafka.shell.MetadataShell, 4.3.1: the newest published)
    loads our snapshot into Kafka's own image and browses it."""
    path = _snapshot(tmp_path / "__cluster_metadata-0")

    def shell(*command: str) -> str:
        result = subprocess.run(
            [
                java_executable(),
                *TOOL_JVM_OPTIONS,
                "-cp",
                metadata_shell_classpath(),
                "org.apache.kafka.shell.MetadataShell",
                "--snapshot",
                str(path),
                *command,
            ],
            capture_output=True,
            text=True,
            timeout=TOOL_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        return result.stdout

    # The shell runs its command while its loader may still be publishing the snapshot's
    # image (seen on a loaded machine: a find without the topics, a nextProducerId of -1):
    # each question is asked again until the answer is there.
    def settled(ok: Callable[[str], bool], *command: str) -> str:
        for _ in range(SHELL_ATTEMPTS):
            out = shell(*command)
            if ok(out):
                break
        return out

    wanted = {f"/image/topics/byName/{name}" for name in TOPICS}
    found = settled(lambda out: wanted <= set(out.split()), "find", "/image").split()
    assert wanted <= set(found)
    retention = settled(
        lambda out: bool(out.strip()), "cat", "/image/configs/TOPIC:orders/retention.ms"
    )
    assert retention.strip() == "60000"
    partition = settled(lambda out: "leader=1" in out, "cat", "/image/topics/byName/payments/0")
    assert "leader=1" in partition and "isr=[1]" in partition, partition
    version = settled(lambda out: "4.1" in out, "cat", "/image/features/metadataVersion")
    assert version.strip() == "Optional[4.1-IV1]"
    next_id = settled(lambda out: out.strip() == "1000", "cat", "/image/producerIds/nextProducerId")
    assert next_id.strip() == "1000"
