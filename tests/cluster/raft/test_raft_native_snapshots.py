"""Snapshots on the native metadata log: snapshot ids, Kafka's validation with snapshots,
prefix deletion of whole segments, retention of old snapshots, a reopen that recovers them,
and installing a snapshot downloaded from a leader."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from ferrokafka.cluster.raft.log import (
    SNAPSHOT,
    VALID,
    LeaderChange,
    OffsetAndEpoch,
    SnapshotInstallError,
    validate_offset_and_epoch,
)
from ferrokafka.cluster.raft.native_log import NativeLogError, NativeRaftLog
from ferrokafka.cluster.records import FeatureLevelRecord, TopicRecord
from ferrokafka.cluster.snapshot_file import (
    SnapshotId,
    encode_snapshot,
    read_snapshot,
    write_snapshot,
)

CHANGE = LeaderChange(1, (1, 2, 3), (1, 2))
SEGMENT_BYTES = 400  # a few batches per segment


def _fill(log: NativeRaftLog, batches: int, epoch: int = 1) -> None:
    log.append_as_leader([CHANGE], epoch)
    for i in range(batches):
        log.append_as_leader([b"value-%03d" % i * 4], epoch)


def _snapshot(log: NativeRaftLog, end_offset: int, epoch: int = 1) -> OffsetAndEpoch:
    write_snapshot(
        log.dir,
        [FeatureLevelRecord(name="metadata.version", feature_level=27)],
        snapshot_id=SnapshotId(end_offset, epoch),
        last_contained_log_timestamp_ms=1_000,
    )
    snapshot_id = OffsetAndEpoch(end_offset, epoch)
    log.on_snapshot_frozen(snapshot_id)
    return snapshot_id


def test_prefix_deletion_removes_whole_segments_and_moves_the_start(tmp_path: Path) -> None:
    log = NativeRaftLog(tmp_path, segment_bytes=SEGMENT_BYTES)
    _fill(log, 40)
    log.flush()
    segments_before = sorted(p.name for p in log.dir.glob("*.log"))
    assert len(segments_before) > 3
    first = _snapshot(log, 20)
    assert validate_offset_and_epoch(log, 5, 1) == (VALID, OffsetAndEpoch(5, 1))
    assert log.delete_before_snapshot(first)
    assert log.start_offset() == 20
    segments_after = sorted(p.name for p in log.dir.glob("*.log"))
    assert len(segments_after) < len(segments_before)
    assert all(int(name[:20]) <= 20 for name in segments_after[:1])
    # Below the start: the follower must fetch the snapshot; at it with the wrong epoch too.
    assert validate_offset_and_epoch(log, 5, 1) == (SNAPSHOT, first)
    assert validate_offset_and_epoch(log, 20, 0) == (SNAPSHOT, first)
    assert validate_offset_and_epoch(log, 30, 1) == (VALID, OffsetAndEpoch(30, 1))
    assert log.read(20, 1 << 20)[0].offset <= 20
    second = _snapshot(log, 35)
    assert log.delete_before_snapshot(second)
    assert log.earliest_snapshot_id() == second
    assert not (log.dir / SnapshotId(20, 1).file_name).exists()
    log.close()

    reopened = NativeRaftLog(tmp_path, segment_bytes=SEGMENT_BYTES)
    assert reopened.latest_snapshot_id() == second
    assert reopened.start_offset() <= 35  # the first kept segment's base offset
    assert reopened.end_offset() == 41 and reopened.last_fetched_epoch() == 1
    assert reopened.snapshot_to_load(0) is not None
    assert reopened.snapshot_to_load(0).snapshot_id == SnapshotId(35, 1)
    reopened.close()


def test_retention_keeps_the_latest_snapshot_and_cleans_older_ones(tmp_path: Path) -> None:
    log = NativeRaftLog(tmp_path, segment_bytes=SEGMENT_BYTES)
    _fill(log, 40)
    log.flush()
    a, b, c = _snapshot(log, 10), _snapshot(log, 25), _snapshot(log, 38)
    assert not log.maybe_clean(now_ms=2_000, retention_bytes=-1, retention_ms=-1)
    assert log.maybe_clean(now_ms=2_000, retention_bytes=1, retention_ms=-1)
    assert log.earliest_snapshot_id() == log.latest_snapshot_id() == c
    assert log.start_offset() == 38
    assert not (log.dir / SnapshotId(a.offset, 1).file_name).exists()
    assert not (log.dir / SnapshotId(b.offset, 1).file_name).exists()
    log.close()


def test_the_retention_time_is_the_snapshots_last_record_time(tmp_path: Path) -> None:
    log = NativeRaftLog(tmp_path, segment_bytes=SEGMENT_BYTES)
    _fill(log, 20)
    log.flush()
    _snapshot(log, 10)
    newest = _snapshot(log, 15)
    assert not log.maybe_clean(now_ms=1_500, retention_bytes=-1, retention_ms=1_000)
    assert log.maybe_clean(now_ms=2_001, retention_bytes=-1, retention_ms=1_000)
    assert log.earliest_snapshot_id() == newest
    log.close()


def test_a_downloaded_snapshot_replaces_a_log_it_is_past(tmp_path: Path) -> None:
    log = NativeRaftLog(tmp_path / "follower", segment_bytes=SEGMENT_BYTES)
    _fill(log, 5)
    data = encode_snapshot(
        [FeatureLevelRecord(name="metadata.version", feature_level=27)],
        snapshot_id=SnapshotId(100, 3),
        last_contained_log_timestamp_ms=5,
    )
    with pytest.raises(SnapshotInstallError):
        log.install_snapshot(OffsetAndEpoch(100, 3), data[:-3])
    with pytest.raises(SnapshotInstallError):
        log.install_snapshot(OffsetAndEpoch(100, 3), b"\0" * 80)
    assert log.end_offset() == 6 and log.latest_snapshot_id() is None
    assert log.install_snapshot(OffsetAndEpoch(100, 3), data)
    assert (log.start_offset(), log.end_offset(), log.last_fetched_epoch()) == (100, 100, 3)
    assert log.epochs == []
    path = log.dir / SnapshotId(100, 3).file_name
    assert path.read_bytes() == data and not os.access(path, os.W_OK) or os.geteuid() == 0
    assert read_snapshot(path).messages() == [
        FeatureLevelRecord(name="metadata.version", feature_level=27)
    ]
    # The log goes on from the snapshot.
    log.append_as_leader([b"next"], 4)
    assert log.read(100, 1 << 20)[0].offset == 100
    log.close()
    reopened = NativeRaftLog(tmp_path / "follower", segment_bytes=SEGMENT_BYTES)
    assert (reopened.start_offset(), reopened.end_offset()) == (100, 101)
    assert reopened.latest_snapshot_id() == OffsetAndEpoch(100, 3)
    reopened.close()


def test_a_log_past_zero_without_a_covering_snapshot_does_not_open(tmp_path: Path) -> None:
    log = NativeRaftLog(tmp_path, segment_bytes=SEGMENT_BYTES)
    _fill(log, 40)
    log.flush()
    snapshot_id = _snapshot(log, 30)
    assert log.delete_before_snapshot(snapshot_id)
    start = log.start_offset()
    log.close()
    (log.dir / SnapshotId(30, 1).file_name).unlink()
    assert start == 30
    assert min(int(p.name[:20]) for p in log.dir.glob("*.log")) > 0  # segments went
    with pytest.raises(NativeLogError, match="no snapshot"):
        NativeRaftLog(tmp_path, segment_bytes=SEGMENT_BYTES)


def test_partial_snapshots_are_removed_on_open(tmp_path: Path) -> None:
    log = NativeRaftLog(tmp_path)
    _fill(log, 3)
    log.close()
    partial = log.dir / "00000000000000000002-0000000001.checkpoint.part"
    partial.write_bytes(b"torn")
    assert NativeRaftLog(tmp_path).latest_snapshot_id() is None
    assert not partial.exists()


def test_image_records_rebuild_the_image() -> None:
    import uuid

    from ferrokafka.cluster.delta import MetadataDelta
    from ferrokafka.cluster.image import EMPTY_IMAGE
    from ferrokafka.cluster.image_records import image_from_records, image_records
    from ferrokafka.cluster.records import (
        ConfigRecord,
        PartitionChangeRecord,
        PartitionRecord,
        ProducerIdsRecord,
        RegisterBrokerRecord,
        RegisterControllerRecord,
        RemoveTopicRecord,
    )

    kept, gone = uuid.uuid4(), uuid.uuid4()
    delta = MetadataDelta(EMPTY_IMAGE)
    delta.replay_all(
        [
            FeatureLevelRecord(name="metadata.version", feature_level=27),
            FeatureLevelRecord(name="group.version", feature_level=1),
            RegisterBrokerRecord(
                broker_id=1,
                incarnation_id=uuid.uuid4(),
                broker_epoch=7,
                end_points=[
                    RegisterBrokerRecord.BrokerEndpoint(name="PLAINTEXT", host="h", port=9092)
                ],
                rack=None,
                fenced=False,
            ),
            TopicRecord(name="orders", topic_id=kept),
            PartitionRecord(partition_id=0, topic_id=kept, replicas=[1], isr=[1], leader=1),
            PartitionChangeRecord(partition_id=0, topic_id=kept, isr=[1]),
            TopicRecord(name="old", topic_id=gone),
            RemoveTopicRecord(topic_id=gone),
            ConfigRecord(resource_type=2, resource_name="orders", name="retention.ms", value="1"),
            ProducerIdsRecord(broker_id=1, broker_epoch=7, next_producer_id=2000),
            RegisterControllerRecord(controller_id=3000, incarnation_id=uuid.uuid4()),
        ],
        41,
    )
    image = delta.apply()
    records = image_records(image)
    assert type(records[0]).__name__ == "FeatureLevelRecord"
    assert records[0].name == "metadata.version"
    rebuilt, _ = image_from_records(records, 41)
    assert rebuilt == image
    assert list(rebuilt.controllers) == [3000]


def test_a_snapshots_voters_replace_the_history_at_install_and_at_restart(tmp_path: Path) -> None:
    """KIP-853: a snapshot's header holds the voter set at its end; the log that starts at it
    gives the replica that voter set, not the bootstrap checkpoint's or an old log's."""
    from random import Random

    from ferrokafka.cluster.raft import QuorumConfig, RaftReplica
    from ferrokafka.cluster.raft.voters import (
        KRaftVersionChange,
        VoterEndpoint,
        VoterNode,
        VotersChange,
        VoterSet,
        VoterSetHistory,
    )

    def voters(*ids: int) -> VoterSet:
        return VoterSet(
            VoterNode(i, uuid.UUID(int=i), (VoterEndpoint("CONTROLLER", "h", 9000 + i),), (0, 1))
            for i in ids
        )

    log = NativeRaftLog(tmp_path, segment_bytes=SEGMENT_BYTES)
    _fill(log, 5)
    data = encode_snapshot(
        [FeatureLevelRecord(name="metadata.version", feature_level=27)],
        snapshot_id=SnapshotId(100, 3),
        last_contained_log_timestamp_ms=5,
        kraft_version=1,
        voters=voters(1, 2, 4).to_record(),
    )
    assert log.install_snapshot(OffsetAndEpoch(100, 3), data)
    header = (KRaftVersionChange(1), VotersChange(voters(1, 2, 4)))
    assert log.snapshot_control_values(OffsetAndEpoch(100, 3)) == header
    log.close()
    reopened = NativeRaftLog(tmp_path, segment_bytes=SEGMENT_BYTES)
    assert reopened.snapshot_control_values(OffsetAndEpoch(100, 3)) == header
    history = VoterSetHistory()
    history.bootstrap(1, voters(1, 2, 3))  # what an older checkpoint said
    replica = RaftReplica(
        node_id=2,
        voters=history,
        log=reopened,
        config=QuorumConfig(),
        random=Random(1),
        now_ms=0,
        directory_id=uuid.UUID(int=2),
    )
    assert replica.history.last_voters() == voters(1, 2, 4)
    assert replica.history.last_voters_offset() == 99
    assert replica.quorum.voters == {1, 2, 4}
    reopened.close()
