"""Idempotent producer state of one partition (Kafka's ProducerStateManager, KIP-98/KIP-360).

For every producer id that wrote to the partition: its epoch and its last
:data:`BATCHES_RETAINED` batches (sequence range and offsets). A produce of a batch with a
producer id is checked against it before the append, and the state is updated right after:

* the same epoch and sequence range as a retained batch: a retry of a batch already written,
  answered with the original offset and not appended again;
* an epoch below the known one: INVALID_PRODUCER_EPOCH (a zombie of a bumped producer);
* a new epoch must start at sequence 0, the same epoch must continue at last sequence + 1
  (wrapping after Int.MAX): otherwise OUT_OF_ORDER_SEQUENCE_NUMBER;
* a producer id never seen here takes any sequence: since KIP-360 the broker no longer answers
  UNKNOWN_PRODUCER_ID, because retention or DeleteRecords may have removed its batches.

The state survives restarts through snapshots (:mod:`ferrokafka.storage.producer_snapshot`)
plus a replay of the batches after the newest snapshot, as Kafka does.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

from ferrokafka.protocol import error_codes as errors
from ferrokafka.storage import AppendInfo, BatchHeader, Log, RecordBatch
from ferrokafka.storage import producer_snapshot as snap

log = logging.getLogger(__name__)

# Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN: clients keep at most 5 batches in flight
# per partition (max.in.flight.requests.per.connection <= 5 with idempotence), so a retry is
# always one of the last 5.
BATCHES_RETAINED = 5
SEQUENCE_MAX = 2**31 - 1
NO_EPOCH = -1
NO_SEQUENCE = -1
# Bytes read per step when replaying the log after the newest snapshot.
REPLAY_CHUNK_BYTES = 8 << 20


def increment_sequence(seq: int, increment: int) -> int:
    """Kafka's DefaultRecordBatch.incrementSequence: sequences wrap to 0 after Int.MAX."""
    if seq > SEQUENCE_MAX - increment:
        return increment - (SEQUENCE_MAX - seq) - 1
    return seq + increment


def decrement_sequence(seq: int, decrement: int) -> int:
    if seq < decrement:
        return SEQUENCE_MAX - (decrement - seq) + 1
    return seq - decrement


def in_sequence(last_seq: int, next_seq: int) -> bool:
    return next_seq == last_seq + 1 or (next_seq == 0 and last_seq == SEQUENCE_MAX)


@dataclass(frozen=True, slots=True)
class BatchMetadata:
    first_seq: int
    last_seq: int
    first_offset: int
    last_offset: int
    timestamp: int


@dataclass(slots=True)
class ProducerEntry:
    producer_id: int
    epoch: int
    batches: deque[BatchMetadata] = field(default_factory=lambda: deque(maxlen=BATCHES_RETAINED))

    @property
    def last_seq(self) -> int:
        return self.batches[-1].last_seq if self.batches else NO_SEQUENCE

    def find_duplicate(self, batch: BatchHeader) -> BatchMetadata | None:
        if batch.producer_epoch != self.epoch:
            return None
        first, last = batch.base_sequence, batch.last_sequence
        return next((b for b in self.batches if b.first_seq == first and b.last_seq == last), None)

    def add(self, epoch: int, metadata: BatchMetadata) -> None:
        if epoch != self.epoch:
            # A new epoch starts a new sequence: batches of the old one are no retries of it.
            self.epoch = epoch
            self.batches.clear()
        self.batches.append(metadata)


@dataclass(frozen=True, slots=True)
class Rejected:
    code: int
    message: str


