"""Metadata snapshots of a cluster node: Kafka's ``SnapshotGenerator`` and the metadata log's
cleaner, over a running :class:`~ferrokafka.cluster.raft.driver.RaftDriver`.

Every node (controller and broker alike, as in Kafka) counts the bytes of the batches its
quorum commits; once ``metadata.log.max.record.bytes.between.snapshots`` have been committed
since its last snapshot, or ``metadata.log.max.snapshot.interval.ms`` have passed with some
committed, it writes a snapshot of the image it has applied (:mod:`image_records`) at that
image's offset: ``<offset + 1>-<epoch of that record>.checkpoint`` in the metadata partition
directory, encoded and fsynced in a worker thread, ``.checkpoint.part`` renamed into place
(:func:`~ferrokafka.cluster.snapshot_file.write_snapshot`). Then the log is cleaned as Kafka's
``maybeClean`` does (``metadata.max.retention.bytes`` / ``.ms``: older snapshots and the whole
segments below the next one go, the latest snapshot always stays); the cleaning also runs
every :data:`CLEAN_INTERVAL_S` (Kafka's RaftMetadataLogCleanerManager: every 60 s), so
``metadata.max.retention.ms`` applies while nothing is committed.

The image is always committed (it is what the loader applied), so the snapshot id is at or
below the high watermark, as Kafka requires. The header says kraft.version 0 (a static voter
set: no KRaftVersion or Voters record, as Kafka writes for a static quorum).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import trio

from ferrokafka.cluster.image import MetadataImage
from ferrokafka.cluster.image_records import image_records
from ferrokafka.cluster.raft.driver import RaftDriver
from ferrokafka.cluster.raft.log import OffsetAndEpoch
from ferrokafka.cluster.raft.native_log import StoredBatch
from ferrokafka.cluster.snapshot_file import SnapshotId, write_snapshot

log = logging.getLogger(__name__)

# A batch's bytes beyond its values (the 61-byte v2 header and a few bytes per record), for
# counting committed bytes without reading the batch sizes back from the log.
BATCH_OVERHEAD_BYTES = 61
RECORD_OVERHEAD_BYTES = 8

# How often the log is cleaned without a new snapshot (Kafka checks every 60 s).
CLEAN_INTERVAL_S = 60.0

WallClockMs = Callable[[], int]


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class SnapshotPolicy:
    """Kafka's keys, Kafka's defaults."""

    max_bytes_between: int = 20 * 1024 * 1024  # metadata.log.max.record.bytes.between.snapshots
    max_interval_ms: int = 60 * 60 * 1000  # metadata.log.max.snapshot.interval.ms (0: off)
    retention_bytes: int = 100 * 1024 * 1024  # metadata.max.retention.bytes (-1: no limit)
    retention_ms: int = 7 * 24 * 60 * 60 * 1000  # metadata.max.retention.ms (-1: no limit)


def batch_bytes(batch: StoredBatch) -> int:
    size = BATCH_OVERHEAD_BYTES
    for value in batch.values:
        size += RECORD_OVERHEAD_BYTES + (len(value) if isinstance(value, bytes) else 0)
    return size


class SnapshotGenerator:
    """Trio thread only: :meth:`on_committed` is a committed-batch listener of the driver,
    :meth:`publish` a metadata publisher of the node's feed, :meth:`run` the writer task."""

    def __init__(
        self,
        driver: RaftDriver,
        policy: SnapshotPolicy = SnapshotPolicy(),
        now_ms: WallClockMs = wall_clock_ms,
    ) -> None:
        self.driver = driver
        self.policy = policy
        self._now_ms = now_ms
        self._image: MetadataImage | None = None
        self._bytes_since = 0
        self._last_snapshot_ms = now_ms()
        self._wanted = trio.Event()
        self.written: list[OffsetAndEpoch] = []  # ids this generator wrote (for tests)

    def on_committed(self, batch: StoredBatch) -> None:
        self._bytes_since += batch_bytes(batch)

    async def publish(self, image: MetadataImage) -> None:
        self._image = image
        if self._due():
            self._wanted.set()

    def _due(self) -> bool:
        if self._bytes_since <= 0:
            return False
        if self._bytes_since >= self.policy.max_bytes_between:
            return True
        interval = self.policy.max_interval_ms
        return interval > 0 and self._now_ms() - self._last_snapshot_ms >= interval

    async def run(self) -> None:
        while True:
            with trio.move_on_after(CLEAN_INTERVAL_S):
                await self._wanted.wait()
            if self._wanted.is_set():
                self._wanted = trio.Event()
                await self.maybe_write()
            else:
                self.clean()

    def clean(self) -> bool:
        """Kafka's ``maybeClean`` on the log now; whether anything went."""
        raft_log = self.driver.log
        if raft_log is None:
            return False
        return raft_log.maybe_clean(
            self._now_ms(), self.policy.retention_bytes, self.policy.retention_ms
        )

    async def maybe_write(self) -> OffsetAndEpoch | None:
        """Write a snapshot of the latest image if it is past the latest snapshot; then clean.
        Returns the id written, if any."""
        raft_log = self.driver.log
        image = self._image
        if raft_log is None or image is None or image.offset < raft_log.start_offset():
            return None
        latest = raft_log.latest_snapshot_id()
        end = image.offset + 1
        if latest is not None and latest.offset >= end:
            return None
        snapshot_id = OffsetAndEpoch(end, raft_log.epoch_at(image.offset))
        records = image_records(image)
        # A dynamic quorum's voter set goes in the header (KRaftVersion and Voters records):
        # a node that starts from this snapshot, or installs it, learns its voters there.
        replica = self.driver.replica
        # At the image's offset, not the latest (a kraft.version upgrade may follow it).
        kraft_version = replica.history.kraft_version_at(image.offset) if replica is not None else 0
        voters = (
            replica.history.voters_at(image.offset).to_record()
            if replica is not None and kraft_version >= 1
            else None
        )
        now = self._now_ms()
        self._bytes_since = 0
        self._last_snapshot_ms = now
        path = await trio.to_thread.run_sync(
            lambda: write_snapshot(
                raft_log.dir,
                records,
                snapshot_id=SnapshotId(snapshot_id.offset, snapshot_id.epoch),
                last_contained_log_timestamp_ms=now,
                kraft_version=kraft_version,
                voters=voters,
                replace=True,
            )
        )
        if snapshot_id.offset < raft_log.start_offset():
            path.unlink(missing_ok=True)  # a snapshot from the leader overtook it
            return None
        raft_log.on_snapshot_frozen(snapshot_id)
        self.written.append(snapshot_id)
        log.info("wrote metadata snapshot %s (%d records)", path.name, len(records))
        if self.clean():
            log.info(
                "metadata log now starts at %d (snapshots %s)",
                raft_log.start_offset(),
                [
                    s.offset
                    for s in (raft_log.earliest_snapshot_id(), raft_log.latest_snapshot_id())
                ],
            )
        return snapshot_id
