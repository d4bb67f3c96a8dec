"""Helpers of the transaction coordinator's wire tests: a fake partition leader that answers
WriteTxnMarkers (standing in for the data side's handler, which this branch does not have),
and short request helpers over our protocol codec."""

from __future__ import annotations

import threading
import time
from typing import Any

from server_wire import RawClient

from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.add_partitions_to_txn import AddPartitionsToTxnRequest
from ferrokafka.protocol.messages.describe_transactions import DescribeTransactionsRequest
from ferrokafka.protocol.messages.end_txn import EndTxnRequest
from ferrokafka.protocol.messages.find_coordinator import FindCoordinatorRequest
from ferrokafka.protocol.messages.init_producer_id import InitProducerIdRequest
from ferrokafka.protocol.messages.write_txn_markers import (
    WriteTxnMarkersRequest,
    WriteTxnMarkersResponse,
)
from ferrokafka.testing import RunningBroker

WAIT_S = 30.0
POLL_S = 0.05
TIMEOUT_MS = 60_000

_Result = WriteTxnMarkersResponse.WritableTxnMarkerResult
_TopicResult = WriteTxnMarkersResponse.WritableTxnMarkerTopicResult
_PartitionResult = WriteTxnMarkersResponse.WritableTxnMarkerPartitionResult


class FakeLeader:
    """Answers every marker with ``code`` (0: written) and remembers the requests."""

    def __init__(self, code: int = ec.NONE) -> None:
        self.code = code
        self.requests: list[WriteTxnMarkersRequest] = []
        self._lock = threading.Lock()

    async def __call__(self, request: WriteTxnMarkersRequest) -> WriteTxnMarkersResponse:
        with self._lock:
            self.requests.append(request)
        return WriteTxnMarkersResponse(
            markers=[
                _Result(
                    producer_id=m.producer_id,
                    topics=[
                        _TopicResult(
                            name=t.name,
                            partitions=[
                                _PartitionResult(partition_index=p, error_code=self.code)
                                for p in t.partition_indexes
                            ],
                        )
                        for t in m.topics
                    ],
                )
                for m in request.markers
            ]
        )

    def markers(self) -> list[Any]:
        with self._lock:
            return [m for r in self.requests for m in r.markers]


def use_fake_leader(broker: RunningBroker, fake: FakeLeader | None) -> None:
    """Send this broker's markers to ``fake`` (the lead wires the real handler here)."""
    node = broker.broker.node
    assert node is not None and node.txn_coordinator is not None
    node.txn_coordinator.markers.send_local = fake


def find(client: RawClient, txn_id: str) -> Any:
    return client.call(FindCoordinatorRequest(key=txn_id, key_type=1), 3)


def init(client: RawClient, txn_id: str, version: int = 4, **fields: Any) -> Any:
    request = InitProducerIdRequest(transactional_id=txn_id, transaction_timeout_ms=TIMEOUT_MS)
    request.producer_id, request.producer_epoch = -1, -1
    for name, value in fields.items():
        setattr(request, name, value)
    return client.call(request, version)


def add(
    client: RawClient, txn_id: str, pid: int, epoch: int, parts: dict[str, list[int]], v: int = 3
) -> dict[tuple[str, int], int]:
    topics = [
        AddPartitionsToTxnRequest.AddPartitionsToTxnTopic(name=t, partitions=ps)
        for t, ps in parts.items()
    ]
    request = AddPartitionsToTxnRequest(
        v3_and_below_transactional_id=txn_id,
        v3_and_below_producer_id=pid,
        v3_and_below_producer_epoch=epoch,
        v3_and_below_topics=topics,
    )
    response = client.call(request, v)
    return {
        (t.name, p.partition_index): p.partition_error_code
        for t in response.results_by_topic_v3_and_below
        for p in t.results_by_partition
    }


def end(client: RawClient, txn_id: str, pid: int, epoch: int, commit: bool, v: int = 3) -> Any:
    request = EndTxnRequest(
        transactional_id=txn_id, producer_id=pid, producer_epoch=epoch, committed=commit
    )
    return client.call(request, v)


def describe(client: RawClient, txn_id: str) -> Any:
    response = client.call(DescribeTransactionsRequest(transactional_ids=[txn_id]), 0)
    (state,) = response.transaction_states
    return state


def wait_state(client: RawClient, txn_id: str, state: str) -> Any:
    """Describe ``txn_id`` until it is in ``state`` (bounded)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        described = describe(client, txn_id)
        if described.transaction_state == state or time.monotonic() > deadline:
            return described
        time.sleep(POLL_S)
