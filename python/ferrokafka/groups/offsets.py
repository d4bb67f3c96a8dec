"""Committed offsets in memory, and the ``__consumer_offsets`` records that persist them.

The store is the state a replay of the offset commit records (type 1, and legacy type 0)
rebuilds: group id -> (topic, partition) -> :class:`CommittedOffset`. A tombstone removes one
partition's offset. Offsets are kept by topic name, as Kafka's classic coordinator keeps them.

Offsets a transaction committed (TxnOffsetCommit) wait in :attr:`OffsetStore.pending`
(:mod:`ferrokafka.groups.txn_offsets`) until the transaction's marker: :meth:`end_transaction`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from ferrokafka.groups.base import Record
from ferrokafka.groups.records import OffsetCommitKey, OffsetCommitValue
from ferrokafka.groups.serde import encode_key, encode_value
from ferrokafka.groups.txn_offsets import PendingTxnOffsets, TxnKey
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
    """group id -> topic partition -> committed offset, and the pending transactional ones."""

    def __init__(self) -> None:
        self._groups: dict[str, dict[TopicPartition, CommittedOffset]] = {}
        self.pending = PendingTxnOffsets()
        # The stamp (see txn_offsets) of each committed offset, and the last one given.
        self._stamps: dict[tuple[str, str, int], int] = {}
        self._last_stamp = 0

    def get(self, group_id: str, topic: str, partition: int) -> CommittedOffset | None:
        return self._groups.get(group_id, {}).get((topic, partition))

    def of_group(self, group_id: str) -> dict[TopicPartition, CommittedOffset]:
        """The group's offsets (a copy)."""
        return dict(self._groups.get(group_id, {}))

    def has_offsets(self, group_id: str) -> bool:
        """Committed offsets, or a transaction that wrote offsets and is still open (Kafka
        keeps such a group: its offsets may yet be committed)."""
        return bool(self._groups.get(group_id)) or self.pending.has_open(group_id)

    def has_any_offset(self, group_id: str) -> bool:
        """A committed offset, or a pending one (not merely an open transaction whose offsets
        tombstones removed)."""
        return bool(self._groups.get(group_id)) or bool(self.pending.partitions_of(group_id))

    def group_ids(self) -> Iterator[str]:
        """Groups with committed offsets or open transactions."""
        return iter(list(dict.fromkeys([*self._groups, *self.pending.group_ids()])))

    def put(self, group_id: str, topic: str, partition: int, committed: CommittedOffset) -> None:
        self._groups.setdefault(group_id, {})[(topic, partition)] = committed
        self._stamps[(group_id, topic, partition)] = self._stamp()

    def remove(self, group_id: str, topic: str, partition: int) -> None:
        """A tombstone: the committed offset goes, and the pending ones of open transactions
        (Kafka's replay)."""
        self.pending.remove(group_id, topic, partition)
        offsets = self._groups.get(group_id)
        if offsets is None:
            return
        offsets.pop((topic, partition), None)
        self._stamps.pop((group_id, topic, partition), None)
        if not offsets:
            del self._groups[group_id]

    def remove_group(self, group_id: str) -> list[TopicPartition]:
        """Tombstones of every committed and pending offset of the group (its deletion)."""
        for topic, partition in self.pending.partitions_of(group_id):
            self.pending.remove(group_id, topic, partition)
        removed = list(self._groups.pop(group_id, {}))
        for topic, partition in removed:
            self._stamps.pop((group_id, topic, partition), None)
        return removed

    def forget_group(self, group_id: str) -> None:
        """Drop everything of the group, open transactions too (its partition was unloaded)."""
        self.remove_group(group_id)
        self.pending.forget_group(group_id)

    def _stamp(self) -> int:
        self._last_stamp += 1
        return self._last_stamp

    # -- transactions ------------------------------------------------------------------------

    def put_pending(
        self,
        key: TxnKey,
        producer_epoch: int,
        group_id: str,
        topic: str,
        partition: int,
        committed: CommittedOffset,
    ) -> None:
        """An offset of the transaction ``key`` (partition, producer id): pending."""
        self.pending.put(key, producer_epoch, group_id, topic, partition, self._stamp(), committed)

    def has_pending(self, group_id: str, topic: str, partition: int) -> bool:
        return self.pending.has_pending(group_id, topic, partition)

    def end_transaction(self, key: TxnKey, commit: bool) -> int:
        """The marker of transaction ``key``: on COMMIT its offsets become committed where
        they were written after the committed one (Kafka keeps the most recent record), on
        ABORT they are dropped. Returns how many offsets were committed."""
        txn = self.pending.end(key)
        if txn is None or not commit:
            return 0
        applied = 0
        for group_id, offsets in txn.offsets.items():
            for (topic, partition), (stamp, committed) in offsets.items():
                existing = self._stamps.get((group_id, topic, partition))
                if existing is None or stamp > existing:
                    self._groups.setdefault(group_id, {})[(topic, partition)] = committed
                    self._stamps[(group_id, topic, partition)] = stamp
                    applied += 1
        return applied

    def replay(self, key: Message, value: Message | None) -> None:
        """Apply one offset commit record (key OffsetCommitKey; value None: tombstone)."""
        assert isinstance(key, OffsetCommitKey)
        if value is None:
            self.remove(key.group, key.topic, key.partition)
            return
        self.put(key.group, key.topic, key.partition, _committed(value))

    def replay_pending(
        self, txn: TxnKey, producer_epoch: int, key: Message, value: Message | None
    ) -> None:
        """Apply one offset commit record of a transactional batch (a tombstone there is a
        tombstone as anywhere, as in Kafka's replay)."""
        assert isinstance(key, OffsetCommitKey)
        if value is None:
            self.remove(key.group, key.topic, key.partition)
            return
        self.put_pending(
            txn, producer_epoch, key.group, key.topic, key.partition, _committed(value)
        )


def _committed(value: Message) -> CommittedOffset:
    return CommittedOffset(
        offset=value.offset,
        leader_epoch=getattr(value, "leader_epoch", -1),
        metadata=value.metadata,
        commit_timestamp_ms=value.commit_timestamp,
        expire_timestamp_ms=getattr(value, "expire_timestamp", -1),
        topic_id=getattr(value, "topic_id", uuid.UUID(int=0)),
    )
