"""KRaft snapshot files (cluster/snapshot_file.py) and the feature levels a format picks
(cluster/feature_levels.py). Kafka's own tools reading these files: tests/interop/
test_storage_format_kafka.py."""

from __future__ import annotations

import os
import struct
import uuid
from pathlib import Path

import pytest

from ferrokafka.cluster.feature_levels import (
    FeatureLevelError,
    effective_levels,
    metadata_version_from_string,
    parse_feature_flag,
)
from ferrokafka.cluster.records import FeatureLevelRecord, TopicRecord
from ferrokafka.cluster.snapshot_file import (
    BOOTSTRAP_SNAPSHOT_ID,
    SnapshotFileError,
    SnapshotId,
    decode_snapshot,
    encode_snapshot,
    read_snapshot,
    write_snapshot,
)
from ferrokafka.protocol.messages.voters_record import VotersRecord
from ferrokafka.storage import decode_batches

NOW_MS = 1_700_000_000_000
VOTERS = VotersRecord(
    voters=[
        VotersRecord.Voter(
            voter_id=1,
            voter_directory_id=uuid.UUID(int=12345),
            endpoints=[VotersRecord.Endpoint(name="CONTROLLER", host="127.0.0.1", port=9093)],
            k_raft_version_feature=VotersRecord.KRaftVersionFeature(
                min_supported_version=0, max_supported_version=1
            ),
        )
    ]
)
FEATURES = [
    FeatureLevelRecord(name="metadata.version", feature_level=33),
    FeatureLevelRecord(name="group.version", feature_level=1),
]


def test_round_trip_with_voters(tmp_path: Path) -> None:
    path = write_snapshot(
        tmp_path / "__cluster_metadata-0",
        FEATURES,
        snapshot_id=BOOTSTRAP_SNAPSHOT_ID,
        last_contained_log_timestamp_ms=NOW_MS - 5,
        kraft_version=1,
        voters=VOTERS,
        now_ms=NOW_MS,
    )
    assert path.name == "00000000000000000000-0000000000.checkpoint"
    assert os.stat(path).st_mode & 0o777 == 0o400  # frozen, as Kafka leaves it
    assert not list(path.parent.glob("*.part"))
    snapshot = read_snapshot(path)
    assert snapshot.kraft_version == 1
    assert snapshot.voters == VOTERS
    assert snapshot.messages() == FEATURES
    assert snapshot.last_contained_log_timestamp_ms == NOW_MS - 5
    batches = decode_batches(path.read_bytes())
    # Header + KRaftVersion + Voters in one control batch, the records, the footer.
    assert [(b.base_offset, b.record_count, b.is_control) for b in batches] == [
        (0, 3, True),
        (3, 2, False),
        (5, 1, True),
    ]
    assert {b.partition_leader_epoch for b in batches} == {0}
    key = batches[0].records()[2].key
    assert key == struct.pack(">hh", 0, 6)  # KRAFT_VOTERS control type


def test_static_quorum_has_no_kraft_records() -> None:
    data = encode_snapshot(
        FEATURES, snapshot_id=SnapshotId(10, 2), last_contained_log_timestamp_ms=NOW_MS
    )
    batches = decode_batches(data)
    assert batches[0].record_count == 1 and batches[0].partition_leader_epoch == 2
    snapshot = decode_snapshot(data, SnapshotId(10, 2))
    assert snapshot.kraft_version == 0 and snapshot.voters is None
    with pytest.raises(ValueError, match="kraft.version 1"):
        encode_snapshot(
            [], snapshot_id=SnapshotId(1, 1), last_contained_log_timestamp_ms=0, voters=VOTERS
        )


def test_data_batches_are_cut_at_the_size_limit() -> None:
    records = [
        TopicRecord(name=f"topic-{i:04d}", topic_id=uuid.UUID(int=i + 1)) for i in range(200)
    ]
    data = encode_snapshot(
        records,
        snapshot_id=SnapshotId(200, 1),
        last_contained_log_timestamp_ms=NOW_MS,
        batch_bytes_max=1024,
    )
    batches = decode_batches(data)
    data_batches = [b for b in batches if not b.is_control]
    assert len(data_batches) > 5
    assert all(b.size_in_bytes <= 1024 for b in data_batches)
    assert decode_snapshot(data, SnapshotId(200, 1)).messages() == records


