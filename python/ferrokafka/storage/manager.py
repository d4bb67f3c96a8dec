"""LogManager: every partition log of a broker, across its log directories (Kafka's LogManager).

Start: lock each ``log.dirs`` entry (``.lock``), read its checkpoints, and open every
``<topic>-<partition>`` directory in worker threads (the native Log releases the GIL while it
recovers). A directory holding ``.kafka_cleanshutdown`` was shut down cleanly: the marker is
removed and its logs are trusted up to their end, as Kafka's LogLoader does; without it (a
crash) each log is recovered from its checkpointed recovery point, its torn tail cut.

Run: :meth:`LogManager.run` is the trio task for the periodic work (retention, compaction of
``cleanup.policy=compact`` logs by :mod:`ferrokafka.storage.cleaner`, time-based and
rolled-segment flushes, recovery-point and log-start-offset checkpoints, deleting renamed
directories); each job runs in a worker thread, each loop sleeps its interval and is
cancellable between rounds.

Failure: an I/O error that fails a dir (:mod:`ferrokafka.storage.dir_failure`) takes it
offline (:meth:`LogManager.fail_dir`): its logs leave every job until the broker restarts,
listeners (the replica manager, the broker) are told, the other dirs go on.

Stop: :meth:`LogManager.shutdown` closes (flushes) every log, writes the checkpoints and then,
last, the clean-shutdown marker; the next start then skips recovery.

The core is synchronous and thread-safe; nothing here blocks on trio.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from ferrokafka._ferrokafka import FerrokafkaError, Log, LogClosedError, LogConfig
from ferrokafka.storage import checkpoints as ckpt
from ferrokafka.storage.checkpoints import (
    CheckpointError,
    MetaProperties,
    TopicPartition,
    parse_kafka_uuid,
)
from ferrokafka.storage.cleaner import CleanerSettings, LogCleaner
from ferrokafka.storage.dir_failure import (
    LogDirOfflineError,
    fails_log_dir,
    io_errno,
    probe_log_dir,
)
from ferrokafka.storage.load_report import LoadReport, LogLoadInfo, log_report
from ferrokafka.storage.logdirs import (
    DELETE_DIR_SUFFIX,
    STRAY_DIR_SUFFIX,
    DirLock,
    LogDirError,
    create_and_validate_dirs,
    is_ignored_dir,
    parse_partition_dir,
    partition_dir_name,
    renamed_dir_name,
    validate_topic,
)
from ferrokafka.storage.partition_metadata import (
    PartitionMetadataError,
    read_topic_id,
    write_topic_id,
)

if TYPE_CHECKING:
    from ferrokafka.config import BrokerConfig

logger = logging.getLogger("ferrokafka.storage")
# What an unreadable partition.metadata counts as: no topic has it, so the log is a stray.
UNREADABLE_TOPIC_ID = uuid.UUID(int=0)

LONG_MAX = 2**63 - 1
# Passed as the recovery point after a clean shutdown: the native Log clamps it to the log end,
# which is Kafka's rule (a cleanly closed log was flushed to its end).
TRUSTED_RECOVERY_POINT = LONG_MAX
# Rolled segments must reach the disk soon after the roll (Kafka schedules that flush at once),
# even when log.flush.scheduler.interval.ms is Kafka's default of "never".
FLUSH_CHECK_INTERVAL_MS_MAX = 1_000
# A renamed -delete directory goes once file.delete.delay.ms has passed; checked this often.
DELETE_CHECK_INTERVAL_MS_MAX = 1_000
# Intervals at or above this are Kafka's "never" (Long.MAX): no loop is started.
INTERVAL_NEVER_MS = LONG_MAX


@dataclass(frozen=True)
class LogManagerSettings:
    """The broker keys LogManager reads; :meth:`from_broker_config` maps them."""

    log_dirs: tuple[str, ...]
    recovery_threads_per_dir: int = 2  # num.recovery.threads.per.data.dir
    retention_check_interval_ms: int = 300_000  # log.retention.check.interval.ms
    flush_check_interval_ms: int = FLUSH_CHECK_INTERVAL_MS_MAX  # log.flush.scheduler.interval.ms
    recovery_point_checkpoint_interval_ms: int = 60_000  # log.flush.offset.checkpoint...
    log_start_offset_checkpoint_interval_ms: int = 60_000  # log.flush.start.offset.checkpoint...
    file_delete_delay_ms: int = 60_000  # log.segment.delete.delay.ms
    cleaner: CleanerSettings = CleanerSettings()  # log.cleaner.*

    @classmethod
    def from_broker_config(cls, config: BrokerConfig) -> LogManagerSettings:
        return cls(
            log_dirs=tuple(config.log_dirs),
            recovery_threads_per_dir=int(config["num.recovery.threads.per.data.dir"]),
            retention_check_interval_ms=int(config["log.retention.check.interval.ms"]),
            flush_check_interval_ms=min(
                int(config["log.flush.scheduler.interval.ms"]), FLUSH_CHECK_INTERVAL_MS_MAX
            ),
            recovery_point_checkpoint_interval_ms=int(
                config["log.flush.offset.checkpoint.interval.ms"]
            ),
            log_start_offset_checkpoint_interval_ms=int(
                config["log.flush.start.offset.checkpoint.interval.ms"]
            ),
            file_delete_delay_ms=int(config["log.segment.delete.delay.ms"]),
            cleaner=CleanerSettings.from_broker_config(config),
        )


class LogManager:
    """Owns the log directories and every partition log in them. See the module doc.

    Constructing one locks the dirs and opens every log (blocking: call it from a worker
    thread under trio); ``load_report`` then says what was trusted and what was recovered.
    A deleted log is closed, so a reader still holding it gets LogClosedError.
    """

    def __init__(
        self,
        settings: LogManagerSettings,
        default_config: LogConfig,
        *,
        topic_configs: Mapping[str, LogConfig] | None = None,
        meta: MetaProperties | None = None,
    ) -> None:
        if not settings.log_dirs:
            raise LogDirError("no log directories configured (log.dirs)")
        self.settings = settings
        self._default_config = default_config
        self._topic_configs: dict[str, LogConfig] = dict(topic_configs or {})
        self._lock = threading.Lock()  # guards _logs, _dir_of, _pending_deletes, _closed
        self._checkpoint_lock = threading.Lock()  # one checkpoint writer at a time
        self._logs: dict[TopicPartition, Log] = {}
        self._dir_of: dict[TopicPartition, Path] = {}
        self._offline_of: dict[TopicPartition, Path] = {}  # the logs of failed dirs
        self._pending_deletes: list[tuple[float, Path]] = []  # (monotonic due time, dir)
        self._closed = False
        # Logs flushed by flush_dirty_logs and the time its passes took (read by metrics).
        self.flushes = 0
        self.flush_time_ms = 0.0
        self._dir_locks: list[DirLock] = []
        self.directory_ids: dict[str, str] = {}
        # Failed log dirs (storage/dir_failure.py) and why; offline until the broker restarts.
        # Their logs leave _logs: no periodic job, checkpoint or shutdown touches them again.
        self.offline_dirs: dict[Path, str] = {}
        # Told (in the failing thread, each at most once per dir) when a dir goes offline.
        self._dir_failure_listeners: list[Callable[[Path], None]] = []
        # A dir whose disk fails already is offline from the start (Kafka's errorLogDirs): no
        # lock, no meta.properties, no logs; the broker starts with the others.
        failed = {
            Path(d).absolute(): why
            for d in settings.log_dirs
            if (why := probe_log_dir(Path(d).absolute())) is not None
        }
        usable = [d for d in settings.log_dirs if Path(d).absolute() not in failed]
        if not usable:
            raise LogDirError(
                "all log dirs have failed: " + "; ".join(f"{d}: {why}" for d, why in failed.items())
            )
        for log_dir, why in failed.items():
            logger.error("log dir %s failed at start (%s): it stays offline", log_dir, why)
        online = create_and_validate_dirs(usable)
        self.offline_dirs.update(failed)
        self.log_dirs: tuple[Path, ...] = tuple(
            Path(d).absolute() if Path(d).absolute() in failed else online[usable.index(d)]
            for d in settings.log_dirs
        )
        try:
            for log_dir in online:
                self._dir_locks.append(DirLock.acquire(log_dir))
            if meta is not None:
                self._check_meta(meta)
            self.cleaner = LogCleaner(settings.cleaner, online)
            self.load_report = self._load_logs()
        except BaseException:
            for log in self._logs.values():
                log.close()
            self._release_locks()
            raise

    @classmethod
    def from_broker_config(
        cls,
        config: BrokerConfig,
        *,
        topic_configs: Mapping[str, LogConfig] | None = None,
        cluster_id: str | None = None,
    ) -> LogManager:
        meta = None if cluster_id is None else MetaProperties(cluster_id, config.node_id)
        return cls(
            LogManagerSettings.from_broker_config(config),
            config.topic_config().to_log_config(),
            topic_configs=topic_configs,
            meta=meta,
        )

    # -- start -----------------------------------------------------------------------------

    def _check_meta(self, meta: MetaProperties) -> None:
        """Write meta.properties where it is missing; refuse a dir of another cluster or node."""
        for log_dir in self.online_dirs():
            path = log_dir / ckpt.META_PROPERTIES
            found = ckpt.read_meta_properties(path)
            if found is None:
                found = MetaProperties(meta.cluster_id, meta.node_id, ckpt.random_directory_id())
                ckpt.write_meta_properties(path, found)
            elif (found.cluster_id, found.node_id) != (meta.cluster_id, meta.node_id):
                raise LogDirError(
                    f"{path} belongs to cluster {found.cluster_id} node {found.node_id}, "
                    f"not cluster {meta.cluster_id} node {meta.node_id}"
                )
            if found.directory_id is not None:
                if found.directory_id in self.directory_ids.values():
                    raise LogDirError(f"{path}: directory.id {found.directory_id} is not unique")
                self.directory_ids[str(log_dir)] = found.directory_id

    def _read_dir_checkpoint(
        self, log_dir: Path, name: str, warnings: list[str]
    ) -> dict[TopicPartition, int]:
        # Kafka logs an unreadable checkpoint and goes on as if it were empty: recovery from
        # offset 0 is slow but safe, and a broker that refuses to start is worse.
        try:
            return ckpt.read_offset_checkpoint(log_dir / name)
        except CheckpointError as e:
            warnings.append(f"ignoring unreadable checkpoint: {e}")
            logger.warning("ignoring unreadable checkpoint: %s", e)
            return {}

    def _load_logs(self) -> LoadReport:
        warnings: list[str] = []
        clean_dirs, unclean_dirs, skipped, deletions = [], [], [], []
        epochs: dict[str, int] = {}
        jobs: list[tuple[Path, TopicPartition, bool, int | None, int | None]] = []
        seen: dict[TopicPartition, Path] = {}
        for log_dir in self.online_dirs():
            epoch = ckpt.read_clean_shutdown_marker(log_dir)
            clean = epoch is not None
            (clean_dirs if clean else unclean_dirs).append(str(log_dir))
            if epoch is not None:
                epochs[str(log_dir)] = epoch
            # Removed before any log is opened: a crash from here on must mean recovery.
            ckpt.remove_clean_shutdown_marker(log_dir)
            points = self._read_dir_checkpoint(log_dir, ckpt.RECOVERY_POINT_CHECKPOINT, warnings)
            starts = self._read_dir_checkpoint(log_dir, ckpt.LOG_START_OFFSET_CHECKPOINT, warnings)
            for child in sorted(log_dir.iterdir()):
                if not child.is_dir() or is_ignored_dir(child.name):
                    continue
                parsed = parse_partition_dir(log_dir, child.name)
                if parsed.suffix == DELETE_DIR_SUFFIX:
                    deletions.append(str(child))
                    self._pending_deletes.append((time.monotonic(), child))
                    continue
                if parsed.suffix is not None:
                    skipped.append(str(child))
                    continue
                if parsed.tp in seen:
                    raise LogDirError(
                        f"partition {parsed.tp} is in both {seen[parsed.tp]} and {log_dir}"
                    )
                seen[parsed.tp] = log_dir
                jobs.append(
                    (log_dir, parsed.tp, clean, points.get(parsed.tp), starts.get(parsed.tp))
                )
        workers = max(1, self.settings.recovery_threads_per_dir * len(self.log_dirs))
        infos = []
        with ThreadPoolExecutor(workers, thread_name_prefix="log-recovery") as pool:
            futures = [pool.submit(self._open_log, *job) for job in jobs]
            errors = []
            for future in futures:
                try:
                    infos.append(future.result())
                except Exception as e:  # every future must finish so no open log leaks
                    errors.append(e)
            if errors:
                raise errors[0]
        report = LoadReport(
            logs=tuple(infos),
            clean_dirs=tuple(clean_dirs),
            unclean_dirs=tuple(unclean_dirs),
            broker_epochs=epochs,
            skipped_dirs=tuple(skipped),
            pending_deletions=tuple(deletions),
            warnings=tuple(warnings),
        )
        log_report(report)
        return report

    def _open_log(
        self,
        log_dir: Path,
        tp: TopicPartition,
        clean: bool,
        checkpointed: int | None,
        log_start: int | None,
    ) -> LogLoadInfo:
        path = log_dir / partition_dir_name(*tp)
        before = sum(p.stat().st_size for p in path.glob("*.log"))
        recovery_point = TRUSTED_RECOVERY_POINT if clean else (checkpointed or 0)
        log = Log(
            str(path),
            self._config_for(tp.topic),
            recovery_point=recovery_point,
            log_start_offset=log_start,
        )
        with self._lock:
            self._logs[tp] = log
            self._dir_of[tp] = log_dir
        return LogLoadInfo(
            tp=tp,
            log_dir=str(log_dir),
            clean_shutdown=clean,
            checkpointed_recovery_point=checkpointed,
            recovery_point=log.recovery_point,
            log_end_offset=log.log_end_offset,
            truncated_bytes=max(0, before - log.size_in_bytes),
        )

    # -- logs ------------------------------------------------------------------------------

    def _config_for(self, topic: str) -> LogConfig:
        return self._topic_configs.get(topic, self._default_config)

    def get_log(self, topic: str, partition: int) -> Log | None:
        return self._logs.get(TopicPartition(topic, partition))

    def all_logs(self) -> dict[TopicPartition, Log]:
        with self._lock:
            return dict(self._logs)

    def log_dir_of(self, topic: str, partition: int) -> Path | None:
        return self._dir_of.get(TopicPartition(topic, partition))

    def get_or_create_log(
        self,
        topic: str,
        partition: int,
        config: LogConfig | None = None,
        preferred_dir: Path | None = None,
    ) -> Log:
        """The partition's log, created empty if there is none in ``preferred_dir`` when it
        is an online log dir (the metadata assigned the replica there), else in the online
        log dir holding the fewest partitions (Kafka's choice). ``config`` defaults to the
        topic's or the default. A partition of an offline dir, or with every dir offline,
        raises LogDirOfflineError (KAFKA_STORAGE_ERROR to clients)."""
        tp = TopicPartition(topic, partition)
        with self._lock:
            self._check_open()
            log = self._logs.get(tp)
            if log is not None:
                return log
            offline = self._offline_of.get(tp)
            if offline is not None:
                raise LogDirOfflineError(str(offline))
            validate_topic(topic)
            if partition < 0:
                raise ValueError(f"partition {partition} of {topic} is negative")
            counts = {d: 0 for d in self.log_dirs if d not in self.offline_dirs}
            if not counts:
                raise LogDirOfflineError(", ".join(map(str, self.log_dirs)))
            for d in self._dir_of.values():
                counts[d] += 1
            if preferred_dir is not None and preferred_dir in counts:
                log_dir = preferred_dir
            else:
                log_dir = min(counts, key=lambda d: counts[d])
            log = Log(str(log_dir / partition_dir_name(*tp)), config or self._config_for(topic))
            # The new directory entry must survive a crash along with the data written to it.
            ckpt.fsync_dir(log_dir)
            self._logs[tp] = log
            self._dir_of[tp] = log_dir
            return log

    def claim_log(
        self,
        topic: str,
        partition: int,
        topic_id: uuid.UUID,
        config: LogConfig | None = None,
        preferred_dir: Path | None = None,
    ) -> tuple[Log, Path | None]:
        """The partition's log for topic ``topic_id``, its ``partition.metadata`` written. A
        log on disk that holds another topic id (the topic was deleted and recreated while
        this broker was away) is moved aside as a stray and a new one created: the log, and
        the stray's new path or None. A log without the file (written by an older version)
        is adopted."""
        log = self.get_or_create_log(topic, partition, config, preferred_dir)
        try:
            found = read_topic_id(log.dir)
        except PartitionMetadataError as exc:
            logger.warning("%s; its log is treated as a stray", exc)
            found = UNREADABLE_TOPIC_ID
        stray = None
        if found is not None and found != topic_id:
            stray = self.mark_stray(topic, partition)
            log = self.get_or_create_log(topic, partition, config, preferred_dir)
        if found != topic_id:
            write_topic_id(log.dir, topic_id)
        return log, stray

    def delete_log(self, topic: str, partition: int) -> bool:
        """Close the log, rename its directory to ``<topic>-<partition>.<uuid>-delete`` and
        delete that after ``file_delete_delay_ms`` in the background (as Kafka: readers still
        holding its file regions finish first). Returns whether there was a log."""
        renamed = self._move_aside(TopicPartition(topic, partition), DELETE_DIR_SUFFIX)
        if renamed is None:
            return False
        due = time.monotonic() + self.settings.file_delete_delay_ms / 1000
        with self._lock:
            self._pending_deletes.append((due, renamed))
        return True

    def mark_stray(self, topic: str, partition: int) -> Path | None:
        """Close the log and rename its directory to ``<topic>-<partition>.<uuid>-stray``: a
        log the metadata does not place here (or under another topic id). Kept for the
        operator, never deleted, never reattached (Kafka's stray logs). The new path, or None
        when there was no log."""
        return self._move_aside(TopicPartition(topic, partition), STRAY_DIR_SUFFIX)

    def _move_aside(self, tp: TopicPartition, suffix: str) -> Path | None:
        with self._lock:
            self._check_open()
            log = self._logs.pop(tp, None)
            log_dir = self._dir_of.pop(tp, None)
        if log is None or log_dir is None:
            return None
        log.close()
        self.cleaner.forget(tp, log_dir)
        renamed = log_dir / renamed_dir_name(tp, suffix)
        os.rename(log.dir, renamed)
        ckpt.fsync_dir(log_dir)
        # Checkpoints without the partition, so a topic recreated later starts from scratch.
        self._checkpoint_dirs([log_dir])
        return renamed

    def update_config(self, topic: str, config: LogConfig) -> None:
        """A topic's new config, applied to its logs now and to logs created or loaded later."""
        with self._lock:
            self._topic_configs[topic] = config
            logs = [log for tp, log in self._logs.items() if tp.topic == topic]
        for log in logs:
            log.update_config(config)

    def update_default_config(self, config: LogConfig) -> None:
        """New broker defaults, applied to every log of a topic without its own config."""
        with self._lock:
            self._default_config = config
            logs = [log for tp, log in self._logs.items() if tp.topic not in self._topic_configs]
        for log in logs:
            log.update_config(config)

    # -- log dir failure (Kafka's LogDirFailureChannel) --------------------------------------

    def add_dir_failure_listener(self, listener: Callable[[Path], None]) -> None:
        """Call ``listener(dir)`` when a dir goes offline, in the thread that saw the error
        (a worker thread or the trio thread): it must only record, or hand over to trio."""
        self._dir_failure_listeners.append(listener)

    def dir_with_id(self, directory: uuid.UUID) -> Path | None:
        """The online log dir whose meta.properties ``directory.id`` is ``directory``."""
        for log_dir in self.online_dirs():
            directory_id = self.directory_ids.get(str(log_dir))
            if directory_id is not None and parse_kafka_uuid(directory_id) == directory:
                return log_dir
        return None

    def online_dirs(self) -> list[Path]:
        return [d for d in self.log_dirs if d not in self.offline_dirs]

    def fail_dir(self, log_dir: Path, exc: BaseException) -> bool:
        """Take ``log_dir`` offline after ``exc``: its logs are dropped from every job and
        left as they are (not flushed or closed: the files are not to be trusted; Kafka closes
        only the handles), and the listeners are told. Returns whether it was online."""
        with self._lock:
            if log_dir in self.offline_dirs or log_dir not in self.log_dirs:
                return False
            self.offline_dirs[log_dir] = str(exc)
            gone = [tp for tp, d in self._dir_of.items() if d == log_dir]
            for tp in gone:
                self._logs.pop(tp, None)
                self._offline_of[tp] = self._dir_of.pop(tp)
        logger.error(
            "Error on log directory %s (%s): stopping serving its %d logs until restart",
            log_dir,
            exc,
            len(gone),
        )
        if not self.online_dirs():
            logger.critical(
                "all log dirs in %s have failed", ", ".join(str(d) for d in self.log_dirs)
            )
        for listener in self._dir_failure_listeners:
            listener(log_dir)
        return True

    def fail_dir_of(self, log: Log, exc: BaseException) -> bool:
        """Take the dir holding ``log`` offline (see :meth:`fail_dir`)."""
        return self.fail_dir(Path(log.dir).parent, exc)

    # -- periodic work (each safe to call from any thread) ----------------------------------

    def _each_log(self, work: Callable[[Log], Any]) -> list[Any]:
        results = []
        for log in self.all_logs().values():
            try:
                results.append(work(log))
            except LogClosedError:
                continue  # deleted (or shut down) since the snapshot
            except OSError as exc:
                # A flush (or retention) that failed on a dead disk: the dir goes offline,
                # the other logs go on (Kafka fails the dir on a failed flush).
                if not fails_log_dir(exc):
                    raise
                self.fail_dir_of(log, exc)
        return results

    def cleanup_logs(self, now_ms: int | None = None) -> int:
        """Retention by time and size (only for logs whose cleanup.policy holds delete; the
        native log checks) and below the log start offset; returns how many segments went."""
        return sum(self._each_log(lambda log: log.delete_old_segments(now_ms)))

    def clean_logs(self, now_ms: int | None = None) -> int:
        """Compact the logs whose cleanup.policy holds compact and that are dirty enough,
        dirtiest first; returns how many were cleaned."""
        with self._lock:
            logs = {tp: (log, self._dir_of[tp]) for tp, log in self._logs.items()}
        return len(self.cleaner.clean_logs(logs, now_ms))

    def flush_dirty_logs(self, now_ms: int | None = None) -> int:
        """Flush what flush.ms / flush.messages ask for, and rolled segments; returns how many
        logs were flushed. Counts them, and the time of passes that flushed any, in
        ``flushes`` / ``flush_time_ms`` (the metrics endpoint reads them)."""
        started = time.perf_counter()
        flushed = sum(self._each_log(lambda log: log.maybe_flush(now_ms)))
        if flushed:
            self.flushes += flushed
            self.flush_time_ms += (time.perf_counter() - started) * 1000
        return flushed

    def checkpoint_recovery_points(self) -> None:
        self._checkpoint_dirs(self.online_dirs(), start_offsets=False)

    def checkpoint_log_start_offsets(self) -> None:
        self._checkpoint_dirs(self.online_dirs(), recovery_points=False)

    def delete_pending_logs(self) -> int:
        """Remove renamed -delete directories whose delay has passed; returns how many."""
        now = time.monotonic()
        with self._lock:
            due = [path for when, path in self._pending_deletes if when <= now]
            self._pending_deletes = [(w, p) for w, p in self._pending_deletes if w > now]
        for path in due:
            shutil.rmtree(path, ignore_errors=True)
            ckpt.fsync_dir(path.parent)
        return len(due)

    def _checkpoint_dirs(
        self, log_dirs: Iterable[Path], *, recovery_points: bool = True, start_offsets: bool = True
    ) -> None:
        # The snapshot is taken under the checkpoint lock, so a delete_log's checkpoint (written
        # after it dropped the log) can never be overwritten by an older snapshot.
        with self._checkpoint_lock:
            if self._closed:
                return
            logs = self.all_logs()
            starts = _log_start_offsets(logs) if start_offsets else None
            for log_dir in log_dirs:
                self._write_dir_checkpoints(log_dir, logs, starts, recovery_points)

    def _write_dir_checkpoints(
        self,
        log_dir: Path,
        logs: Mapping[TopicPartition, Log],
        starts: Mapping[TopicPartition, int] | None,
        recovery_points: bool = True,
    ) -> None:
        in_dir = [tp for tp in logs if self._dir_of.get(tp) == log_dir]
        if recovery_points:
            points = {tp: logs[tp].recovery_point for tp in in_dir}
            ckpt.write_offset_checkpoint(log_dir / ckpt.RECOVERY_POINT_CHECKPOINT, points)
        if starts is not None:
            mine = {tp: starts[tp] for tp in in_dir if tp in starts}
            ckpt.write_offset_checkpoint(log_dir / ckpt.LOG_START_OFFSET_CHECKPOINT, mine)

    def checkpoint_high_watermarks(self, high_watermarks: Mapping[tuple[str, int], int]) -> None:
        """Write replication-offset-checkpoint in each log dir, for the partitions it holds
        (the replica manager owns high watermarks; this only knows where each log lives)."""
        by_dir: dict[Path, dict[tuple[str, int], int]] = {d: {} for d in self.online_dirs()}
        for (topic, partition), hw in high_watermarks.items():
            log_dir = self._dir_of.get(TopicPartition(topic, partition))
            if log_dir in by_dir:
                by_dir[log_dir][(topic, partition)] = hw
        for log_dir, hws in by_dir.items():
            ckpt.write_offset_checkpoint(log_dir / ckpt.REPLICATION_OFFSET_CHECKPOINT, hws)

    def read_high_watermarks(self) -> dict[TopicPartition, int]:
        """Every log dir's replication-offset-checkpoint, merged."""
        merged: dict[TopicPartition, int] = {}
        for log_dir in self.online_dirs():
            merged.update(ckpt.read_offset_checkpoint(log_dir / ckpt.REPLICATION_OFFSET_CHECKPOINT))
        return merged

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """The periodic work, until cancelled. Cancel it before :meth:`shutdown`."""
        s = self.settings
        loops = [
            (s.retention_check_interval_ms, self.cleanup_logs),
            (s.cleaner.backoff_ms if s.cleaner.active else INTERVAL_NEVER_MS, self.clean_logs),
            (s.flush_check_interval_ms, self.flush_dirty_logs),
            (s.recovery_point_checkpoint_interval_ms, self.checkpoint_recovery_points),
            (s.log_start_offset_checkpoint_interval_ms, self.checkpoint_log_start_offsets),
            (min(s.file_delete_delay_ms, DELETE_CHECK_INTERVAL_MS_MAX), self.delete_pending_logs),
        ]
        async with trio.open_nursery() as nursery:
            for interval_ms, job in loops:
                if interval_ms < INTERVAL_NEVER_MS:
                    nursery.start_soon(_every, max(interval_ms, 1), job)
            task_status.started()

    # -- stop ------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise LogClosedError("the log manager is shut down")

    def shutdown(self, broker_epoch: int = -1) -> None:
        """Flush and close every log, write the checkpoints, then the clean-shutdown marker in
        each log dir (last, so that it only ever vouches for data already on disk), and
        release the dir locks. A dir where a log failed to close gets no marker."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            logs = dict(self._logs)
        # Read before closing: a closed log no longer lists its segments.
        starts = _log_start_offsets(logs)
        failed: set[Path] = set()
        errors: list[BaseException] = []
        workers = max(1, self.settings.recovery_threads_per_dir * len(self.log_dirs))
        with ThreadPoolExecutor(workers, thread_name_prefix="log-close") as pool:
            for tp, future in [(tp, pool.submit(log.close)) for tp, log in logs.items()]:
                try:
                    future.result()
                except Exception as e:
                    failed.add(self._dir_of[tp])
                    errors.append(e)
        try:
            with self._checkpoint_lock:
                for log_dir in self.online_dirs():  # an offline dir gets no clean marker
                    self._write_dir_checkpoints(log_dir, logs, starts)
                    if log_dir not in failed:
                        ckpt.write_clean_shutdown_marker(log_dir, broker_epoch)
        finally:
            self._release_locks()
        if errors:
            raise errors[0]

    def _release_locks(self) -> None:
        for lock in self._dir_locks:
            lock.release()
        self._dir_locks.clear()


async def _every(interval_ms: int, job: Callable[[], Any]) -> None:
    name = getattr(job, "__name__", str(job))
    failed_rounds = 0
    last_error: str | None = None
    while True:
        await trio.sleep(interval_ms / 1000)
        try:
            # Not abandoned on cancel: a half-written checkpoint or half-applied retention
            # round is never left behind; each round is bounded by its own work.
            await trio.to_thread.run_sync(job)
        except (OSError, FerrokafkaError) as e:
            # One failed round must not stop later rounds (each is the retry). A run of
            # failures is one ERROR line (again only if the error changes), not one per
            # round; the round that works again says so.
            failed_rounds += 1
            error = str(e)
            if error != last_error:
                logger.error(
                    "periodic %s failed: %s%s; retried every %d ms",
                    name,
                    e,
                    _resource_hint(e),
                    interval_ms,
                )
                last_error = error
            continue
        if failed_rounds:
            logger.warning("periodic %s works again after %d failed rounds", name, failed_rounds)
            failed_rounds, last_error = 0, None


def _resource_hint(exc: BaseException) -> str:
    """What an operator should know about an exhausted resource, or nothing."""
    code = io_errno(exc) if isinstance(exc, OSError) else None
    if code == errno.EMFILE:
        return " (out of file descriptors: raise the broker's open-file limit, ulimit -n)"
    if code == errno.ENFILE:
        return " (the system's open-file table is full: fs.file-max)"
    if code == errno.ENOSPC:
        return " (the disk is full)"
    return ""


def _log_start_offsets(logs: Mapping[TopicPartition, Log]) -> dict[TopicPartition, int]:
    # Kafka checkpoints a log start offset only above the first segment's base: otherwise the
    # segments themselves say where the log starts.
    starts = {}
    for tp, log in logs.items():
        try:
            segments = log.segments()
        except LogClosedError:
            segments = []
        if segments and log.log_start_offset > segments[0].base_offset:
            starts[tp] = log.log_start_offset
    return starts
