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

Snapshots (Kafka's KafkaMetadataLog): ``<end offset>-<epoch>.checkpoint`` files beside the
segments (:mod:`ferrokafka.cluster.snapshot_file`; the storage tool's bootstrap checkpoint is
one of them). On open, partial (``.checkpoint.part``) files and snapshots below the log start
offset are deleted, and a log that does not start at 0 must have a snapshot at or after its
start (else the open fails, as Kafka's). A snapshot arrives either written by this node's
snapshot generator (:meth:`NativeRaftLog.on_snapshot_frozen`) or downloaded from the leader
(:meth:`NativeRaftLog.install_snapshot`). Prefix deletion is Kafka's
``deleteBeforeSnapshot``: the log start offset moves up to a snapshot's end offset and whole
segments below it are deleted; :meth:`NativeRaftLog.maybe_clean` does it for the oldest
snapshots while ``metadata.max.retention.bytes`` or ``.ms`` are exceeded, always keeping the
latest snapshot (Kafka's ``maybeClean``).

The replica calls :meth:`NativeRaftLog.install_snapshot` and
:meth:`NativeRaftLog.read_snapshot` in the driver's trio thread (as Kafka's raft thread does
the same work): installing writes and fsyncs the snapshot file there, and a leader reads each
chunk (at most ``fetch_snapshot_max_bytes``) there. A download is assembled in memory first
(bounded by ``fetch_rpc.SNAPSHOT_DOWNLOAD_BYTES_MAX``); Kafka appends it to a partial file.

Not thread-safe by itself: the driver calls it from one thread at a time (its flushes run in
a worker thread while the trio thread waits for them). The snapshot list is replaced whole
on every change, so a worker thread may read it (and the files it names) while the trio thread
moves on; a file deleted meanwhile is read as "no snapshot" and the reader asks again.
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
    SEGMENT_BYTES,
    SnapshotRequiredError,
    open_recovered,
)
from ferrokafka.cluster.raft.log import (
    BOOTSTRAP_SNAPSHOT_ID,
    LeaderChange,
    OffsetAndEpoch,
    Record,
    SnapshotInstallError,
    end_offset_for_epoch,
)
from ferrokafka.cluster.raft.records import (
    batch_bytes,
    build_batch,
    group_batches,
    records_of_batch,
)
from ferrokafka.cluster.raft.voters import KRaftVersionChange, VotersChange, VoterSet
from ferrokafka.cluster.snapshot_file import (
    PARTIAL_SUFFIX,
    SNAPSHOT_SUFFIX,
    Snapshot,
    SnapshotFileError,
    SnapshotId,
    decode_snapshot,
    read_last_contained_timestamp,
    read_snapshot,
    write_snapshot_bytes,
)
from ferrokafka.storage import OffsetOutOfRangeError
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
    """An append the log cannot take (out of order, epoch going back, too large), or a log
    directory whose snapshots do not cover its start offset."""


def _snapshot_path(directory: Path, snapshot_id: OffsetAndEpoch) -> Path:
    return directory / SnapshotId(snapshot_id.offset, snapshot_id.epoch).file_name


def _control_values(snapshot: Snapshot) -> tuple[object, ...]:
    """A snapshot's header records as the quorum's control values (none at kraft.version 0)."""
    if snapshot.kraft_version < 1:
        return ()
    values: list[object] = [KRaftVersionChange(snapshot.kraft_version)]
    if snapshot.voters is not None:
        values.append(VotersChange(VoterSet.from_record(snapshot.voters)))
    return tuple(values)


@dataclass(frozen=True, slots=True)
class StoredBatch:
    """One batch as stored: what committed-batch listeners get."""

    base_offset: int
    last_offset: int
    epoch: int
    is_control: bool
    values: tuple[bytes | LeaderChange, ...]


class NativeRaftLog:
    def __init__(
        self, metadata_dir: str | os.PathLike[str], *, segment_bytes: int = SEGMENT_BYTES
    ) -> None:
        self.dir = Path(metadata_dir) / METADATA_PARTITION_DIR
        self.dir.mkdir(parents=True, exist_ok=True)
        # recovery_point 0: every batch is checked on open (a torn tail is cut off).
        self._log = open_recovered(self.dir, segment_bytes)
        # Snapshot ids, ascending; a tuple replaced whole (see the module doc).
        self._snapshots: tuple[OffsetAndEpoch, ...] = self._recover_snapshots()
        # Snapshot id -> its KRaft control values (snapshot_control_values), read once each;
        # the latest one's read here, in the opening (worker) thread.
        self._control: dict[OffsetAndEpoch, tuple[object, ...]] = {}
        if self._snapshots:
            self.snapshot_control_values(self._snapshots[-1])
        self._epochs: list[EpochEntry] = self._scan_epochs()
        self._write_epochs()
        partition_metadata = self.dir / PARTITION_METADATA
        if not partition_metadata.exists():
            atomic_write(partition_metadata, PARTITION_METADATA_CONTENT)

    # --- RaftLog ---------------------------------------------------------------------------

    def start_offset(self) -> int:
        return self._log.log_start_offset

    def end_offset(self) -> int:
        return self._log.log_end_offset

    def last_fetched_epoch(self) -> int:
        if self._epochs:
            return self._epochs[-1].epoch
        latest = self.latest_snapshot_id()
        # An empty log that starts at a snapshot: the snapshot's epoch (KafkaMetadataLog).
        if latest is not None and latest.offset == self.start_offset() == self.end_offset():
            return latest.epoch
        return 0

    def end_offset_for_epoch(self, epoch: int) -> OffsetAndEpoch:
        end = OffsetAndEpoch(self.end_offset(), self.last_fetched_epoch())
        epochs = [(e.epoch, e.start_offset) for e in self._epochs]
        return end_offset_for_epoch(epochs, epoch, end, self.earliest_snapshot_id())

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
        if offset < self.start_offset():
            raise SnapshotRequiredError(
                f"read at {offset} below the log start {self.start_offset()}"
            )
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

    # --- snapshots -------------------------------------------------------------------------

    def latest_snapshot_id(self) -> OffsetAndEpoch | None:
        snapshots = self._snapshots
        return snapshots[-1] if snapshots else None

    def earliest_snapshot_id(self) -> OffsetAndEpoch | None:
        snapshots = self._snapshots
        return snapshots[0] if snapshots else None

    def snapshot_size(self, snapshot_id: OffsetAndEpoch) -> int | None:
        if snapshot_id not in self._snapshots:
            return None
        try:
            return _snapshot_path(self.dir, snapshot_id).stat().st_size
        except FileNotFoundError:
            return None

    def read_snapshot(self, snapshot_id: OffsetAndEpoch, position: int, max_bytes: int) -> bytes:
        with open(_snapshot_path(self.dir, snapshot_id), "rb") as f:
            f.seek(position)
            return f.read(max_bytes)

    def snapshot_control_values(self, snapshot_id: OffsetAndEpoch) -> tuple[object, ...]:
        """The snapshot header's KRaftVersionRecord and VotersRecord (KIP-853)."""
        known = self._control.get(snapshot_id)
        if known is None:
            try:
                known = _control_values(read_snapshot(_snapshot_path(self.dir, snapshot_id)))
            except FileNotFoundError:
                return ()  # cleaned meanwhile: not a snapshot the log starts at
            self._control[snapshot_id] = known
        return known

    def install_snapshot(self, snapshot_id: OffsetAndEpoch, data: bytes) -> bool:
        file_id = SnapshotId(snapshot_id.offset, snapshot_id.epoch)
        try:
            where = f"snapshot {file_id.file_name} from the leader"
            decoded = decode_snapshot(data, file_id, where)
        except SnapshotFileError as exc:
            raise SnapshotInstallError(str(exc)) from None
        self._control[snapshot_id] = _control_values(decoded)
        write_snapshot_bytes(self.dir, file_id, data, replace=True)
        self.on_snapshot_frozen(snapshot_id)
        last_epoch = self.last_fetched_epoch()
        if snapshot_id.epoch > last_epoch or (
            snapshot_id.epoch == last_epoch and snapshot_id.offset > self.end_offset()
        ):
            self._log.truncate_fully(snapshot_id.offset)
            self._epochs = []
            self._write_epochs()
            self._forget_snapshots_before(snapshot_id)
            return True
        return False

    def on_snapshot_frozen(self, snapshot_id: OffsetAndEpoch) -> None:
        """A snapshot file is in place (written and renamed): it counts from now on."""
        if snapshot_id not in self._snapshots:
            self._snapshots = tuple(sorted((*self._snapshots, snapshot_id)))

    def delete_before_snapshot(self, snapshot_id: OffsetAndEpoch) -> bool:
        """Kafka's ``deleteBeforeSnapshot``: move the log start offset up to ``snapshot_id``'s
        end offset, delete the whole segments below it and the older snapshots. Only for a
        kept snapshot past the log start and not past the latest one, on a flushed log."""
        latest = self.latest_snapshot_id()
        if (
            latest is None
            or snapshot_id not in self._snapshots
            or not self.start_offset() < snapshot_id.offset <= latest.offset
            or snapshot_id.offset > self.end_offset()
        ):
            return False
        self._log.flush()
        self._log.advance_log_start_offset(snapshot_id.offset)
        start = self.start_offset()
        kept = [e for e in self._epochs if e.start_offset >= start]
        covering = [e for e in self._epochs if e.start_offset < start]
        if covering and self.end_offset() > start and (not kept or kept[0].start_offset > start):
            kept.insert(0, EpochEntry(covering[-1].epoch, start))
        self._epochs = kept
        self._write_epochs()
        self._forget_snapshots_before(snapshot_id)
        return True

    def maybe_clean(self, now_ms: int, retention_bytes: int, retention_ms: int) -> bool:
        """Kafka's ``maybeClean``: while more than one snapshot is kept and the log with its
        snapshots is over ``retention_bytes`` (-1: no limit) or the oldest snapshot's last
        record is older than ``retention_ms`` (-1: no limit), delete the log before the next
        snapshot. Returns whether anything went."""
        cleaned = False
        while len(self._snapshots) >= 2:
            oldest, following = self._snapshots[0], self._snapshots[1]
            over_bytes = retention_bytes >= 0 and self._bytes_kept() > retention_bytes
            over_time = (
                retention_ms >= 0 and now_ms - self._snapshot_timestamp(oldest) > retention_ms
            )
            if not (over_bytes or over_time) or not self.delete_before_snapshot(following):
                break
            cleaned = True
        return cleaned

    def snapshot_to_load(self, offset: int) -> Snapshot | None:
        latest = self.latest_snapshot_id()
        if latest is None or latest == BOOTSTRAP_SNAPSHOT_ID:
            return None
        if not (offset < self.start_offset() or offset == 0):
            return None
        try:
            return read_snapshot(_snapshot_path(self.dir, latest))
        except FileNotFoundError:
            return None  # cleaned meanwhile: the caller's next read says so

    def epoch_at(self, offset: int) -> int:
        """The epoch of the record at ``offset`` (in the log), from the leader epochs."""
        epoch = 0
        for entry in self._epochs:
            if entry.start_offset > offset:
                break
            epoch = entry.epoch
        return epoch

    def _bytes_kept(self) -> int:
        total = self._log.size_in_bytes
        for snapshot_id in self._snapshots:
            total += self.snapshot_size(snapshot_id) or 0
        return total

    def _snapshot_timestamp(self, snapshot_id: OffsetAndEpoch) -> int:
        try:
            return read_last_contained_timestamp(_snapshot_path(self.dir, snapshot_id))
        except (FileNotFoundError, SnapshotFileError):
            return 0

    def _forget_snapshots_before(self, snapshot_id: OffsetAndEpoch) -> None:
        old = [s for s in self._snapshots if s < snapshot_id]
        self._snapshots = tuple(s for s in self._snapshots if s >= snapshot_id)
        for s in old:
            _snapshot_path(self.dir, s).unlink(missing_ok=True)
            self._control.pop(s, None)

    def _recover_snapshots(self) -> tuple[OffsetAndEpoch, ...]:
        """Kafka's ``recoverSnapshots``: drop partial snapshots and those below the log start;
        a log that does not start at 0 needs a snapshot at or after its start."""
        start = self._log.log_start_offset
        kept = []
        for path in self.dir.iterdir():
            if path.name.endswith(PARTIAL_SUFFIX):
                path.unlink(missing_ok=True)
                continue
            if not path.name.endswith(SNAPSHOT_SUFFIX):
                continue
            parsed = SnapshotId.from_file_name(path.name)
            if parsed is None:
                continue
            if parsed.end_offset < start:
                path.unlink(missing_ok=True)
            else:
                kept.append(OffsetAndEpoch(parsed.end_offset, parsed.epoch))
        kept.sort()
        if start > 0 and (not kept or kept[-1].offset < start):
            raise NativeLogError(
                f"{self.dir}: the log starts at {start} but no snapshot reaches it "
                f"(snapshots: {kept})"
            )
        return tuple(kept)

    # --- beyond the seam -------------------------------------------------------------------

    @property
    def flushed_offset(self) -> int:
        return self._log.recovery_point

    @property
    def epochs(self) -> list[EpochEntry]:
        return list(self._epochs)

    def batches(self, start: int, end: int) -> Iterator[StoredBatch]:
        """Stored batches holding offsets in [start, end) (``end``: the high watermark), oldest
        first; a batch that reaches past ``end`` is not returned (it is not all committed).
        Raises SnapshotRequiredError for a ``start`` below the log start offset."""
        if start < self.start_offset():
            raise SnapshotRequiredError(
                f"read at {start} below the log start {self.start_offset()}"
            )
        position = start
        while position < end:
            try:
                found = self._log.read_batches(position, SCAN_BYTES, max_offset=end)
            except OffsetOutOfRangeError:
                # The prefix was deleted while a worker thread read it.
                raise SnapshotRequiredError(f"offset {position} is below the log start") from None
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