def test_corrupt_and_partial_snapshots_are_refused(tmp_path: Path) -> None:
    data = encode_snapshot(
        FEATURES, snapshot_id=BOOTSTRAP_SNAPSHOT_ID, last_contained_log_timestamp_ms=0
    )
    flipped = bytearray(data)
    flipped[100] ^= 0xFF
    with pytest.raises(SnapshotFileError, match="(?i)crc|corrupt"):
        decode_snapshot(bytes(flipped), BOOTSTRAP_SNAPSHOT_ID)
    footer_size = decode_batches(data)[-1].size_in_bytes
    with pytest.raises(SnapshotFileError, match="no snapshot footer"):
        decode_snapshot(data[:-footer_size], BOOTSTRAP_SNAPSHOT_ID)
    header_size = decode_batches(data)[0].size_in_bytes
    with pytest.raises(SnapshotFileError, match="offset|header"):
        decode_snapshot(data[header_size:], BOOTSTRAP_SNAPSHOT_ID)
    odd = tmp_path / "snapshot.bin"
    odd.write_bytes(data)
    with pytest.raises(SnapshotFileError, match="not a snapshot file name"):
        read_snapshot(odd)


def test_an_existing_snapshot_is_not_replaced_unless_asked(tmp_path: Path) -> None:
    args = {"snapshot_id": BOOTSTRAP_SNAPSHOT_ID, "last_contained_log_timestamp_ms": 0}
    write_snapshot(tmp_path, FEATURES, **args)
    with pytest.raises(FileExistsError):
        write_snapshot(tmp_path, FEATURES[:1], **args)
    write_snapshot(tmp_path, FEATURES[:1], replace=True, **args)
    assert read_snapshot(tmp_path / BOOTSTRAP_SNAPSHOT_ID.file_name).messages() == FEATURES[:1]


# -- feature levels (the tables come from Kafka 4.4.0's version-mapping) ---------------------


def test_default_levels_are_kafka_4_4s() -> None:
    levels = effective_levels(None, {}, dynamic_quorum=True)
    assert levels.metadata_version.name == "4.4-IV2" and levels.metadata_version.level == 33
    assert dict(levels.levels) == {
        "eligible.leader.replicas.version": 1,
        "group.version": 1,
        "kraft.version": 1,
        "share.version": 2,
        "streams.version": 1,
        "transaction.version": 2,
    }
    names = [(r.name, r.feature_level) for r in levels.bootstrap_records()]
    assert names[0] == ("metadata.version", 33) and ("kraft.version", 1) not in names
    assert effective_levels(None, {}, dynamic_quorum=False).levels["kraft.version"] == 0


def test_release_versions_and_flags() -> None:
    assert metadata_version_from_string("4.0").name == "4.0-IV3"
    assert metadata_version_from_string("3.3").level == 7
    levels = effective_levels("3.9", {"transaction.version": 2}, dynamic_quorum=False)
    assert [(r.name, r.feature_level) for r in levels.bootstrap_records()] == [
        ("metadata.version", 21),
        ("transaction.version", 2),
    ]
    assert parse_feature_flag("group.version=0") == ("group.version", 0)
    for flag, message in [
        ("foo", "equals sign not found"),
        ("group.version=x", "unable to parse x as a short"),
    ]:
        with pytest.raises(FeatureLevelError, match=message):
            parse_feature_flag(flag)
    for release, features, message in [
        ("9.9", {}, "Unknown metadata.version '9.9'"),
        ("4.5-IV0", {}, "not yet stable"),
        ("4.3", {"metadata.version": 30}, "Use --release-version instead"),
        (None, {"foo": 1}, "Unsupported feature: foo"),
        (None, {"share.version": 3}, "No feature:share.version with feature level 3"),
        ("3.9", {"eligible.leader.replicas.version": 1}, "depends on metadata.version level 23"),
    ]:
        with pytest.raises(FeatureLevelError, match=message):
            effective_levels(release, features, dynamic_quorum=True)
    with pytest.raises(FeatureLevelError, match="Cannot set kraft.version to 0 if"):
        effective_levels(None, {"kraft.version": 0}, dynamic_quorum=True)
    with pytest.raises(FeatureLevelError, match="Cannot set kraft.version to 1 unless"):
        effective_levels(None, {"kraft.version": 1}, dynamic_quorum=False)
