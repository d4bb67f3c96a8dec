"""The share-partition leaders of this broker, as Kafka's ``SharePartitionManager``: one
:class:`~ferrokafka.share.partition.SharePartition` per (share group, topic-partition) this
node leads, loaded from the persister on first use, written back through it on every change
of its durable state, with the acquisition-lock timers and the share sessions.

The persister is called where Kafka's SharePartition calls it: ``read`` when a share-partition
is loaded (a state not initialized yet takes its start offset from ``share.auto.offset.reset``
and is written at once), ``write`` after every acquisition, acknowledgement, lock expiry or
release that changed what is persisted.

Records becoming AVAILABLE again (released, lock expired) wake the ShareFetch long-polls
watching their partition through the replica manager's purgatory, as an append does.

A partition that stops being led here at the epoch its share-partitions were loaded at (a
follower now, gone, or led again at a new epoch) has them dropped at once
(:meth:`SharePartitionManager.on_leadership`, the replica manager's listener, as Kafka's
SharePartitionListener): their acquisition locks end with them (the new leader reads the
persisted state, where acquired records are AVAILABLE) and the fetches waiting on them answer.

Dead-letter queue (share.version 2, KIP-1191): records a share-partition made ARCHIVING are
handed, once that state is written, to ``dead_letter`` (the DLQ writer) in a task of their
own, as Kafka's SharePartition hands them to its ShareGroupDLQManager without holding the
acknowledgement; when the write ends, written or failed ("proceeding to ARCHIVED regardless"),
they become ARCHIVED and that is written in turn.
"""

from __future__ import annotations

import datetime
import functools
import logging
import re
import struct
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import trio

from ferrokafka.coordinator.timers import Timers
from ferrokafka.partition import Partition
from ferrokafka.protocol import error_codes as ec
from ferrokafka.share.dead_letter import ORIGINALS_READ_BYTES, Original, originals_of
from ferrokafka.share.partition import Acquired, DeadLetter, ShareConfig, SharePartition
from ferrokafka.share.persister import NOT_INITIALIZED, Persister, SharePartitionKey
from ferrokafka.share.sessions import ShareSessionCache

log = logging.getLogger(__name__)

# A record batch header: baseOffset (int64) at 0, batchLength (int32) at 8, lastOffsetDelta
# (int32) at 23; the batch is 12 + batchLength bytes.
_BATCH_HEADER_BYTES = 61
_LOG_OVERHEAD = 12
_LAST_OFFSET_DELTA_AT = 23
_ATTRIBUTES_AT = 21  # int16: bit 4 transactional, bit 5 control
_PRODUCER_ID_AT = 43  # int64
_TRANSACTIONAL = 0x10
_CONTROL = 0x20
# Share-partitions one broker holds: Kafka bounds them by the groups and partitions it leads;
# this caps memory against a runaway of group ids.
SHARE_PARTITIONS_MAX = 100_000

DeadLetterWriter = Callable[[SharePartitionKey, Partition, DeadLetter], Awaitable[None]]


@dataclass(frozen=True)
class GroupShareSettings:
    """A share group's configs a share-partition uses (group configs over broker ones)."""

    config: ShareConfig
    auto_offset_reset: str = "latest"
    isolation_level: str = "read_uncommitted"


@dataclass
class FetchResult:
    error: int
    records: bytes = b""
    acquired: tuple[Acquired, ...] = ()


