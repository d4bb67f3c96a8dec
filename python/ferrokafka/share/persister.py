"""The share-group state persister: how a share-partition leader reads and writes the durable
state of a share-partition (its start offset and the delivery state of the in-flight records
above it), as Kafka's ``Persister`` does, one share-partition per call.

A share-partition is a (group id, topic id, partition) triple, :class:`SharePartitionKey`.
Its state is what the share coordinator keeps on ``__share_group_state``:

- ``state_epoch``: bumped by the group coordinator each time the state is initialized again
  (InitializeShareGroupState, e.g. ``kafka-share-groups --reset-offsets``); a write with an
  older state epoch is fenced (FENCED_STATE_EPOCH).
- ``leader_epoch``: the partition leader epoch of the writer; a read or write with a lower one
  than the coordinator has seen is fenced (FENCED_LEADER_EPOCH); -1 means "do not check".
- ``start_offset``: every record below it is done (acknowledged or archived); -1 means "not
  initialized yet: the share-partition leader picks it from ``share.auto.offset.reset``".
- ``batches``: :class:`StateBatch` ranges above the start offset whose records are not
  AVAILABLE with delivery count 0 (Kafka's ``PersisterStateBatch``).
- ``delivery_complete_count``: (WriteShareGroupState v1 / summary) how many records in the
  batches are done, -1 when unknown.

Every method answers Kafka's error code (0 = NONE) rather than raising for a protocol-level
failure: the share-partition leader maps it as Kafka does (NOT_COORDINATOR /
COORDINATOR_NOT_AVAILABLE: retry; UNKNOWN_TOPIC_OR_PARTITION from a read: not initialized).

Implementations: :class:`InMemoryPersister` (tests; and the broker's until the share
coordinator is plugged in), the share coordinator's (``__share_group_state`` through the
coordinator runtime, locally or over the state RPCs to the coordinator's node).
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from typing import Protocol

from ferrokafka.protocol import error_codes as ec

# Kafka's RecordState ids, as they appear in StateBatch.delivery_state.
AVAILABLE = 0
ACQUIRED = 1  # never persisted: an acquired record is stored as AVAILABLE
ACKNOWLEDGED = 2
# Waiting for its dead-letter queue write (share.version 2, KIP-1191); then ARCHIVED.
ARCHIVING = 3
ARCHIVED = 4
NOT_INITIALIZED = -1  # start_offset / state before InitializeShareGroupState


@dataclass(frozen=True)
class SharePartitionKey:
    group_id: str
    topic_id: uuid.UUID
    partition: int

    def coordinator_key(self) -> str:
        """The FindCoordinator key (key type SHARE = 2): ``group:topicId:partition``, the topic
        id as Kafka's Uuid.toString writes it (URL-safe base64, no padding): the key's Java
        hash picks the ``__share_group_state`` partition, so it must be Kafka's string."""
        topic = base64.urlsafe_b64encode(self.topic_id.bytes).decode("ascii").rstrip("=")
        return f"{self.group_id}:{topic}:{self.partition}"


@dataclass(frozen=True)
class StateBatch:
    first_offset: int
    last_offset: int
    delivery_state: int
    delivery_count: int


@dataclass(frozen=True)
class ShareState:
    """A read's answer: the share-partition's durable state, or an error code."""

    error_code: int = ec.NONE
    error_message: str | None = None
    state_epoch: int = 0
    leader_epoch: int = -1
    start_offset: int = NOT_INITIALIZED
    batches: tuple[StateBatch, ...] = ()
    delivery_complete_count: int = -1


@dataclass(frozen=True)
class ShareStateSummary:
    """ReadShareGroupStateSummary's answer (what describe-offsets and lag need)."""

    error_code: int = ec.NONE
    error_message: str | None = None
    state_epoch: int = 0
    leader_epoch: int = -1
    start_offset: int = NOT_INITIALIZED
    delivery_complete_count: int = -1


class Persister(Protocol):
    async def initialize(self, key: SharePartitionKey, state_epoch: int, start_offset: int) -> int:
        """(Re)initialize: start offset (or -1), no batches, this state epoch."""
        ...

    async def read(self, key: SharePartitionKey, leader_epoch: int) -> ShareState:
        """The state, for a share-partition leader loading it (records its leader epoch)."""
        ...

    async def write(
        self,
        key: SharePartitionKey,
        state_epoch: int,
        leader_epoch: int,
        start_offset: int,
        batches: tuple[StateBatch, ...],
        delivery_complete_count: int = -1,
    ) -> int:
        """Replace the state above ``start_offset`` with ``batches`` (Kafka merges them into
        what it has: batches given here win where they overlap the stored ones)."""
        ...

    async def delete(self, key: SharePartitionKey) -> int:
        """Forget the share-partition (group deleted, or its offsets deleted)."""
        ...

    async def read_summary(
        self, key: SharePartitionKey, leader_epoch: int
    ) -> ShareStateSummary: ...


