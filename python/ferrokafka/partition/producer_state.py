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

Transactions (Kafka's ProducerAppendInfo.appendDataBatch/appendEndTxnMarker): a transactional
batch starts the producer's transaction on the partition (its first offset is remembered) or
continues it; a non-transactional batch while one is ongoing is INVALID_TXN_STATE. A COMMIT or
ABORT marker (a control batch the transaction coordinator writes) below the producer's epoch is
INVALID_PRODUCER_EPOCH, below the last coordinator epoch seen TRANSACTION_COORDINATOR_FENCED;
else it ends the transaction (:mod:`ferrokafka.partition.txn_state` keeps the ongoing and the
unreplicated ones, from which the last stable offset follows).

The state survives restarts through snapshots (:mod:`ferrokafka.storage.producer_snapshot`)
plus a replay of the batches after the newest snapshot, as Kafka does.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

from ferrokafka.partition.txn_state import CompletedTxn, TxnTracker
from ferrokafka.protocol import error_codes as errors
from ferrokafka.storage import (
    AppendInfo,
    BatchHeader,
    FerrokafkaError,
    Log,
    RecordBatch,
    decode_batches,
)
from ferrokafka.storage import producer_snapshot as snap

log = logging.getLogger(__name__)

# Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN: clients keep at most 5 batches in flight
# per partition (max.in.flight.requests.per.connection <= 5 with idempotence), so a retry is
# always one of the last 5.
BATCHES_RETAINED = 5
SEQUENCE_MAX = 2**31 - 1
NO_EPOCH = -1
# Short.MAX_VALUE: a producer epoch that can be bumped no further.
EPOCH_MAX = 2**15 - 1
NO_SEQUENCE = -1
NO_OFFSET = -1
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
    # The epoch of the transaction coordinator that wrote this producer's last marker.
    coordinator_epoch: int = snap.NO_COORDINATOR_EPOCH
    # The first offset of its ongoing transaction on this partition (NO_OFFSET: none).
    current_txn_first_offset: int = NO_OFFSET
    # The timestamp of its last batch or marker.
    last_timestamp: int = -1

    @property
    def last_seq(self) -> int:
        return self.batches[-1].last_seq if self.batches else NO_SEQUENCE

    @property
    def in_transaction(self) -> bool:
        return self.current_txn_first_offset >= 0

    def find_duplicate(self, batch: BatchHeader) -> BatchMetadata | None:
        if batch.producer_epoch != self.epoch:
            return None
        first, last = batch.base_sequence, batch.last_sequence
        return next((b for b in self.batches if b.first_seq == first and b.last_seq == last), None)

    def update_epoch(self, epoch: int) -> None:
        """Kafka's maybeUpdateProducerEpoch: a new epoch starts a new sequence, so the batches
        of the old one are no retries of it."""
        if epoch != self.epoch:
            self.epoch = epoch
            self.batches.clear()

    def add(self, epoch: int, metadata: BatchMetadata) -> None:
        self.update_epoch(epoch)
        self.batches.append(metadata)
        self.last_timestamp = metadata.timestamp


@dataclass(frozen=True, slots=True)
class Rejected:
    code: int
    message: str


@dataclass(frozen=True, slots=True)
class Marker:
    """A transaction marker: the control record of a control batch."""

    producer_id: int
    producer_epoch: int
    coordinator_epoch: int
    commit: bool
    offset: int
    timestamp: int


def marker_of(batch: RecordBatch) -> Marker | None:
    """The marker a control batch read back holds (None: an empty control batch, whose
    transaction the cleaner removed, or an unknown control type)."""
    control = batch.control_record()
    if control is None or control[0] not in ("COMMIT", "ABORT"):
        return None
    return Marker(
        batch.producer_id,
        batch.producer_epoch,
        control[1],
        control[0] == "COMMIT",
        batch.base_offset,
        batch.max_timestamp,
    )


def marker_in(records: bytes | memoryview) -> Marker | None:
    """The marker of the control batch at the front of ``records`` (a few dozen bytes,
    decoded with its CRC checked). Raises CorruptRecordError for a corrupt batch."""
    batches = decode_batches(bytes(records), allow_partial=True)
    return marker_of(batches[0]) if batches else None


class ProducerState:
    """The producer state of one partition log. Not thread-safe: the produce handler checks
    and updates it in the trio thread, serialized per partition with the append."""

    def __init__(self, log_dir: str) -> None:
        self.log_dir = log_dir
        self.producers: dict[int, ProducerEntry] = {}
        self.txns = TxnTracker()
        self.last_snapshot_offset = -1

    def __len__(self) -> int:
        return len(self.producers)

    # -- produce ---------------------------------------------------------------------------

    def check(self, batch: BatchHeader, *, client: bool = True) -> BatchMetadata | Rejected | None:
        """Before an append of ``batch`` (the header of a data batch with a producer id): the
        retained batch it duplicates, why it is rejected, or None if it may be appended. A
        coordinator's batch (not ``client``) is checked for its epoch only, as Kafka does."""
        entry = self.producers.get(batch.producer_id)
        if entry is None:
            return self._before_verified_first(batch) if client else None
        if client:
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
        if not client:
            pass
        elif (early := self._before_verified_first(batch)) is not None:
            return early
        elif epoch != entry.epoch:
            if first_seq != 0 and entry.epoch != NO_EPOCH:
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
        if entry.in_transaction and not batch.is_transactional:
            return Rejected(
                errors.INVALID_TXN_STATE,
                f"Expected transactional write from producer {pid}",
            )
        return None

    def _before_verified_first(self, batch: BatchHeader) -> Rejected | None:
        """Kafka's checkSequence with a pending verification: no batch after the verified
        first batch of the transaction may be appended before it."""
        pending = self.txns.verification.get(batch.producer_id)
        if pending is None or batch.base_sequence <= pending.lowest_sequence:
            return None
        return Rejected(
            errors.OUT_OF_ORDER_SEQUENCE_NUMBER,
            f"Out of order sequence number for producer {batch.producer_id}: "
            f"{batch.base_sequence} (incoming seq. number), {pending.lowest_sequence} "
            "(earliest seen sequence)",
        )

    def check_marker(self, marker: Marker, transaction_version: int = 0) -> Rejected | None:
        """Kafka 4.4's appendEndTxnMarker checks: the producer's epoch, then the
        coordinator's. Before transaction.version 2 a marker may not be below the producer's
        epoch; from 2 on the coordinator bumps the epoch at every end of a transaction, so a
        marker must be above it — except a retry of a marker already written (same epoch, no
        transaction open here, or the epoch at its maximum), which is written again."""
        entry = self.producers.get(marker.producer_id)
        if entry is None:
            return None
        pid, epoch = marker.producer_id, marker.producer_epoch
        bumps = transaction_version >= 2
        if epoch <= entry.epoch if bumps else epoch < entry.epoch:
            retry = epoch == entry.epoch and (not entry.in_transaction or epoch == EPOCH_MAX)
            if not (bumps and retry):
                return Rejected(
                    errors.INVALID_PRODUCER_EPOCH,
                    f"Epoch of producer {pid} is {epoch}, which is "
                    f"{'<=' if bumps else '<'} the last seen epoch {entry.epoch} "
                    f"(TV{transaction_version})",
                )
        if entry.coordinator_epoch > marker.coordinator_epoch:
            return Rejected(
                errors.TRANSACTION_COORDINATOR_FENCED,
                f"Invalid coordinator epoch for producerId {pid}: {marker.coordinator_epoch} "
                f"(zombie), {entry.coordinator_epoch} (current)",
            )
        return None

    def has_ongoing_transaction(self, producer_id: int, producer_epoch: int) -> bool:
        """Kafka 4.4's UnifiedLog.hasOngoingTransaction: a transaction of this producer at
        this epoch. With transaction.version 2 the next transaction's batches come with the
        bumped epoch, maybe before the previous one's marker: they are verified, so the
        coordinator holds them back until the previous transaction completed."""
        entry = self.producers.get(producer_id)
        return entry is not None and entry.in_transaction and entry.epoch == producer_epoch

    def appended(self, info: AppendInfo) -> None:
        """After an append of a data batch: record it when it has a producer id (a produce
        appends exactly one batch; AppendInfo reports the producer fields of the last)."""
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
            transactional=info.is_transactional,
        )

    def update(
        self, producer_id: int, epoch: int, metadata: BatchMetadata, *, transactional: bool = False
    ) -> None:
        """Record a data batch of ``producer_id`` written at ``epoch`` (after an append, or
        while replaying the log); a transactional one starts the producer's transaction here
        unless it has one going."""
        entry = self.producers.get(producer_id)
        if entry is None:
            entry = self.producers[producer_id] = ProducerEntry(producer_id, NO_EPOCH)
        entry.add(epoch, metadata)
        if transactional and not entry.in_transaction:
            entry.current_txn_first_offset = metadata.first_offset
            self.txns.start(producer_id, metadata.first_offset)
        # The transaction has a first offset now: its guard did its work (Kafka drops it).
        self.txns.clear_verification(producer_id)

    def apply_marker(self, marker: Marker) -> CompletedTxn | None:
        """Record a marker written at ``marker.offset``: the producer's transaction here, if
        it has one, is complete (returned; the caller writes an abort to the transaction
        index and then calls :meth:`complete`). A marker of a producer without a transaction
        here changes no offset, as in Kafka."""
        pid = marker.producer_id
        entry = self.producers.get(pid)
        if entry is None:
            entry = self.producers[pid] = ProducerEntry(pid, NO_EPOCH)
        completed = None
        if entry.in_transaction:
            completed = CompletedTxn(
                pid, entry.current_txn_first_offset, marker.offset, not marker.commit
            )
        entry.update_epoch(marker.producer_epoch)
        entry.coordinator_epoch = marker.coordinator_epoch
        entry.current_txn_first_offset = NO_OFFSET
        entry.last_timestamp = marker.timestamp
        self.txns.clear_verification(pid)
        return completed

    def complete(self, completed: CompletedTxn) -> None:
        self.txns.complete(completed)

    def first_unstable_offset(self) -> int | None:
        return self.txns.first_unstable_offset()

    def on_high_watermark(self, high_watermark: int) -> bool:
        return self.txns.on_high_watermark(high_watermark)

    # -- snapshots -------------------------------------------------------------------------

    def snapshot_entries(self) -> list[snap.SnapshotEntry]:
        """The state as a snapshot holds it: each producer's last batch (none: -1s, as
        Kafka writes a producer known only by its markers), coordinator epoch and open
        transaction."""
        out = []
        for entry in self.producers.values():
            last = entry.batches[-1] if entry.batches else None
            out.append(
                snap.SnapshotEntry(
                    producer_id=entry.producer_id,
                    epoch=entry.epoch,
                    last_sequence=last.last_seq if last else NO_SEQUENCE,
                    last_offset=last.last_offset if last else NO_OFFSET,
                    offset_delta=last.last_offset - last.first_offset if last else 0,
                    timestamp=entry.last_timestamp,
                    coordinator_epoch=entry.coordinator_epoch,
                    current_txn_first_offset=entry.current_txn_first_offset,
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
            entry = self.producers[e.producer_id] = ProducerEntry(
                e.producer_id,
                e.epoch,
                coordinator_epoch=e.coordinator_epoch,
                last_timestamp=e.timestamp,
            )
            if e.last_offset >= 0:
                entry.batches.append(
                    BatchMetadata(
                        decrement_sequence(e.last_sequence, e.offset_delta),
                        e.last_sequence,
                        e.last_offset - e.offset_delta,
                        e.last_offset,
                        e.timestamp,
                    )
                )
            if e.current_txn_first_offset >= 0:
                entry.current_txn_first_offset = e.current_txn_first_offset
                self.txns.start(e.producer_id, e.current_txn_first_offset)

    def apply(self, batch: RecordBatch | BatchHeader, marker: Marker | None = None) -> None:
        """Replay one batch read back from the log, or appended as a follower (a data batch's
        header is enough; a control batch's ``marker`` comes decoded: None skips it). No
        checks, as Kafka on recovery and replication. A completed transaction stays
        unreplicated until the high watermark passes its marker."""
        if batch.producer_id < 0:
            return
        if batch.is_control:
            if marker is not None:
                completed = self.apply_marker(marker)
                if completed is not None:
                    self.complete(completed)
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
            transactional=batch.is_transactional,
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
    # ABORT markers past the newest transaction index entry lost theirs (a crash between the
    # marker's write and its entry's): the replay puts them back, as Kafka's segment recovery
    # rebuilds the index from the producer state.
    indexed = partition_log.last_aborted_txn_offset
    indexed = -1 if indexed is None else indexed
    position = replay_from
    while position < end:
        batches = partition_log.read_batches(position, REPLAY_CHUNK_BYTES, max_offset=end)
        if not batches:
            break
        for batch in batches:
            if batch.next_offset <= replay_from:
                continue
            marker = marker_of(batch) if batch.is_control else None
            if marker is not None and batch.base_offset > indexed and not marker.commit:
                _replay_abort(state, partition_log, marker)
            else:
                state.apply(batch, marker)
        position = batches[-1].next_offset
    return state


def _replay_abort(state: ProducerState, partition_log: Log, marker: Marker) -> None:
    """Replay an ABORT marker whose transaction index entry is missing, and write the entry."""
    completed = state.apply_marker(marker)
    if completed is None:
        return
    if completed.is_aborted:
        stable = state.txns.last_stable_offset(completed)
        try:
            partition_log.append_aborted_txn(
                completed.producer_id, completed.first_offset, completed.last_offset, stable
            )
            log.warning(
                "%s: rebuilt the transaction index entry of the abort at %d",
                partition_log.dir,
                completed.last_offset,
            )
        except (FerrokafkaError, OSError) as exc:
            log.error("%s: could not rebuild an index entry: %s", partition_log.dir, exc)
    state.complete(completed)