class SharePartitionManager:
    """Every share-partition of this broker and its share sessions."""

    def __init__(
        self,
        persister: Callable[[], Persister],
        settings: Callable[[str], GroupShareSettings],
        wake: Callable[[tuple[uuid.UUID, int]], None],
        now_ms: Callable[[], int],
        max_sessions: int,
        find: Callable[[uuid.UUID, int], Partition | None],
        dead_letter: DeadLetterWriter | None = None,
    ) -> None:
        self._find = find
        self._dead_letter = dead_letter
        self._persister = persister
        self._settings = settings
        self._wake = wake
        self._now_ms = now_ms
        self.sessions = ShareSessionCache(max_sessions)
        self.partitions: dict[SharePartitionKey, SharePartition] = {}
        # The partition leader epoch each share-partition was loaded at: it is this broker's
        # while the epoch holds; another epoch (leadership moved away, or back after a move)
        # means the cached state may be stale, so it is dropped and read again.
        self._epochs: dict[SharePartitionKey, int] = {}
        # The loaded share-partitions of each (topic id, partition): a leadership change
        # visits its own, not every share-partition of the broker.
        self._by_partition: dict[tuple[uuid.UUID, int], set[SharePartitionKey]] = {}
        self._locks: dict[SharePartitionKey, trio.Lock] = {}
        self.timers = Timers()
        self._nursery: trio.Nursery | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Fire the acquisition-lock timers until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            try:
                await self.timers.run()
            finally:
                self._nursery = None

    def in_flight(self) -> list[tuple[SharePartitionKey, int, int]]:
        """(key, in-flight records, in-flight batches) of every share-partition loaded here:
        Kafka's SharePartitionMetrics InFlightMessageCount (the records from the start offset
        to the end offset, 0 when none is in flight) and InFlightBatchCount (here, the runs of
        consecutive in-flight records in one state)."""
        out = []
        for key, sp in self.partitions.items():
            records = sp.end_offset - sp.start_offset if sp.records else 0
            batches, previous = 0, None
            for offset in sorted(sp.records):
                record = sp.records[offset]
                run = (offset, record.state, record.member_id)
                if previous is None or previous != (offset - 1, record.state, record.member_id):
                    batches += 1
                previous = run
            out.append((key, records, batches))
        return out

    # -- loading ------------------------------------------------------------------------------

    def _lock(self, key: SharePartitionKey) -> trio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = trio.Lock()
        return lock

    async def _load(self, key: SharePartitionKey, handle: Partition) -> SharePartition | int:
        """The share-partition, read from the persister on first use (under its lock)."""
        found = self.partitions.get(key)
        if found is not None:
            if self._epochs.get(key) == handle.leader_epoch:
                return found
            self._unload(key)
        if len(self.partitions) >= SHARE_PARTITIONS_MAX:
            return ec.UNKNOWN_SERVER_ERROR
        settings = self._settings(key.group_id)
        persister = self._persister()
        state = await persister.read(key, handle.leader_epoch)
        if state.error_code not in (ec.NONE, ec.UNKNOWN_TOPIC_OR_PARTITION):
            return state.error_code
        if state.error_code == ec.NONE and state.start_offset != NOT_INITIALIZED:
            sp = SharePartition.restored(
                state.start_offset, state.batches, settings.config, state.state_epoch
            )
        else:
            start = _initial_offset(handle, settings.auto_offset_reset, self._now_ms())
            sp = SharePartition(start, settings.config, state.state_epoch)
            code = await persister.write(
                key, sp.state_epoch, handle.leader_epoch, sp.start_offset, ()
            )
            if code:
                return code
        sp.on_log_start(handle.log_start_offset)
        self.partitions[key] = sp
        self._epochs[key] = handle.leader_epoch
        self._by_partition.setdefault((key.topic_id, key.partition), set()).add(key)
        self._send_dead_letters(key, sp, handle)  # ARCHIVING when last written: again
        return sp

    def on_leadership(self, topic_id: uuid.UUID, index: int, handle: Partition | None) -> None:
        """The replica manager's call after the partition changed leader or epoch, or went
        (None): the share-partitions loaded at another epoch, or no longer led here, go."""
        epoch = handle.leader_epoch if handle is not None and handle.is_leader else None
        loaded = self._by_partition.get((topic_id, index), ())
        stale = [key for key in loaded if self._epochs.get(key) != epoch]
        for key in stale:
            log.info("share-partition %s unloaded: the partition is not led here any more", key)
            self._unload(key)
        if stale:
            self._wake((topic_id, index))

    def _unload(self, key: SharePartitionKey) -> None:
        """Drop the cached share-partition (its durable state stays with the coordinator)."""
        self.partitions.pop(key, None)
        self._epochs.pop(key, None)
        self.timers.cancel(key)
        loaded = self._by_partition.get((key.topic_id, key.partition))
        if loaded is not None:
            loaded.discard(key)
            if not loaded:
                del self._by_partition[(key.topic_id, key.partition)]

    def _led_here(self, key: SharePartitionKey) -> Partition | None:
        """The partition, while this broker still leads it at the epoch the share-partition
        was loaded at; else the share-partition is unloaded (Kafka's SharePartitionManager
        drops a share-partition when its partition's leadership moves) and None."""
        handle = self._find(key.topic_id, key.partition)
        if handle is None or handle.leader_epoch != self._epochs.get(key):
            self._unload(key)
            return None
        return handle

    # -- fetching and acknowledging -----------------------------------------------------------

    async def fetch(
        self,
        key: SharePartitionKey,
        handle: Partition,
        member_id: str,
        max_bytes: int,
        max_records: int,
    ) -> FetchResult:
        """Read from the first available offset and acquire up to ``max_records`` of the
        records read for ``member_id``; the bytes are the batches that hold them."""
        async with self._lock(key):
            sp = await self._load(key, handle)
            if isinstance(sp, int):
                return FetchResult(sp)
            sp.config = self._settings(key.group_id).config
            moved = sp.on_log_start(handle.log_start_offset)
            if max_records <= 0 or not sp.can_acquire():
                if moved:
                    await self._write(key, sp, handle)
                return FetchResult(ec.NONE)
            offset = sp.next_fetch_offset()
            read_committed = self._settings(key.group_id).isolation_level == "read_committed"
            try:  # from the page cache in this thread, as Fetch does
                data_or_code = _read(handle, offset, max_bytes, read_committed, nowait=True)
            except BlockingIOError:  # the disk would be waited for: a worker thread reads
                data_or_code = await trio.to_thread.run_sync(
                    functools.partial(_read, handle, offset, max_bytes, read_committed)
                )
            if isinstance(data_or_code, int):
                return FetchResult(data_or_code)
            data, aborted = data_or_code
            headers = batch_headers(data)
            acquired = sp.acquire(
                member_id,
                [(h.first, h.last) for h in headers],
                max_records,
                self._now_ms(),
                archive=aborted_ranges(headers, aborted) if read_committed else (),
            )
            if not acquired:
                if moved:
                    await self._write(key, sp, handle)
                return FetchResult(ec.NONE)
            await self._write(key, sp, handle)
            self._schedule(key, sp, handle)
            return FetchResult(ec.NONE, _covering(data, acquired), tuple(acquired))

    async def acknowledge(
        self,
        key: SharePartitionKey,
        handle: Partition | int,
        member_id: str,
        batches: list[tuple[int, int, list[int]]],
    ) -> int:
        """Apply a member's acknowledgements; ``handle`` is the partition led here or the
        error of its lookup. As Kafka's SharePartitionManager.acknowledge, a share-partition
        not loaded here (never fetched here, or dropped when its leadership moved) is
        UNKNOWN_TOPIC_OR_PARTITION, whatever the partition's leader."""
        if isinstance(handle, int) and handle == ec.UNKNOWN_TOPIC_ID:
            return handle  # Kafka checks the topic ids first
        if key not in self.partitions:
            return ec.UNKNOWN_TOPIC_OR_PARTITION
        if isinstance(handle, int):
            return handle
        async with self._lock(key):
            sp = await self._load(key, handle)
            if isinstance(sp, int):
                return sp
            code = sp.acknowledge(member_id, batches, self._now_ms())
            if code:
                return code
            await self._write(key, sp, handle)
            self._schedule(key, sp, handle)
            self._wake(handle.key)  # released records may be fetched again
            return ec.NONE

    def connection_closed(self, connection_id: int) -> None:
        """A connection closed: its share sessions end and their members' records are
        released (Kafka's ShareGroupListener.onMemberLeave from the share session cache)."""
        for session in self.sessions.remove_connection(connection_id):
            if self._nursery is not None:
                self._nursery.start_soon(self.release_member, session.group_id, session.member_id)

    async def release_member(self, group_id: str, member_id: str) -> None:
        """A member closed its share session: its records are AVAILABLE again. When no
        member of the group has a session here any more, the group's share-partitions are
        unloaded (Kafka's SharePartitionManager does so when a share group becomes empty), so
        that offsets reset meanwhile (AlterShareGroupOffsets) are read at the next fetch."""
        keys = [k for k in self.partitions if k.group_id == group_id]
        for key in keys:
            async with self._lock(key):
                sp = self.partitions.get(key)
                handle = self._led_here(key) if sp is not None else None
                if sp is None or handle is None or not sp.release_member(member_id):
                    continue
                await self._write(key, sp, handle)
                self._wake(handle.key)
        if not self.sessions.has_group(group_id):
            for key in keys:
                async with self._lock(key):
                    self._unload(key)

    def forget_partition(self, key: SharePartitionKey) -> None:
        """The share-partition's state is being deleted (its group is): drop what is cached."""
        self._unload(key)
        self._locks.pop(key, None)

    # -- lock expiry --------------------------------------------------------------------------

    def _schedule(self, key: SharePartitionKey, sp: SharePartition, handle: Partition) -> None:
        deadline = sp.next_lock_deadline_ms()
        if deadline is None:
            self.timers.cancel(key)
            return
        delay_s = max(deadline - self._now_ms(), 0) / 1000

        def fire() -> None:
            if self._nursery is not None:
                self._nursery.start_soon(self._expire, key, handle)

        self.timers.schedule(key, delay_s, fire)

    async def _expire(self, key: SharePartitionKey, handle: Partition) -> None:
        async with self._lock(key):
            sp = self.partitions.get(key)
            if sp is None or self._led_here(key) is None:
                return
            if sp.expire_locks(self._now_ms()):
                await self._write(key, sp, handle)
                self._wake(handle.key)
            self._schedule(key, sp, handle)

    async def _write(self, key: SharePartitionKey, sp: SharePartition, handle: Partition) -> None:
        code = await self._persister().write(
            key,
            sp.state_epoch,
            # The epoch it was loaded at: a write of a broker that lost the leadership since
            # is fenced by the coordinator (the new leader's read recorded a higher one).
            self._epochs.get(key, handle.leader_epoch),
            sp.start_offset,
            sp.state_batches(),
            sp.delivery_complete_count(),
        )
        if code == ec.NONE:
            self._send_dead_letters(key, sp, handle)
        elif code in (ec.FENCED_STATE_EPOCH, ec.FENCED_LEADER_EPOCH):
            # The state was initialized again (an offset reset) or a newer leader wrote it:
            # this copy is stale. Kafka fences the SharePartition and drops it from its cache;
            # the next fetch loads the state anew.
            log.info("share-partition %s fenced (%s): unloaded", key, ec.error_name(code))
            if self.partitions.get(key) is sp:
                self._unload(key)
        elif code:
            # Kafka fails the acknowledgement then; the in-memory state stays ahead, and the
            # next successful write carries it (it replaces everything above the start).
            log.warning("share state write for %s failed: %s", key, ec.error_name(code))

    # -- the dead-letter queue ----------------------------------------------------------------

    def _send_dead_letters(
        self, key: SharePartitionKey, sp: SharePartition, handle: Partition
    ) -> None:
        for letter in sp.take_dead_letters():
            if self._nursery is None or self._dead_letter is None:
                sp.dead_lettered(letter.first_offset, letter.last_offset)
            else:
                self._nursery.start_soon(self._dead_letter_and_archive, key, sp, handle, letter)

    async def _dead_letter_and_archive(
        self, key: SharePartitionKey, sp: SharePartition, handle: Partition, letter: DeadLetter
    ) -> None:
        assert self._dead_letter is not None
        try:
            await self._dead_letter(key, handle, letter)
        except Exception:  # Kafka: "Failed to write to DLQ, proceeding to ARCHIVED regardless."
            log.exception("dead-letter write of %s %s failed", key, letter)
        async with self._lock(key):
            if self.partitions.get(key) is not sp or self._led_here(key) is None:
                return  # unloaded meanwhile: the next load finds the records ARCHIVING
            if sp.dead_lettered(letter.first_offset, letter.last_offset):
                await self._write(key, sp, handle)
                self._wake(handle.key)