class ProducerState:
    """The producer state of one partition log. Not thread-safe: the produce handler checks
    and updates it in the trio thread, serialized per partition with the append."""

    def __init__(self, log_dir: str) -> None:
        self.log_dir = log_dir
        self.producers: dict[int, ProducerEntry] = {}
        self.last_snapshot_offset = -1

    def __len__(self) -> int:
        return len(self.producers)

    # -- produce ---------------------------------------------------------------------------

    def check(self, batch: BatchHeader) -> BatchMetadata | Rejected | None:
        """Before an append of ``batch`` (the header of a batch with a producer id): the
        retained batch it duplicates, why it is rejected, or None if it may be appended."""
        entry = self.producers.get(batch.producer_id)
        if entry is None:
            return None
        duplicate = entry.find_duplicate(batch)
        if duplicate is not None:
            return duplicate
        pid, epoch, first_seq = batch.producer_id, batch.producer_epoch, batch.base_sequence
        if epoch < entry.epoch:
            return Rejected(
                errors.INVALID_PRODUCER_EPOCH,
                f"Epoch of producer {pid} is {epoch}, which is smaller than the last "
                f"seen epoch {entry.epoch}",
            )
        if epoch != entry.epoch:
            if first_seq != 0:
                return Rejected(
                    errors.OUT_OF_ORDER_SEQUENCE_NUMBER,
                    f"Invalid sequence number for new epoch of producer {pid}: {epoch} "
                    f"(request epoch), {first_seq} (seq. number), {entry.epoch} "
                    "(current producer epoch)",
                )
        elif not in_sequence(entry.last_seq, first_seq):
            return Rejected(
                errors.OUT_OF_ORDER_SEQUENCE_NUMBER,
                f"Out of order sequence number for producer {pid}: {first_seq} "
                f"(incoming seq. number), {entry.last_seq} (current end sequence number)",
            )
        return None

    def appended(self, info: AppendInfo) -> None:
        """After an append: record its batch when it has a producer id (a produce appends
        exactly one batch; AppendInfo reports the producer fields of the last)."""
        if info.producer_id < 0 or info.is_control:
            return
        timestamp = info.log_append_time if info.log_append_time >= 0 else info.max_timestamp
        self.update(
            info.producer_id,
            info.producer_epoch,
            BatchMetadata(
                info.base_sequence,
                info.last_sequence,
                info.first_offset,
                info.last_offset,
                timestamp,
            ),
        )

    def update(self, producer_id: int, epoch: int, metadata: BatchMetadata) -> None:
        """Record a batch of ``producer_id`` written at ``epoch`` (after an append, or while
        replaying the log)."""
        entry = self.producers.get(producer_id)
        if entry is None:
            entry = self.producers[producer_id] = ProducerEntry(producer_id, NO_EPOCH)
        entry.add(epoch, metadata)

    # -- snapshots -------------------------------------------------------------------------

    def snapshot_entries(self) -> list[snap.SnapshotEntry]:
        """The state as a snapshot holds it: each producer's last batch."""
        out = []
        for entry in self.producers.values():
            if not entry.batches:
                continue
            last = entry.batches[-1]
            out.append(
                snap.SnapshotEntry(
                    producer_id=entry.producer_id,
                    epoch=entry.epoch,
                    last_sequence=last.last_seq,
                    last_offset=last.last_offset,
                    offset_delta=last.last_offset - last.first_offset,
                    timestamp=last.timestamp,
                )
            )
        return out

    def write_snapshot(self, offset: int, entries: list[snap.SnapshotEntry]) -> None:
        """Write ``entries`` (taken when the log ended at ``offset``); blocking, for a worker
        thread. A failure is logged: the state is rebuilt from the log at the next start."""
        try:
            snap.write_snapshot(self.log_dir, offset, entries)
        except OSError as exc:
            log.warning("could not write producer snapshot in %s: %s", self.log_dir, exc)
            return
        self.last_snapshot_offset = max(self.last_snapshot_offset, offset)

    def load_snapshot(self, entries: list[snap.SnapshotEntry]) -> None:
        for e in entries:
            entry = self.producers[e.producer_id] = ProducerEntry(e.producer_id, e.epoch)
            entry.batches.append(
                BatchMetadata(
                    decrement_sequence(e.last_sequence, e.offset_delta),
                    e.last_sequence,
                    e.last_offset - e.offset_delta,
                    e.last_offset,
                    e.timestamp,
                )
            )

    def apply(self, batch: RecordBatch | BatchHeader) -> None:
        """Replay one batch read back from the log, or appended as a follower (its header is
        enough; no checks, as Kafka on recovery)."""
        if batch.producer_id < 0 or batch.is_control:
            return
        self.update(
            batch.producer_id,
            batch.producer_epoch,
            BatchMetadata(
                batch.base_sequence,
                increment_sequence(batch.base_sequence, batch.last_offset_delta),
                batch.base_offset,
                batch.last_offset,
                batch.max_timestamp,
            ),
        )


def load_producer_state(partition_log: Log) -> ProducerState:
    """The state of ``partition_log``: the newest usable snapshot, then every batch after it.
    Blocking (reads files): run it in a worker thread."""
    state = ProducerState(partition_log.dir)
    end = partition_log.log_end_offset
    start = partition_log.log_start_offset
    replay_from = start
    for offset in reversed(snap.list_snapshots(state.log_dir)):
        if offset > end:
            # Recovery cut the log below this snapshot: it describes batches that are gone.
            snap.delete_snapshot(state.log_dir, offset)
            continue
        try:
            entries = snap.read_snapshot(state.log_dir, offset)
        except (OSError, snap.CorruptSnapshotError) as exc:
            log.warning("skipping producer snapshot %d in %s: %s", offset, state.log_dir, exc)
            snap.delete_snapshot(state.log_dir, offset)
            continue
        state.load_snapshot(entries)
        state.last_snapshot_offset = offset
        replay_from = max(offset, start)
        break
    position = replay_from
    while position < end:
        batches = partition_log.read_batches(position, REPLAY_CHUNK_BYTES, max_offset=end)
        if not batches:
            break
        for batch in batches:
            if batch.next_offset > replay_from:
                state.apply(batch)
        position = batches[-1].next_offset
    return state
