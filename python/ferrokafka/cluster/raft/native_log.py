"""The quorum's log on disk: a :class:`~ferrokafka.cluster.raft.log.RaftLog` over the native
``Log`` in ``<metadata.log.dir>/__cluster_metadata-0``, in Kafka's format.

Each ``append_as_leader`` is one record batch (a controller operation's records, applied
atomically; a LeaderChange alone in a control batch), stamped with the leader epoch. A follower
appends the leader's batches byte for byte, so batch boundaries are the same on every replica.

Leader epochs (for ``end_offset_for_epoch``): the list of (epoch, start offset) is rebuilt at
open by scanning the batch headers (the log is checked from offset 0 on open anyway, and the
metadata log is small), and kept in ``leader-epoch-checkpoint`` in Kafka's format as it changes,
for Kafka's tools; the scan, not the file, is trusted. ``partition.metadata`` names the
metadata topic id, as in Kafka's directory. The ``partition`` layer's epoch cache is
above this layer, hence the scan.

Not thread-safe by itself: the driver calls it from one thread at a time (its flushes run in
a worker thread while the trio thread waits for them).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ferrokafka.cluster.metadata_log import (
    BATCH_BYTES_MAX,
    METADATA_PARTITION_DIR,
    open_recovered,
)
from ferrokafka.cluster.raft.log import LeaderChange, OffsetAndEpoch, Record
from ferrokafka.cluster.raft.records import (
    batch_bytes,
    build_batch,
    group_batches,
    records_of_batch,
)
from ferrokafka.storage.checkpoints import (
    EpochEntry,
    atomic_write,
    write_leader_epoch_checkpoint,
)

EPOCH_CHECKPOINT = "leader-epoch-checkpoint"
# Kafka's PartitionMetadataFile, naming the partition's topic id (Uuid.METADATA_TOPIC_ID), byte
# for byte as Kafka writes it in its __cluster_metadata-0.
PARTITION_METADATA = "partition.metadata"
PARTITION_METADATA_CONTENT = b"version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAQ"
# Bytes of batches decoded per step when scanning for epochs or reading committed batches.
SCAN_BYTES = 1 << 20


class NativeLogError(RuntimeError):
    """An append the log cannot take (out of order, epoch going back, too large)."""


@dataclass(frozen=True, slots=True)
class StoredBatch:
    """One batch as stored: what committed-batch listeners get."""

    base_offset: int
    last_offset: int
    epoch: int
    is_control: bool
    values: tuple[bytes | LeaderChange, ...]


class NativeRaftLog:
    def __init__(self, metadata_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(metadata_dir) / METADATA_PARTITION_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        # recovery_point 0: every batch is checked on open (a torn tail is cut off).
        self._log = open_recovered(self.dir)
        self._epochs: list[EpochEntry] = self._scan_epochs()
        self._write_epochs()
        partition_metadata = self.dir / PARTITION_METADATA
        if not partition_metadata.exists():
            atomic_write(partition_metadata, PARTITION_METADATA_CONTENT)

    # --- RaftLog ---------------------------------------------------------------------------

    def end_offset(self) -> int:
        return self._log.log_end_offset

    def last_fetched_epoch(self) -> int:
        return self._epochs[-1].epoch if self._epochs else 0

    def end_offset_for_epoch(self, epoch: int) -> OffsetAndEpoch:
        previous = 0
        for entry in self._epochs:
            if entry.epoch > epoch:
                return OffsetAndEpoch(entry.start_offset, previous)
            previous = entry.epoch
        return OffsetAndEpoch(self.end_offset(), self.last_fetched_epoch())

    def append_as_leader(self, values: Sequence[bytes | LeaderChange], epoch: int) -> int:
        if epoch < self.last_fetched_epoch():
            raise NativeLogError(
                f"epoch {epoch} is below the log's last {self.last_fetched_epoch()}"
            )
        base = self.end_offset()
        data = build_batch(values, base, epoch, int(time.time() * 1000))
        if len(data) > BATCH_BYTES_MAX:
            raise NativeLogError(f"metadata batch of {len(data)} bytes > {BATCH_BYTES_MAX}")
        info = self._log.append_as_follower(data)
        self._note_epoch(epoch, base)
        return info.last_offset

    def append_as_follower(self, records: Sequence[Record]) -> None:
        for batch, group in group_batches(records):
            first = group[0]
            if first.offset != self.end_offset():
                raise NativeLogError(f"batch at {first.offset}, log ends at {self.end_offset()}")
            if first.epoch < self.last_fetched_epoch():
                raise NativeLogError(
                    f"epoch {first.epoch} goes back from {self.last_fetched_epoch()}"
                )
            self._log.append_as_follower(batch_bytes(batch, group))
            self._note_epoch(first.epoch, first.offset)

    def read(self, offset: int, max_bytes: int) -> tuple[Record, ...]:
        if offset >= self.end_offset():
            return ()
        out: list[Record] = []
        for batch in self._log.read_batches(offset, max(1, max_bytes)):
            out.extend(records_of_batch(batch))
        return tuple(out)

    def truncate_to(self, offset: int) -> None:
        if offset < 0:
            raise ValueError(f"negative truncation offset {offset}")
        if offset >= self.end_offset():
            return
        self._log.truncate_to(offset)
        end = self.end_offset()
        before = len(self._epochs)
        while self._epochs and self._epochs[-1].start_offset >= end:
            self._epochs.pop()
        if len(self._epochs) != before:
            self._write_epochs()

    def flush(self) -> None:
        self._log.flush()

    # --- beyond the seam -------------------------------------------------------------------

    @property
    def flushed_offset(self) -> int:
        return self._log.recovery_point

    @property
    def epochs(self) -> list[EpochEntry]:
        return list(self._epochs)

    def batches(self, start: int, end: int) -> Iterator[StoredBatch]:
        """Stored batches holding offsets in [start, end) (``end``: the high watermark), oldest
        first; a batch that reaches past ``end`` is not returned (it is not all committed)."""
        position = start
        while position < end:
            found = self._log.read_batches(position, SCAN_BYTES, max_offset=end)
            if not found:
                return
            for batch in found:
                position = batch.next_offset
                records = records_of_batch(batch)
                yield StoredBatch(
                    batch.base_offset,
                    batch.last_offset,
                    batch.partition_leader_epoch,
                    batch.is_control,
                    tuple(r.value for r in records),
                )

    def close(self) -> None:
        self._log.close()

    # --- epochs ----------------------------------------------------------------------------

    def _note_epoch(self, epoch: int, start_offset: int) -> None:
        if not self._epochs or self._epochs[-1].epoch < epoch:
            self._epochs.append(EpochEntry(epoch, start_offset))
            self._write_epochs()

    def _scan_epochs(self) -> list[EpochEntry]:
        epochs: list[EpochEntry] = []
        position = self._log.log_start_offset
        end = self.end_offset()
        while position < end:
            header = self._log.batch_header_at(position)
            if header is None:
                break
            epoch = header.partition_leader_epoch
            if not epochs or epochs[-1].epoch < epoch:
                epochs.append(EpochEntry(epoch, header.base_offset))
            position = header.last_offset + 1
        return epochs

    def _write_epochs(self) -> None:
        write_leader_epoch_checkpoint(self.dir / EPOCH_CHECKPOINT, self._epochs)
