"""The single node (``ferrokafka serve`` without a quorum) writes metadata snapshots on Kafka's
``metadata.log.max.record.bytes.between.snapshots`` trigger, lets its log prefix go on
``metadata.max.retention.bytes``, and starts again from its latest snapshot
(``cluster/single_voter_snapshots.py``). Kafka's DumpLogSegments (``--cluster-metadata-decoder``)
reads the snapshots; confluent-kafka creates the topics before and finds them after a restart."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from ferrokafka.cluster.metadata_log import SingleVoterLog
from ferrokafka.cluster.snapshot_file import SNAPSHOT_SUFFIX, read_snapshot
from ferrokafka.testing import run_broker
from kafka_support.jars import dump_log_segments_class, kafka_classpath, run_kafka_tool

pytestmark = [pytest.mark.kafka]

TOPICS = ("snap-a", "snap-b", "snap-c")
PAYLOAD = re.compile(r" payload: (\{.*\})$")
OVERRIDES = {
    # Every operation's batch is past the trigger: a snapshot after each; two kept at most
    # before the oldest and the log below the next go.
    "metadata.log.max.record.bytes.between.snapshots": "1",
    "metadata.max.retention.bytes": "1",
    # Small segments, so that whole segments below a snapshot go (and stay gone on restart).
    "metadata.log.segment.bytes": "512",
}


def snapshots(data_dir: Path) -> list[Path]:
    partition = data_dir / "metadata" / "__cluster_metadata-0"
    return sorted(partition.glob(f"*{SNAPSHOT_SUFFIX}"))


def test_the_single_node_snapshots_its_metadata_and_restarts_from_it(tmp_path: Path) -> None:
    with run_broker(tmp_path, OVERRIDES) as running:
        admin = AdminClient({"bootstrap.servers": running.bootstrap_servers, "log_level": 0})
        for name in TOPICS:  # one operation each: a snapshot after each
            admin.create_topics([NewTopic(name, 2, 1)])[name].result(timeout=30)
    written = snapshots(tmp_path)
    assert written, "no snapshot written"
    latest = read_snapshot(written[-1])
    names = {getattr(m, "name", None) for m in latest.messages()}
    assert set(TOPICS) <= names, names

    # Kafka's DumpLogSegments decodes the latest snapshot: its header, footer and the topics.
    work = tmp_path / "dump"
    work.mkdir()
    out = run_kafka_tool(
        dump_log_segments_class(kafka_classpath()),
        ["--files", str(written[-1]), "--cluster-metadata-decoder", "--deep-iteration",
         "--print-data-log"],
        work_dir=work,
    ).stdout  # fmt: skip
    assert "SnapshotHeader" in out and "SnapshotFooter" in out, out[-2000:]
    decoded = [json.loads(m.group(1)) for line in out.splitlines() if (m := PAYLOAD.search(line))]
    topics = {d["data"]["name"] for d in decoded if d["type"] == "TOPIC_RECORD"}
    assert topics == set(TOPICS), topics

    # The log prefix went (retention), so a restart can only know the topics from the snapshot.
    with SingleVoterLog(tmp_path / "metadata", segment_bytes=512) as metadata_log:
        start = metadata_log._log.log_start_offset
        assert start > 0, "the log prefix was kept"
        loaded = metadata_log.snapshot_to_load(0)
        assert loaded is not None and loaded.snapshot_id.end_offset >= start
    with run_broker(tmp_path, OVERRIDES) as running:
        admin = AdminClient({"bootstrap.servers": running.bootstrap_servers, "log_level": 0})
        listed = admin.list_topics(timeout=30).topics
        assert set(TOPICS) <= set(listed), sorted(listed)
        assert all(len(listed[name].partitions) == 2 for name in TOPICS)
