"""Pending transactional offsets: what TxnOffsetCommit wrote and no marker has completed yet
(Kafka's OffsetMetadataManager ``pendingTransactionalOffsets`` and ``openTransactionsByGroup``).

A transactional producer's offset commits are written to ``__consumer_offsets`` in a
transactional batch; they stay here, invisible to OffsetFetch, until the transaction
coordinator writes the producer's marker to that partition: COMMIT moves them to the committed
offsets (:meth:`~ferrokafka.groups.offsets.OffsetStore.end_transaction`), ABORT drops them.

A transaction is keyed by the ``__consumer_offsets`` partition *and* the producer id: Kafka
keeps one coordinator shard per partition, this coordinator one store for all the partitions
it leads, and a marker completes the producer's transaction on its own partition only.

Each offset carries its *stamp*: the store's count of applied offset records when it was
applied. Records are applied in log order (replayed in log order, and written ones applied
right after their append, before any other write to the partition), so a stamp orders records
as Kafka's record offset does: on COMMIT a pending offset replaces the committed one only when
it was written after it (Kafka's replayEndTransactionMarker).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ferrokafka.groups.offsets import CommittedOffset  # offsets imports this module

TopicPartition = tuple[str, int]
# (__consumer_offsets partition, producer id)
TxnKey = tuple[int, int]


@dataclass(slots=True)
class PendingTxn:
    """One producer's open transaction on one ``__consumer_offsets`` partition."""

    producer_epoch: int
    # every group it wrote offsets for (a tombstone may have removed them since)
    groups: set[str] = field(default_factory=set)
    # group id -> topic partition -> (stamp, offset)
    offsets: dict[str, dict[TopicPartition, tuple[int, CommittedOffset]]] = field(
        default_factory=dict
    )


class PendingTxnOffsets:
    """Open transactions by (partition, producer id), and by group."""

    def __init__(self) -> None:
        self._txns: dict[TxnKey, PendingTxn] = {}
        # group id -> the open transactions that wrote offsets for it (Kafka keeps a
        # transaction here after a tombstone removed its offsets, until its marker)
        self._open: dict[str, set[TxnKey]] = {}

    def __len__(self) -> int:
        return len(self._txns)

    def put(
        self,
        key: TxnKey,
        producer_epoch: int,
        group_id: str,
        topic: str,
        partition: int,
        stamp: int,
        committed: CommittedOffset,
    ) -> None:
        txn = self._txns.get(key)
        if txn is None:
            txn = self._txns[key] = PendingTxn(producer_epoch)
        txn.producer_epoch = producer_epoch
        txn.offsets.setdefault(group_id, {})[(topic, partition)] = (stamp, committed)
        txn.groups.add(group_id)
        self._open.setdefault(group_id, set()).add(key)

    def get(self, key: TxnKey, group_id: str, topic: str, partition: int) -> CommittedOffset | None:
        txn = self._txns.get(key)
        if txn is None:
            return None
        found = txn.offsets.get(group_id, {}).get((topic, partition))
        return found[1] if found is not None else None

    def is_ongoing(self, key: TxnKey, producer_epoch: int) -> bool:
        """The producer has an open transaction on the partition at this epoch (Kafka's
        hasOngoingTransaction: no verification needed for its next offset commit)."""
        txn = self._txns.get(key)
        return txn is not None and txn.producer_epoch == producer_epoch

    def has_pending(self, group_id: str, topic: str, partition: int) -> bool:
        """Some open transaction holds an offset of this partition for the group."""
        for key in self._open.get(group_id, ()):
            txn = self._txns.get(key)
            if txn is not None and (topic, partition) in txn.offsets.get(group_id, {}):
                return True
        return False

    def has_open(self, group_id: str) -> bool:
        """Some transaction wrote offsets for the group and is not completed yet."""
        return group_id in self._open

    def partitions_of(self, group_id: str) -> set[TopicPartition]:
        """Every partition some open transaction holds an offset of for the group."""
        found: set[TopicPartition] = set()
        for key in self._open.get(group_id, ()):
            txn = self._txns.get(key)
            if txn is not None:
                found.update(txn.offsets.get(group_id, {}))
        return found

    def group_ids(self) -> Iterator[str]:
        return iter(list(self._open))

    def remove(self, group_id: str, topic: str, partition: int) -> None:
        """A tombstone of the partition's offset: it removes the pending ones too (Kafka's
        replay); the transactions stay open until their markers."""
        for key in self._open.get(group_id, ()):
            txn = self._txns.get(key)
            if txn is None:
                continue
            offsets = txn.offsets.get(group_id)
            if offsets is not None:
                offsets.pop((topic, partition), None)
                if not offsets:
                    del txn.offsets[group_id]

    def forget_group(self, group_id: str) -> None:
        """Drop everything about the group (its partition was unloaded)."""
        for key in self._open.pop(group_id, set()):
            txn = self._txns.get(key)
            if txn is not None:
                txn.offsets.pop(group_id, None)
                txn.groups.discard(group_id)

    def end(self, key: TxnKey) -> PendingTxn | None:
        """The marker of the transaction: it is no longer open; its offsets are returned."""
        txn = self._txns.pop(key, None)
        if txn is None:
            return None
        for group_id in txn.groups:
            keys = self._open.get(group_id)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._open[group_id]
        return txn

    def drop_partition(self, partition: int) -> None:
        """The partition was unloaded: forget its open transactions."""
        for key in [k for k in self._txns if k[0] == partition]:
            self.end(key)
