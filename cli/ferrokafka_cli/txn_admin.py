"""Transaction administration over the wire, for `ferrokafka transactions`: list, describe,
describe producers and abort — each request sent where Kafka's admin client sends it
(ListTransactions to every broker, DescribeTransactions to the transactional id's coordinator,
DescribeProducers and WriteTxnMarkers to the partition's leader or a chosen replica). Answers
come back as plain dataclasses; the command module only formats them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ferrokafka.protocol.error_codes import (
    COORDINATOR_LOAD_IN_PROGRESS,
    NONE,
    NOT_LEADER_OR_FOLLOWER,
    TRANSACTIONAL_ID_NOT_FOUND,
    UNKNOWN_TOPIC_OR_PARTITION,
)
from ferrokafka.protocol.messages.describe_producers import (
    DescribeProducersRequest,
    DescribeProducersResponse,
)
from ferrokafka.protocol.messages.describe_transactions import DescribeTransactionsRequest
from ferrokafka.protocol.messages.list_transactions import ListTransactionsRequest
from ferrokafka.protocol.messages.write_txn_markers import WriteTxnMarkersRequest

from .client import (
    COORDINATOR_RETRY_S,
    COORDINATOR_TYPE_TRANSACTION,
    ClientError,
    Connection,
    KafkaApiError,
    KafkaClient,
    TopicInfo,
    check,
)
from .group_admin import at_coordinator

# ListTransactions: duration_filter came with v1, transactional_id_pattern with v2.
LIST_DURATION_FILTER_VERSION = 1
LIST_PATTERN_VERSION = 2
# A leader that moved answers NOT_LEADER_OR_FOLLOWER, a partition not yet known there
# UNKNOWN_TOPIC_OR_PARTITION: Kafka's admin client looks the leader up again and retries.
RETRIABLE_LEADER_ERRORS = frozenset({NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION})
LEADER_RETRY_S = 0.2
# DescribeProducers reports "no coordinator epoch" and "no open transaction" as negatives.
NO_VALUE = -1


@dataclass
class TransactionListing:
    transactional_id: str
    coordinator_id: int  # the broker that answered: it coordinates this transactional id
    producer_id: int
    state: str


@dataclass
class TransactionDescription:
    coordinator_id: int
    transactional_id: str
    producer_id: int
    producer_epoch: int
    state: str
    timeout_ms: int
    start_time_ms: int | None  # None: no transaction in progress
    partitions: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class ProducerState:
    producer_id: int
    producer_epoch: int
    last_sequence: int
    last_timestamp: int
    coordinator_epoch: int | None  # None: no marker written for this producer yet
    txn_start_offset: int | None  # None: no open transaction on the partition


@dataclass
class ListFilters:
    states: list[str] = field(default_factory=list)
    producer_ids: list[int] = field(default_factory=list)
    duration_ms: int = -1  # < 0: no filter
    pattern: str | None = None


@dataclass
class ListResult:
    listings: list[TransactionListing]
    # Per broker, the state filters it did not recognize (it ignores them).
    unknown_states: dict[int, list[str]] = field(default_factory=dict)


def _list_request(conn: Connection, filters: ListFilters) -> tuple[ListTransactionsRequest, int]:
    version = conn.versions.get(ListTransactionsRequest.API_KEY)
    if version is None:
        raise ClientError(f"the broker at {conn.address} does not support ListTransactions")
    if filters.duration_ms >= 0 and version < LIST_DURATION_FILTER_VERSION:
        raise ClientError(f"the broker at {conn.address} cannot filter by duration")
    if filters.pattern and version < LIST_PATTERN_VERSION:
        raise ClientError(f"the broker at {conn.address} cannot filter by transactional id pattern")
    request = ListTransactionsRequest(
        state_filters=list(filters.states),
        producer_id_filters=list(filters.producer_ids),
    )
    if version >= LIST_DURATION_FILTER_VERSION:
        request.duration_filter = filters.duration_ms
    if version >= LIST_PATTERN_VERSION:
        request.transactional_id_pattern = filters.pattern or None
    return request, version


def list_transactions(client: KafkaClient, filters: ListFilters) -> ListResult:
    """ListTransactions to every broker (each answers for the transactional ids it
    coordinates), merged, retrying a broker whose coordinator is still loading."""
    client.metadata([])  # learns the brokers
    result = ListResult([])
    for node_id in sorted(client.brokers):
        conn = client.node(node_id)
        request, version = _list_request(conn, filters)
        deadline = time.monotonic() + client.timeout_s
        while True:
            response = conn.call(request, version)
            if response.error_code != COORDINATOR_LOAD_IN_PROGRESS:
                break
            if time.monotonic() >= deadline:
                break
            time.sleep(COORDINATOR_RETRY_S)
        check(response.error_code, f"ListTransactions sent to broker {node_id} failed")
        if response.unknown_state_filters:
            result.unknown_states[node_id] = list(response.unknown_state_filters)
        result.listings += [
            TransactionListing(s.transactional_id, node_id, int(s.producer_id), s.transaction_state)
            for s in response.transaction_states
        ]
    result.listings.sort(key=lambda t: (t.coordinator_id, t.transactional_id))
    return result


def describe_transaction(client: KafkaClient, transactional_id: str) -> TransactionDescription:
    """DescribeTransactions at the transactional id's coordinator; an unknown id raises
    KafkaApiError(TRANSACTIONAL_ID_NOT_FOUND)."""

    def attempt(conn: Connection) -> TransactionDescription:
        version = conn.versions.get(DescribeTransactionsRequest.API_KEY)
        if version is None:
            raise ClientError(f"the broker at {conn.address} does not support DescribeTransactions")
        response = conn.call(
            DescribeTransactionsRequest(transactional_ids=[transactional_id]), version
        )
        [state] = [s for s in response.transaction_states if s.transactional_id == transactional_id]
        if state.error_code == TRANSACTIONAL_ID_NOT_FOUND:
            raise KafkaApiError(
                state.error_code, f"Transactional id '{transactional_id}' not found"
            )
        check(state.error_code, f"describing transactional id '{transactional_id}'")
        start = int(state.transaction_start_time_ms)
        return TransactionDescription(
            coordinator_id=NO_VALUE if conn.node_id is None else conn.node_id,
            transactional_id=transactional_id,
            producer_id=int(state.producer_id),
            producer_epoch=int(state.producer_epoch),
            state=state.transaction_state,
            timeout_ms=int(state.transaction_timeout_ms),
            start_time_ms=start if start >= 0 else None,
            partitions=sorted((t.topic, int(p)) for t in state.topics for p in t.partitions),
        )

    return at_coordinator(client, transactional_id, attempt, COORDINATOR_TYPE_TRANSACTION)


def describe_producers(
    client: KafkaClient, topic: str, partition: int, broker_id: int | None
) -> list[ProducerState]:
    """The active producers of one partition, as its leader (or replica ``broker_id``) keeps
    them. Without ``broker_id`` a moved leader is looked up again, as Kafka's admin client does;
    with it, every error is final."""
    deadline = time.monotonic() + client.timeout_s
    where = f"broker {broker_id}" if broker_id is not None else "leader"
    while True:
        # Wait 0: a missing topic fails at once; a moved leader is retried below.
        info = client.topic_with_leaders(topic, 0)
        leader = _leader(info, partition)
        node_id = broker_id if broker_id is not None else leader
        [(code, message, producers)] = describe_producers_at(
            client, node_id, [(topic, partition)]
        ).values()
        if code == NONE:
            return producers
        if broker_id is not None or code not in RETRIABLE_LEADER_ERRORS:
            raise KafkaApiError(
                code,
                f"Failed to describe producers for partition {topic}-{partition} on {where}"
                + (f": {message}" if message else ""),
            )
        if time.monotonic() >= deadline:
            raise KafkaApiError(code, f"no leader for {topic}-{partition} answered in time")
        time.sleep(LEADER_RETRY_S)


PartitionAnswer = tuple[int, str | None, list[ProducerState]]  # error code, message, producers


def describe_producers_at(
    client: KafkaClient, node_id: int, partitions: list[tuple[str, int]]
) -> dict[tuple[str, int], PartitionAnswer]:
    """One DescribeProducers to broker ``node_id`` for ``partitions``; per partition its
    error code, error message and active producers."""
    conn = client.node(node_id)
    version = conn.versions.get(DescribeProducersRequest.API_KEY)
    if version is None:
        raise ClientError(f"the broker at {conn.address} does not support DescribeProducers")
    by_topic: dict[str, list[int]] = {}
    for topic, partition in partitions:
        by_topic.setdefault(topic, []).append(partition)
    response = conn.call(
        DescribeProducersRequest(
            topics=[
                DescribeProducersRequest.TopicRequest(name=t, partition_indexes=ps)
                for t, ps in by_topic.items()
            ]
        ),
        version,
    )
    out: dict[tuple[str, int], PartitionAnswer] = {}
    for t in response.topics:
        for p in t.partitions:
            key = (t.name, int(p.partition_index))
            out[key] = (p.error_code, p.error_message, [_producer(s) for s in p.active_producers])
    missing = [tp for tp in partitions if tp not in out]
    if missing:
        topic, partition = missing[0]
        raise ClientError(f"broker {node_id} did not answer for {topic}-{partition}")
    return out


def _producer(p: DescribeProducersResponse.ProducerState) -> ProducerState:
    return ProducerState(
        producer_id=int(p.producer_id),
        producer_epoch=int(p.producer_epoch),
        last_sequence=int(p.last_sequence),
        last_timestamp=int(p.last_timestamp),
        coordinator_epoch=int(p.coordinator_epoch) if p.coordinator_epoch > NO_VALUE else None,
        txn_start_offset=(
            int(p.current_txn_start_offset) if p.current_txn_start_offset > NO_VALUE else None
        ),
    )


def _leader(info: TopicInfo, partition: int) -> int:
    for p in info.partitions:
        if p.partition == partition:
            return p.leader
    raise KafkaApiError(
        UNKNOWN_TOPIC_OR_PARTITION, f"Topic '{info.name}' has no partition {partition}."
    )


@dataclass(frozen=True)
class AbortSpec:
    """What Kafka's AbortTransactionSpec holds: the partition and the producer whose open
    transaction there gets an ABORT marker."""

    topic: str
    partition: int
    producer_id: int
    producer_epoch: int
    coordinator_epoch: int

    def __str__(self) -> str:
        return (
            f"{self.topic}-{self.partition} producerId={self.producer_id} "
            f"producerEpoch={self.producer_epoch} coordinatorEpoch={self.coordinator_epoch}"
        )


def abort_transaction(client: KafkaClient, spec: AbortSpec) -> None:
    """One ABORT marker for ``spec`` written by the partition's leader (WriteTxnMarkers, as
    Kafka's AbortTransactionHandler sends it: transaction version left at 0, so the marker
    keeps the producer's current epoch); a moved leader is looked up again."""
    request = WriteTxnMarkersRequest(
        markers=[
            WriteTxnMarkersRequest.WritableTxnMarker(
                producer_id=spec.producer_id,
                producer_epoch=spec.producer_epoch,
                transaction_result=False,
                topics=[
                    WriteTxnMarkersRequest.WritableTxnMarkerTopic(
                        name=spec.topic, partition_indexes=[spec.partition]
                    )
                ],
                coordinator_epoch=spec.coordinator_epoch,
            )
        ]
    )
    deadline = time.monotonic() + client.timeout_s
    while True:
        info = client.topic_with_leaders(spec.topic, 0)
        conn = client.node(_leader(info, spec.partition))
        version = conn.versions.get(WriteTxnMarkersRequest.API_KEY)
        if version is None:
            raise ClientError(f"the broker at {conn.address} does not support WriteTxnMarkers")
        response = conn.call(request, version)
        results = [
            p
            for m in response.markers
            if m.producer_id == spec.producer_id
            for t in m.topics
            if t.name == spec.topic
            for p in t.partitions
            if p.partition_index == spec.partition
        ]
        if len(results) != 1:
            raise ClientError(f"WriteTxnMarkers answered without exactly one result for {spec}")
        code = results[0].error_code
        if code == NONE:
            return
        if code not in RETRIABLE_LEADER_ERRORS or time.monotonic() >= deadline:
            raise KafkaApiError(code, f"Failed to abort transaction {spec}")
        time.sleep(LEADER_RETRY_S)