async def read_originals(handle: Partition, first: int, last: int) -> dict[int, Original]:
    """The (key, value) of the records first..last of the partition's log, read in rounds
    of :data:`ORIGINALS_READ_BYTES` (an offset the log lacks is left out)."""
    found: dict[int, Original] = {}
    offset = first
    while offset <= last:
        data_or_code = await trio.to_thread.run_sync(
            functools.partial(_read, handle, offset, ORIGINALS_READ_BYTES, False)
        )
        if isinstance(data_or_code, int) or not data_or_code[0]:
            break
        got, after = originals_of(data_or_code[0], offset, last)
        found.update(got)
        if after <= offset:
            break
        offset = after
    return found


def _read(
    handle: Partition, offset: int, max_bytes: int, read_committed: bool, *, nowait: bool = False
) -> tuple[bytes, tuple[tuple[int, int], ...]] | int:
    """The record batches from ``offset`` (at least one whole batch) and, read_committed, the
    aborted transactions (producer id, first offset) among them; or an error code."""
    read = handle.read(
        offset,
        max_bytes,
        current_leader_epoch=-1,
        read_committed=read_committed,
        min_one_batch=True,
        nowait=nowait,
    )
    if read.code:
        return read.code
    info = read.info
    data = b"".join(r.read() for r in info.regions) if info is not None else b""
    return data, tuple(read.aborted_transactions or ())


