"""Committed offsets in memory, and the ``__consumer_offsets`` records that persist them.

The store is the state a replay of the offset commit records (type 1, and legacy type 0)
rebuilds: group id -> (topic, partition) -> :class:`CommittedOffset`. A tombstone removes one
partition's offset. Offsets are kept by topic name, as Kafka's classic coordinator keeps them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from ferrokafka.groups.base import Record
from ferrokafka.groups.records import OffsetCommitKey, OffsetCommitValue
from ferrokafka.groups.serde import encode_key, encode_value
from ferrokafka.protocol.schema import Message

TopicPartition = tuple[str, int]


@dataclass(frozen=True, slots=True)
class CommittedOffset:
    offset: int
    leader_epoch: int  # -1: unknown
    metadata: str
    commit_timestamp_ms: int
    # Set only by OffsetCommit v2-4 with a retention time (value version 1); -1 otherwise.
    expire_timestamp_ms: int = -1
    # Kafka 4.3 records the topic id with the offset (value version 4); zero when unknown.
    topic_id: uuid.UUID = uuid.UUID(int=0)


def offset_record(group_id: str, topic: str, partition: int, committed: CommittedOffset) -> Record:
    key = encode_key(OffsetCommitKey(group=group_id, topic=topic, partition=partition))
    value = OffsetCommitValue(
        offset=committed.offset,
        leader_epoch=committed.leader_epoch,
        metadata=committed.metadata,
        commit_timestamp=committed.commit_timestamp_ms,
        expire_timestamp=committed.expire_timestamp_ms,
        topic_id=committed.topic_id,
    )
    # Kafka writes version 1 only when an expire timestamp is set (old clients), else 4.
    version = 1 if committed.expire_timestamp_ms >= 0 else None
    return key, encode_value(value, version)


def offset_tombstone(group_id: str, topic: str, partition: int) -> Record:
    return encode_key(OffsetCommitKey(group=group_id, topic=topic, partition=partition)), None


class OffsetStore:
    """group id -> topic partition -> committed offset."""

    def __init__(self) -> None:
        self._groups: dict[str, dict[TopicPartition, CommittedOffset]] = {}

    def get(self, group_id: str, topic: str, partition: int) -> CommittedOffset | None:
        return self._groups.get(group_id, {}).get((topic, partition))

    def of_group(self, group_id: str) -> dict[TopicPartition, CommittedOffset]:
        """The group's offsets (a copy)."""
        return dict(self._groups.get(group_id, {}))

    def has_offsets(self, group_id: str) -> bool:
        return bool(self._groups.get(group_id))

    def group_ids(self) -> Iterator[str]:
        return iter(list(self._groups))

    def put(self, group_id: str, topic: str, partition: int, committed: CommittedOffset) -> None:
        self._groups.setdefault(group_id, {})[(topic, partition)] = committed

    def remove(self, group_id: str, topic: str, partition: int) -> None:
        offsets = self._groups.get(group_id)
        if offsets is None:
            return
        offsets.pop((topic, partition), None)
        if not offsets:
            del self._groups[group_id]

    def remove_group(self, group_id: str) -> list[TopicPartition]:
        return list(self._groups.pop(group_id, {}))

    def replay(self, key: Message, value: Message | None) -> None:
        """Apply one offset commit record (key OffsetCommitKey; value None: tombstone)."""
        assert isinstance(key, OffsetCommitKey)
        if value is None:
            self.remove(key.group, key.topic, key.partition)
            return
        self.put(
            key.group,
            key.topic,
            key.partition,
            CommittedOffset(
                offset=value.offset,
                leader_epoch=getattr(value, "leader_epoch", -1),
                metadata=value.metadata,
                commit_timestamp_ms=value.commit_timestamp,
                expire_timestamp_ms=getattr(value, "expire_timestamp", -1),
                topic_id=getattr(value, "topic_id", uuid.UUID(int=0)),
            ),
        )
