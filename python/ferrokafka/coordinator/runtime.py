"""CoordinatorRuntime: what every coordinator shares (Kafka's ``CoordinatorRuntime``). A
coordinator keeps its state on the partitions of an internal topic (``__consumer_offsets``,
later ``__transaction_state``); the runtime follows their leadership on this broker:

- **Load** a partition when this broker becomes its leader: replay its records from the log
  start to the log end into the coordinator (:meth:`CoordinatorShard.replay`; the records of a
  transactional batch to :meth:`CoordinatorShard.replay_transactional`, a transaction marker to
  :meth:`CoordinatorShard.replay_end_transaction`, as Kafka's CoordinatorLoaderImpl), then mark
  it active. Until then requests for it get COORDINATOR_LOAD_IN_PROGRESS. To the log end, as
  Kafka's CoordinatorLoaderImpl does, not to the high watermark: a new leader's high
  watermark trails the one its predecessor acknowledged writes at (a follower learns it one
  fetch later), so records above it may well be acknowledged commits; as leader this log is
  never truncated, so they will all be committed.
- **Unload** it when leadership moves away (or the topic goes): the coordinator drops its
  state (:meth:`CoordinatorShard.unload`); requests get NOT_COORDINATOR, the client's cue to
  ask FindCoordinator again.
- **Write** through :meth:`Partition.append_as_leader` (acks=1, as Kafka's coordinators do) and
  then wait in the purgatory until the high watermark covers the records: state the
  coordinator applied in ``on_appended`` is acknowledged only once it is committed.

- **Timers** (:attr:`CoordinatorRuntime.timers`, :mod:`ferrokafka.coordinator.timers`): keyed
  deadlines on trio's clock (a test's ``MockClock`` drives them), fired by one task the runtime
  runs; a member's session, a group's rebalance.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import trio

from ferrokafka.coordinator.host import CoordinatorHost
from ferrokafka.coordinator.timers import Timers
from ferrokafka.partition import AppendOrigin, Partition
from ferrokafka.protocol import error_codes as ec
from ferrokafka.storage import RecordBatch

log = logging.getLogger(__name__)

# The control records that end a transaction (Kafka's ControlRecordType COMMIT and ABORT).
_MARKERS = ("COMMIT", "ABORT")
# A coordinator write is acknowledged once replicated; Kafka bounds the wait by the request's
# own timeout, the runtime by this (far above a healthy ISR's fetch interval).
WRITE_TIMEOUT_S = 30.0


class LoadState(enum.Enum):
    LOADING = "loading"
    ACTIVE = "active"
    FAILED = "failed"


class CoordinatorShard(Protocol):
    """What the runtime calls on the coordinator whose state it loads."""

    def replay(self, partition: int, key: bytes, value: bytes | None) -> None:
        """One record of ``partition``, in log order (``value`` None: a tombstone)."""
        ...

    def replay_transactional(
        self,
        partition: int,
        producer_id: int,
        producer_epoch: int,
        key: bytes,
        value: bytes | None,
    ) -> None:
        """One record of a transactional batch of ``partition``, in log order: it is part of
        the producer's transaction until that producer's marker (a coordinator whose topic
        never holds transactional writes may treat it as an error)."""
        ...

    def replay_end_transaction(self, partition: int, producer_id: int, commit: bool) -> None:
        """The producer's COMMIT or ABORT marker on ``partition``, in log order."""
        ...

    def loaded(self, partition: int) -> None:
        """Every record up to the high watermark was replayed."""
        ...

    def unload(self, partition: int) -> None:
        """Leadership of ``partition`` moved away: drop what was loaded from it."""
        ...


@dataclass(slots=True)
class _Loaded:
    leader_epoch: int
    state: LoadState
    done: trio.Event