@dataclass(frozen=True)
class BatchHeader:
    first: int
    last: int
    producer_id: int
    transactional: bool
    control: bool


def batch_headers(data: bytes) -> list[BatchHeader]:
    """The headers of every whole record batch in ``data``."""
    out: list[BatchHeader] = []
    pos = 0
    while pos + _BATCH_HEADER_BYTES <= len(data):
        base, length = struct.unpack_from(">qi", data, pos)
        end = pos + _LOG_OVERHEAD + length
        if length <= 0 or end > len(data):
            break
        (attributes,) = struct.unpack_from(">h", data, pos + _ATTRIBUTES_AT)
        (delta,) = struct.unpack_from(">i", data, pos + _LAST_OFFSET_DELTA_AT)
        (producer_id,) = struct.unpack_from(">q", data, pos + _PRODUCER_ID_AT)
        out.append(
            BatchHeader(
                base,
                base + delta,
                producer_id,
                bool(attributes & _TRANSACTIONAL),
                bool(attributes & _CONTROL),
            )
        )
        pos = end
    return out


def aborted_ranges(
    headers: list[BatchHeader], aborted: tuple[tuple[int, int], ...]
) -> list[tuple[int, int]]:
    """The offset ranges of the batches of aborted transactions (read_committed), as a
    read_committed consumer skips them: a producer's transactional batches from its aborted
    transaction's first offset until its next control batch (that transaction's ABORT
    marker). A share-partition archives them instead of delivering them."""
    pending = sorted(aborted, key=lambda a: a[1])
    active: set[int] = set()
    out: list[tuple[int, int]] = []
    index = 0
    for header in headers:
        while index < len(pending) and pending[index][1] <= header.last:
            active.add(pending[index][0])
            index += 1
        if header.control:
            active.discard(header.producer_id)
        elif header.transactional and header.producer_id in active:
            out.append((header.first, header.last))
    return out


