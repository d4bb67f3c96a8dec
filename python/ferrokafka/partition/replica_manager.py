"""ReplicaManager: the partitions this broker hosts (Kafka's ``ReplicaManager``): the map by
name and by topic id, get-partition-or-error with Kafka's codes, and the leader/follower
transitions applied from each new metadata image.

A partition is hosted when this broker is one of its replicas; it is made leader when the
image names this broker its leader, else follower; after each image the replica fetchers
(:mod:`replica_fetcher`) are told the followed partitions, and the ISR manager
(:mod:`isr_manager`) watches the led ones. Requests that need the leader ask
:meth:`leader_partition_or_error`, which answers as Kafka's ``getPartitionOrError`` does:
a partition the metadata knows but this broker does not lead is NOT_LEADER_OR_FOLLOWER (the
client refreshes its metadata and goes to the leader), one it does not know at all is
UNKNOWN_TOPIC_OR_PARTITION.

Threading: the trio thread. Opening and deleting logs block, so they run in worker threads,
and the map changes back in the trio thread after they returned: handlers never see a
half-applied image.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import trio

from ferrokafka.cluster import MetadataImage
from ferrokafka.cluster.dir_assignment import (
    dir_uuid,
    is_reserved_directory,
    replica_directory,
)
from ferrokafka.cluster.elr import ELR_FEATURE
from ferrokafka.cluster.image import TOPIC_RESOURCE, PartitionImage, TopicImage
from ferrokafka.partition.isr_manager import IsrManager
from ferrokafka.partition.leader_epochs import load_leader_epoch_cache
from ferrokafka.partition.partition import Partition, PartitionState
from ferrokafka.partition.producer_state import ProducerState, load_producer_state
from ferrokafka.partition.purgatory import DelayedOperationPurgatory
from ferrokafka.partition.replica_fetcher import ReplicaFetcherManager
from ferrokafka.partition.replication_quota import LEADER, ReplicationQuota
from ferrokafka.protocol import error_codes as ec
from ferrokafka.storage import LogConfig, LogDirOfflineError, LogManager
from ferrokafka.storage.checkpoints import kafka_uuid_string
from ferrokafka.storage.producer_snapshot import SnapshotEntry

log = logging.getLogger(__name__)

TopicPartitionKey = tuple[str, int]
# (partition index, the partition or None when it is no longer hosted here)
LeadershipListener = Callable[[int, "Partition | None"], None]
# (topic id, partition index, the partition or None): a listener of every topic's partitions
PartitionLeadershipListener = Callable[[uuid.UUID, int, "Partition | None"], None]


class ReplicaManager:
    """The hosted partitions of one broker."""

    def __init__(self, broker_id: int, logs: LogManager) -> None:
        self.broker_id = broker_id
        self.logs = logs
        self._by_name: dict[TopicPartitionKey, Partition] = {}
        self._by_id: dict[tuple[uuid.UUID, int], Partition] = {}
        self._image: MetadataImage | None = None
        # Requests waiting on partition events: Fetch min_bytes, acks=all Produce.
        self.purgatory = DelayedOperationPurgatory("partitions")
        # Called after a partition of the topic changed leader or epoch, or went (None):
        # the coordinator runtimes load and unload their partitions from it.
        self._leadership_listeners: dict[str, list[LeadershipListener]] = {}
        # The same for the partitions of every topic: the share-partition leaders drop theirs
        # when the partition stops being led here.
        self._all_leadership_listeners: list[PartitionLeadershipListener] = []
        # replication-offset-checkpoint as the last run left it: each partition's starting
        # high watermark, taken once when the partition is first opened.
        self._checkpointed_hws: dict[TopicPartitionKey, int] | None = None
        # The fetchers that copy followed partitions from their leaders (None: none run, as
        # in unit tests of this class); told the followed partitions after every image.
        self.fetchers: ReplicaFetcherManager | None = None
        # Sends the ISR changes of the partitions led here (None: none are sent).
        self.isr_manager: IsrManager | None = None
        # The leader side of the replication throttle (the Fetch handler applies it).
        self.leader_quota = ReplicationQuota(broker_id, LEADER)
        # The cleaner never cleans at or past a partition's last stable offset (Kafka's
        # firstUncleanableOffset): a transaction's outcome must be known before its records
        # are compacted.
        logs.cleaner.stable_offset = self._stable_offset
        # A failed log dir takes its partitions offline (Kafka's handleLogDirFailure); the
        # failure may be seen in a worker thread, the waiters are woken in trio's.
        logs.add_dir_failure_listener(self._dir_failed)
        self._trio_token: trio.lowlevel.TrioToken | None = None
        # Replicas the metadata places in a dir this broker does not have online (warned once).
        self._in_lost_dirs: set[TopicPartitionKey] = set()
        # Held while replication-offset-checkpoint is written: the shutdown's write, which
        # must be the last, waits for a periodic one in flight (and none starts after it).
        self._hw_checkpoint_lock = trio.Lock()
        self._hw_checkpoints_closed = False

    # -- lookups -----------------------------------------------------------------------------

    def _stable_offset(self, tp: TopicPartitionKey) -> int | None:
        """The LSO of a hosted partition, for the cleaner's thread (None: not hosted, the log
        end bounds the clean). Read without the trio thread: the LSO is computed from
        snapshots taken under the GIL, and one a moment stale is lower, never unsafe."""
        partition = self._by_name.get((tp[0], tp[1]))
        return None if partition is None else partition.last_stable_offset

    def partition(self, topic: str, index: int) -> Partition | None:
        """The hosted partition, leader or follower."""
        return self._by_name.get((topic, index))

    def partition_by_id(self, topic_id: uuid.UUID, index: int) -> Partition | None:
        return self._by_id.get((topic_id, index))

    def partitions(self) -> Iterator[Partition]:
        return iter(list(self._by_name.values()))

    def leader_partition_or_error(
        self, topic: str, index: int, *, leader_only: bool = True
    ) -> Partition | int:
        """The partition if this broker leads it (or, not ``leader_only``, holds a replica of
        it: a consumer fetching from a follower, KIP-392), else Kafka's error code."""
        return self._leader_or_error(self._by_name.get((topic, index)), topic, index, leader_only)

    def leader_partition_by_id_or_error(
        self, topic_id: uuid.UUID, index: int, *, leader_only: bool = True
    ) -> Partition | int:
        partition = self._by_id.get((topic_id, index))
        image = self._image
        topic = image.topics_by_id.get(topic_id) if image is not None else None
        if partition is None and topic is None:
            return ec.UNKNOWN_TOPIC_ID
        return self._leader_or_error(partition, topic.name if topic else "", index, leader_only)

    def _leader_or_error(
        self, partition: Partition | None, topic: str, index: int, leader_only: bool = True
    ) -> Partition | int:
        if partition is not None:
            if partition.is_leader or (not leader_only and partition.leader_epoch >= 0):
                return partition
            return ec.NOT_LEADER_OR_FOLLOWER
        image = self._image
        known = image is not None and image.partition(topic, index) is not None
        return ec.NOT_LEADER_OR_FOLLOWER if known else ec.UNKNOWN_TOPIC_OR_PARTITION

    def add_leadership_listener(self, topic: str, listener: LeadershipListener) -> None:
        self._leadership_listeners.setdefault(topic, []).append(listener)

    def remove_leadership_listener(self, topic: str, listener: LeadershipListener) -> None:
        listeners = self._leadership_listeners.get(topic, [])
        if listener in listeners:
            listeners.remove(listener)

    def add_all_leadership_listener(self, listener: PartitionLeadershipListener) -> None:
        """``listener`` is called after any hosted partition changed leader or epoch, or
        went (None), as Kafka's ReplicaManager calls a PartitionListener."""
        self._all_leadership_listeners.append(listener)

    def _leadership_changed(
        self, topic: str, topic_id: uuid.UUID, index: int, partition: Partition | None
    ) -> None:
        for listener in list(self._leadership_listeners.get(topic, ())):
            listener(index, partition)
        for any_listener in list(self._all_leadership_listeners):
            any_listener(topic_id, index, partition)

    # -- metadata ----------------------------------------------------------------------------

    async def apply_image(
        self,
        image: MetadataImage,
        log_config: Callable[[str], LogConfig],
        min_insync_replicas: Callable[[str], int],
    ) -> None:
        """Make the hosted partitions match ``image``: open the logs of new replicas, apply
        leadership and configs, delete the logs of partitions no longer here.

        Only what changed since the last image is visited (Kafka applies the metadata delta):
        an image shares every unchanged TopicImage with the one before it, so a topic whose
        object and configs are the same needs nothing; a change of the broker-level dynamic
        configs (defaults of every topic) visits all."""
        previous, self._image = self._image, image
        self._trio_token = trio.lowlevel.current_trio_token()
        self.leader_quota.configure(image)
        changed = _changed_topics(previous, image, self.broker_id)
        for key in [k for k in self._by_name if changed is None or k[0] in changed]:
            topic = image.topics_by_name.get(key[0])
            part = topic.partitions.get(key[1]) if topic is not None else None
            if part is None or self.broker_id not in part.replicas:
                await self._remove(key)
        for name in sorted(image.topics_by_name) if changed is None else sorted(changed):
            topic = image.topics_by_name.get(name)
            if topic is not None:
                await self._apply_topic(
                    topic,
                    log_config(name),
                    min_insync_replicas(name),
                    image.features.get(ELR_FEATURE, 0) >= 1,
                )
        if self.fetchers is not None:
            self.fetchers.update(image, [p for p in self._by_name.values() if not p.offline])

    async def _apply_topic(
        self, topic: TopicImage, config: LogConfig, min_insync: int, elr_on: bool = False
    ) -> None:
        name = topic.name
        for index, part in topic.partitions.items():
            if self.broker_id not in part.replicas:
                continue
            state = PartitionState(
                part.leader, part.leader_epoch, part.partition_epoch, part.replicas, part.isr
            )
            partition = self._by_name.get((name, index))
            if partition is not None and partition.topic_id != topic.topic_id:
                await self._remove((name, index))  # deleted and recreated under the same name
                partition = None
            if partition is None:
                lost = self._dir_unknown_here(part)
                if lost is not None:
                    # Its log is in a dir that failed before this start (Kafka's offline
                    # replica): not recreated empty in another dir, not fetched, never led.
                    if (name, index) not in self._in_lost_dirs:
                        self._in_lost_dirs.add((name, index))
                        log.warning(
                            "%s-%d: its log dir %s is offline: not opened",
                            name,
                            index,
                            kafka_uuid_string(lost),
                        )
                    continue
                try:
                    partition = await self._open(
                        name,
                        index,
                        topic.topic_id,
                        config,
                        self.logs.dir_with_id(replica_directory(part, self.broker_id)),
                    )
                except LogDirOfflineError as exc:
                    log.warning("%s-%d: not opened: %s", name, index, exc)
                    continue
            elif partition.log.config != config:
                await trio.to_thread.run_sync(self.logs.update_config, name, config)
            partition.min_insync_replicas = min_insync
            if self.isr_manager is not None:
                partition.replica_lag_time_max_ms = self.isr_manager.lag_max_ms
            partition.elr_enabled = elr_on
            if state.leader == self.broker_id:
                moved = await partition.make_leader(state)
            else:
                moved = partition.make_follower(state)
                partition.wake_waiters()  # fetchers waiting on it now answer NOT_LEADER
            if moved:
                self._leadership_changed(name, topic.topic_id, index, partition)

    async def _open(
        self,
        name: str,
        index: int,
        topic_id: uuid.UUID,
        config: LogConfig,
        preferred_dir: Path | None = None,
    ) -> Partition:
        """``preferred_dir``: the log dir the metadata assigns the replica to, for a new log
        (Kafka creates it in the assigned dir)."""
        opened, stray = await trio.to_thread.run_sync(
            self.logs.claim_log, name, index, topic_id, config, preferred_dir
        )
        if stray is not None:
            log.warning(
                "%s-%d: the log on disk belongs to an older topic of that name (another topic "
                "id); moved aside to %s, the partition starts empty",
                name,
                index,
                stray,
            )
        if opened.config != config:
            # A log loaded at start was opened with the broker defaults; the topic's own config
            # comes from the image, replayed from the metadata log.
            await trio.to_thread.run_sync(self.logs.update_config, name, config)
        producers = await trio.to_thread.run_sync(load_producer_state, opened)
        epochs = await trio.to_thread.run_sync(load_leader_epoch_cache, opened)
        if self._checkpointed_hws is None:
            read = await trio.to_thread.run_sync(self.logs.read_high_watermarks)
            self._checkpointed_hws = {(tp.topic, tp.partition): hw for tp, hw in read.items()}
        partition = Partition(
            name,
            index,
            topic_id,
            opened,
            producers,
            epochs,
            local_broker_id=self.broker_id,
            high_watermark=self._checkpointed_hws.pop((name, index), 0),
            wake=self.purgatory.wake,
        )
        partition.isr_hint = self._isr_hint
        partition.on_dir_failure = lambda exc: self.logs.fail_dir_of(opened, exc)
        self._by_name[(name, index)] = partition
        self._by_id[(topic_id, index)] = partition
        return partition

    def _dir_unknown_here(self, part: PartitionImage) -> uuid.UUID | None:
        """The dir the metadata assigns this broker's replica to when it is a real dir (not
        a reserved id) that is not one of this broker's online dirs, else None."""
        directory = replica_directory(part, self.broker_id)
        if is_reserved_directory(directory) or not self.logs.directory_ids:
            return None  # no dir, or a LogManager without directory ids (no meta.properties)
        online = {str(d) for d in self.logs.online_dirs()}
        known = {
            dir_uuid(directory_id)
            for path, directory_id in self.logs.directory_ids.items()
            if path in online
        }
        return None if directory in known else directory

    async def move_strays(self, image: MetadataImage) -> list[Path]:
        """Move aside the logs on disk that ``image`` does not place on this broker (the topic
        is gone, or the partition was reassigned away while the broker was down): Kafka's
        stray logs, renamed ``-stray`` and kept, never served. Called once the broker has
        caught up with the metadata (unfenced), never on a partial image."""
        moved: list[Path] = []
        for tp in sorted(await trio.to_thread.run_sync(self.logs.all_logs)):
            if (tp.topic, tp.partition) in self._by_name:
                continue
            topic = image.topics_by_name.get(tp.topic)
            part = topic.partitions.get(tp.partition) if topic is not None else None
            if part is not None and self.broker_id in part.replicas:
                continue  # placed here: opened (and its topic id checked) by apply_image
            renamed = await trio.to_thread.run_sync(self.logs.mark_stray, tp.topic, tp.partition)
            if renamed is not None:
                why = "no such topic" if topic is None else "not a replica here"
                log.warning("%s-%d: stray log (%s), moved aside to %s", *tp, why, renamed)
                moved.append(renamed)
        return moved

    def _dir_failed(self, log_dir: Path) -> None:
        """LogManager's listener: every partition with its log in ``log_dir`` goes offline
        (KAFKA_STORAGE_ERROR to every request), its waiters are woken to answer so."""
        hit = [p for p in list(self._by_name.values()) if Path(p.log.dir).parent == log_dir]
        for partition in hit:
            partition.offline = True
        token = self._trio_token
        if token is not None:
            token.run_sync_soon(self._stop_serving, hit)

    def _stop_serving(self, offline: list[Partition]) -> None:
        """In trio's thread: waiters answer 56 now, and no fetcher copies into a dead dir."""
        for partition in offline:
            partition.wake_waiters()
        if self.fetchers is not None and self._image is not None:
            self.fetchers.update(self._image, [p for p in self._by_name.values() if not p.offline])

    def _isr_hint(self) -> None:
        if self.isr_manager is not None:
            self.isr_manager.wake()

    async def _remove(self, key: TopicPartitionKey) -> None:
        partition = self._by_name.pop(key)
        self._by_id.pop((partition.topic_id, partition.partition), None)
        partition.wake_waiters()  # wake fetchers so they notice the partition is gone
        self._leadership_changed(key[0], partition.topic_id, key[1], None)
        # A replica fetcher may be appending to it (it learns of the removal after this
        # image): the deletion waits for that append, and later ones fail and back off.
        async with partition.append_lock:
            await trio.to_thread.run_sync(self.logs.delete_log, *key)

    # -- high watermark checkpoints ----------------------------------------------------------

    def _online_high_watermarks(self) -> dict[TopicPartitionKey, int]:
        return {key: p.high_watermark for key, p in self._by_name.items() if not p.offline}

    async def checkpoint_high_watermarks_every(self, interval_ms: int) -> None:
        """Write every hosted partition's high watermark to replication-offset-checkpoint
        each ``interval_ms`` (Kafka's replica.high.watermark.checkpoint.interval.ms), so a
        broker killed without a clean shutdown restarts from a recent one. Until cancelled. A
        run of failed writes (a full disk, no file descriptors) is one ERROR line, and the
        write that works again says so; each round is the retry."""
        failing: str | None = None
        while True:
            await trio.sleep(interval_ms / 1000)
            async with self._hw_checkpoint_lock:
                if self._hw_checkpoints_closed:
                    return
                high_watermarks = self._online_high_watermarks()
                try:
                    await trio.to_thread.run_sync(
                        self.logs.checkpoint_high_watermarks, high_watermarks
                    )
                except OSError as e:
                    if failing != str(e):
                        log.error(
                            "writing replication-offset-checkpoint failed: %s; retried every %d ms",
                            e,
                            interval_ms,
                        )
                    failing = str(e)
                    continue
            if failing is not None:
                log.info("writing replication-offset-checkpoint works again")
                failing = None

    # -- shutdown ----------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Snapshot every partition's producer state and checkpoint the high watermarks
        (before the LogManager closes the logs)."""
        online = {key: p for key, p in self._by_name.items() if not p.offline}
        snapshots = [
            (p.producers, p.log.log_end_offset, p.producers.snapshot_entries())
            for p in online.values()
            if p.producers.last_snapshot_offset != p.log.log_end_offset
        ]
        await trio.to_thread.run_sync(_write_snapshots, snapshots)
        async with self._hw_checkpoint_lock:
            self._hw_checkpoints_closed = True
            high_watermarks = self._online_high_watermarks()
            await trio.to_thread.run_sync(self.logs.checkpoint_high_watermarks, high_watermarks)


def _write_snapshots(snapshots: list[tuple[ProducerState, int, list[SnapshotEntry]]]) -> None:
    for state, end, entries in snapshots:
        state.write_snapshot(end, entries)


def _changed_topics(
    previous: MetadataImage | None, image: MetadataImage, broker_id: int
) -> set[str] | None:
    """Names of the topics that changed (added, removed, partitions or own configs), or None
    when every topic must be visited (the first image, broker-level configs changed, or the
    eligible.leader.replicas.version level, which every leader's high watermark rule reads)."""
    if (
        previous is None
        or any(previous.broker_config(b) != image.broker_config(b) for b in (None, broker_id))
        or previous.features.get(ELR_FEATURE, 0) != image.features.get(ELR_FEATURE, 0)
    ):
        return None
    before, after = previous.topics_by_name, image.topics_by_name
    changed = {name for name, topic in after.items() if before.get(name) is not topic}
    changed.update(name for name in before if name not in after)
    changed.update(
        name
        for (resource, name), values in {**previous.configs, **image.configs}.items()
        if resource == TOPIC_RESOURCE
        and previous.configs.get((resource, name)) != image.configs.get((resource, name))
    )
    return changed
