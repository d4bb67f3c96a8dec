"""The leader epoch cache of one partition (Kafka's LeaderEpochFileCache, KIP-101/KIP-279).

An ordered list of (epoch, start offset): the first offset written in each leader epoch.
OffsetForLeaderEpoch answers from it where an epoch ended, which followers use to truncate
diverging logs and consumers use to detect truncation after a leader change.

It is kept in ``leader-epoch-checkpoint`` in the partition directory, in Kafka's format, and
rewritten atomically whenever it changes. A partition opened without the file (a log written
before the cache existed, or a lost file) rebuilds it from the batch headers, which carry the
leader epoch the log stamped on each append.

Thread-safety: the produce path changes it in the trio thread, handlers and loading in worker
threads; one lock covers both the entries and the file write, so two rewrites never race on
the file's ``.tmp`` sibling.
"""

from __future__ import annotations

import bisect
import logging
import threading
from pathlib import Path

from ferrokafka.storage import Log
from ferrokafka.storage import checkpoints as ckpt
from ferrokafka.storage.checkpoints import EpochEntry

log = logging.getLogger(__name__)

UNDEFINED_EPOCH = -1
UNDEFINED_EPOCH_OFFSET = -1
# Bytes decoded per step while rebuilding from the log, so a large log is never read at once.
REBUILD_CHUNK_BYTES = 8 << 20


class LeaderEpochCache:
    """The epochs of one partition log, persisted to ``<dir>/leader-epoch-checkpoint``."""

    def __init__(self, path: Path, entries: list[EpochEntry]) -> None:
        self.path = path
        self._entries = list(entries)
        self._lock = threading.Lock()

    @property
    def entries(self) -> list[EpochEntry]:
        with self._lock:
            return list(self._entries)

    @property
    def latest_epoch(self) -> int:
        with self._lock:
            return self._entries[-1].epoch if self._entries else UNDEFINED_EPOCH

    # -- changes ---------------------------------------------------------------------------

    def assign(self, epoch: int, start_offset: int) -> bool:
        """Record that ``epoch`` starts at ``start_offset``; returns whether anything changed.

        Cheap when nothing changes (every append calls it). As in Kafka, a new entry first
        removes every entry it contradicts (same or later epoch, same or later offset), so the
        list stays increasing in both epoch and offset."""
        if epoch < 0 or start_offset < 0:
            return False  # batches of old formats carry no epoch
        entries = self._entries  # replaced or extended under the lock; a read needs none
        if entries and entries[-1].epoch == epoch and entries[-1].start_offset <= start_offset:
            return False
        with self._lock:
            if self._entries:
                latest = self._entries[-1]
                if latest.epoch == epoch and latest.start_offset <= start_offset:
                    return False
            self._entries = [
                e for e in self._entries if e.epoch < epoch and e.start_offset < start_offset
            ]
            self._entries.append(EpochEntry(epoch, start_offset))
            self._write()
            return True

    def truncate_from_start(self, start_offset: int) -> bool:
        """The log start moved to ``start_offset`` (DeleteRecords, retention): entries wholly
        below it go, and the epoch holding it now starts there (Kafka's truncateFromStart)."""
        with self._lock:
            below = [e for e in self._entries if e.start_offset <= start_offset]
            if not below or (len(below) == 1 and below[0].start_offset == start_offset):
                return False
            kept = [e for e in self._entries if e.start_offset > start_offset]
            self._entries = [EpochEntry(below[-1].epoch, start_offset), *kept]
            self._write()
            return True

    def truncate_from_end(self, end_offset: int) -> bool:
        """The log was cut at ``end_offset``: epochs starting at or after it never happened."""
        with self._lock:
            kept = [e for e in self._entries if e.start_offset < end_offset]
            if len(kept) == len(self._entries):
                return False
            self._entries = kept
            self._write()
            return True

    def _write(self) -> None:
        # Called with the lock held. A failed write is logged, not raised: the entries in memory
        # are right, and a missing or stale file is rebuilt from the log at the next open.
        try:
            ckpt.write_leader_epoch_checkpoint(self.path, self._entries)
        except OSError as exc:
            log.warning("could not write %s: %s", self.path, exc)

    # -- lookups ---------------------------------------------------------------------------

    def end_offset_for(self, requested: int, log_end_offset: int) -> tuple[int, int]:
        """(epoch, end offset) answering OffsetForLeaderEpoch for ``requested``: the largest
        known epoch <= ``requested`` and the start offset of the epoch after it; the log end
        offset for the latest epoch; (-1, -1) when nothing is known about ``requested``.

        An epoch older than every entry answers (``requested``, start of the first entry) as
        Kafka does: its data was deleted, and a follower must start from what is left."""
        with self._lock:
            entries = self._entries
            if requested == UNDEFINED_EPOCH or not entries:
                return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
            if entries[-1].epoch == requested:
                return requested, log_end_offset
            epochs = [e.epoch for e in entries]
            higher = bisect.bisect_right(epochs, requested)
            if higher == len(entries):
                return UNDEFINED_EPOCH, UNDEFINED_EPOCH_OFFSET
            if higher == 0:
                return requested, entries[0].start_offset
            return entries[higher - 1].epoch, entries[higher].start_offset


def load_leader_epoch_cache(partition_log: Log) -> LeaderEpochCache:
    """The cache of ``partition_log``: its checkpoint, or a rebuild from the batch headers when
    the file is missing or unreadable; then trimmed to the log's current bounds. Blocking
    (reads files): run it in a worker thread."""
    path = Path(partition_log.dir) / ckpt.LEADER_EPOCH_CHECKPOINT
    entries: list[EpochEntry] | None = None
    if path.exists():
        try:
            entries = ckpt.read_leader_epoch_checkpoint(path)
        except (OSError, ckpt.CheckpointError) as exc:
            log.warning("rebuilding %s from the log: %s", path, exc)
    if entries is None:
        cache = LeaderEpochCache(path, [])
        _rebuild(cache, partition_log)
        if not path.exists():
            # Written even when the log is empty, so the next open trusts the file.
            with cache._lock:
                cache._write()
        return cache
    cache = LeaderEpochCache(path, entries)
    # Recovery may have cut the log below a checkpointed epoch, and retention or DeleteRecords
    # may have moved the start after the last write.
    cache.truncate_from_end(partition_log.log_end_offset)
    cache.truncate_from_start(partition_log.log_start_offset)
    return cache


def _rebuild(cache: LeaderEpochCache, partition_log: Log) -> None:
    position = partition_log.log_start_offset
    end = partition_log.log_end_offset
    while position < end:
        batches = partition_log.read_batches(position, REBUILD_CHUNK_BYTES, max_offset=end)
        if not batches:
            break
        for batch in batches:
            # The first batch may start below the log start (DeleteRecords keeps the batch
            # holding the new start): the epoch begins, for readers, at the log start.
            cache.assign(batch.partition_leader_epoch, max(batch.base_offset, position))
        position = batches[-1].next_offset
