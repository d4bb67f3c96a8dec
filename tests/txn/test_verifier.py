"""The produce path's verifier (txn/verifier.py) toward a coordinator on another broker, with
the network replaced: the coordinator's answers become the codes a produce answers with, as
Kafka 4.4's AddPartitionsToTxnManager maps them; a lost connection is NETWORK_EXCEPTION; a
coordinator too old to verify is not asked (NONE); without a leader, COORDINATOR_NOT_AVAILABLE."""

from __future__ import annotations

import uuid
from typing import Any

import trio

from ferrokafka.cluster.image import MetadataImage, PartitionImage, TopicImage
from ferrokafka.cluster.node_client import NodeUnavailableError
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.add_partitions_to_txn import (
    AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse,
)
from ferrokafka.txn import verifier as verifier_module
from ferrokafka.txn.coordinator import TXN_TOPIC
from ferrokafka.txn.verifier import CoordinatorTxnVerifier

ME = 1
T0 = ("t", 0)
T1 = ("t", 1)


class OnePartition:
    """The coordinator as the verifier sees it when the id lives elsewhere."""

    def partition_for(self, transactional_id: str) -> int:
        return 0


def image(leader: int) -> MetadataImage:
    topic = TopicImage(
        TXN_TOPIC, uuid.UUID(int=9), {0: PartitionImage(0, (1, 2), (1, 2), leader, 1, 1)}
    )
    return MetadataImage(
        offset=1, topics_by_name={TXN_TOPIC: topic}, topics_by_id={topic.topic_id: topic}
    )


def verifier(leader: int, call: Any) -> CoordinatorTxnVerifier:
    made = CoordinatorTxnVerifier(
        OnePartition(),  # type: ignore[arg-type]
        lambda: image(leader),
        node_id=ME,
        listener="PLAINTEXT",
    )
    made._call = call  # type: ignore[method-assign]
    return made


def answer(codes: dict[tuple[str, int], int], top: int = ec.NONE) -> Any:
    async def call(
        broker_id: int, request: AddPartitionsToTxnRequest
    ) -> AddPartitionsToTxnResponse:
        assert broker_id == 2
        (txn,) = request.transactions
        assert txn.verify_only
        return AddPartitionsToTxnResponse(
            error_code=top,
            results_by_transaction=[
                AddPartitionsToTxnResponse.AddPartitionsToTxnResult(
                    transactional_id=txn.transactional_id,
                    topic_results=[
                        AddPartitionsToTxnResponse.AddPartitionsToTxnTopicResult(
                            name="t",
                            results_by_partition=[
                                AddPartitionsToTxnResponse.AddPartitionsToTxnPartitionResult(
                                    partition_index=p, partition_error_code=c
                                )
                                for (_, p), c in codes.items()
                            ],
                        )
                    ],
                )
            ],
        )

    return call


def failing(exc: Exception) -> Any:
    async def call(
        broker_id: int, request: AddPartitionsToTxnRequest
    ) -> AddPartitionsToTxnResponse:
        raise exc

    return call


def verify(v: CoordinatorTxnVerifier) -> dict[tuple[str, int], int]:
    async def main() -> dict[tuple[str, int], int]:
        return await v.verify("tx", 5, 0, [T0, T1], add=False)

    return trio.run(main)


def test_codes_become_the_produce_s() -> None:
    answered = verify(verifier(2, answer({T0: ec.NONE, T1: ec.TRANSACTION_ABORTABLE})))
    assert answered == {T0: ec.NONE, T1: ec.INVALID_TXN_STATE}
    fenced = verify(verifier(2, answer({T0: ec.PRODUCER_FENCED, T1: ec.PRODUCER_FENCED})))
    assert fenced == {T0: ec.INVALID_PRODUCER_EPOCH, T1: ec.INVALID_PRODUCER_EPOCH}
    # The broker's own authorization failing is the verification failing, to the produce.
    top = verify(verifier(2, answer({}, top=ec.CLUSTER_AUTHORIZATION_FAILED)))
    assert top == {T0: ec.INVALID_TXN_STATE, T1: ec.INVALID_TXN_STATE}
    other = verify(verifier(2, answer({}, top=ec.NOT_COORDINATOR)))
    assert other == {T0: ec.NOT_COORDINATOR, T1: ec.NOT_COORDINATOR}


def test_unreachable_old_and_leaderless_coordinators() -> None:
    lost = verify(verifier(2, failing(NodeUnavailableError("reset"))))
    assert lost == {T0: ec.NETWORK_EXCEPTION, T1: ec.NETWORK_EXCEPTION}
    too_old = verify(verifier(2, failing(verifier_module._TooOldToVerifyError("v3"))))
    assert too_old == {T0: ec.NONE, T1: ec.NONE}
    leaderless = verify(verifier(-1, failing(AssertionError("not asked"))))
    assert leaderless == {T0: ec.COORDINATOR_NOT_AVAILABLE, T1: ec.COORDINATOR_NOT_AVAILABLE}
