"""The authorization gates of the transaction APIs (Kafka 4.4's ``KafkaApis``):
InitProducerId (WRITE on the transactional id; an idempotent producer IDEMPOTENT_WRITE on the
cluster or WRITE on some topic), AddPartitionsToTxn (WRITE on the id and the topics; v4+, the
brokers' own, CLUSTER_ACTION), AddOffsetsToTxn and TxnOffsetCommit (WRITE on the id, READ on
the group and topics), EndTxn, DescribeTransactions and ListTransactions (DESCRIBE, filtered),
WriteTxnMarkers (CLUSTER_ACTION)."""

from __future__ import annotations

from typing import Any

from ferrokafka.cluster.acls.model import AclOperation
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages import (
    add_offsets_to_txn,
    add_partitions_to_txn,
    describe_transactions,
    init_producer_id,
    txn_offset_commit,
    write_txn_markers,
)
from ferrokafka.server.authorize import StandardAuthorizer, authorized_any_of_type
from ferrokafka.server.authorize_gate_kit import (
    GROUP,
    TOPIC,
    TOPIC_DENIED,
    TXN,
    Inner,
    allows,
    cluster_allows,
)
from ferrokafka.server.dispatcher import RequestContext

# AddPartitionsToTxn v4+ is the brokers' own (KIP-890): CLUSTER_ACTION.
_BROKER_ADD_PARTITIONS_VERSION = 4


async def gate_init_producer_id(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    R = init_producer_id.InitProducerIdResponse
    if request.transactional_id is not None:
        if not allows(auth, ctx, AclOperation.WRITE, TXN, request.transactional_id):
            return R(error_code=ec.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, producer_id=-1)
    elif not (
        cluster_allows(auth, ctx, AclOperation.IDEMPOTENT_WRITE)
        or authorized_any_of_type(auth, ctx, AclOperation.WRITE, TOPIC)
    ):
        # Kafka 4: an idempotent producer needs IDEMPOTENT_WRITE or WRITE on some topic.
        return R(error_code=ec.CLUSTER_AUTHORIZATION_FAILED, producer_id=-1)
    return await inner(ctx, request)


async def gate_add_partitions_to_txn(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    R = add_partitions_to_txn.AddPartitionsToTxnResponse
    if ctx.api_version >= _BROKER_ADD_PARTITIONS_VERSION:
        if not cluster_allows(auth, ctx, AclOperation.CLUSTER_ACTION):
            return R(error_code=ec.CLUSTER_AUTHORIZATION_FAILED)
        return await inner(ctx, request)
    topics = request.v3_and_below_topics
    txn_ok = allows(auth, ctx, AclOperation.WRITE, TXN, request.v3_and_below_transactional_id)
    denied = {t.name for t in topics if not allows(auth, ctx, AclOperation.WRITE, TOPIC, t.name)}
    if txn_ok and not denied:
        return await inner(ctx, request)

    def code(name: str) -> int:
        if not txn_ok:
            return ec.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
        return ec.TOPIC_AUTHORIZATION_FAILED if name in denied else ec.OPERATION_NOT_ATTEMPTED

    return R(
        results_by_topic_v3_and_below=[
            R.AddPartitionsToTxnTopicResult(
                name=t.name,
                results_by_partition=[
                    R.AddPartitionsToTxnPartitionResult(
                        partition_index=p, partition_error_code=code(t.name)
                    )
                    for p in t.partitions
                ],
            )
            for t in topics
        ]
    )


async def gate_add_offsets_to_txn(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    R = add_offsets_to_txn.AddOffsetsToTxnResponse
    if not allows(auth, ctx, AclOperation.WRITE, TXN, request.transactional_id):
        return R(error_code=ec.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
    if not allows(auth, ctx, AclOperation.READ, GROUP, request.group_id):
        return R(error_code=ec.GROUP_AUTHORIZATION_FAILED)
    return await inner(ctx, request)


async def gate_txn_offset_commit(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    R = txn_offset_commit.TxnOffsetCommitResponse
    whole = 0
    if not allows(auth, ctx, AclOperation.WRITE, TXN, request.transactional_id):
        whole = ec.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
    elif not allows(auth, ctx, AclOperation.READ, GROUP, request.group_id):
        whole = ec.GROUP_AUTHORIZATION_FAILED
    denied = [
        t
        for t in request.topics
        if whole or not allows(auth, ctx, AclOperation.READ, TOPIC, t.name)
    ]
    refusals = [
        R.TxnOffsetCommitResponseTopic(
            name=t.name,
            partitions=[
                R.TxnOffsetCommitResponsePartition(
                    partition_index=p.partition_index, error_code=whole or TOPIC_DENIED
                )
                for p in t.partitions
            ],
        )
        for t in denied
    ]
    if whole or not [t for t in request.topics if t not in denied]:
        return R(topics=refusals)
    request.topics = [t for t in request.topics if t not in denied]
    response = await inner(ctx, request)
    response.topics.extend(refusals)
    return response


async def gate_describe_transactions(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    ids = request.transactional_ids
    denied = [i for i in ids if not allows(auth, ctx, AclOperation.DESCRIBE, TXN, i)]
    request.transactional_ids = [i for i in ids if i not in denied]
    response = await inner(ctx, request)
    response.transaction_states.extend(
        describe_transactions.DescribeTransactionsResponse.TransactionState(
            error_code=ec.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            transactional_id=i,
            transaction_state="",
            producer_id=-1,
            producer_epoch=-1,
        )
        for i in denied
    )
    return response


async def gate_list_transactions(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    response = await inner(ctx, request)
    response.transaction_states = [
        s
        for s in response.transaction_states
        if allows(auth, ctx, AclOperation.DESCRIBE, TXN, s.transactional_id)
    ]
    return response


async def gate_write_txn_markers(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    if cluster_allows(auth, ctx, AclOperation.CLUSTER_ACTION):
        return await inner(ctx, request)
    R = write_txn_markers.WriteTxnMarkersResponse
    return R(
        markers=[
            R.WritableTxnMarkerResult(
                producer_id=m.producer_id,
                topics=[
                    R.WritableTxnMarkerTopicResult(
                        name=t.name,
                        partitions=[
                            R.WritableTxnMarkerPartitionResult(
                                partition_index=p, error_code=ec.CLUSTER_AUTHORIZATION_FAILED
                            )
                            for p in t.partition_indexes
                        ],
                    )
                    for t in m.topics
                ],
            )
            for m in request.markers
        ]
    )
