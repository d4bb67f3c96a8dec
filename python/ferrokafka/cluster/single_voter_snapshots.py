"""Metadata snapshots of the single node (``ferrokafka serve`` with no quorum): what
``snapshot_generator`` does for a cluster node's Raft log, for the one-voter
:class:`~ferrokafka.cluster.metadata_log.SingleVoterLog`.

The same Kafka keys decide when: once ``metadata.log.max.record.bytes.between.snapshots`` bytes
of batches have been appended since the last snapshot, or ``metadata.log.max.snapshot.interval
.ms`` have passed with some appended, the image the controller just published is written as
``<offset + 1>-<epoch>.checkpoint`` in ``__cluster_metadata-0`` (a static voter set: kraft.version
0 in the header), encoded and fsynced in a worker thread. Then Kafka's ``maybeClean``: while two
or more snapshots are kept and the log with its snapshots is over ``metadata.max.retention.bytes``
or the oldest snapshot is older than ``metadata.max.retention.ms``, the log start moves up to the
next snapshot (whole segments below it go) and the oldest snapshot is deleted; the latest always
stays. On open, partial snapshots and those below the log start are deleted, and a log that does
not start at 0 needs a snapshot reaching its start; the loader then starts from the latest
snapshot (:meth:`SingleVoterSnapshots.to_load`) and replays the log after it.

Every record of the one-voter log is committed and flushed once appended, so a snapshot's id is
always at or below the high watermark. Not done here: the 60-second cleaning without a new
snapshot (``snapshot_generator.CLEAN_INTERVAL_S``); retention is applied after each snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from ferrokafka.cluster.image_records import image_records
from ferrokafka.cluster.snapshot_file import (
    PARTIAL_SUFFIX,
    SNAPSHOT_SUFFIX,
    Snapshot,
    SnapshotFileError,
    SnapshotId,
    read_last_contained_timestamp,
    read_snapshot,
    write_snapshot,
)
from ferrokafka.cluster.snapshot_generator import SnapshotPolicy, wall_clock_ms

if TYPE_CHECKING:
    from ferrokafka.cluster.image import MetadataImage
    from ferrokafka.storage import Log

log = logging.getLogger(__name__)

BOOTSTRAP_ID = SnapshotId(0, 0)  # the storage tool's checkpoint: never loaded as a snapshot


class SnapshotRecoveryError(RuntimeError):
    """A log that starts past 0 with no snapshot reaching its start."""


class SingleVoterSnapshots:
    """The snapshots of one single-voter log directory; not thread-safe (the controller's
    worker thread appends, the trio thread writes snapshots between operations)."""

    def __init__(self, partition_dir: str | Path, log: Log, epoch: int) -> None:
        self.dir = Path(partition_dir)
        self._log = log
        self.epoch = epoch
        self.ids: list[SnapshotId] = self._recover()
        self.bytes_since = 0  # batch bytes appended since the last snapshot
        self._last_snapshot_ms: int | None = None

    def _recover(self) -> list[SnapshotId]:
        start = self._log.log_start_offset
        kept = []
        for path in self.dir.iterdir():
            if path.name.endswith(PARTIAL_SUFFIX):
                path.unlink(missing_ok=True)
                continue
            parsed = (
                SnapshotId.from_file_name(path.name)
                if path.name.endswith(SNAPSHOT_SUFFIX)
                else None
            )
            if parsed is None:
                continue
            if parsed.end_offset < start:
                path.unlink(missing_ok=True)
            else:
                kept.append(parsed)
        kept.sort(key=lambda s: (s.end_offset, s.epoch))
        if start > 0 and (not kept or kept[-1].end_offset < start):
            raise SnapshotRecoveryError(
                f"{self.dir}: the metadata log starts at {start} but no snapshot reaches it"
            )
        return kept

    # --- loading ---------------------------------------------------------------------------

    def to_load(self, offset: int) -> Snapshot | None:
        """The latest snapshot, when the loader's next ``offset`` is not in the log (below its
        start) or it starts from nothing (offset 0): Kafka's loader starts from the snapshot."""
        latest = self.ids[-1] if self.ids else None
        if latest is None or latest == BOOTSTRAP_ID:
            return None
        if not (offset < self._log.log_start_offset or offset == 0):
            return None
        return read_snapshot(self.dir / latest.file_name)

    # --- writing ---------------------------------------------------------------------------

    def due(self, policy: SnapshotPolicy, now_ms: int) -> bool:
        if self.bytes_since <= 0:
            return False
        if self._last_snapshot_ms is None:
            self._last_snapshot_ms = now_ms  # the interval counts from the first append seen
        if self.bytes_since >= policy.max_bytes_between:
            return True
        interval = policy.max_interval_ms
        return interval > 0 and now_ms - self._last_snapshot_ms >= interval

    def write(self, image: MetadataImage, now_ms: int) -> SnapshotId | None:
        """Write a snapshot of ``image`` (committed: every appended record is) unless one at
        or past it exists; the id written."""
        end = image.offset + 1
        if end <= 0 or end > self._log.log_end_offset:
            return None
        if self.ids and self.ids[-1].end_offset >= end:
            return None
        snapshot_id = SnapshotId(end, self.epoch)
        records = image_records(image)
        path = write_snapshot(
            self.dir,
            records,
            snapshot_id=snapshot_id,
            last_contained_log_timestamp_ms=now_ms,
            replace=True,
        )
        self.ids.append(snapshot_id)
        self.bytes_since = 0
        self._last_snapshot_ms = now_ms
        log.info("wrote metadata snapshot %s (%d records)", path.name, len(records))
        return snapshot_id

    def clean(self, policy: SnapshotPolicy, now_ms: int) -> bool:
        """Kafka's ``maybeClean``: whether the log start moved."""
        cleaned = False
        while len(self.ids) >= 2:
            oldest, following = self.ids[0], self.ids[1]
            over_bytes = policy.retention_bytes >= 0 and self._bytes_kept() > policy.retention_bytes
            over_time = (
                policy.retention_ms >= 0 and now_ms - self._timestamp(oldest) > policy.retention_ms
            )
            if not (over_bytes or over_time):
                break
            self._log.flush()
            if following.end_offset > self._log.log_start_offset:
                self._log.advance_log_start_offset(following.end_offset)
            (self.dir / oldest.file_name).unlink(missing_ok=True)
            del self.ids[0]
            cleaned = True
        if cleaned:
            log.info("metadata log now starts at %d", self._log.log_start_offset)
        return cleaned

    def _bytes_kept(self) -> int:
        total = self._log.size_in_bytes
        for snapshot_id in self.ids:
            try:
                total += (self.dir / snapshot_id.file_name).stat().st_size
            except FileNotFoundError:
                pass
        return total

    def _timestamp(self, snapshot_id: SnapshotId) -> int:
        try:
            return read_last_contained_timestamp(self.dir / snapshot_id.file_name)
        except (FileNotFoundError, SnapshotFileError):
            return 0


class SingleVoterSnapshotWriter:
    """A metadata publisher of the single node's controller channel: after each operation's
    image, a snapshot when the policy says so (written and cleaned in a worker thread; the
    channel runs no other operation meanwhile)."""

    def __init__(
        self,
        snapshots: SingleVoterSnapshots,
        policy: SnapshotPolicy,
        now_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.snapshots = snapshots
        self.policy = policy
        self._now_ms = now_ms
        self.written: list[SnapshotId] = []  # ids this writer wrote (for tests)

    async def publish(self, image: MetadataImage) -> None:
        now = self._now_ms()
        if not self.snapshots.due(self.policy, now):
            return

        def write_and_clean() -> SnapshotId | None:
            written = self.snapshots.write(image, now)
            if written is not None:
                self.snapshots.clean(self.policy, now)
            return written

        written = await trio.to_thread.run_sync(write_and_clean)
        if written is not None:
            self.written.append(written)
