"""The coordinator core: record framing, group -> partition, timers, writes and their replay
after a restart (in-process broker, no client)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from ferrokafka.coordinator.timers import Timers
from ferrokafka.groups.coordinator import OFFSETS_TOPIC, java_string_hash, partition_for
from ferrokafka.groups.offsets import CommittedOffset, offset_record, offset_tombstone
from ferrokafka.groups.records import GroupMetadataValue, OffsetCommitKey, OffsetCommitValue
from ferrokafka.groups.serde import (
    CoordinatorRecordError,
    decode_record,
    encode_key,
    encode_value,
)
from ferrokafka.testing import open_broker

TEST_TIMEOUT_S = 60


def test_java_string_hash_matches_java() -> None:
    # Values from java.lang.String.hashCode.
    assert java_string_hash("") == 0
    assert java_string_hash("hello") == 99162322
    assert java_string_hash("polygenelubricants") == -(2**31)
    assert java_string_hash("é") == 233
    assert java_string_hash("😀") == (31 * 0xD83D + 0xDE00)


def test_partition_for_is_abs_hash_mod_partitions() -> None:
    # Kafka's Utils.abs maps Integer.MIN_VALUE to 0, and is Math.abs otherwise.
    assert partition_for("polygenelubricants", 50) == 0
    assert partition_for("hello", 50) == 99162322 % 50
    assert java_string_hash("fmt-group") == -1725810369
    assert partition_for("fmt-group", 7) == 1725810369 % 7  # not (h & 0x7fffffff) % 7


def test_offset_commit_record_bytes() -> None:
    key, value = offset_record("g", "t", 3, CommittedOffset(42, 7, "m", 1000))
    # type 1, then group "g", topic "t", partition 3 (classic encoding: int16 lengths).
    assert key == b"\x00\x01" + b"\x00\x01g" + b"\x00\x01t" + b"\x00\x00\x00\x03"
    assert value is not None
    # version 4 (flexible): offset, leader epoch, compact metadata, commit timestamp, no tags
    # (the topic id is zero, its default, so its tag is left out).
    assert value == (
        b"\x00\x04"
        + (42).to_bytes(8, "big")
        + (7).to_bytes(4, "big")
        + b"\x02m"  # compact string: length + 1
        + (1000).to_bytes(8, "big")
        + b"\x00"  # no tagged fields
    )
    decoded = decode_record(key, value)
    assert decoded.record_type == 1
    assert decoded.key == OffsetCommitKey(group="g", topic="t", partition=3)
    assert decoded.value_version == 4
    assert isinstance(decoded.value, OffsetCommitValue)
    assert (decoded.value.offset, decoded.value.leader_epoch) == (42, 7)


def test_legacy_type_zero_reads_as_offset_commit() -> None:
    key, _ = offset_record("g", "t", 0, CommittedOffset(1, -1, "", 5))
    legacy_key = b"\x00\x00" + key[2:]
    legacy_value = b"\x00\x00" + (9).to_bytes(8, "big") + b"\x00\x00" + (5).to_bytes(8, "big")
    decoded = decode_record(legacy_key, legacy_value)
    assert decoded.record_type == 1
    assert decoded.value.offset == 9


def test_tombstone_and_bad_records() -> None:
    key, value = offset_tombstone("g", "t", 1)
    assert value is None
    assert decode_record(key, None).value is None
    with pytest.raises(CoordinatorRecordError):
        decode_record(b"\x00\x63" + key[2:], None)  # unknown type 99
    with pytest.raises(CoordinatorRecordError):
        decode_record(key + b"\x00", None)  # trailing byte
    with pytest.raises(CoordinatorRecordError):
        decode_record(key, b"\x00\x09")  # no version 9


def test_group_metadata_value_roundtrip() -> None:
    value = GroupMetadataValue(
        protocol_type="consumer",
        generation=3,
        protocol="range",
        leader="m1",
        current_state_timestamp=123,
        members=[
            GroupMetadataValue.MemberMetadata(
                member_id="m1",
                group_instance_id="i1",
                client_id="c",
                client_host="/127.0.0.1",
                rebalance_timeout=1000,
                session_timeout=6000,
                subscription=b"sub",
                assignment=b"asg",
            )
        ],
    )
    data = encode_value(value)
    assert data[:2] == b"\x00\x03"
    from ferrokafka.groups.records import GroupMetadataKey

    decoded = decode_record(encode_key(GroupMetadataKey(group="g")), data)
    assert decoded.record_type == 2
    assert decoded.value == value


def test_timers_fire_in_order_and_reschedule() -> None:
    trio.run(_timers_fire_in_order)


async def _timers_fire_in_order() -> None:
    timers = Timers()
    fired: list[str] = []
    with trio.fail_after(TEST_TIMEOUT_S):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(timers.run)
            timers.schedule("b", 0.2, lambda: fired.append("b"))
            timers.schedule("a", 0.1, lambda: fired.append("a"))
            timers.schedule("c", 0.05, lambda: fired.append("c"))
            timers.schedule("c", 0.3, lambda: fired.append("c2"))  # replaces the first
            timers.schedule("d", 0.05, lambda: fired.append("d"))
            timers.cancel("d")
            await trio.sleep(0.5)
            nursery.cancel_scope.cancel()
    assert fired == ["a", "b", "c2"]
    assert len(timers) == 0


def test_writes_are_replayed_after_restart(tmp_path: Path) -> None:
    trio.run(_writes_are_replayed, tmp_path)


async def _writes_are_replayed(tmp_path: Path) -> None:
    overrides = {"offsets.topic.num.partitions": 3, "offsets.topic.segment.bytes": 1 << 20}
    with trio.fail_after(TEST_TIMEOUT_S):
        async with open_broker(tmp_path, overrides) as running:
            node = running.broker.node
            assert node is not None
            coordinator = node.group_coordinator
            assert coordinator is not None
            assert coordinator.error_code() != 0  # no topic yet
            assert await coordinator.ensure_topic() == 0
            assert len(node.image.topics_by_name[OFFSETS_TOPIC].partitions) == 3
            configs = dict(node.image.topic_config(OFFSETS_TOPIC))
            assert configs["cleanup.policy"] == "compact"
            assert configs["segment.bytes"] == str(1 << 20)
            assert node.partition(OFFSETS_TOPIC, 0).log.config.segment_bytes == 1 << 20
            applied: list[int] = []
            records = [
                offset_record("g1", "t", 0, CommittedOffset(10, -1, "a", 1)),
                offset_record("g1", "t", 1, CommittedOffset(11, -1, "b", 1)),
            ]
            assert await coordinator.write("g1", records, lambda: applied.append(1)) == 0
            assert applied == [1]
            assert await coordinator.write("g1", [offset_tombstone("g1", "t", 1)]) == 0
            handle = node.partition(OFFSETS_TOPIC, coordinator.partition_for("g1"))
            assert handle is not None and handle.high_watermark == 3
        async with open_broker(tmp_path, overrides) as running:
            coordinator = running.broker.node.group_coordinator
            with trio.fail_after(TEST_TIMEOUT_S):
                while coordinator.error_code() != 0:
                    await trio.sleep(0.01)
            assert coordinator.offsets.get("g1", "t", 0).offset == 10
            assert coordinator.offsets.get("g1", "t", 0).metadata == "a"
            assert coordinator.offsets.get("g1", "t", 1) is None


def test_offset_with_expire_timestamp_is_value_version_1() -> None:
    """OffsetCommit v2-4 with a retention time: Kafka writes value version 1, the one with an
    expire timestamp; it replays into the same offset."""
    key, value = offset_record("g", "t", 0, CommittedOffset(3, -1, "", 1000, 61_000))
    assert value is not None and value[:2] == b"\x00\x01"
    decoded = decode_record(key, value)
    assert (decoded.value.offset, decoded.value.expire_timestamp) == (3, 61_000)
    from ferrokafka.groups.offsets import OffsetStore

    store = OffsetStore()
    store.replay(decoded.key, decoded.value)
    assert store.get("g", "t", 0) == CommittedOffset(3, -1, "", 1000, 61_000)