def _covering(data: bytes, acquired: list[Acquired]) -> bytes:
    """The batches of ``data`` that hold some acquired offset, kept whole (the client keeps
    only the acquired records of them)."""
    first = acquired[0].first_offset
    last = acquired[-1].last_offset
    pieces = []
    pos = 0
    while pos + _BATCH_HEADER_BYTES <= len(data):
        base, length = struct.unpack_from(">qi", data, pos)
        end = pos + _LOG_OVERHEAD + length
        if length <= 0 or end > len(data):
            break
        (delta,) = struct.unpack_from(">i", data, pos + _LAST_OFFSET_DELTA_AT)
        if base + delta >= first and base <= last:
            pieces.append(data[pos:end])
        pos = end
    return b"".join(pieces)


_DURATION = re.compile(
    r"P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?"
)


def _initial_offset(handle: Partition, auto_offset_reset: str, now_ms: int) -> int:
    """The start offset of a share-partition not initialized yet: ``share.auto.offset.reset``
    earliest (the log start), latest (the high watermark, the default) or
    ``by_duration:<ISO-8601 duration>`` (the first record at or after now minus it, else the
    high watermark)."""
    log = handle.log
    if auto_offset_reset == "earliest":
        return log.log_start_offset
    if auto_offset_reset.startswith("by_duration:"):
        match = _DURATION.fullmatch(auto_offset_reset[len("by_duration:") :])
        if match is not None:
            parts = {k: float(v) for k, v in match.groupdict().items() if v}
            span = datetime.timedelta(
                days=parts.get("d", 0),
                hours=parts.get("h", 0),
                minutes=parts.get("m", 0),
                seconds=parts.get("s", 0),
            )
            found = log.offset_for_timestamp(now_ms - int(span.total_seconds() * 1000))
            if found is not None and found[0] < handle.high_watermark:
                return int(found[0])
    return handle.high_watermark
