"""Transaction markers: once PrepareCommit/PrepareAbort is written, a COMMIT or ABORT marker
goes to every partition of the transaction (Kafka's ``TransactionMarkerChannelManager``).

- Pending markers are kept per transactional id (:class:`PendingMarkers`); one task sends them
  in rounds: the partitions still waiting are grouped by their leader in the newest metadata
  image, and each leader gets one ``WriteTxnMarkersRequest`` holding a marker per transaction
  (at most :data:`MARKERS_PER_REQUEST_MAX`), the leaders in parallel.
- This broker's own partitions go through the injected ``send_local`` (the WriteTxnMarkers
  handler, in-process); other leaders through a :class:`NodeClient` to their inter-broker
  endpoint. Without ``send_local`` this broker is reached over the network too.
- Retriable errors (NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS, timeouts, an unreachable
  broker, a leader not known yet) keep the partition for the next round, after a backoff
  (:data:`RETRY_BACKOFF_S` doubling up to :data:`RETRY_BACKOFF_MAX_S`). A partition whose topic
  was deleted is dropped, as is one whose leader cannot take markers
  (UNSUPPORTED_FOR_MESSAGE_FORMAT); INVALID_PRODUCER_EPOCH or TRANSACTION_COORDINATOR_FENCED
  mean a newer producer or coordinator took over: the whole transaction's markers are dropped.
- When every partition of a transaction has its marker, ``on_written`` is called (the
  coordinator then writes CompleteCommit/CompleteAbort).

At most :data:`PENDING_TRANSACTIONS_MAX` transactions wait for markers: the coordinator asks
:meth:`TxnMarkerChannel.has_room` before it writes a prepare (EndTxn is answered
CONCURRENT_TRANSACTIONS otherwise, and retried). Prepares already being written when the
queue filled, and the ends a load resumes, are still taken, up to twice that.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import trio

from ferrokafka.cluster.broker_clients import BrokerClients
from ferrokafka.cluster.connector import PLAINTEXT, Connector
from ferrokafka.cluster.image import MetadataImage
from ferrokafka.cluster.node_client import NodeUnavailableError
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.write_txn_markers import (
    WriteTxnMarkersRequest,
    WriteTxnMarkersResponse,
)
from ferrokafka.txn.metadata import TopicPartition

log = logging.getLogger(__name__)

# Transactions whose markers are being written, at most: each holds its partitions in memory.
# Far above what one coordinator completes at once; a bound, not a tuning knob.
PENDING_TRANSACTIONS_MAX = 100_000
# The hard limit (see the module docstring): admission stops at PENDING_TRANSACTIONS_MAX.
PENDING_TRANSACTIONS_HARD_FACTOR = 2
# Markers in one WriteTxnMarkersRequest: the rest go in the next round.
MARKERS_PER_REQUEST_MAX = 1_000
RETRY_BACKOFF_S = 0.1
RETRY_BACKOFF_MAX_S = 1.0
# A marker request waits for the leader's append (acks=all), bounded by Kafka's
# request.timeout.ms.
REQUEST_TIMEOUT_S = 30.0
CLIENT_ID = "ferrokafka-txn-markers"

SendLocal = Callable[[WriteTxnMarkersRequest], Awaitable[WriteTxnMarkersResponse]]

_RETRIABLE = frozenset(
    {
        ec.UNKNOWN_TOPIC_OR_PARTITION,
        ec.NOT_LEADER_OR_FOLLOWER,
        ec.NOT_ENOUGH_REPLICAS,
        ec.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        ec.REQUEST_TIMED_OUT,
        ec.KAFKA_STORAGE_ERROR,
    }
)
_OBSOLETE = frozenset({ec.INVALID_PRODUCER_EPOCH, ec.TRANSACTION_COORDINATOR_FENCED})
_UNSUPPORTED = frozenset({ec.UNSUPPORTED_FOR_MESSAGE_FORMAT, ec.UNSUPPORTED_VERSION})


class MarkerQueueFullError(RuntimeError):
    """More than PENDING_TRANSACTIONS_MAX transactions wait for markers."""


@dataclass(slots=True)
class PendingMarkers:
    """The markers one ended transaction still has to write."""

    transactional_id: str
    txn_partition: int  # the __transaction_state partition the transaction lives on
    coordinator_epoch: int
    producer_id: int
    producer_epoch: int
    commit: bool
    transaction_version: int
    remaining: set[TopicPartition] = field(default_factory=set)


class TxnMarkerChannel:
    """Sends the pending markers until cancelled (:meth:`run`)."""

    def __init__(
        self,
        node_id: int,
        listener: str | None,
        image: Callable[[], MetadataImage],
        on_written: Callable[[PendingMarkers], None],
        send_local: SendLocal | None = None,
        connector: Connector = PLAINTEXT,
    ) -> None:
        self.node_id = node_id
        self.listener = listener
        self._image = image
        self._on_written = on_written
        self.send_local = send_local
        self._pending: dict[str, PendingMarkers] = {}
        self._clients = BrokerClients(
            image, listener, client_id=CLIENT_ID, timeout_s=REQUEST_TIMEOUT_S, connector=connector
        )
        self._wake = trio.Event()
        self._backoff_s = RETRY_BACKOFF_S

    def __len__(self) -> int:
        return len(self._pending)

    def pending(self, transactional_id: str) -> PendingMarkers | None:
        return self._pending.get(transactional_id)

    def has_room(self) -> bool:
        return len(self._pending) < PENDING_TRANSACTIONS_MAX

    def add(self, markers: PendingMarkers) -> None:
        """Send ``markers`` (replacing older ones of the same transactional id)."""
        hard_max = PENDING_TRANSACTIONS_MAX * PENDING_TRANSACTIONS_HARD_FACTOR
        if markers.transactional_id not in self._pending and len(self._pending) >= hard_max:
            raise MarkerQueueFullError(f"{hard_max} transactions wait already")
        self._pending[markers.transactional_id] = markers
        if not markers.remaining:
            self._finish(markers)
            return
        self._wake.set()

    def remove(self, transactional_id: str) -> None:
        self._pending.pop(transactional_id, None)

    def remove_txn_partition(self, txn_partition: int) -> None:
        """This broker no longer coordinates ``txn_partition``: its markers are not ours."""
        for txn_id in [t for t, p in self._pending.items() if p.txn_partition == txn_partition]:
            del self._pending[txn_id]

    def _finish(self, markers: PendingMarkers) -> None:
        if self._pending.get(markers.transactional_id) is markers:
            del self._pending[markers.transactional_id]
            self._on_written(markers)

    # -- the sender --------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake = trio.Event()
                if await self.send_round():
                    self._backoff_s = RETRY_BACKOFF_S
                    continue
                # Something must be retried (new work waits for the backoff too).
                await trio.sleep(self._backoff_s)
                self._backoff_s = min(self._backoff_s * 2, RETRY_BACKOFF_MAX_S)
                self._wake.set()
        finally:
            with trio.CancelScope(shield=True):
                await self._clients.aclose()

    async def send_round(self) -> bool:
        """Send one request per leader for what is pending; True when nothing is left to
        retry."""
        image = self._image()
        by_leader: dict[int, list[tuple[PendingMarkers, list[TopicPartition]]]] = {}
        waiting = False
        for markers in list(self._pending.values()):
            groups: dict[int, list[TopicPartition]] = {}
            for tp in sorted(markers.remaining):
                topic = image.topic(tp[0])
                part = image.partition(tp[0], tp[1]) if topic is not None else None
                if topic is None or part is None:
                    log.info("%s: dropping the marker for %s-%d (deleted)", markers, *tp)
                    markers.remaining.discard(tp)
                    continue
                if part.leader < 0 or image.broker(part.leader) is None:
                    waiting = True  # no leader now: the next image may bring one
                    continue
                groups.setdefault(part.leader, []).append(tp)
            if not markers.remaining:
                self._finish(markers)
                continue
            for leader, tps in groups.items():
                if len(by_leader.setdefault(leader, [])) < MARKERS_PER_REQUEST_MAX:
                    by_leader[leader].append((markers, tps))
                else:
                    waiting = True
        results: list[bool] = []
        async with trio.open_nursery() as nursery:
            for leader, items in by_leader.items():
                nursery.start_soon(self._send, leader, items, results)
        return not waiting and all(results)

    async def _send(
        self,
        leader: int,
        items: list[tuple[PendingMarkers, list[TopicPartition]]],
        results: list[bool],
    ) -> None:
        request = WriteTxnMarkersRequest(markers=[_marker(m, tps) for m, tps in items])
        try:
            response = await self._call(leader, request)
        except (NodeUnavailableError, OSError) as exc:
            log.info("markers to broker %d failed (%s): retrying", leader, exc)
            results.append(False)
            return
        errors: dict[int, dict[TopicPartition, int]] = {}
        for result in response.markers:
            codes = errors.setdefault(result.producer_id, {})
            for topic in result.topics:
                for p in topic.partitions:
                    codes[(topic.name, p.partition_index)] = p.error_code
        ok = True
        for markers, tps in items:
            ok &= self._apply(markers, tps, errors.get(markers.producer_id, {}))
        results.append(ok)

    def _apply(
        self, markers: PendingMarkers, sent: list[TopicPartition], codes: dict[TopicPartition, int]
    ) -> bool:
        if self._pending.get(markers.transactional_id) is not markers:
            return True  # dropped meanwhile (unloaded, or a newer end)
        ok = True
        for tp in sent:
            code = codes.get(tp, ec.UNKNOWN_SERVER_ERROR)
            if code == ec.NONE or code in _UNSUPPORTED:
                markers.remaining.discard(tp)
            elif code in _OBSOLETE:
                log.info("%s: markers no longer needed (error %d)", markers, code)
                self.remove(markers.transactional_id)
                return True
            else:
                if code not in _RETRIABLE:
                    log.warning("%s: marker for %s-%d got error %d: retrying", markers, *tp, code)
                ok = False
        if not markers.remaining:
            self._finish(markers)
        return ok

    async def _call(self, leader: int, request: WriteTxnMarkersRequest) -> WriteTxnMarkersResponse:
        if leader == self.node_id and self.send_local is not None:
            with trio.fail_after(REQUEST_TIMEOUT_S):
                return await self.send_local(request)
        client = await self._clients.client(leader)
        response = await client.call(request)
        assert isinstance(response, WriteTxnMarkersResponse)
        return response


def _marker(
    markers: PendingMarkers, partitions: list[TopicPartition]
) -> WriteTxnMarkersRequest.WritableTxnMarker:
    by_topic: dict[str, list[int]] = {}
    for topic, index in partitions:
        by_topic.setdefault(topic, []).append(index)
    return WriteTxnMarkersRequest.WritableTxnMarker(
        producer_id=markers.producer_id,
        producer_epoch=markers.producer_epoch,
        transaction_result=markers.commit,
        topics=[
            WriteTxnMarkersRequest.WritableTxnMarkerTopic(name=t, partition_indexes=ids)
            for t, ids in by_topic.items()
        ],
        coordinator_epoch=markers.coordinator_epoch,
        transaction_version=markers.transaction_version,
    )
