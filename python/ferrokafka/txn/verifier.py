"""The :class:`~ferrokafka.txn.verification.TxnPartitionVerifier` the produce path asks
(Kafka's ``AddPartitionsToTxnManager``, KIP-890): is this partition in the producer's
transaction (or, with ``add``, add it)?

- The transactional id's coordinator is the leader of its ``__transaction_state`` partition.
  When that is this broker, the coordinator answers in-process.
- Otherwise an AddPartitionsToTxn v4+ request goes to the coordinator broker's inter-broker
  endpoint, ``verify_only`` unless adding. Concurrent verifications for one coordinator are
  batched, as Kafka's manager batches them: while a request is in flight the next ones queue,
  and the next request carries all of them (one entry per transactional id, at most
  :data:`TRANSACTIONS_PER_REQUEST_MAX`).

Codes are those the produce answers with, as Kafka 4.4's manager maps them: PRODUCER_FENCED
becomes INVALID_PRODUCER_EPOCH, TRANSACTION_ABORTABLE (not in the transaction) becomes
INVALID_TXN_STATE, an unreachable coordinator NETWORK_EXCEPTION, one with no leader
COORDINATOR_NOT_AVAILABLE; a coordinator too old to verify (AddPartitionsToTxn below v4) is
not asked: NONE, the produce goes on unverified, as Kafka does. (Which of the retriable codes
a produce of an older version answers with instead is the produce path's choice.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import trio

from ferrokafka.cluster.broker_clients import BrokerClients
from ferrokafka.cluster.connector import PLAINTEXT, Connector
from ferrokafka.cluster.image import MetadataImage
from ferrokafka.cluster.node_client import NodeUnavailableError
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.add_partitions_to_txn import (
    AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse,
)
from ferrokafka.txn.coordinator import TXN_TOPIC, TransactionCoordinator
from ferrokafka.txn.metadata import TV_2, TopicPartition

log = logging.getLogger(__name__)

# Transactions in one AddPartitionsToTxn request: the rest go in the next.
TRANSACTIONS_PER_REQUEST_MAX = 1_000
# Verifications waiting for one coordinator broker, at most; beyond it a produce is told to
# retry (COORDINATOR_NOT_AVAILABLE) rather than queue without bound.
QUEUED_MAX = 10_000
# Kafka's request.timeout.ms for inter-broker requests.
REQUEST_TIMEOUT_S = 30.0
CLIENT_ID = "ferrokafka-txn-verifier"
# The first version with batches and verify_only (KIP-890).
BATCHED_VERSION = 4

_PRODUCE_CODES = {
    ec.PRODUCER_FENCED: ec.INVALID_PRODUCER_EPOCH,
    ec.TRANSACTION_ABORTABLE: ec.INVALID_TXN_STATE,
}


def produce_code(code: int) -> int:
    return _PRODUCE_CODES.get(code, code)


@dataclass(slots=True)
class _Item:
    transactional_id: str
    producer_id: int
    producer_epoch: int
    partitions: list[TopicPartition]
    add: bool
    done: trio.Event = field(default_factory=trio.Event)
    result: dict[TopicPartition, int] = field(default_factory=dict)

    def finish(self, codes: dict[TopicPartition, int]) -> None:
        self.result = {tp: codes.get(tp, ec.UNKNOWN_SERVER_ERROR) for tp in self.partitions}
        self.done.set()


class _TooOldToVerifyError(NodeUnavailableError):
    """The coordinator broker has no AddPartitionsToTxn v4+."""


@dataclass(slots=True)
class _Queue:
    items: list[_Item] = field(default_factory=list)
    sending: bool = False
    sent: trio.Event = field(default_factory=trio.Event)  # set when a request is answered


class CoordinatorTxnVerifier:
    """Verifies through ``coordinator`` here, or over the network to the one elsewhere."""

    def __init__(
        self,
        coordinator: TransactionCoordinator,
        image: Callable[[], MetadataImage],
        *,
        node_id: int,
        listener: str | None,
        connector: Connector = PLAINTEXT,
    ) -> None:
        self.coordinator = coordinator
        self._image = image
        self.node_id = node_id
        self.listener = listener
        self._queues: dict[int, _Queue] = {}
        self._clients = BrokerClients(
            image, listener, client_id=CLIENT_ID, timeout_s=REQUEST_TIMEOUT_S, connector=connector
        )

    async def verify(
        self,
        transactional_id: str,
        producer_id: int,
        producer_epoch: int,
        partitions: Sequence[TopicPartition],
        *,
        add: bool,
    ) -> dict[TopicPartition, int]:
        wanted = list(partitions)
        image = self._image()
        part = image.partition(TXN_TOPIC, self.coordinator.partition_for(transactional_id))
        if part is None or part.leader < 0:
            return dict.fromkeys(wanted, ec.COORDINATOR_NOT_AVAILABLE)
        if part.leader == self.node_id:
            if add:
                code = await self.coordinator.add_partitions(
                    transactional_id, producer_id, producer_epoch, wanted, TV_2
                )
                codes = dict.fromkeys(wanted, code)
            else:
                codes = self.coordinator.verify_partitions(
                    transactional_id, producer_id, producer_epoch, wanted
                )
        else:
            item = _Item(transactional_id, producer_id, producer_epoch, wanted, add)
            codes = await self._remote(part.leader, item)
        return {tp: produce_code(code) for tp, code in codes.items()}

    async def aclose(self) -> None:
        await self._clients.aclose()

    # -- the network side --------------------------------------------------------------------

    async def _remote(self, broker_id: int, item: _Item) -> dict[TopicPartition, int]:
        """Queue ``item``; whichever waiter finds no request in flight sends the next batch
        (all that queued meanwhile), so requests go one at a time per broker."""
        queue = self._queues.setdefault(broker_id, _Queue())
        if len(queue.items) >= QUEUED_MAX:
            return dict.fromkeys(item.partitions, ec.COORDINATOR_NOT_AVAILABLE)
        queue.items.append(item)
        with trio.move_on_after(2 * REQUEST_TIMEOUT_S):
            while not item.done.is_set():
                if queue.sending:
                    await queue.sent.wait()
                    continue
                queue.sending = True
                try:
                    await self._send_batch(broker_id, queue)
                finally:
                    queue.sending = False
                    queue.sent.set()
                    queue.sent = trio.Event()
        if not item.done.is_set():  # no answer in time: as a lost connection
            if item in queue.items:
                queue.items.remove(item)
            return dict.fromkeys(item.partitions, ec.NETWORK_EXCEPTION)
        return item.result

    async def _send_batch(self, broker_id: int, queue: _Queue) -> None:
        batch: list[_Item] = []
        seen: set[str] = set()
        for waiting in list(queue.items):
            if len(batch) >= TRANSACTIONS_PER_REQUEST_MAX:
                break
            if waiting.transactional_id in seen:
                continue  # one entry per transactional id in a request: the next one
            seen.add(waiting.transactional_id)
            batch.append(waiting)
            queue.items.remove(waiting)
        request = AddPartitionsToTxnRequest(
            transactions=[_transaction(i) for i in batch],
        )
        try:
            response = await self._call(broker_id, request)
        except _TooOldToVerifyError:
            for waiting in batch:
                waiting.finish(dict.fromkeys(waiting.partitions, ec.NONE))
            return
        except NodeUnavailableError as exc:
            log.info("verifying transactions with broker %d failed: %s", broker_id, exc)
            for waiting in batch:
                waiting.finish(dict.fromkeys(waiting.partitions, ec.NETWORK_EXCEPTION))
            return
        results: dict[str, dict[TopicPartition, int]] = {}
        for result in response.results_by_transaction:
            codes = results.setdefault(result.transactional_id, {})
            for topic in result.topic_results:
                for p in topic.results_by_partition:
                    codes[(topic.name, p.partition_index)] = p.partition_error_code
        for waiting in batch:
            codes = results.get(waiting.transactional_id, {})
            if response.error_code != ec.NONE:
                # Kafka: the produce must not answer CLUSTER_AUTHORIZATION_FAILED (the
                # broker's, not the client's): the verification failed.
                top = response.error_code
                if top == ec.CLUSTER_AUTHORIZATION_FAILED:
                    top = ec.INVALID_TXN_STATE
                codes = dict.fromkeys(waiting.partitions, top)
            waiting.finish(codes)

    async def _call(
        self, broker_id: int, request: AddPartitionsToTxnRequest
    ) -> AddPartitionsToTxnResponse:
        client = await self._clients.client(broker_id)
        await client.connect()
        version = client.version(request.API_KEY)
        if version is None or version < BATCHED_VERSION:
            raise _TooOldToVerifyError(f"broker {broker_id} cannot verify transactions")
        response = await client.call(request)
        assert isinstance(response, AddPartitionsToTxnResponse)
        return response


def _transaction(item: _Item) -> AddPartitionsToTxnRequest.AddPartitionsToTxnTransaction:
    by_topic: dict[str, list[int]] = {}
    for topic, index in item.partitions:
        by_topic.setdefault(topic, []).append(index)
    return AddPartitionsToTxnRequest.AddPartitionsToTxnTransaction(
        transactional_id=item.transactional_id,
        producer_id=item.producer_id,
        producer_epoch=item.producer_epoch,
        verify_only=not item.add,
        topics=[
            AddPartitionsToTxnRequest.AddPartitionsToTxnTopic(name=t, partitions=ps)
            for t, ps in by_topic.items()
        ],
    )
