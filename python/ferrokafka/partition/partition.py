"""Partition: one per topic-partition this broker hosts, leader or follower (Kafka's
``Partition``). It owns the log and every piece of state derived from it — high watermark,
last stable offset, producer state, leader-epoch cache, the append lock and the wake-ups of
waiting fetchers — and its replica state from the metadata (leader, leader epoch, partition
epoch, replicas, ISR). Produce and the coordinators append through it; nothing else does.

Last stable offset (LSO): the first offset of the oldest transaction that has no marker yet,
or whose marker is not yet below the high watermark, capped by the high watermark; it moves
with the high watermark and the markers (see :mod:`ferrokafka.partition.txn_state`).

High watermark: the leader keeps it as state and moves it forward only when the smallest log
end offset in the ISR moves (its own after an append, a follower's after a fetch); a follower
takes the leader's, bounded by its own log end. With one node the ISR is this node alone, so an
append commits at once, but through the same path a replicated partition takes.

Threading: every method runs in the trio thread. An append that may wait (a large batch, or a
log that fsyncs per append) holds :attr:`append_lock` across its worker-thread write so that
producer checks, the append and the producer-state update of another append cannot
interleave with it; an inline append never yields, so it needs no lock.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import time
import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path

import trio

from ferrokafka.partition import appends, markers
from ferrokafka.partition.appends import AppendResult
from ferrokafka.partition.errors import leader_epoch_error, storage_error_code
from ferrokafka.partition.isr import FollowerProgress, may_join
from ferrokafka.partition.leader_epochs import LeaderEpochCache
from ferrokafka.partition.producer_state import (
    Marker,
    ProducerState,
    load_producer_state,
    marker_in,
)
from ferrokafka.partition.txn_state import VerificationGuard
from ferrokafka.protocol import error_codes as ec
from ferrokafka.storage import (
    AppendInfo,
    BatchHeader,
    FerrokafkaError,
    FetchInfo,
    Log,
    LogConfig,
    LogDirOfflineError,
    build_control_batch,
    fails_log_dir,
)

log = logging.getLogger(__name__)

# Kafka's "no leader" broker id.
NO_LEADER = -1
# Kafka's replica.lag.time.max.ms default.
DEFAULT_REPLICA_LAG_TIME_MAX_MS = 30_000.0
# The worker threads that inflate compressed batches (see appends.CONCURRENT_INFLATES_MAX),
# one limiter per trio run (per broker process; tests run many).
_INFLATE_LIMITER: trio.lowlevel.RunVar[trio.CapacityLimiter] = trio.lowlevel.RunVar(
    "ferrokafka_inflate_limiter"
)


def _inflate_limiter() -> trio.CapacityLimiter:
    try:
        return _INFLATE_LIMITER.get()
    except LookupError:
        limiter = trio.CapacityLimiter(appends.CONCURRENT_INFLATES_MAX)
        _INFLATE_LIMITER.set(limiter)
        return limiter


class AppendOrigin(enum.Enum):
    """Who appends (Kafka's AppendOrigin): a client's Produce, or a coordinator's own write.
    Rules only for clients (sequences, retries, no control batches) skip the coordinator,
    whose control batches are transaction markers."""

    CLIENT = "client"
    COORDINATOR = "coordinator"


@dataclass(frozen=True, slots=True)
class PartitionState:
    """A partition as the metadata describes it (Kafka's PartitionRegistration)."""

    leader: int
    leader_epoch: int
    partition_epoch: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


@dataclass(slots=True)
class PartitionRead:
    """What :meth:`Partition.read` found: an error code, or the offsets it snapshotted before
    reading (what is returned never passes them) and the records' file regions. Never changed
    once made (not frozen: one is built per partition of every Fetch)."""

    code: int
    high_watermark: int = -1
    last_stable_offset: int = -1
    log_start_offset: int = -1
    info: FetchInfo | None = None
    # A read_committed read: (producer id, first offset) of the aborted transactions of the
    # returned range (Kafka's FetchDataInfo.abortedTransactions); None for other reads.
    aborted_transactions: list[tuple[int, int]] | None = None
    # A follower's fetch whose last fetched epoch diverges from the leader's log: the largest
    # epoch at or below it and that epoch's end offset (Kafka's diverging epoch), else -1.
    diverging_epoch: int = -1
    diverging_end_offset: int = -1


def monotonic_ms() -> float:
    """The clock followers' lag is measured by."""
    return time.monotonic() * 1000.0


class Partition:
    """A hosted partition; made by the ReplicaManager, which applies metadata to it."""

    def __init__(
        self,
        topic: str,
        index: int,
        topic_id: uuid.UUID,
        log: Log,
        producers: ProducerState,
        epochs: LeaderEpochCache,
        *,
        local_broker_id: int,
        high_watermark: int = 0,
        wake: Callable[[Hashable], None] = lambda key: None,
    ) -> None:
        self.topic = topic
        self.partition = index
        self.topic_id = topic_id
        self.log = log
        self.producers = producers
        self.epochs = epochs
        self.local_broker_id = local_broker_id
        self.leader_id = NO_LEADER
        # Whether this broker leads the partition (kept with leader_id: read on every append).
        self.is_leader = False
        # What requests waiting on this partition watch in the purgatory.
        self.key: tuple[uuid.UUID, int] = (topic_id, index)
        self.leader_epoch = -1
        self.partition_epoch = -1
        self.replicas: tuple[int, ...] = ()
        self.isr: tuple[int, ...] = ()
        # The topic's effective min.insync.replicas, set by the ReplicaManager with the config.
        self.min_insync_replicas = 1
        # Whether the cluster finalized eligible.leader.replicas.version 1 (KIP-966): then the
        # high watermark waits while the ISR is below min.insync.replicas (set with it).
        self.elr_enabled = False
        self.append_lock = trio.Lock()
        # A checkpointed high watermark can be above a log that recovery cut short.
        self._high_watermark = min(max(high_watermark, log.log_start_offset), log.log_end_offset)
        producers.on_high_watermark(self._high_watermark)
        # Followers as the leader last saw them in their fetches (this leader epoch only).
        self._followers: dict[int, FollowerProgress] = {}
        # The log end when this broker became leader in this epoch: a follower joins the ISR
        # only past it (Kafka's leaderEpochStartOffsetOpt).
        self.leader_epoch_start_offset = -1
        # The ISR of an AlterPartition in flight (None: none is; no other is sent meanwhile).
        # Until the metadata has it, the high watermark counts the old and the new ISR alike
        # (Kafka's "maximal ISR"): a follower joining is never in the ISR without every record
        # below the high watermark, and one leaving still counts until it is out.
        self.pending_isr: tuple[int, ...] | None = None
        # How long a follower counts as caught up after its last catch-up (the broker's
        # replica.lag.time.max.ms, set by the ReplicaManager): one caught up and outside the
        # ISR holds the high watermark too, as it is about to join (Kafka's
        # shouldWaitForReplicaToJoinIsr).
        self.replica_lag_time_max_ms = DEFAULT_REPLICA_LAG_TIME_MAX_MS
        # Told when a follower outside the ISR may have caught up (the ISR manager's wake).
        self.isr_hint: Callable[[], None] = lambda: None
        # Wakes the requests waiting on this partition (the ReplicaManager's purgatory).
        self._wake = wake
        # Its log dir failed (storage/dir_failure.py): every append and read answers
        # KAFKA_STORAGE_ERROR until the broker restarts (Kafka's HostedPartition.Offline).
        self.offline = False
        # Told an I/O error that fails the log dir (the ReplicaManager takes the dir offline).
        self.on_dir_failure: Callable[[OSError], None] = lambda exc: None

    def __repr__(self) -> str:
        role = "leader" if self.is_leader else f"follower of {self.leader_id}"
        return f"<Partition {self.topic}-{self.partition} {role} epoch {self.leader_epoch}>"

    # -- offsets -----------------------------------------------------------------------------

    @property
    def log_start_offset(self) -> int:
        return self.log.log_start_offset

    @property
    def log_end_offset(self) -> int:
        return self.log.log_end_offset

    @property
    def high_watermark(self) -> int:
        return self._high_watermark

    @property
    def last_stable_offset(self) -> int:
        """Kafka's UnifiedLog.lastStableOffset: the first unstable offset (never below the
        log start) when it is below the high watermark, else the high watermark."""
        hw = self._high_watermark
        first = self.producers.first_unstable_offset()
        if first is None:
            return hw
        return min(max(first, self.log.log_start_offset), hw)

    def _set_high_watermark(self, high_watermark: int) -> None:
        """Move the high watermark (it only rises here): transactions whose marker it now
        covers are stable (Kafka's onHighWatermarkUpdated)."""
        self._high_watermark = high_watermark
        self.producers.on_high_watermark(high_watermark)

    # -- replica state -----------------------------------------------------------------------

    async def make_leader(self, state: PartitionState) -> bool:
        """Take leadership as ``state`` says; True when the leader epoch is new to this
        partition. Kafka's leader records its epoch at the log end when it takes over, so the
        epoch is known before anything is written in it. A new epoch waits for an append in
        progress (a fetched answer of the follower this replica was, as Kafka's fetcher
        finishes a partition before it changes role): its records belong to the old epoch,
        below the new one's start offset."""
        assert state.leader == self.local_broker_id, state
        if state.leader_epoch != self.leader_epoch or not self.is_leader:
            async with self.append_lock:
                return await self._make_leader(state)
        return await self._make_leader(state)

    def follows_at(self, leader_epoch: int) -> bool:
        """Whether this replica still follows under ``leader_epoch`` (what a fetched answer
        was asked under): else the answer is stale and nothing of it may be applied."""
        return not self.is_leader and self.leader_epoch == leader_epoch

    async def _make_leader(self, state: PartitionState) -> bool:
        new_epoch = state.leader_epoch != self.leader_epoch or not self.is_leader
        self._apply(state)
        if new_epoch:
            # Followers' positions are learnt afresh from their fetches under the new epoch;
            # ISR members count as caught up now (Kafka's resetReplicaState).
            now = monotonic_ms()
            self._followers = {
                r: FollowerProgress(last_caught_up_ms=now if r in state.isr else 0.0)
                for r in state.replicas
                if r != self.local_broker_id
            }
            self.leader_epoch_start_offset = self.log.log_end_offset
        if self.epochs.latest_epoch != state.leader_epoch:
            end = self.log.log_end_offset
            await trio.to_thread.run_sync(self.epochs.assign, state.leader_epoch, end)
        self._maybe_increment_high_watermark()
        return new_epoch

    def make_follower(self, state: PartitionState) -> bool:
        """Follow ``state.leader`` (or no one: -1); True when the leader or epoch changed.
        The ReplicaManager's fetchers then fetch it from the leader (replica_fetcher.py)."""
        assert state.leader != self.local_broker_id, state
        changed = state.leader != self.leader_id or state.leader_epoch != self.leader_epoch
        self._apply(state)
        self._followers = {}
        self.leader_epoch_start_offset = -1
        return changed

    @property
    def isr_change_pending(self) -> bool:
        """An AlterPartition for this partition is in flight."""
        return self.pending_isr is not None

    @property
    def maximal_isr(self) -> frozenset[int]:
        """The ISR the high watermark counts: the current one, with the one asked for while
        an AlterPartition is in flight."""
        if self.pending_isr is None:
            return frozenset(self.isr)
        return frozenset(self.isr) | frozenset(self.pending_isr)

    def _apply(self, state: PartitionState) -> None:
        if state.partition_epoch != self.partition_epoch:
            self.pending_isr = None  # the change (or another) reached the metadata
        self.leader_id = state.leader
        self.is_leader = state.leader == self.local_broker_id
        self.leader_epoch = state.leader_epoch
        self.partition_epoch = state.partition_epoch
        self.replicas = state.replicas
        self.isr = state.isr

    def update_follower_fetch_state(
        self,
        replica_id: int,
        log_end_offset: int,
        log_start_offset: int = -1,
        *,
        now_ms: float | None = None,
        broker_epoch: int = -1,
        current_leader_epoch: int = -1,
        last_fetched_epoch: int = -1,
    ) -> bool:
        """A follower's fetch told its log end (the fetch offset) and log start offset: True
        when the high watermark moved. A moved log start wakes DeleteRecords waiting for the
        low watermark.

        Only a fetch this leader would serve counts (Kafka's ``Partition.fetchRecords``
        updates the follower state after the read succeeded, with no diverging epoch): one
        for another leader epoch (a follower that knows a newer leader, or a request that sat
        in a cut network), past this log's end, or whose ``last_fetched_epoch`` diverges from
        this log says nothing about records of this log, and counting it would let the high
        watermark cover records the follower does not have (acknowledged, then lost)."""
        if not self.is_leader or replica_id not in self.replicas:
            return False
        if leader_epoch_error(current_leader_epoch, self.leader_epoch):
            return False
        if log_end_offset > self.log.log_end_offset:
            return False
        if last_fetched_epoch >= 0:
            epoch, end = self.epochs.end_offset_for(last_fetched_epoch, self.log.log_end_offset)
            if epoch < last_fetched_epoch or end < log_end_offset:
                return False
        progress = self._followers.get(replica_id)
        if progress is None:
            progress = self._followers[replica_id] = FollowerProgress()
        start_moved = log_start_offset >= 0 and progress.log_start_offset != log_start_offset
        now = monotonic_ms() if now_ms is None else now_ms
        progress.fetched(
            log_end_offset, log_start_offset, now, self.log.log_end_offset, broker_epoch
        )
        if replica_id not in self.isr and may_join(
            progress, self._high_watermark, self.leader_epoch_start_offset
        ):
            self.isr_hint()
        moved = self._maybe_increment_high_watermark()
        if start_moved and not moved:
            self.wake_waiters()  # a moved high watermark has woken them already
        return moved

    def follower_progress(self, replica_id: int) -> FollowerProgress | None:
        """What this leader learnt of ``replica_id`` from its fetches (None: nothing yet)."""
        return self._followers.get(replica_id)

    @property
    def followers(self) -> dict[int, FollowerProgress]:
        return self._followers

    @property
    def low_watermark(self) -> int:
        """The smallest log start offset among the leader and its followers (Kafka's
        ``lowWatermarkIfLeader``): what DeleteRecords waits for. Kafka takes every replica on a
        live broker; until brokers' liveness reaches partitions (the cluster issue), a follower
        counts once it is in the ISR or has fetched, and one that has not reported its log
        start yet holds the low watermark at -1 (unknown), as Kafka's empty replica state does."""
        low = self.log.log_start_offset
        for replica in self.replicas:
            if replica == self.local_broker_id:
                continue
            progress = self._followers.get(replica)
            fetched = progress is not None and progress.log_end_offset >= 0
            if replica in self.isr or fetched:
                low = min(low, progress.log_start_offset if progress is not None else -1)
        return low

    def update_high_watermark_as_follower(self, leader_high_watermark: int) -> None:
        """A follower takes the leader's high watermark, never past its own log end."""
        hw = min(leader_high_watermark, self.log.log_end_offset)
        if hw > self._high_watermark:
            self._set_high_watermark(hw)
            self.wake_waiters()

    @property
    def is_under_min_isr(self) -> bool:
        """Kafka's ``Partition.isUnderMinIsr``: this broker leads and the ISR is smaller than
        min.insync.replicas (at most the replica count, Kafka's ``effectiveMinIsr``)."""
        effective = min(self.min_insync_replicas, max(len(self.replicas), 1))
        return self.is_leader and len(self.isr) < effective

    def _maybe_increment_high_watermark(self) -> bool:
        """The leader's high watermark: the smallest log end offset in the ISR. It never moves
        back (a shrunk ISR does not uncommit records). With eligible leader replicas on it
        does not move while the ISR is below min.insync.replicas (KIP-966, Kafka 4.4's
        ``maybeIncrementLeaderHW``): a record the HW covers is then on at least
        min.insync.replicas replicas, all of which the controller may elect from the ELR."""
        if not self.is_leader:
            return False
        if self.elr_enabled and self.is_under_min_isr:
            return False
        leader_end = hw = self.log.log_end_offset
        members = self.maximal_isr
        now: float | None = None
        for replica in members:
            if replica != self.local_broker_id:
                progress = self._followers.get(replica)
                end = progress.log_end_offset if progress is not None else -1
                hw = min(hw, end if end >= 0 else self._high_watermark)
        for replica, progress in self._followers.items():
            # Caught up but not (yet) in the ISR: about to join, so it holds the HW as well.
            if replica in members or progress.log_end_offset < 0 or progress.log_end_offset >= hw:
                continue
            now = monotonic_ms() if now is None else now
            if progress.is_caught_up(leader_end, now, self.replica_lag_time_max_ms):
                hw = progress.log_end_offset
        if hw <= self._high_watermark:
            return False
        self._set_high_watermark(hw)
        self.wake_waiters()
        return True

    # -- waiting ------------------------------------------------------------------------------

    @property
    def commits_on_append(self) -> bool:
        """The ISR is this leader alone: an append moves the high watermark at once, so an
        acks=all produce needs no wait."""
        return self.is_leader and self.isr == (self.local_broker_id,)

    def wake_waiters(self) -> None:
        """Have every request waiting on this partition check its condition again."""
        self._wake(self.key)

    # -- appends -----------------------------------------------------------------------------

    def appends_inline(
        self, records: bytes | memoryview, header: BatchHeader | None = None
    ) -> bool:
        """Whether appending ``records`` needs no wait (see :mod:`appends`). ``header`` is
        their batch header when the caller has read it already (None: read here)."""
        if header is None:
            header = appends.header_of(records)
        return appends.inline(self, records, header)

    def append_as_leader_nowait(
        self,
        records: bytes | memoryview,
        *,
        origin: AppendOrigin,
        required_acks: int,
        header: BatchHeader | None = None,
        verification: VerificationGuard | None = None,
    ) -> AppendResult:
        """Check and append in the trio thread, for an append :meth:`appends_inline`
        allows: nothing here yields, so check, append and state update are one step."""
        config = self.log.config
        refused = self._leader_refusal(records, required_acks, config)
        if refused is not None:
            return refused
        if header is None:
            header = appends.header_of(records)
        if _is_marker(header, origin):
            return self._append_marker_nowait(records)
        try:
            refused = appends.admitted(
                self,
                records,
                header,
                config,
                keyless_checked=False,
                from_client=origin is AppendOrigin.CLIENT,
                verification=verification,
            )
        except BlockingIOError as exc:  # a compacted topic's key check met a big inflation
            raise appends.InflateInWorkerThread(str(exc)) from exc
        if refused is not None:
            return refused
        epoch = self.leader_epoch
        end = self.log.log_end_offset
        try:
            # A request's read-only view of its frame goes to the log uncopied.
            info = self.log.append(
                records, leader_epoch=epoch, inflate_max=appends.INLINE_INFLATE_BYTES_MAX
            )
        except BlockingIOError as exc:
            raise appends.InflateInWorkerThread(str(exc)) from exc
        except (FerrokafkaError, OSError) as exc:
            return self._storage_refusal(exc, end)
        return self._appended(epoch, info)

    async def append_as_leader(
        self,
        records: bytes | memoryview,
        *,
        origin: AppendOrigin,
        required_acks: int,
        on_appended: Callable[[AppendInfo], None] | None = None,
        header: BatchHeader | None = None,
        verification: VerificationGuard | None = None,
        transaction_version: int = 0,
    ) -> AppendResult:
        """Append ``records`` (one validated-by-the-handler batch) as this partition's leader:
        Kafka's checks in its order, the producer's sequence and epoch, the write (in a worker
        thread when large or fsynced), the epoch cache, producer state and high watermark.
        ``on_appended`` runs right after the write, before any other append can start.
        ``header`` is the batch's header when the caller has read it already. A control
        batch from the coordinator is a transaction marker (:meth:`append_txn_marker`).
        ``verification``: the KIP-890 guard of the produce path (None: none asked for);
        ``transaction_version``: that of a marker's transaction (its epoch rule)."""
        if header is None:
            header = appends.header_of(records)
        if _is_marker(header, origin):
            return await self._append_marker(
                records, required_acks, on_appended, transaction_version
            )
        if on_appended is None and appends.inline(self, records, header):
            try:
                return self.append_as_leader_nowait(
                    records,
                    origin=origin,
                    required_acks=required_acks,
                    header=header,
                    verification=verification,
                )
            except appends.InflateInWorkerThread:
                pass  # a bomb, or just a big inflation: in a worker thread below
        config = self.log.config
        refused = self._leader_refusal(records, required_acks, config)
        if refused is not None:
            return refused
        big = memoryview(records).nbytes > appends.INLINE_APPEND_BYTES_MAX
        inflates = appends.compressed(header)
        keyless_checked = (big or inflates) and "compact" in config.cleanup_policy
        if keyless_checked:
            # Walks (and inflates) the batch: in a worker thread, as big appends.
            refused = await trio.to_thread.run_sync(
                appends.keyless_records,
                self,
                bytes(records),
                limiter=_inflate_limiter() if inflates else None,
            )
            if refused is not None:
                return refused
        in_thread = big or config.flush_messages is not None or inflates
        async with self.append_lock:
            if not self.is_leader:  # became a follower while waiting for the lock
                return AppendResult(ec.NOT_LEADER_OR_FOLLOWER)
            refused = appends.admitted(
                self,
                records,
                header,
                self.log.config,  # read again: it may have changed during the waits
                keyless_checked=keyless_checked,
                from_client=origin is AppendOrigin.CLIENT,
                verification=verification,
            )
            if refused is not None:
                return refused
            epoch = self.leader_epoch
            end = self.log.log_end_offset
            try:
                if in_thread:
                    info = await trio.to_thread.run_sync(
                        lambda: self.log.append(records, leader_epoch=epoch),
                        limiter=_inflate_limiter() if inflates else None,
                    )
                else:
                    info = self.log.append(records, leader_epoch=epoch)
            except (FerrokafkaError, OSError) as exc:
                return self._storage_refusal(exc, end)
            result = self._appended(epoch, info)
            if not self.is_leader:
                # Leadership moved while the write was in a worker thread; the records stay
                # in the log (the new leader's truncation decides their fate), so the epoch
                # cache and producer state follow them, but they are not acknowledged here.
                return AppendResult(ec.NOT_LEADER_OR_FOLLOWER)
            if on_appended is not None:
                on_appended(info)
        if info.producer_id >= 0:
            await self._maybe_snapshot()
        return result

    async def append_txn_marker(
        self,
        producer_id: int,
        producer_epoch: int,
        coordinator_epoch: int,
        commit: bool,
        *,
        on_appended: Callable[[AppendInfo], None] | None = None,
        transaction_version: int = 0,
    ) -> AppendResult:
        """Write the COMMIT (``commit``) or ABORT marker of ``producer_id``'s transaction as
        the transaction coordinator asks (WriteTxnMarkers): Kafka's marker checks (by the
        transaction's ``transaction_version``), the write, the end of the producer's
        transaction here. acks=all: the caller waits for the high watermark to pass it."""
        records = build_control_batch(
            commit=commit,
            producer_id=producer_id,
            producer_epoch=producer_epoch,
            coordinator_epoch=coordinator_epoch,
        )
        return await self.append_as_leader(
            records,
            origin=AppendOrigin.COORDINATOR,
            required_acks=-1,
            on_appended=on_appended,
            transaction_version=transaction_version,
        )

    def _marker_refusal(
        self, records: bytes | memoryview, transaction_version: int
    ) -> Marker | AppendResult:
        """The marker a coordinator's control batch holds, or why it is refused."""
        try:
            marker = marker_in(records)
        except FerrokafkaError as exc:
            return appends.storage_refusal(exc)
        if marker is None:
            return AppendResult(ec.INVALID_RECORD, "A control batch must hold one marker")
        rejected = self.producers.check_marker(marker, transaction_version)
        if rejected is not None:
            return AppendResult(rejected.code, rejected.message)
        return marker

    def _append_marker_nowait(
        self,
        records: bytes | memoryview,
        on_appended: Callable[[AppendInfo], None] | None = None,
        transaction_version: int = 0,
    ) -> AppendResult:
        """Check and write a marker in the trio thread (a page-cache write of ~80 bytes)."""
        found = self._marker_refusal(records, transaction_version)
        if isinstance(found, AppendResult):
            return found
        epoch = self.leader_epoch
        end = self.log.log_end_offset
        batch = markers.marker_batch(found, end, epoch)
        try:
            info = self.log.append_as_follower(batch)
        except (FerrokafkaError, OSError) as exc:
            return self._storage_refusal(exc, end)
        return self._marker_appended(found, epoch, info, on_appended)

    async def _append_marker(
        self,
        records: bytes | memoryview,
        required_acks: int,
        on_appended: Callable[[AppendInfo], None] | None,
        transaction_version: int,
    ) -> AppendResult:
        async with self.append_lock:
            # Checked under the lock: leadership may have moved while it was waited for.
            refused = self._leader_refusal(records, required_acks, self.log.config)
            if refused is not None:
                return refused
            if self.log.config.flush_messages is None:
                return self._append_marker_nowait(records, on_appended, transaction_version)
            # An fsync per append: the write goes to a worker thread, under the lock.
            found = self._marker_refusal(records, transaction_version)
            if isinstance(found, AppendResult):
                return found
            epoch = self.leader_epoch
            end = self.log.log_end_offset
            batch = markers.marker_batch(found, end, epoch)
            try:
                info = await trio.to_thread.run_sync(self.log.append_as_follower, batch)
            except (FerrokafkaError, OSError) as exc:
                return self._storage_refusal(exc, end)
            if not self.is_leader:
                # As a data append then: in the log (the new leader's truncation decides its
                # fate), so in the producer state too, but not acknowledged here.
                placed = dataclasses.replace(found, offset=info.first_offset)
                markers.record_marker(self.producers, self.log, placed)
                return AppendResult(ec.NOT_LEADER_OR_FOLLOWER)
            return self._marker_appended(found, epoch, info, on_appended)

    def _marker_appended(
        self,
        marker: Marker,
        epoch: int,
        info: AppendInfo,
        on_appended: Callable[[AppendInfo], None] | None,
    ) -> AppendResult:
        self.epochs.assign(epoch, info.first_offset)
        placed = dataclasses.replace(marker, offset=info.first_offset)
        markers.record_marker(self.producers, self.log, placed)
        if not self._maybe_increment_high_watermark() and len(self.replicas) > 1:
            self.wake_waiters()
        if on_appended is not None:
            on_appended(info)
        return AppendResult(ec.NONE, info=info, log_start_offset=self.log.log_start_offset)

    def _leader_refusal(
        self, records: bytes | memoryview, required_acks: int, config: LogConfig
    ) -> AppendResult | None:
        """Kafka's checks before a leader append (all but the keyless-record check of
        compacted topics, which costs a decompression), or None when they pass."""
        if self.offline:
            return AppendResult(ec.KAFKA_STORAGE_ERROR)
        if not self.is_leader:
            return AppendResult(ec.NOT_LEADER_OR_FOLLOWER)
        if required_acks == -1 and len(self.isr) < self.min_insync_replicas:
            return AppendResult(
                ec.NOT_ENOUGH_REPLICAS,
                f"The size of the current ISR is {len(self.isr)}, below min.insync.replicas",
            )
        return appends.size_refusal(config, records)

    def _storage_refusal(self, exc: FerrokafkaError | OSError, end_before: int) -> AppendResult:
        """The answer to an append the log refused; an I/O error that fails the dir takes it
        offline first. An error after the records were written (the log end moved: an fsync
        under flush.messages failed) always does: the producer state does not have the batch,
        so a retry would write it twice (Kafka fails the dir on a failed flush too)."""
        if isinstance(exc, OSError) and self._io_failed(exc, end_before):
            return AppendResult(ec.KAFKA_STORAGE_ERROR)
        return appends.storage_refusal(exc)

    def _io_failed(self, exc: OSError, end_before: int | None = None) -> bool:
        """Whether ``exc`` failed the log dir (then this partition is offline now)."""
        try:
            written = end_before is not None and self.log.log_end_offset != end_before
        except FerrokafkaError:
            written = False
        if not fails_log_dir(exc, written=written):
            return False
        log.error("%r: I/O error on its log (%s): its log dir goes offline", self, exc)
        self.offline = True
        self.on_dir_failure(exc)  # may be a worker thread's call: the listener hands over
        return True

    def _appended(self, epoch: int, info: AppendInfo) -> AppendResult:
        # The log stamped ``epoch`` on the batch; a no-op unless the epoch is new to the cache.
        self.epochs.assign(epoch, info.first_offset)
        # The batch's producer fields come with the append's info: nothing is read again.
        if info.producer_id >= 0:
            self.producers.appended(info)
        if not self._maybe_increment_high_watermark() and len(self.replicas) > 1:
            self.wake_waiters()  # followers' fetches parked at the log end read on
        return AppendResult(ec.NONE, info=info, log_start_offset=self.log.log_start_offset)

    async def _maybe_snapshot(self) -> None:
        state = self.producers
        end = self.log.log_end_offset
        if not appends.snapshot_due(self, end):
            return
        # Taken now, in the trio thread, so the entries match the log end exactly.
        entries = state.snapshot_entries()
        state.last_snapshot_offset = end  # no second snapshot while this one is written
        await trio.to_thread.run_sync(state.write_snapshot, end, entries)

    async def append_as_follower(
        self, records: bytes, *, leader_epoch: int | None = None
    ) -> AppendInfo | None:
        """Append batches fetched from the leader as they are (offsets and epochs kept): in
        the trio thread when small and not fsynced per append (a page-cache write, as a
        leader's inline append), else in a worker thread. The producer state and epoch cache
        follow the appended batches' headers, read from ``records`` in place; only a new
        epoch (a checkpoint write) takes a worker thread. With ``leader_epoch`` (the epoch
        the records were fetched under), nothing is appended (None) when this replica no
        longer follows under it (:meth:`follows_at`), checked under the append lock."""
        async with self.append_lock:
            if self.offline:
                raise LogDirOfflineError(str(Path(self.log.dir).parent))
            if leader_epoch is not None and not self.follows_at(leader_epoch):
                return None
            inline = (
                len(records) <= appends.INLINE_APPEND_BYTES_MAX
                and self.log.config.flush_messages is None
            )
            end = self.log.log_end_offset
            try:
                if inline:
                    info = self.log.append_as_follower(records)
                else:
                    info = await trio.to_thread.run_sync(self.log.append_as_follower, records)
            except OSError as exc:
                self._io_failed(exc, end)
                raise
            view = memoryview(records)
            for position, header in appends.positioned_headers(records, info.valid_bytes):
                if header.is_control and header.producer_id >= 0:
                    # A marker: ends the transaction here too, and an abort goes into this
                    # replica's transaction index (Kafka's REPLICATION origin, no checks).
                    marker = marker_in(view[position : position + header.size_in_bytes])
                    if marker is not None:
                        markers.record_marker(self.producers, self.log, marker)
                else:
                    self.producers.apply(header)
                epoch = header.partition_leader_epoch
                if epoch >= 0 and epoch != self.epochs.latest_epoch:
                    await trio.to_thread.run_sync(self.epochs.assign, epoch, header.base_offset)
        return info

    async def truncate_to(self, offset: int, *, leader_epoch: int | None = None) -> None:
        """Cut the log back to ``offset`` (a follower diverged from its leader): the epoch
        cache and high watermark follow, and the producer state is rebuilt from what is left
        (the newest snapshot at or below the new end, then the batches after it). With
        ``leader_epoch``, only while this replica follows under it (a leader's log is never
        cut by a stale answer)."""
        async with self.append_lock:
            if leader_epoch is not None and not self.follows_at(leader_epoch):
                return
            if offset >= self.log.log_end_offset:
                # Nothing to cut, but the epoch cache may still hold an epoch starting at the
                # log end: this replica led at it and was deposed before appending anything.
                # Kept, it is the last fetched epoch of every fetch, the leader answers it as
                # diverging again, and the follower truncates to the same offset for ever
                # (Kafka's UnifiedLog.truncateTo trims the cache in this case too).
                end = self.log.log_end_offset
                await trio.to_thread.run_sync(self.epochs.truncate_from_end, end)
                return
            await trio.to_thread.run_sync(self.log.truncate_to, offset)
            end = self.log.log_end_offset
            await trio.to_thread.run_sync(self.epochs.truncate_from_end, end)
            self._high_watermark = min(self._high_watermark, end)
            self.producers = await trio.to_thread.run_sync(load_producer_state, self.log)
            self.producers.on_high_watermark(self._high_watermark)

    async def truncate_fully_and_start_at(
        self, offset: int, *, leader_epoch: int | None = None
    ) -> None:
        """Empty the log and restart it at ``offset`` (a follower whose log ends below the
        leader's log start: Kafka's ``truncateFullyAndStartAt``); with ``leader_epoch``, only
        while this replica follows under it."""
        async with self.append_lock:
            if leader_epoch is not None and not self.follows_at(leader_epoch):
                return
            await trio.to_thread.run_sync(self.log.truncate_fully, offset)
            await trio.to_thread.run_sync(self.epochs.truncate_from_end, -1)
            self._high_watermark = offset
            self.producers = await trio.to_thread.run_sync(load_producer_state, self.log)
            self.producers.on_high_watermark(offset)

    async def advance_log_start_offset_as_follower(self, offset: int) -> None:
        """The leader's log start moved past this log's (retention, DeleteRecords): follow
        it, never past the high watermark (Kafka's ``maybeIncrementLogStartOffset``)."""
        async with self.append_lock:
            if not self.log.log_start_offset < offset <= self._high_watermark:
                return
            await trio.to_thread.run_sync(self.log.advance_log_start_offset, offset)
            await trio.to_thread.run_sync(self.epochs.truncate_from_start, offset)
        self.wake_waiters()

    # -- reads -------------------------------------------------------------------------------

    def read(
        self,
        fetch_offset: int,
        max_bytes: int,
        *,
        current_leader_epoch: int,
        read_committed: bool,
        min_one_batch: bool,
        nowait: bool,
        follower: bool = False,
        last_fetched_epoch: int = -1,
    ) -> PartitionRead:
        """Records from ``fetch_offset`` up to the high watermark (the last stable offset for
        read_committed; the log end for a ``follower``), as file regions. Bounds are
        snapshotted first, so what is returned never passes what is reported. A follower's
        ``last_fetched_epoch`` that diverges from this log is answered with the diverging
        epoch and no records (Kafka's ``Partition.fetchRecords``)."""
        if self.offline:
            return PartitionRead(ec.KAFKA_STORAGE_ERROR)
        code = leader_epoch_error(current_leader_epoch, self.leader_epoch)
        if code:
            return PartitionRead(code)
        log = self.log
        if follower and last_fetched_epoch >= 0:
            epoch, end = self.epochs.end_offset_for(last_fetched_epoch, log.log_end_offset)
            if epoch < last_fetched_epoch or end < fetch_offset:
                return PartitionRead(
                    ec.NONE,
                    self._high_watermark,
                    self.last_stable_offset,
                    log.log_start_offset,
                    None,
                    diverging_epoch=epoch,
                    diverging_end_offset=end,
                )
        try:
            high_watermark = self._high_watermark
            stable = self.last_stable_offset
            start, end = log.log_start_offset, log.log_end_offset
            if not start <= fetch_offset <= end:
                # Kafka answers an out-of-range fetch with unknown (-1) offsets; the client
                # then asks ListOffsets where to restart.
                return PartitionRead(ec.OFFSET_OUT_OF_RANGE)
            upper = end if follower else stable if read_committed else high_watermark
            info = None
            if fetch_offset < upper:
                info = log.read(
                    fetch_offset,
                    max_bytes,
                    max_offset=upper,
                    min_one_batch=min_one_batch,
                    nowait=nowait,
                )
            aborted = None
            if read_committed and not follower:
                # Upper bound: the LSO (what may be returned); Kafka bounds it by the end of
                # the returned bytes, which only saves entries a consumer ignores.
                aborted = (
                    log.collect_aborted_txns(fetch_offset, upper)
                    if info is not None and info.size_in_bytes
                    else []
                )
        except FerrokafkaError as exc:
            return PartitionRead(storage_error_code(exc))
        except BlockingIOError:
            raise  # how a nowait read says "not in the page cache": read again in a thread
        except OSError as exc:
            # EIO reading a segment or index: an error answer, never a dropped connection.
            self._io_failed(exc)
            return PartitionRead(storage_error_code(exc))
        return PartitionRead(ec.NONE, high_watermark, stable, start, info, aborted)


def _is_marker(header: BatchHeader | None, origin: AppendOrigin) -> bool:
    """A coordinator's control batch: a transaction marker (a client's is refused)."""
    return header is not None and header.is_control and origin is AppendOrigin.COORDINATOR