class CoordinatorRuntime:
    """The partitions of ``topic`` this broker leads, loaded into ``shard``."""

    def __init__(
        self,
        host: CoordinatorHost,
        topic: str,
        shard: CoordinatorShard,
        *,
        load_buffer_bytes: Callable[[], int],
    ) -> None:
        self.host = host
        self.topic = topic
        self.shard = shard
        self._load_buffer_bytes = load_buffer_bytes
        self._partitions: dict[int, _Loaded] = {}
        self._nursery: trio.Nursery | None = None
        self.timers = Timers()
        # The log offset of the record the shard is replaying now (during ``replay``), or of
        # the first record of the batch just appended (during ``on_appended``): what a shard
        # that prunes its topic (the share coordinator) needs; -1 outside both.
        self.record_offset = -1

    # -- readiness ---------------------------------------------------------------------------

    def error_code(self, partition: int) -> int:
        """0 when requests for ``partition`` can be served here, else Kafka's retriable code."""
        loaded = self._partitions.get(partition)
        if loaded is None:
            return ec.NOT_COORDINATOR
        if loaded.state is LoadState.LOADING:
            return ec.COORDINATOR_LOAD_IN_PROGRESS
        if loaded.state is LoadState.FAILED:
            return ec.COORDINATOR_NOT_AVAILABLE
        return ec.NONE

    def is_loading(self) -> bool:
        return any(p.state is LoadState.LOADING for p in self._partitions.values())

    def active_partitions(self) -> list[int]:
        return sorted(i for i, p in self._partitions.items() if p.state is LoadState.ACTIVE)

    async def wait_loaded(self, deadline: float) -> None:
        """Until every partition being loaded now is done (or the trio clock passes
        ``deadline``)."""
        with trio.move_on_at(deadline):
            for loaded in list(self._partitions.values()):
                await loaded.done.wait()

    # -- leadership --------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Follow leadership of the topic's partitions, and fire the timers, until cancelled."""
        replicas = self.host.replicas
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            nursery.start_soon(self.timers.run)
            replicas.add_leadership_listener(self.topic, self.on_leadership)
            try:
                for partition in replicas.partitions():
                    if partition.topic == self.topic:
                        self.on_leadership(partition.partition, partition)
                task_status.started()
                await trio.sleep_forever()
            finally:
                replicas.remove_leadership_listener(self.topic, self.on_leadership)
                self._nursery = None

    def on_leadership(self, index: int, partition: Partition | None) -> None:
        """The ReplicaManager's call after it changed the partition (None: gone)."""
        loaded = self._partitions.get(index)
        if partition is None or not partition.is_leader:
            if loaded is not None:
                del self._partitions[index]
                loaded.done.set()
                self.shard.unload(index)
                log.info("%s-%d: unloaded (not the leader here any more)", self.topic, index)
            return
        if loaded is not None and loaded.leader_epoch == partition.leader_epoch:
            return
        if loaded is not None:
            self.shard.unload(index)  # a new epoch: load afresh from the log
            loaded.done.set()
        fresh = _Loaded(partition.leader_epoch, LoadState.LOADING, trio.Event())
        self._partitions[index] = fresh
        assert self._nursery is not None, "the runtime is not running"
        self._nursery.start_soon(self._load, partition, fresh)

    async def _load(self, partition: Partition, loaded: _Loaded) -> None:
        index = partition.partition
        try:
            records = await self._replay(partition, loaded)
        except Exception:
            log.exception("%s-%d: load failed", self.topic, index)
            if self._partitions.get(index) is loaded:
                loaded.state = LoadState.FAILED
            loaded.done.set()
            return
        if self._partitions.get(index) is loaded:  # still ours: not resigned meanwhile
            loaded.state = LoadState.ACTIVE
            self.shard.loaded(index)
            log.info(
                "%s-%d: loaded %d records (leader epoch %d)",
                self.topic,
                index,
                records,
                loaded.leader_epoch,
            )
        loaded.done.set()

    async def _replay(self, partition: Partition, loaded: _Loaded) -> int:
        """Replay from the log start to the log end; stops early if unloaded."""
        buffer_bytes = self._load_buffer_bytes()
        offset = partition.log_start_offset
        end = partition.log_end_offset
        records = 0
        while offset < end and self._partitions.get(partition.partition) is loaded:
            batches = await trio.to_thread.run_sync(
                lambda o=offset: partition.log.read_batches(o, buffer_bytes, max_offset=end)
            )
            if not batches:
                break
            for batch in batches:
                records += self._replay_batch(partition.partition, batch, offset)
            offset = batches[-1].next_offset
        return records

    def _replay_batch(self, index: int, batch: RecordBatch, offset: int) -> int:
        """Replay the records of ``batch`` from ``offset`` on; how many were replayed."""
        if batch.is_control:
            marker = batch.control_record()
            if marker is not None and batch.base_offset >= offset and marker[0] in _MARKERS:
                commit = marker[0] == "COMMIT"
                self.shard.replay_end_transaction(index, batch.producer_id, commit)
            return 0  # a marker is no record of the coordinator's
        records = 0
        for record in batch.records():
            if record.offset < offset or record.key is None:
                continue
            self.record_offset = record.offset
            if batch.is_transactional:
                self.shard.replay_transactional(
                    index, batch.producer_id, batch.producer_epoch, record.key, record.value
                )
            else:
                self.shard.replay(index, record.key, record.value)
            self.record_offset = -1
            records += 1
        return records

    # -- writes ------------------------------------------------------------------------------

    def _appended(self, offset: int, on_appended: Callable[[], None]) -> None:
        self.record_offset = offset
        try:
            on_appended()
        finally:
            self.record_offset = -1

    async def write(
        self, index: int, batch: bytes, on_appended: Callable[[], None] | None = None
    ) -> int:
        """Append ``batch`` to partition ``index`` if it is loaded here; ``on_appended`` runs
        right after the write, before any other write to the partition. 0 once the high
        watermark covers it, else Kafka's error code."""
        code = self.error_code(index)
        if code:
            return ec.COORDINATOR_NOT_AVAILABLE if code == ec.NOT_COORDINATOR else code
        found = self.host.replicas.leader_partition_or_error(self.topic, index)
        if isinstance(found, int):
            return ec.COORDINATOR_NOT_AVAILABLE
        result = await found.append_as_leader(
            batch,
            origin=AppendOrigin.COORDINATOR,
            required_acks=1,
            on_appended=(
                (lambda info: self._appended(info.first_offset, on_appended))
                if on_appended is not None
                else None
            ),
        )
        if result.code:
            log.warning(
                "append to %s-%d failed: error %d %s",
                self.topic,
                index,
                result.code,
                result.message or "",
            )
            # Kafka's coordinators answer a failed log dir (a full disk) with NOT_COORDINATOR:
            # the client looks the coordinator up again and retries.
            return ec.NOT_COORDINATOR if result.code == ec.KAFKA_STORAGE_ERROR else result.code
        assert result.info is not None
        end = result.info.last_offset + 1
        committed = found.commits_on_append or await self.host.replicas.purgatory.wait_until(
            lambda: found.high_watermark >= end or not found.is_leader,
            [found.key],
            trio.current_time() + WRITE_TIMEOUT_S,
        )
        if not found.is_leader:
            return ec.NOT_COORDINATOR
        return ec.NONE if committed else ec.REQUEST_TIMED_OUT
