"""Kafka's own DumpLogSegments (``--cluster-metadata-decoder``) reads a log the RaftDriver
wrote: the LeaderChange control batch, and each append as one batch of metadata records."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
import trio

from ferrokafka.cluster.raft.driver import RaftDriver
from ferrokafka.cluster.records import TopicRecord
from ferrokafka.cluster.records.partition_record import PartitionRecord
from ferrokafka.cluster.serde import encode_record
from kafka_support.jars import dump_log_segments_class, kafka_classpath, run_kafka_tool

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

BATCH = re.compile(
    r"baseOffset: (\d+) lastOffset: (\d+) count: (\d+) .*partitionLeaderEpoch: (\d+) "
    r".*isControl: (\w+) .*isvalid: (\w+)"
)
LEADER_CHANGE = re.compile(r"\| offset: (\d+) .* LeaderChange: (\{.*\})$")
PAYLOAD = re.compile(r"\| offset: (\d+) .* payload: (\{.*\})$")


def test_kafka_dump_log_decodes_a_driver_written_log(tmp_path: Path) -> None:
    topic_id = uuid.UUID("99536b3c-c59d-4992-b01c-27a93b604841")

    async def main() -> None:
        # One voter (itself): elected at once, each append committed when flushed.
        driver = RaftDriver(
            node_id=1, voters={1: ("127.0.0.1", 9)}, cluster_id="c", metadata_dir=tmp_path
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(driver.run)
            with trio.fail_after(10):
                while not driver.is_leader:
                    await trio.sleep(0.01)
                await driver.append([encode_record(TopicRecord(name="orders", topic_id=topic_id))])
                await driver.append(
                    [
                        encode_record(PartitionRecord(partition_id=p, topic_id=topic_id))
                        for p in (0, 1)
                    ]
                )
                await driver.shutdown()

    trio.run(main)
    segment = tmp_path / "__cluster_metadata-0" / "00000000000000000000.log"
    work = tmp_path / "dump"
    work.mkdir()
    result = run_kafka_tool(
        dump_log_segments_class(kafka_classpath()),
        [
            "--files",
            str(segment),
            "--cluster-metadata-decoder",
            "--deep-iteration",
            "--print-data-log",
        ],
        work_dir=work,
    )
    lines = result.stdout.splitlines()
    batches = [BATCH.search(line).groups() for line in lines if line.startswith("baseOffset:")]
    assert batches == [
        ("0", "0", "1", "1", "true", "true"),  # LeaderChange
        ("1", "1", "1", "1", "false", "true"),  # the topic
        ("2", "3", "2", "1", "false", "true"),  # its two partitions: one batch
    ]
    [change] = [LEADER_CHANGE.search(line) for line in lines if "LeaderChange:" in line]
    assert change.group(1) == "0"
    assert json.loads(change.group(2)) == {
        "version": 0,
        "leaderId": 1,
        "voters": [{"voterId": 1}],
        "grantingVoters": [{"voterId": 1}],
    }
    payloads = [PAYLOAD.search(line) for line in lines if " payload: " in line]
    decoded = [(m.group(1), json.loads(m.group(2))) for m in payloads]
    assert [(o, d["type"]) for o, d in decoded] == [
        ("1", "TOPIC_RECORD"),
        ("2", "PARTITION_RECORD"),
        ("3", "PARTITION_RECORD"),
    ]
    assert decoded[0][1]["data"]["name"] == "orders"
    assert [d["data"]["partitionId"] for _, d in decoded[1:]] == [0, 1]