@dataclass
class _Stored:
    state_epoch: int
    leader_epoch: int
    start_offset: int
    batches: dict[int, StateBatch] = field(default_factory=dict)  # by first offset
    delivery_complete_count: int = -1


class InMemoryPersister:
    """A :class:`Persister` kept in a dict: Kafka's epoch fencing and batch merging (Kafka
    4.4's PersisterStateBatchCombiner, :mod:`ferrokafka.share.combiner`), no durability. For
    tests, and for a broker whose share coordinator is not wired yet.

    Simpler than the share coordinator (:mod:`ferrokafka.share.coordinator`, what a broker
    uses) where Kafka 4.4's shard is stricter: there a read or write of a share-partition never
    initialized is INVALID_REQUEST (here: UNKNOWN_TOPIC_OR_PARTITION, and a write creates it),
    a summary of one is start offset -1 without error, a negative leader epoch is
    INVALID_REQUEST, a write keeps the leader epoch a read recorded and never moves the start
    offset back."""

    def __init__(self) -> None:
        self._states: dict[SharePartitionKey, _Stored] = {}

    async def initialize(self, key: SharePartitionKey, state_epoch: int, start_offset: int) -> int:
        stored = self._states.get(key)
        if stored is not None and state_epoch < stored.state_epoch:
            return ec.FENCED_STATE_EPOCH
        self._states[key] = _Stored(state_epoch, -1, start_offset)
        return ec.NONE

    async def read(self, key: SharePartitionKey, leader_epoch: int) -> ShareState:
        stored = self._states.get(key)
        if stored is None:
            return ShareState(error_code=ec.UNKNOWN_TOPIC_OR_PARTITION)
        if leader_epoch != -1:
            if leader_epoch < stored.leader_epoch:
                return ShareState(error_code=ec.FENCED_LEADER_EPOCH)
            stored.leader_epoch = leader_epoch
        return ShareState(
            state_epoch=stored.state_epoch,
            leader_epoch=stored.leader_epoch,
            start_offset=stored.start_offset,
            batches=tuple(b for _, b in sorted(stored.batches.items())),
            delivery_complete_count=stored.delivery_complete_count,
        )

    async def write(
        self,
        key: SharePartitionKey,
        state_epoch: int,
        leader_epoch: int,
        start_offset: int,
        batches: tuple[StateBatch, ...],
        delivery_complete_count: int = -1,
    ) -> int:
        stored = self._states.get(key)
        if stored is None:
            stored = self._states[key] = _Stored(state_epoch, leader_epoch, start_offset)
        if state_epoch < stored.state_epoch:
            return ec.FENCED_STATE_EPOCH
        if leader_epoch != -1 and leader_epoch < stored.leader_epoch:
            return ec.FENCED_LEADER_EPOCH
        stored.state_epoch = state_epoch
        if leader_epoch != -1:
            stored.leader_epoch = leader_epoch
        if start_offset != NOT_INITIALIZED:
            stored.start_offset = start_offset
        # Imported here: the combiner builds this module's StateBatch.
        from ferrokafka.share.combiner import combine_state_batches

        merged = combine_state_batches(stored.batches.values(), batches, stored.start_offset)
        stored.batches = {b.first_offset: b for b in merged}
        stored.delivery_complete_count = delivery_complete_count
        return ec.NONE

    async def delete(self, key: SharePartitionKey) -> int:
        self._states.pop(key, None)
        return ec.NONE

    async def read_summary(self, key: SharePartitionKey, leader_epoch: int) -> ShareStateSummary:
        stored = self._states.get(key)
        if stored is None:
            return ShareStateSummary(error_code=ec.UNKNOWN_TOPIC_OR_PARTITION)
        return ShareStateSummary(
            state_epoch=stored.state_epoch,
            leader_epoch=stored.leader_epoch,
            start_offset=stored.start_offset,
            delivery_complete_count=stored.delivery_complete_count,
        )
