"""The transaction coordinator: the state of every transactional id whose
``__transaction_state`` partition this broker leads, and its persistence there (Kafka's
``TransactionCoordinator`` with its ``TransactionStateManager``).

- **Where.** A transactional id lives on partition ``abs(hash(id)) % partitions`` of the
  compacted ``__transaction_state`` (created through the controller on the first
  FindCoordinator of a transactional id, as Kafka does); its leader coordinates it.
- **Load.** The :class:`~ferrokafka.coordinator.CoordinatorRuntime` replays a partition when
  this broker becomes its leader (the last record of each id wins; a tombstone removes it);
  the coordinator epoch is the partition's leader epoch then. Transactions found in
  PrepareCommit/PrepareAbort resume sending their markers.
- **Writes.** Every transition is prepared (a pending state blocks others), written as one
  record and applied once the high watermark covers it, as Kafka's appendTransactionToLog;
  a failed write leaves the state as it was.
- **Ends.** EndTxn writes PrepareCommit/PrepareAbort, answers, and hands the markers to the
  :class:`~ferrokafka.txn.markers.TxnMarkerChannel`; once all are written, CompleteCommit/
  CompleteAbort is written.
- **Timers.** Transactions older than their timeout are aborted with a bumped epoch (the old
  producer is fenced); ids idle for ``transactional.id.expiration.ms`` are tombstoned.

The decisions themselves are :mod:`ferrokafka.txn.operations` (sans-io); this module does
the I/O around them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

from ferrokafka.cluster.connector import PLAINTEXT, Connector
from ferrokafka.coordinator.partitioning import partition_for
from ferrokafka.coordinator.runtime import CoordinatorRuntime
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.storage import BatchBuilder
from ferrokafka.txn import operations as ops
from ferrokafka.txn import serde
from ferrokafka.txn.fence_log import log_fenced
from ferrokafka.txn.markers import (
    MarkerQueueFullError,
    PendingMarkers,
    SendLocal,
    TxnMarkerChannel,
)
from ferrokafka.txn.metadata import (
    NO_PRODUCER_EPOCH,
    NO_PRODUCER_ID,
    TopicPartition,
    TransactionMetadata,
    TxnState,
    TxnTransit,
)

if TYPE_CHECKING:
    from ferrokafka.coordinator import CoordinatorHost

log = logging.getLogger(__name__)

TXN_TOPIC = "__transaction_state"
TRANSACTION_VERSION_FEATURE = "transaction.version"
# How long the FindCoordinator that created __transaction_state waits for its (empty)
# partitions to load before answering; a client retries COORDINATOR_LOAD_IN_PROGRESS anyway.
CREATE_LOAD_WAIT_S = 5.0
# Writing CompleteCommit/CompleteAbort after the markers is retried while this broker still
# coordinates the transaction (Kafka retries it the same way); the pause between attempts, and
# how many (over an hour): past them the end stays prepared until the partition loads again.
COMPLETE_RETRY_BACKOFF_S = 0.5
COMPLETE_ATTEMPTS_MAX = 10_000
# A producer id is asked of the controller at most this often per decision (an id fetched
# while another request changed the state is asked for again once).
PRODUCER_ID_ATTEMPTS_MAX = 2
# Writes a cleanup pass (timed-out aborts, expired ids) starts at once, at most: the rest wait
# for the next pass.
CLEANUP_BATCH_MAX = 1_000
# ListTransactions answers at most this many (the response must fit a frame).
LIST_TRANSACTIONS_MAX = 100_000


@dataclass(slots=True)
class _TxnPartition:
    """The transactional ids of one loaded ``__transaction_state`` partition."""

    coordinator_epoch: int
    txns: dict[str, TransactionMetadata] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InitResult:
    error: int
    producer_id: int = NO_PRODUCER_ID
    producer_epoch: int = NO_PRODUCER_EPOCH


@dataclass(frozen=True, slots=True)
class TxnListing:
    transactional_id: str
    producer_id: int
    state: str


class TransactionCoordinator:
    """Transactions of every ``__transaction_state`` partition this node leads."""

    def __init__(
        self,
        node: CoordinatorHost,
        next_producer_id: Callable[[], Awaitable[int]],
        *,
        node_id: int,
        inter_broker_listener: str | None,
        send_local: SendLocal | None = None,
        inter_broker_connector: Connector = PLAINTEXT,
    ) -> None:
        self.node = node
        self._next_producer_id = next_producer_id
        self.node_id = node_id
        self._partitions: dict[int, _TxnPartition] = {}
        self._loading: dict[int, dict[str, TransactionMetadata]] = {}
        self._create_lock = trio.Lock()
        self._nursery: trio.Nursery | None = None
        # Run when the coordinator stops (the verifier's connections close there).
        self.on_stop: list[Callable[[], Awaitable[None]]] = []
        self.runtime = CoordinatorRuntime(
            node,
            TXN_TOPIC,
            self,
            load_buffer_bytes=lambda: int(self.config("transaction.state.log.load.buffer.size")),
        )
        self.markers = TxnMarkerChannel(
            node_id,
            inter_broker_listener,
            lambda: self.node.image,
            self._on_markers_written,
            send_local,
            inter_broker_connector,
        )

    # -- config, time, placement -------------------------------------------------------------

    def config(self, key: str) -> Any:
        return self.node.broker_config()[key]

    def now_ms(self) -> int:
        return self.node.wall_clock.now_ms()

    @property
    def num_partitions(self) -> int:
        topic = self.node.image.topics_by_name.get(TXN_TOPIC)
        if topic is not None:
            return len(topic.partitions)
        return int(self.config("transaction.state.log.num.partitions"))

    def partition_for(self, transactional_id: str) -> int:
        return partition_for(transactional_id, self.num_partitions)

    def transaction_version(self) -> int:
        """The finalized transaction.version of the cluster (what the log's records are
        written at, and what the coordinator's own aborts use)."""
        return int(self.node.image.features.get(TRANSACTION_VERSION_FEATURE, 0))

    # -- readiness and the topic -------------------------------------------------------------

    def error_code(self, transactional_id: str | None = None) -> int:
        """0 when ``transactional_id`` (or, without one, this broker's partitions) can be
        served here, else the coordinator error a client retries on."""
        if TXN_TOPIC not in self.node.image.topics_by_name:
            return ec.COORDINATOR_NOT_AVAILABLE
        if transactional_id is not None:
            return self.runtime.error_code(self.partition_for(transactional_id))
        return ec.COORDINATOR_LOAD_IN_PROGRESS if self.runtime.is_loading() else ec.NONE

    async def ensure_topic(self) -> int:
        """Create ``__transaction_state`` when missing (Kafka does it on FindCoordinator) and
        wait for the partitions this broker now leads to load."""
        if TXN_TOPIC in self.node.image.topics_by_name:
            return ec.NONE
        async with self._create_lock:
            if TXN_TOPIC not in self.node.image.topics_by_name:
                response = await self.node.controller_channel.create_topics(self._create_request())
                code = response.topics[0].error_code if response.topics else ec.NONE
                if code not in (ec.NONE, ec.TOPIC_ALREADY_EXISTS):
                    log.warning("creating %s failed with error %d", TXN_TOPIC, code)
                    return ec.COORDINATOR_NOT_AVAILABLE
                await self.runtime.wait_loaded(trio.current_time() + CREATE_LOAD_WAIT_S)
        return ec.NONE

    def _create_request(self) -> CreateTopicsRequest:
        config = self.node.broker_config()
        # Kafka's TransactionLog: compacted, uncompressed, min ISR and segment size configured.
        topic_configs = {
            "cleanup.policy": "compact",
            "compression.type": "uncompressed",
            "unclean.leader.election.enable": "false",
            "min.insync.replicas": str(config["transaction.state.log.min.isr"]),
            "segment.bytes": str(config["transaction.state.log.segment.bytes"]),
        }
        return CreateTopicsRequest(
            topics=[
                CreateTopicsRequest.CreatableTopic(
                    name=TXN_TOPIC,
                    num_partitions=int(config["transaction.state.log.num.partitions"]),
                    replication_factor=int(config["transaction.state.log.replication.factor"]),
                    configs=[
                        CreateTopicsRequest.CreatableTopicConfig(name=k, value=v)
                        for k, v in topic_configs.items()
                    ],
                )
            ],
            timeout_ms=30_000,
        )

    def _lookup(self, transactional_id: str) -> tuple[int, _TxnPartition | None]:
        """(0, the loaded partition) or (Kafka's error, None)."""
        if TXN_TOPIC not in self.node.image.topics_by_name:
            return ec.NOT_COORDINATOR, None
        index = self.partition_for(transactional_id)
        code = self.runtime.error_code(index)
        if code == ec.COORDINATOR_NOT_AVAILABLE:
            code = ec.NOT_COORDINATOR
        loaded = self._partitions.get(index)
        if code == ec.NONE and loaded is None:
            code = ec.COORDINATOR_LOAD_IN_PROGRESS
        return code, loaded if code == ec.NONE else None

    # -- running -----------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The runtime (loads), the marker sender and the cleanup timers, until cancelled."""
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self.markers.run)
                await nursery.start(self.runtime.run)
                nursery.start_soon(
                    self._every,
                    "transaction.abort.timed.out.transaction.cleanup.interval.ms",
                    self.abort_timed_out,
                )
                nursery.start_soon(
                    self._every,
                    "transaction.remove.expired.transaction.cleanup.interval.ms",
                    self.expire_transactional_ids,
                )
                task_status.started()
        finally:
            self._nursery = None
            with trio.CancelScope(shield=True):
                for close in self.on_stop:
                    await close()

    def _spawn(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        if self._nursery is None:
            log.warning("transaction coordinator not running: %s dropped", fn.__name__)
            return
        self._nursery.start_soon(fn, *args)

    # -- the runtime's shard -----------------------------------------------------------------

    def replay(self, partition: int, key: bytes, value: bytes | None) -> None:
        loading = self._loading.setdefault(partition, {})
        try:
            txn_id = serde.decode_key(key)
            if value is None:
                loading.pop(txn_id, None)
                return
            _, decoded = serde.decode_value(value)
            loading[txn_id] = serde.metadata_from_value(txn_id, decoded)
        except serde.TxnRecordError as exc:
            log.warning("%s-%d: skipping a record: %s", TXN_TOPIC, partition, exc)

    def loaded(self, partition: int) -> None:
        txns = self._loading.pop(partition, {})
        hosted = self.node.replicas.partition(TXN_TOPIC, partition)
        epoch = hosted.leader_epoch if hosted is not None else 0
        self._partitions[partition] = _TxnPartition(epoch, txns)
        resumed = 0
        for md in txns.values():
            if md.state in (TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT):
                self._send_markers(partition, epoch, md, md.state == TxnState.PREPARE_COMMIT)
                resumed += 1
        log.info(
            "transaction coordinator loaded %s-%d at epoch %d: %d ids, %d resumed ends",
            TXN_TOPIC,
            partition,
            epoch,
            len(txns),
            resumed,
        )

    def unload(self, partition: int) -> None:
        self._loading.pop(partition, None)
        self._partitions.pop(partition, None)
        self.markers.remove_txn_partition(partition)

    # -- writes ------------------------------------------------------------------------------

    async def _write(self, index: int, records: list[tuple[bytes, bytes | None]]) -> int:
        """Append ``records`` as one batch to partition ``index``; 0 once committed, else
        the coordinator error a client gets (Kafka's mapping of append errors)."""
        builder = BatchBuilder()
        now = self.now_ms()
        for key, value in records:
            builder.append(value, key=key, timestamp=now)
        code = await self.runtime.write(index, builder.build())
        # Kafka's appendTransactionToLog: the client retries after a coordinator error.
        if code in (
            ec.UNKNOWN_TOPIC_OR_PARTITION,
            ec.NOT_ENOUGH_REPLICAS,
            ec.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
            ec.REQUEST_TIMED_OUT,
        ):
            return ec.COORDINATOR_NOT_AVAILABLE
        if code in (ec.NOT_LEADER_OR_FOLLOWER, ec.KAFKA_STORAGE_ERROR):
            return ec.NOT_COORDINATOR
        if code in (ec.MESSAGE_TOO_LARGE, ec.RECORD_LIST_TOO_LARGE):
            return ec.UNKNOWN_SERVER_ERROR
        return code

    async def _write_transit(
        self,
        md: TransactionMetadata,
        loaded: _TxnPartition,
        transit: TxnTransit,
    ) -> int:
        """Write ``transit`` (prepared on ``md``) and apply it once committed; 0 or the
        error the client gets."""
        txn_id = md.transactional_id
        index = self.partition_for(txn_id)
        try:
            value = serde.encode_transit(transit, self.transaction_version())
            code = await self._write(index, [(serde.encode_key(txn_id), value)])
        except BaseException:
            # Nothing was acknowledged (cancelled, or a bug): the state stays as it was.
            if md.pending_state == transit.state:
                md.abandon_transition()
            raise
        current = self._partitions.get(index)
        still_ours = (
            current is loaded
            and current.txns.get(txn_id) is md
            and current.coordinator_epoch == loaded.coordinator_epoch
        )
        if code == ec.NONE:
            if not still_ours:
                return ec.NOT_COORDINATOR
            md.complete_transition(transit)
            return ec.NONE
        if still_ours:
            md.abandon_transition()
        return code

    async def _fresh_producer_id(self) -> int | None:
        try:
            return await self._next_producer_id()
        except Exception:  # the controller is unreachable: the client retries
            log.warning("no producer id from the controller", exc_info=True)
            return None

    # -- InitProducerId ----------------------------------------------------------------------

    async def init_producer_id(
        self, transactional_id: str, txn_timeout_ms: int, expected: tuple[int, int] | None
    ) -> InitResult:
        if not transactional_id:
            return InitResult(ec.INVALID_REQUEST)
        max_ms = int(self.config("transaction.max.timeout.ms"))
        if txn_timeout_ms <= 0 or txn_timeout_ms > max_ms:
            return InitResult(ec.INVALID_TRANSACTION_TIMEOUT)
        code, loaded = self._lookup(transactional_id)
        if loaded is None:
            return InitResult(code)
        md = loaded.txns.get(transactional_id)
        if md is None:
            producer_id = await self._fresh_producer_id()
            if producer_id is None:
                return InitResult(ec.COORDINATOR_NOT_AVAILABLE)
            code, loaded = self._lookup(transactional_id)
            if loaded is None:
                return InitResult(code)
            md = loaded.txns.setdefault(
                transactional_id,
                TransactionMetadata(
                    transactional_id,
                    producer_id,
                    txn_timeout_ms=txn_timeout_ms,
                    txn_last_update_ms=self.now_ms(),
                ),
            )
        # The producer it had before, unless that producer bumps its own epoch (KIP-360).
        fenced = (md.producer_id, md.producer_epoch) if md.producer_epoch >= 0 else None
        fenced = None if expected == fenced else fenced
        new_producer_id: int | None = None
        for _ in range(PRODUCER_ID_ATTEMPTS_MAX):
            decision = ops.init_producer_id(
                md, txn_timeout_ms, expected, self.now_ms(), new_producer_id
            )
            if decision is not ops.NEEDS_PRODUCER_ID:
                break
            new_producer_id = await self._fresh_producer_id()
            if new_producer_id is None:
                return InitResult(ec.COORDINATOR_NOT_AVAILABLE)
            if loaded.txns.get(transactional_id) is not md:
                return InitResult(ec.CONCURRENT_TRANSACTIONS)
        else:
            return InitResult(ec.CONCURRENT_TRANSACTIONS)
        if isinstance(decision, int):
            return InitResult(decision)
        assert isinstance(decision, TxnTransit)
        if decision.state == TxnState.PREPARE_EPOCH_FENCE:
            # An ongoing transaction of an older producer: abort it with the bumped epoch,
            # and let this producer retry once that is done.
            code = await self._end(
                md,
                loaded,
                decision.producer_id,
                decision.producer_epoch,
                commit=False,
                from_client=False,
                client_txn_version=self.transaction_version(),
            )
            return InitResult(code if code != ec.NONE else ec.CONCURRENT_TRANSACTIONS)
        code = await self._write_transit(md, loaded, decision)
        if code != ec.NONE:
            return InitResult(code)
        log.info(
            "initialized transactional id %r: producer id %d epoch %d",
            transactional_id,
            md.producer_id,
            md.producer_epoch,
        )
        log_fenced(transactional_id, fenced, md.producer_id, md.producer_epoch)
        return InitResult(ec.NONE, md.producer_id, md.producer_epoch)

    # -- AddPartitionsToTxn / AddOffsetsToTxn / verification ---------------------------------

    async def add_partitions(
        self,
        transactional_id: str,
        producer_id: int,
        producer_epoch: int,
        partitions: Iterable[TopicPartition],
        client_txn_version: int | None = None,
    ) -> int:
        if not transactional_id:
            return ec.INVALID_REQUEST
        code, loaded = self._lookup(transactional_id)
        if loaded is None:
            return code
        md = loaded.txns.get(transactional_id)
        if md is None:
            return ec.INVALID_PRODUCER_ID_MAPPING
        decision = ops.add_partitions(
            md, producer_id, producer_epoch, partitions, self.now_ms(), client_txn_version
        )
        if isinstance(decision, int):
            return decision
        assert isinstance(decision, TxnTransit)
        return await self._write_transit(md, loaded, decision)

    def verify_partitions(
        self,
        transactional_id: str,
        producer_id: int,
        producer_epoch: int,
        partitions: Iterable[TopicPartition],
    ) -> dict[TopicPartition, int]:
        """AddPartitionsToTxn ``verify_only``: an error code per partition."""
        wanted = list(partitions)
        if not transactional_id:
            return dict.fromkeys(wanted, ec.INVALID_REQUEST)
        code, loaded = self._lookup(transactional_id)
        if loaded is None:
            return dict.fromkeys(wanted, code)
        md = loaded.txns.get(transactional_id)
        return ops.verify_partitions(md, producer_id, producer_epoch, wanted)

    # -- EndTxn ------------------------------------------------------------------------------

    async def end_txn(
        self,
        transactional_id: str,
        producer_id: int,
        producer_epoch: int,
        commit: bool,
        client_txn_version: int,
    ) -> InitResult:
        """EndTxn; the result carries the producer id and epoch EndTxn v5 answers with."""
        if not transactional_id:
            return InitResult(ec.INVALID_REQUEST)
        code, loaded = self._lookup(transactional_id)
        if loaded is None:
            return InitResult(code)
        md = loaded.txns.get(transactional_id)
        if md is None:
            return InitResult(ec.INVALID_PRODUCER_ID_MAPPING)
        code = await self._end(
            md,
            loaded,
            producer_id,
            producer_epoch,
            commit=commit,
            from_client=True,
            client_txn_version=client_txn_version,
        )
        if code != ec.NONE:
            return InitResult(code)
        return InitResult(ec.NONE, md.producer_id, md.producer_epoch)

    async def _end(
        self,
        md: TransactionMetadata,
        loaded: _TxnPartition,
        producer_id: int,
        producer_epoch: int,
        *,
        commit: bool,
        from_client: bool,
        client_txn_version: int,
    ) -> int:
        fencing = md.pending_state == TxnState.PREPARE_EPOCH_FENCE
        if not self.markers.has_room():
            if fencing:
                md.abandon_transition()
            return ec.CONCURRENT_TRANSACTIONS

        def decide(new_producer_id: int | None = None) -> ops.Decision:
            return ops.end_txn(
                md,
                producer_id,
                producer_epoch,
                commit,
                from_client=from_client,
                client_txn_version=client_txn_version,
                now_ms=self.now_ms(),
                new_producer_id=new_producer_id,
            )

        decision = decide()
        if decision is ops.NEEDS_PRODUCER_ID:
            new_producer_id = await self._fresh_producer_id()
            if new_producer_id is None:
                return ec.COORDINATOR_NOT_AVAILABLE
            if loaded.txns.get(md.transactional_id) is not md:
                return ec.NOT_COORDINATOR
            decision = decide(new_producer_id)
        if fencing and not isinstance(decision, TxnTransit):
            md.abandon_transition()  # the fence did not turn into an abort: drop it
        if isinstance(decision, int):
            return decision
        if not isinstance(decision, TxnTransit):
            return ec.CONCURRENT_TRANSACTIONS
        code = await self._write_transit(md, loaded, decision)
        if code != ec.NONE:
            if fencing:
                md.has_failed_epoch_fence = True  # the bumped epoch was never handed out
            return code
        if md.pending or md.state not in (TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT):
            return ec.CONCURRENT_TRANSACTIONS
        self._send_markers(
            self.partition_for(md.transactional_id), loaded.coordinator_epoch, md, commit
        )
        return ec.NONE

    def _send_markers(
        self, txn_partition: int, coordinator_epoch: int, md: TransactionMetadata, commit: bool
    ) -> None:
        try:
            self._add_markers(txn_partition, coordinator_epoch, md, commit)
        except MarkerQueueFullError:
            # Past the hard limit: the end stays prepared until the partition loads again.
            log.error("no room for the markers of %r: left prepared", md.transactional_id)

    def _add_markers(
        self, txn_partition: int, coordinator_epoch: int, md: TransactionMetadata, commit: bool
    ) -> None:
        self.markers.add(
            PendingMarkers(
                transactional_id=md.transactional_id,
                txn_partition=txn_partition,
                coordinator_epoch=coordinator_epoch,
                producer_id=md.producer_id,
                producer_epoch=md.producer_epoch,
                commit=commit,
                transaction_version=md.client_txn_version,
                remaining=set(md.partitions),
            )
        )

    def _on_markers_written(self, markers: PendingMarkers) -> None:
        self._spawn(self._complete, markers)

    async def _complete(self, markers: PendingMarkers) -> None:
        """Every marker is written: CompleteCommit/CompleteAbort, retried while this broker
        still coordinates the transaction at the same epoch."""
        txn_id = markers.transactional_id
        for _ in range(COMPLETE_ATTEMPTS_MAX):
            loaded = self._partitions.get(markers.txn_partition)
            md = loaded.txns.get(txn_id) if loaded is not None else None
            if (
                loaded is None
                or md is None
                or loaded.coordinator_epoch != markers.coordinator_epoch
                or md.state not in (TxnState.PREPARE_COMMIT, TxnState.PREPARE_ABORT)
            ):
                return
            if md.pending:
                await trio.sleep(COMPLETE_RETRY_BACKOFF_S)
                continue
            transit = md.prepare_complete(self.now_ms())
            code = await self._write_transit(md, loaded, transit)
            if code == ec.NONE:
                log.info("transaction of %r completed: %s", txn_id, md.state.kafka_name)
                return
            if code == ec.NOT_COORDINATOR:
                return
            log.info("completing the transaction of %r failed (error %d): retrying", txn_id, code)
            await trio.sleep(COMPLETE_RETRY_BACKOFF_S)
        log.error("the transaction of %r could not be completed: left prepared", txn_id)

    # -- DescribeTransactions / ListTransactions ---------------------------------------------

    def describe(self, transactional_id: str) -> tuple[int, TransactionMetadata | None]:
        if not transactional_id:
            return ec.INVALID_REQUEST, None
        code, loaded = self._lookup(transactional_id)
        if loaded is None:
            return code, None
        md = loaded.txns.get(transactional_id)
        if md is None or md.state == TxnState.DEAD:
            return ec.TRANSACTIONAL_ID_NOT_FOUND, None
        return ec.NONE, md

    def list_transactions(
        self,
        producer_ids: Iterable[int],
        state_names: Iterable[str],
        duration_ms: int = -1,
        id_pattern: re.Pattern[str] | None = None,
    ) -> tuple[int, list[str], list[TxnListing]]:
        """(error, unknown state filters, listings) of every id this broker coordinates."""
        if self.runtime.is_loading():
            return ec.COORDINATOR_LOAD_IN_PROGRESS, [], []
        pids = set(producer_ids)
        names = list(state_names)
        states = {TxnState.from_kafka_name(n) for n in names} - {None}
        unknown = [n for n in names if TxnState.from_kafka_name(n) is None]
        now = self.now_ms()
        listings: list[TxnListing] = []
        for index in sorted(self._partitions):
            for md in self._partitions[index].txns.values():
                if md.state == TxnState.DEAD:
                    continue
                if pids and md.producer_id not in pids:
                    continue
                if names and md.state not in states:
                    continue
                if duration_ms >= 0 and now - md.txn_start_ms <= duration_ms:
                    continue
                if id_pattern is not None and not id_pattern.fullmatch(md.transactional_id):
                    continue
                listings.append(
                    TxnListing(md.transactional_id, md.producer_id, md.state.kafka_name)
                )
                if len(listings) >= LIST_TRANSACTIONS_MAX:
                    return ec.NONE, unknown, listings
        return ec.NONE, unknown, listings

    # -- timeouts and expiry -----------------------------------------------------------------

    async def _every(self, interval_key: str, task: Callable[[], Awaitable[int]]) -> None:
        """Run ``task`` every ``interval_key`` milliseconds (read again each time: dynamic)."""
        while True:
            await trio.sleep(int(self.config(interval_key)) / 1000)
            await task()

    async def abort_timed_out(self) -> int:
        """Abort every Ongoing transaction older than its timeout, fencing its producer with a
        bumped epoch (Kafka's abortTimedOutTransactions), the aborts in parallel; returns how
        many were started."""
        now = self.now_ms()
        started = 0
        async with trio.open_nursery() as nursery:
            for loaded in list(self._partitions.values()):
                for md in list(loaded.txns.values()):
                    if started >= CLEANUP_BATCH_MAX:
                        break
                    if (
                        md.pending
                        or md.state != TxnState.ONGOING
                        or md.txn_start_ms + md.txn_timeout_ms >= now
                    ):
                        continue
                    # Fence and abort with no await between: no request sees the fence alone.
                    fence = md.prepare_fence_producer_epoch()
                    log.info(
                        "aborting the transaction of %r (producer id %d): older than %d ms",
                        md.transactional_id,
                        md.producer_id,
                        md.txn_timeout_ms,
                    )
                    started += 1
                    nursery.start_soon(self._abort_fenced, md, loaded, fence)
        return started

    async def _abort_fenced(
        self, md: TransactionMetadata, loaded: _TxnPartition, fence: TxnTransit
    ) -> None:
        code = await self._end(
            md,
            loaded,
            fence.producer_id,
            fence.producer_epoch,
            commit=False,
            from_client=False,
            client_txn_version=self.transaction_version(),
        )
        if code not in (ec.NONE, ec.CONCURRENT_TRANSACTIONS, ec.PRODUCER_FENCED):
            log.warning(
                "aborting the timed-out transaction of %r failed: %d", md.transactional_id, code
            )

    async def expire_transactional_ids(self) -> int:
        """Tombstone the ids idle (Empty or Complete*) for transactional.id.expiration.ms;
        how many were removed."""
        idle_ms = int(self.config("transactional.id.expiration.ms"))
        now = self.now_ms()
        removed = 0
        for index, loaded in list(self._partitions.items()):
            expiring = [
                md
                for md in loaded.txns.values()
                if not md.pending
                and md.state.expiration_allowed
                and md.txn_last_update_ms <= now - idle_ms
            ][:CLEANUP_BATCH_MAX]
            if not expiring:
                continue
            for md in expiring:
                md.prepare_dead()
            # One batch of tombstones per partition, as Kafka writes them.
            code = await self._write(
                index, [(serde.encode_key(md.transactional_id), None) for md in expiring]
            )
            for md in expiring:
                if self._partitions.get(index) is not loaded:
                    break
                if loaded.txns.get(md.transactional_id) is not md:
                    continue
                if code == ec.NONE:
                    del loaded.txns[md.transactional_id]
                    removed += 1
                else:
                    md.abandon_transition()
        if removed:
            log.info("expired %d transactional ids", removed)
        return removed
