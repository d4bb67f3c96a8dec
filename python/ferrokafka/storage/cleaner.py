"""The broker's log cleaner (Kafka's ``LogCleaner`` thread and ``LogCleanerManager``).

The compaction itself is native (``clean_log``: offset map, segment rewrite, crash-safe swap,
GIL released). This module decides *which* log to clean and remembers how far each is clean:

- A log is a candidate when its ``cleanup.policy`` holds ``compact``. Its dirty section starts
  at its cleaner checkpoint (the log start offset if it has none) and ends at the first
  uncleanable offset (active segment, ``min.compaction.lag.ms``).
- Of the candidates, the dirtiest log whose dirty ratio exceeds ``min.cleanable.dirty.ratio``
  (or that has a dirty record older than ``max.compaction.lag.ms``, KIP-354) is cleaned; then
  the next, until none is left (Kafka's cleaner thread loop), and the broker's loop sleeps
  ``log.cleaner.backoff.ms``.
- After each clean the new checkpoint (the end of what was cleaned) is written to
  ``cleaner-offset-checkpoint`` in the log's directory, Kafka's file and format, so a restart
  resumes where cleaning stopped rather than re-cleaning (a lost checkpoint only costs work:
  cleaning is idempotent).

Synchronous and thread-safe: the LogManager runs it in a worker thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ferrokafka._ferrokafka import CleanStats, Log, LogClosedError, clean_log, cleanable_info
from ferrokafka.storage import checkpoints as ckpt
from ferrokafka.storage.checkpoints import CheckpointError, TopicPartition

if TYPE_CHECKING:
    from ferrokafka.config import BrokerConfig

logger = logging.getLogger("ferrokafka.storage.cleaner")

CLEANER_OFFSET_CHECKPOINT = "cleaner-offset-checkpoint"
COMPACT = "compact"


@dataclass(frozen=True)
class CleanerSettings:
    """The broker keys the cleaner reads (Kafka's ``log.cleaner.*``)."""

    enabled: bool = True  # log.cleaner.enable
    threads: int = 1  # log.cleaner.threads (the budget below is split between them)
    dedupe_buffer_bytes: int = 128 << 20  # log.cleaner.dedupe.buffer.size
    backoff_ms: int = 15_000  # log.cleaner.backoff.ms

    @classmethod
    def from_broker_config(cls, config: BrokerConfig) -> CleanerSettings:
        return cls(
            enabled=bool(config["log.cleaner.enable"]),
            threads=int(config["log.cleaner.threads"]),
            dedupe_buffer_bytes=int(config["log.cleaner.dedupe.buffer.size"]),
            backoff_ms=int(config["log.cleaner.backoff.ms"]),
        )

    @property
    def active(self) -> bool:
        return self.enabled and self.threads > 0

    @property
    def dedupe_buffer_per_thread(self) -> int:
        # One cleaner thread here; Kafka divides the buffer by the configured thread count,
        # so a given config gets the same per-clean budget as on Kafka.
        return self.dedupe_buffer_bytes // max(1, self.threads)


@dataclass(frozen=True)
class CleanedLog:
    tp: TopicPartition
    stats: CleanStats


class LogCleaner:
    """Cleaner checkpoints per log dir, and the choice of the next log to clean."""

    def __init__(self, settings: CleanerSettings, log_dirs: tuple[Path, ...]) -> None:
        self.settings = settings
        self._lock = threading.Lock()  # guards _checkpoints
        self._clean_lock = threading.Lock()  # one clean at a time (one cleaner thread)
        self._checkpoints: dict[Path, dict[TopicPartition, int]] = {}
        # Kafka never cleans at or past a partition's last stable offset. The node sets this
        # once a partition's LSO can differ from its log end (transactions, replication);
        # None, or a None answer, means the log end.
        self.stable_offset: Callable[[TopicPartition], int | None] | None = None
        for log_dir in log_dirs:
            try:
                points = ckpt.read_offset_checkpoint(log_dir / CLEANER_OFFSET_CHECKPOINT)
            except CheckpointError as e:
                # As Kafka: an unreadable cleaner checkpoint means cleaning from the start.
                logger.warning("ignoring unreadable cleaner checkpoint: %s", e)
                points = {}
            self._checkpoints[log_dir] = points

    def checkpoint(self, tp: TopicPartition) -> int | None:
        with self._lock:
            for points in self._checkpoints.values():
                if tp in points:
                    return points[tp]
        return None

    def forget(self, tp: TopicPartition, log_dir: Path) -> None:
        """A deleted log: drop its checkpoint (a recreated topic starts dirty)."""
        with self._lock:
            points = self._checkpoints.setdefault(log_dir, {})
            if points.pop(tp, None) is None:
                return
            snapshot = dict(points)
        ckpt.write_offset_checkpoint(log_dir / CLEANER_OFFSET_CHECKPOINT, snapshot)

    def _set_checkpoint(self, tp: TopicPartition, log_dir: Path, offset: int) -> None:
        with self._lock:
            points = self._checkpoints.setdefault(log_dir, {})
            points[tp] = offset
            snapshot = dict(points)
        ckpt.write_offset_checkpoint(log_dir / CLEANER_OFFSET_CHECKPOINT, snapshot)

    def clean_filthiest(
        self, logs: Mapping[TopicPartition, tuple[Log, Path]], now_ms: int | None = None
    ) -> CleanedLog | None:
        """Clean the dirtiest compacted log that needs it (see the module doc); None if none
        does."""
        now = int(time.time() * 1000) if now_ms is None else now_ms
        with self._clean_lock:
            best: tuple[bool, float, TopicPartition] | None = None
            for tp, (log, _) in logs.items():
                try:
                    config = log.config
                    if COMPACT not in config.cleanup_policy:
                        continue
                    info = cleanable_info(
                        log, self.checkpoint(tp), max_offset=self._bound(tp), now_ms=now
                    )
                except LogClosedError:
                    continue
                if info.cleanable_bytes == 0:
                    continue
                # Kafka: cleanable when forced by max.compaction.lag.ms or above the ratio.
                if not (
                    info.needs_compaction_now or info.dirty_ratio > config.min_cleanable_dirty_ratio
                ):
                    continue
                rank = (info.needs_compaction_now, info.dirty_ratio, tp)
                if best is None or rank[:2] > best[:2]:
                    best = rank
            if best is None:
                return None
            tp = best[2]
            log, log_dir = logs[tp]
            try:
                stats = clean_log(
                    log,
                    self.checkpoint(tp),
                    dedupe_buffer_bytes=self.settings.dedupe_buffer_per_thread,
                    max_offset=self._bound(tp),
                    now_ms=now,
                )
            except LogClosedError:
                return None  # deleted meanwhile
            if stats.aborted:
                logger.info("cleaning %s aborted: the log changed under the cleaner", tp)
            elif stats.end_offset != stats.first_dirty_offset:
                self._set_checkpoint(tp, log_dir, stats.end_offset)
            logger.info(
                "cleaned %s-%d: offsets [%d, %d), %d segments, %d -> %d bytes, %d -> %d records",
                tp.topic,
                tp.partition,
                stats.first_dirty_offset,
                stats.end_offset,
                stats.segments_cleaned,
                stats.bytes_read,
                stats.bytes_written,
                stats.records_read,
                stats.records_kept,
            )
            return CleanedLog(tp, stats)

    def _bound(self, tp: TopicPartition) -> int | None:
        return None if self.stable_offset is None else self.stable_offset(tp)

    def clean_logs(
        self, logs: Mapping[TopicPartition, tuple[Log, Path]], now_ms: int | None = None
    ) -> list[CleanedLog]:
        """Clean logs, dirtiest first, until none needs it; at most one clean per log per call
        (a log that stays dirty, e.g. one larger than the dedupe buffer, waits a backoff)."""
        done: list[CleanedLog] = []
        remaining = dict(logs)
        for _ in range(len(logs)):
            cleaned = self.clean_filthiest(remaining, now_ms)
            if cleaned is None:
                break
            done.append(cleaned)
            remaining.pop(cleaned.tp)
        return done
