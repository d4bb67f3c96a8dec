"""Metadata snapshots in a 3-node cluster of ``ferrokafka serve`` processes: with a tiny
``metadata.log.max.record.bytes.between.snapshots``, small metadata segments and
``metadata.max.retention.bytes`` of 1 (only the latest snapshot is kept), creating topics makes
every node write ``.checkpoint`` files and delete the log segments below them. A node that was
down meanwhile is behind the leader's log start when it comes back: it downloads the leader's
snapshot with FetchSnapshot (its log then restarts at the snapshot's end offset) and catches up
— every topic is visible through it. A restarted node loads its own latest snapshot first.
Kafka's DumpLogSegments decodes a snapshot the cluster wrote."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kraft_processes import KRaftCluster

from ferrokafka.cluster.raft.native_log import NativeRaftLog
from ferrokafka.cluster.snapshot_file import SnapshotId, read_snapshot
from kafka_support.jars import dump_log_segments_class, kafka_classpath, run_kafka_tool

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

CLIENT_TIMEOUT_S = 30.0
WAIT_S = 60.0
POLL_S = 0.2
TOPICS_BEFORE = 30  # created while node 3 is down
TOPICS_AFTER = 5
SNAPSHOT_BYTES = 2000  # a snapshot every few topics
SEGMENT_BYTES = 4096
LOADED = "loaded metadata snapshot"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[KRaftCluster]:
    made = KRaftCluster(
        tmp_path / "cluster",
        overrides={
            "metadata.log.max.record.bytes.between.snapshots": str(SNAPSHOT_BYTES),
            "metadata.log.segment.bytes": str(SEGMENT_BYTES),
            "metadata.max.retention.bytes": "1",
            "broker.session.timeout.ms": "4000",
            "broker.heartbeat.interval.ms": "500",
        },
    )
    with made.running():
        yield made


def admin(bootstrap: str) -> Any:
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap})


def create_topics(bootstrap: str, names: list[str]) -> None:
    from confluent_kafka.admin import NewTopic

    client = admin(bootstrap)
    for name in names:  # one operation (and batch) each: the log grows topic by topic
        futures = client.create_topics(
            [NewTopic(name, 1, 1)],
            operation_timeout=CLIENT_TIMEOUT_S,
            request_timeout=CLIENT_TIMEOUT_S,
        )
        futures[name].result(CLIENT_TIMEOUT_S)


def topics_seen(bootstrap: str) -> set[str]:
    metadata = admin(bootstrap).list_topics(timeout=CLIENT_TIMEOUT_S)
    return {t for t in metadata.topics if not t.startswith("__")}


def metadata_dir(cluster: KRaftCluster, node_id: int) -> Path:
    return cluster.nodes[node_id].work_dir / "metadata" / "__cluster_metadata-0"


def snapshots(cluster: KRaftCluster, node_id: int) -> list[SnapshotId]:
    found = [SnapshotId.from_file_name(p.name) for p in metadata_dir(cluster, node_id).iterdir()]
    return sorted(s for s in found if s is not None)


def first_segment_offset(cluster: KRaftCluster, node_id: int) -> int:
    return min(int(p.name[:20]) for p in metadata_dir(cluster, node_id).glob("*.log"))


def wait_for(condition: Any, what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        time.sleep(POLL_S)


def test_snapshots_prefix_deletion_and_catch_up_by_fetch_snapshot(
    cluster: KRaftCluster, tmp_path: Path
) -> None:
    active, _ = cluster.wait_active_controller()
    lagging = next(n for n in (1, 2, 3) if n != active)
    cluster.kill(lagging)
    stopped = NativeRaftLog(cluster.nodes[lagging].work_dir / "metadata")
    lagging_end = stopped.end_offset()
    stopped.close()
    up = [n for n in (1, 2, 3) if n != lagging]
    bootstrap = ",".join(cluster.nodes[n].bootstrap for n in up)
    names = [f"topic-{i:03d}" for i in range(TOPICS_BEFORE)]
    create_topics(bootstrap, names)

    # Every running node snapshots and lets its log prefix go.
    for node_id in up:
        wait_for(
            lambda n=node_id: (
                any(s.end_offset > 0 for s in snapshots(cluster, n))
                and first_segment_offset(cluster, n) > lagging_end
            ),
            f"node {node_id} snapshots and deletes segments past offset {lagging_end}",
        )
    leader_snapshots = set(snapshots(cluster, active))
    assert SnapshotId(0, 0) not in leader_snapshots  # the bootstrap checkpoint was cleaned
    latest = max(leader_snapshots)
    topics_in_snapshot = {
        r.message.name
        for r in read_snapshot(metadata_dir(cluster, active) / latest.file_name).records
        if type(r.message).__name__ == "TopicRecord"
    }
    assert topics_in_snapshot and topics_in_snapshot <= set(names)

    # The lagging node is behind the leader's log start: it must fetch a snapshot.
    cluster.start(lagging)
    cluster.wait_ready(lagging)
    wait_for(
        lambda: any(s.end_offset > lagging_end for s in snapshots(cluster, lagging)),
        "the restarted node has a snapshot past its old log end",
    )
    # Downloaded, not made: its log restarted at a snapshot's end offset, past its old end
    # (that snapshot itself may already be cleaned away by a newer one the node wrote).
    assert first_segment_offset(cluster, lagging) > lagging_end
    assert "loaded metadata snapshot" in cluster.nodes[lagging].logged()
    create_topics(bootstrap, [f"after-{i}" for i in range(TOPICS_AFTER)])
    everything = set(names) | {f"after-{i}" for i in range(TOPICS_AFTER)}
    wait_for(
        lambda: topics_seen(cluster.nodes[lagging].bootstrap) >= everything,
        "the caught-up node serves every topic",
    )
    assert LOADED in cluster.nodes[lagging].logged()

    # A restart loads the node's own latest snapshot, then the log after it.
    other = next(n for n in up if n != active)
    cluster.kill(other)
    cluster.start(other)
    cluster.wait_ready(other)
    wait_for(
        lambda: topics_seen(cluster.nodes[other].bootstrap) >= everything,
        "the restarted node serves every topic",
    )
    assert LOADED in cluster.nodes[other].err.read_text(errors="replace")

    # Kafka's own tool reads what the cluster wrote.
    newest = max(snapshots(cluster, active))
    work = tmp_path / "dump"
    work.mkdir()
    dumped = run_kafka_tool(
        dump_log_segments_class(kafka_classpath()),
        [
            "--files",
            str(metadata_dir(cluster, active) / newest.file_name),
            "--cluster-metadata-decoder",
        ],
        work_dir=work,
    ).stdout
    assert f"Snapshot end offset: {newest.end_offset}, epoch: {newest.epoch}" in dumped
    assert dumped.count('"type":"TOPIC_RECORD"') >= TOPICS_BEFORE
    assert "SnapshotFooter" in dumped
