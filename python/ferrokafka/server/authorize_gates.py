"""The authorization checks Kafka's ``KafkaApis`` makes before each API, as wrappers around
the handlers (:func:`install_gates`), for the APIs that do not check inside their handler
(Produce, Fetch, Metadata, OffsetCommit, OffsetFetch and the ACL APIs do).

A gate is installed only when the node has an authorizer, so a broker without one pays
nothing. Each gate answers what Kafka answers a principal lacking the permission: the whole
request refused (GROUP_AUTHORIZATION_FAILED for JoinGroup without READ on the group,
CLUSTER_AUTHORIZATION_FAILED for ElectLeaders without ALTER on the cluster, ...), or the
items it may not touch refused one by one while the rest go to the handler (a CreateTopics
of two topics, one allowed), or listings filtered to what it may describe (ListGroups,
ListTransactions). Per API, the rule is Kafka 4.4's ``KafkaApis.handle<Api>``; the
transaction APIs' gates are in :mod:`ferrokafka.server.authorize_gates_txn`, what the gates
share in :mod:`ferrokafka.server.authorize_gate_kit`. :data:`CONTROLLER_GATES` add the
controller listener's checks (Kafka's ``ControllerApis``), with the quorum's APIs' in
:mod:`ferrokafka.server.authorize_gates_quorum`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ferrokafka.cluster.acls.model import AclOperation
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.error_responses import error_response
from ferrokafka.protocol.messages import (
    add_offsets_to_txn,
    add_partitions_to_txn,
    allocate_producer_ids,
    alter_client_quotas,
    alter_configs,
    alter_partition,
    alter_partition_reassignments,
    alter_user_scram_credentials,
    assign_replicas_to_dirs,
    broker_heartbeat,
    broker_registration,
    consumer_group_describe,
    consumer_group_heartbeat,
    controller_registration,
    create_acls,
    create_partitions,
    create_topics,
    delete_acls,
    delete_groups,
    delete_records,
    delete_topics,
    describe_client_quotas,
    describe_configs,
    describe_groups,
    describe_log_dirs,
    describe_producers,
    describe_quorum,
    describe_topic_partitions,
    describe_transactions,
    describe_user_scram_credentials,
    elect_leaders,
    end_txn,
    envelope,
    find_coordinator,
    heartbeat,
    incremental_alter_configs,
    init_producer_id,
    join_group,
    leave_group,
    list_groups,
    list_offsets,
    list_partition_reassignments,
    list_transactions,
    offset_delete,
    offset_for_leader_epoch,
    share_group_describe,
    share_group_heartbeat,
    sync_group,
    txn_offset_commit,
    unregister_broker,
    update_features,
    write_txn_markers,
)
from ferrokafka.server import authorize_gates_txn as txn_gates
from ferrokafka.server.authorize import (
    StandardAuthorizer,
    authorized_operations,
)
from ferrokafka.server.authorize_gate_kit import (
    GROUP,
    TOPIC,
    TXN,
    Gate,
    Inner,
    allows,
    cluster_allows,
    cluster_op,
    group_read,
    top_level,
    txn_write,
    whole,
)
from ferrokafka.server.authorize_gates_share import SHARE_STATE_GATES
from ferrokafka.server.authorize_gates_share_offsets import SHARE_OFFSETS_GATES
from ferrokafka.server.authorize_gates_streams import STREAMS_GATES
from ferrokafka.server.dispatcher import Dispatcher, Handler, RequestContext

# ConfigResource.Type ids of Describe/AlterConfigs.
_CONFIG_TOPIC = 2
_CONFIG_BROKER = 4
_CONFIG_BROKER_LOGGER = 8
_CONFIG_GROUP = 32
# FindCoordinator key types.
_GROUP_KEY = 0
_TXN_KEY = 1
_SHARE_KEY = 2
# FindCoordinator v4 batches keys.
_BATCHED_FIND_VERSION = 4
# The bit field a DescribeGroups without include_authorized_operations carries.
_OPERATIONS_OMITTED = -(2**31)


class GatedHandler:
    """``inner`` behind ``gate``: what the dispatcher calls for a gated API."""

    __slots__ = ("_authorizer", "_gate", "_inner")

    def __init__(self, inner: Handler, gate: Gate, authorizer: StandardAuthorizer) -> None:
        self._inner = inner
        self._gate = gate
        self._authorizer = authorizer

    async def __call__(self, ctx: RequestContext, request: Any) -> Any:
        return await self._gate(self._authorizer, ctx, request, self._inner)

    async def gate_with(self, ctx: RequestContext, request: Any, inner: Inner) -> Any:
        """The gate in front of another answer (a controller's Envelope: the forwarded
        request's own operation, checked as the forwarded client's)."""
        return await self._gate(self._authorizer, ctx, request, inner)


def install_gates(
    dispatcher: Dispatcher, authorizer: StandardAuthorizer | None, *, controller: bool = False
) -> None:
    """Put every gated API's handler on ``dispatcher`` behind its gate (nothing without an
    authorizer); ``controller``: a controller listener's dispatcher, whose ACL, membership and
    Envelope APIs have gates of their own (a broker's ACL handlers check themselves)."""
    if authorizer is None:
        return
    # Imported here: the quorum's gates import the raft wire modules, a broker's never need.
    if controller:
        from ferrokafka.server.authorize_gates_quorum import QUORUM_GATES

        gates = {**GATES, **CONTROLLER_GATES, **QUORUM_GATES}
    else:
        gates = GATES
    for request_type, gate in gates.items():
        handler = dispatcher.handler_for(request_type.API_KEY)
        if handler is not None:
            dispatcher.replace(request_type.API_KEY, GatedHandler(handler, gate, authorizer))


# -- groups --------------------------------------------------------------------------------


# JoinGroup's protocol_name is nullable from this version: Kafka's refusal sends null there.
_JOIN_NULL_PROTOCOL_VERSION = 7


async def _join_group(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    """Without READ on the group: Kafka's ``JoinGroupRequest.getErrorResponse`` (no member
    id, no leader, generation -1, protocol name null from v7 and "" before)."""
    if allows(auth, ctx, AclOperation.READ, GROUP, request.group_id):
        return await inner(ctx, request)
    null_name = ctx.api_version >= _JOIN_NULL_PROTOCOL_VERSION
    return join_group.JoinGroupResponse(
        error_code=ec.GROUP_AUTHORIZATION_FAILED,
        generation_id=-1,
        protocol_name=None if null_name else "",
        leader="",
        member_id="",
        members=[],
    )


def _leave_refused(_request: Any, code: int) -> Any:
    return leave_group.LeaveGroupResponse(error_code=code)


async def _describe_groups(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    denied = [g for g in request.groups if not allows(auth, ctx, AclOperation.DESCRIBE, GROUP, g)]
    request.groups = [g for g in request.groups if g not in denied]
    response = await inner(ctx, request)
    for group in response.groups:
        if request.include_authorized_operations and group.error_code == ec.NONE:
            group.authorized_operations = authorized_operations(
                _Holder(auth), ctx, GROUP, group.group_id
            )
    response.groups.extend(
        describe_groups.DescribeGroupsResponse.DescribedGroup(
            error_code=ec.GROUP_AUTHORIZATION_FAILED,
            group_id=g,
            group_state="",
            protocol_type="",
            protocol_data="",
            authorized_operations=_OPERATIONS_OMITTED,
        )
        for g in denied
    )
    return response


async def _consumer_group_describe(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    denied = [
        g for g in request.group_ids if not allows(auth, ctx, AclOperation.DESCRIBE, GROUP, g)
    ]
    request.group_ids = [g for g in request.group_ids if g not in denied]
    response = await inner(ctx, request)
    if request.include_authorized_operations:
        holder = _Holder(auth)
        for group in response.groups:
            if group.error_code == ec.NONE:
                group.authorized_operations = authorized_operations(
                    holder, ctx, GROUP, group.group_id
                )
    response.groups.extend(
        consumer_group_describe.ConsumerGroupDescribeResponse.DescribedGroup(
            error_code=ec.GROUP_AUTHORIZATION_FAILED, group_id=g
        )
        for g in denied
    )
    return response


async def _delete_groups(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    names = request.groups_names
    denied = [g for g in names if not allows(auth, ctx, AclOperation.DELETE, GROUP, g)]
    request.groups_names = [g for g in names if g not in denied]
    response = await inner(ctx, request)
    response.results.extend(
        delete_groups.DeleteGroupsResponse.DeletableGroupResult(
            group_id=g, error_code=ec.GROUP_AUTHORIZATION_FAILED
        )
        for g in denied
    )
    return response


async def _list_groups(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    response = await inner(ctx, request)
    # Kafka lists every group to a principal with DESCRIBE on the cluster, else those it may
    # describe.
    if not cluster_allows(auth, ctx, AclOperation.DESCRIBE):
        response.groups = [
            g
            for g in response.groups
            if allows(auth, ctx, AclOperation.DESCRIBE, GROUP, g.group_id)
        ]
    return response


async def _offset_delete(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    if not allows(auth, ctx, AclOperation.DELETE, GROUP, request.group_id):
        return offset_delete.OffsetDeleteResponse(error_code=ec.GROUP_AUTHORIZATION_FAILED)
    denied = [t for t in request.topics if not allows(auth, ctx, AclOperation.READ, TOPIC, t.name)]
    request.topics = [t for t in request.topics if t not in denied]
    response = await inner(ctx, request)
    R = offset_delete.OffsetDeleteResponse
    response.topics.extend(
        R.OffsetDeleteResponseTopic(
            name=t.name,
            partitions=[
                R.OffsetDeleteResponsePartition(
                    partition_index=p.partition_index, error_code=ec.TOPIC_AUTHORIZATION_FAILED
                )
                for p in t.partitions
            ],
        )
        for t in denied
    )
    return response


async def _consumer_group_heartbeat(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    R = consumer_group_heartbeat.ConsumerGroupHeartbeatResponse
    if not allows(auth, ctx, AclOperation.READ, GROUP, request.group_id):
        return R(error_code=ec.GROUP_AUTHORIZATION_FAILED, error_message=None)
    for name in request.subscribed_topic_names or ():
        if not allows(auth, ctx, AclOperation.DESCRIBE, TOPIC, name):
            return R(
                error_code=ec.TOPIC_AUTHORIZATION_FAILED,
                error_message=f"The client is not authorized to describe topics: {name}",
            )
    return await inner(ctx, request)


async def _share_group_heartbeat(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    """Kafka's handleShareGroupHeartbeat: READ on the group, DESCRIBE on each topic."""
    R = share_group_heartbeat.ShareGroupHeartbeatResponse
    if not allows(auth, ctx, AclOperation.READ, GROUP, request.group_id):
        return R(error_code=ec.GROUP_AUTHORIZATION_FAILED, error_message=None)
    for name in request.subscribed_topic_names or ():
        if not allows(auth, ctx, AclOperation.DESCRIBE, TOPIC, name):
            return R(
                error_code=ec.TOPIC_AUTHORIZATION_FAILED,
                error_message=f"The client is not authorized to describe topics: {name}",
            )
    return await inner(ctx, request)


async def _share_group_describe(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    """Kafka's handleShareGroupDescribe: DESCRIBE on each group, the others refused."""
    denied = [
        g for g in request.group_ids if not allows(auth, ctx, AclOperation.DESCRIBE, GROUP, g)
    ]
    request.group_ids = [g for g in request.group_ids if g not in denied]
    response = await inner(ctx, request)
    if request.include_authorized_operations:
        holder = _Holder(auth)
        for group in response.groups:
            if group.error_code == ec.NONE:
                group.authorized_operations = authorized_operations(
                    holder, ctx, GROUP, group.group_id
                )
    response.groups.extend(
        share_group_describe.ShareGroupDescribeResponse.DescribedGroup(
            error_code=ec.GROUP_AUTHORIZATION_FAILED, group_id=g
        )
        for g in denied
    )
    return response


async def _find_coordinator(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    key_type = request.key_type if ctx.api_version >= 1 else _GROUP_KEY

    def code(key: str) -> int:
        if key_type == _GROUP_KEY:
            ok = allows(auth, ctx, AclOperation.DESCRIBE, GROUP, key)
            return 0 if ok else ec.GROUP_AUTHORIZATION_FAILED
        if key_type == _TXN_KEY:
            ok = allows(auth, ctx, AclOperation.DESCRIBE, TXN, key)
            return 0 if ok else ec.TRANSACTIONAL_ID_AUTHORIZATION_FAILED
        if key_type == _SHARE_KEY:  # share-partition keys: the brokers' own (CLUSTER_ACTION)
            ok = cluster_allows(auth, ctx, AclOperation.CLUSTER_ACTION)
            return 0 if ok else ec.CLUSTER_AUTHORIZATION_FAILED
        return 0

    R = find_coordinator.FindCoordinatorResponse
    if ctx.api_version < _BATCHED_FIND_VERSION:
        refused = code(request.key)
        if refused:
            return R(error_code=refused, error_message=None, node_id=-1, host="", port=-1)
        return await inner(ctx, request)
    denied = {k: c for k in request.coordinator_keys if (c := code(k))}
    request.coordinator_keys = [k for k in request.coordinator_keys if k not in denied]
    response = await inner(ctx, request)
    response.coordinators.extend(
        R.Coordinator(key=k, node_id=-1, host="", port=-1, error_code=c, error_message=None)
        for k, c in denied.items()
    )
    return response


# -- topics --------------------------------------------------------------------------------


async def _create_topics(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    if cluster_allows(auth, ctx, AclOperation.CREATE):
        return _hide_undescribable_configs(auth, ctx, await inner(ctx, request))
    denied = [
        t for t in request.topics if not allows(auth, ctx, AclOperation.CREATE, TOPIC, t.name)
    ]
    request.topics = [t for t in request.topics if t not in denied]
    response = _hide_undescribable_configs(auth, ctx, await inner(ctx, request))
    response.topics.extend(
        create_topics.CreateTopicsResponse.CreatableTopicResult(
            name=t.name,
            error_code=ec.TOPIC_AUTHORIZATION_FAILED,
            error_message="Authorization failed.",
            num_partitions=-1,
            replication_factor=-1,
            configs=None,
        )
        for t in denied
    )
    return response


def _hide_undescribable_configs(
    auth: StandardAuthorizer, ctx: RequestContext, response: Any
) -> Any:
    """A topic created for a principal without DESCRIBE_CONFIGS on it is answered without its
    configs, partition count and replication factor, and with topic_config_error_code
    TOPIC_AUTHORIZATION_FAILED (Kafka's ReplicationControlManager, KIP-525)."""
    for result in response.topics:
        if result.error_code != ec.NONE:
            continue
        if not allows(auth, ctx, AclOperation.DESCRIBE_CONFIGS, TOPIC, result.name):
            result.topic_config_error_code = ec.TOPIC_AUTHORIZATION_FAILED
            result.num_partitions = -1
            result.replication_factor = -1
            result.configs = []
    return response


async def _delete_topics(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    image = auth.image()
    named = bool(request.topic_names)

    def name_of(state: Any) -> str | None:
        if state.name is not None:
            return str(state.name)
        topic = image.topic_by_id(state.topic_id)
        return topic.name if topic is not None else None

    R = delete_topics.DeleteTopicsResponse
    denied: list[R.DeletableTopicResult] = []
    if named:
        keep = []
        for name in request.topic_names:
            if allows(auth, ctx, AclOperation.DELETE, TOPIC, name):
                keep.append(name)
            else:
                denied.append(_deleted_refusal(name, None))
        request.topic_names = keep
    else:
        keep_states = []
        for state in request.topics:
            name = name_of(state)
            if name is None or allows(auth, ctx, AclOperation.DELETE, TOPIC, name):
                keep_states.append(state)
            else:
                denied.append(_deleted_refusal(state.name, state.topic_id))
        request.topics = keep_states
    response = await inner(ctx, request)
    response.responses.extend(denied)
    return response


def _deleted_refusal(name: str | None, topic_id: Any) -> Any:
    result = delete_topics.DeleteTopicsResponse.DeletableTopicResult(
        name=name, error_code=ec.TOPIC_AUTHORIZATION_FAILED, error_message="Authorization failed."
    )
    if topic_id is not None:
        result.topic_id = topic_id
    return result


async def _create_partitions(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    denied = [t for t in request.topics if not allows(auth, ctx, AclOperation.ALTER, TOPIC, t.name)]
    request.topics = [t for t in request.topics if t not in denied]
    response = await inner(ctx, request)
    response.results.extend(
        create_partitions.CreatePartitionsResponse.CreatePartitionsTopicResult(
            name=t.name,
            error_code=ec.TOPIC_AUTHORIZATION_FAILED,
            error_message="Authorization failed.",
        )
        for t in denied
    )
    return response


def _per_partition(
    op: AclOperation,
    topic_name: Callable[[Any], str],
    refusal: Callable[[Any], Any],
    results: str,
    topics: str = "topics",
) -> Gate:
    """A gate refusing, partition by partition, the topics the principal may not ``op``;
    ``refusal(topic)`` is a response topic of TOPIC_AUTHORIZATION_FAILED partitions."""

    async def gate(
        auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
    ) -> Any:
        wanted = getattr(request, topics)
        denied = [t for t in wanted if not allows(auth, ctx, op, TOPIC, topic_name(t))]
        setattr(request, topics, [t for t in wanted if t not in denied])
        response = await inner(ctx, request)
        getattr(response, results).extend(refusal(t) for t in denied)
        return response

    return gate


_TA = ec.TOPIC_AUTHORIZATION_FAILED
_LO = list_offsets.ListOffsetsResponse
_DR = delete_records.DeleteRecordsResponse
_DP = describe_producers.DescribeProducersResponse
_OE = offset_for_leader_epoch.OffsetForLeaderEpochResponse


def _list_offsets_refusal(t: Any) -> Any:
    return _LO.ListOffsetsTopicResponse(
        name=t.name,
        partitions=[
            _LO.ListOffsetsPartitionResponse(
                partition_index=p.partition_index, error_code=_TA, timestamp=-1, offset=-1
            )
            for p in t.partitions
        ],
    )


def _delete_records_refusal(t: Any) -> Any:
    return _DR.DeleteRecordsTopicResult(
        name=t.name,
        partitions=[
            _DR.DeleteRecordsPartitionResult(
                partition_index=p.partition_index, low_watermark=-1, error_code=_TA
            )
            for p in t.partitions
        ],
    )


def _describe_producers_refusal(t: Any) -> Any:
    return _DP.TopicResponse(
        name=t.name,
        partitions=[
            _DP.PartitionResponse(partition_index=p, error_code=_TA, error_message=None)
            for p in t.partition_indexes
        ],
    )


def _epoch_refusal(t: Any) -> Any:
    return _OE.OffsetForLeaderTopicResult(
        topic=t.topic,
        partitions=[
            _OE.EpochEndOffset(
                error_code=_TA, partition=p.partition, leader_epoch=-1, end_offset=-1
            )
            for p in t.partitions
        ],
    )


_offset_for_leader_epoch_topics = _per_partition(
    AclOperation.DESCRIBE, lambda t: t.topic, _epoch_refusal, "topics"
)


async def _offset_for_leader_epoch(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    # A follower's request (replica id >= 0) needs CLUSTER_ACTION, a client's DESCRIBE.
    if request.replica_id >= 0:
        if not cluster_allows(auth, ctx, AclOperation.CLUSTER_ACTION):
            return _OE(topics=[_epoch_refusal(t) for t in request.topics])
        return await inner(ctx, request)
    return await _offset_for_leader_epoch_topics(auth, ctx, request, inner)


# -- configs -------------------------------------------------------------------------------


def _config_code(
    auth: StandardAuthorizer, ctx: RequestContext, op: AclOperation, rtype: int, name: str
) -> int:
    if rtype in (_CONFIG_BROKER, _CONFIG_BROKER_LOGGER):
        return 0 if cluster_allows(auth, ctx, op) else ec.CLUSTER_AUTHORIZATION_FAILED
    if rtype == _CONFIG_TOPIC:
        return 0 if allows(auth, ctx, op, TOPIC, name) else ec.TOPIC_AUTHORIZATION_FAILED
    if rtype == _CONFIG_GROUP:
        return 0 if allows(auth, ctx, op, GROUP, name) else ec.GROUP_AUTHORIZATION_FAILED
    return 0  # an unknown type: the handler answers it


def _configs_gate(op: AclOperation, results: str, entry: type) -> Gate:
    """Describe/Alter(Incremental)Configs: each resource the principal may not ``op`` is taken
    out of the request and answered with its own error after the rest (Kafka's per-resource
    refusal); ``results`` names the response's list, ``entry`` its item type."""

    async def gate(
        auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
    ) -> Any:
        denied = {
            id(r): c
            for r in request.resources
            if (c := _config_code(auth, ctx, op, r.resource_type, r.resource_name))
        }
        refused = [r for r in request.resources if id(r) in denied]
        request.resources = [r for r in request.resources if id(r) not in denied]
        response = await inner(ctx, request)
        getattr(response, results).extend(
            entry(
                error_code=denied[id(r)],
                error_message=None,
                resource_type=r.resource_type,
                resource_name=r.resource_name,
            )
            for r in refused
        )
        return response

    return gate


async def _describe_log_dirs(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    if cluster_allows(auth, ctx, AclOperation.DESCRIBE):
        return await inner(ctx, request)
    return describe_log_dirs.DescribeLogDirsResponse(
        error_code=ec.CLUSTER_AUTHORIZATION_FAILED, results=[]
    )


async def _describe_topic_partitions(
    auth: StandardAuthorizer, ctx: RequestContext, request: Any, inner: Inner
) -> Any:
    """Named topics the principal may not describe are refused; a listing of every topic
    leaves them out (Kafka's DescribeTopicPartitionsRequestHandler)."""
    R = describe_topic_partitions.DescribeTopicPartitionsResponse
    every_topic = not request.topics
    denied = [
        t.name
        for t in request.topics
        if not allows(auth, ctx, AclOperation.DESCRIBE, TOPIC, t.name)
    ]
    if denied:
        request.topics = [t for t in request.topics if t.name not in denied]
        if not request.topics:  # nothing left to describe: not "every topic"
            return R(
                topics=[
                    R.DescribeTopicPartitionsResponseTopic(
                        error_code=_TA, name=name, is_internal=False, partitions=[]
                    )
                    for name in denied
                ]
            )
    response = await inner(ctx, request)
    holder = _Holder(auth)
    if every_topic:
        response.topics = [
            t for t in response.topics if allows(auth, ctx, AclOperation.DESCRIBE, TOPIC, t.name)
        ]
    for topic in response.topics:
        if topic.error_code == ec.NONE:
            topic.topic_authorized_operations = authorized_operations(
                holder, ctx, TOPIC, topic.name
            )
    response.topics.extend(
        R.DescribeTopicPartitionsResponseTopic(
            error_code=_TA, name=name, is_internal=False, partitions=[]
        )
        for name in denied
    )
    return response


class _Holder:
    """An object with the ``authorizer`` attribute server/authorize.py's helpers read."""

    __slots__ = ("authorizer",)

    def __init__(self, authorizer: StandardAuthorizer) -> None:
        self.authorizer = authorizer


def _cluster_refusal(op: AclOperation) -> Gate:
    """Refused whole with CLUSTER_AUTHORIZATION_FAILED wherever the response has a code."""
    return whole(cluster_op(op), error_response)


GATES: dict[type, Gate] = {
    join_group.JoinGroupRequest: _join_group,
    sync_group.SyncGroupRequest: whole(group_read(), top_level(sync_group.SyncGroupResponse)),
    heartbeat.HeartbeatRequest: whole(group_read(), top_level(heartbeat.HeartbeatResponse)),
    leave_group.LeaveGroupRequest: whole(group_read(), _leave_refused),
    consumer_group_heartbeat.ConsumerGroupHeartbeatRequest: _consumer_group_heartbeat,
    describe_groups.DescribeGroupsRequest: _describe_groups,
    consumer_group_describe.ConsumerGroupDescribeRequest: _consumer_group_describe,
    share_group_heartbeat.ShareGroupHeartbeatRequest: _share_group_heartbeat,
    share_group_describe.ShareGroupDescribeRequest: _share_group_describe,
    delete_groups.DeleteGroupsRequest: _delete_groups,
    list_groups.ListGroupsRequest: _list_groups,
    offset_delete.OffsetDeleteRequest: _offset_delete,
    find_coordinator.FindCoordinatorRequest: _find_coordinator,
    create_topics.CreateTopicsRequest: _create_topics,
    delete_topics.DeleteTopicsRequest: _delete_topics,
    create_partitions.CreatePartitionsRequest: _create_partitions,
    list_offsets.ListOffsetsRequest: _per_partition(
        AclOperation.DESCRIBE, lambda t: t.name, _list_offsets_refusal, "topics"
    ),
    delete_records.DeleteRecordsRequest: _per_partition(
        AclOperation.DELETE, lambda t: t.name, _delete_records_refusal, "topics"
    ),
    describe_producers.DescribeProducersRequest: _per_partition(
        AclOperation.READ, lambda t: t.name, _describe_producers_refusal, "topics"
    ),
    offset_for_leader_epoch.OffsetForLeaderEpochRequest: _offset_for_leader_epoch,
    describe_configs.DescribeConfigsRequest: _configs_gate(
        AclOperation.DESCRIBE_CONFIGS,
        "results",
        describe_configs.DescribeConfigsResponse.DescribeConfigsResult,
    ),
    alter_configs.AlterConfigsRequest: _configs_gate(
        AclOperation.ALTER_CONFIGS,
        "responses",
        alter_configs.AlterConfigsResponse.AlterConfigsResourceResponse,
    ),
    incremental_alter_configs.IncrementalAlterConfigsRequest: _configs_gate(
        AclOperation.ALTER_CONFIGS,
        "responses",
        incremental_alter_configs.IncrementalAlterConfigsResponse.AlterConfigsResourceResponse,
    ),
    init_producer_id.InitProducerIdRequest: txn_gates.gate_init_producer_id,
    add_partitions_to_txn.AddPartitionsToTxnRequest: txn_gates.gate_add_partitions_to_txn,
    add_offsets_to_txn.AddOffsetsToTxnRequest: txn_gates.gate_add_offsets_to_txn,
    end_txn.EndTxnRequest: whole(txn_write, top_level(end_txn.EndTxnResponse)),
    txn_offset_commit.TxnOffsetCommitRequest: txn_gates.gate_txn_offset_commit,
    describe_transactions.DescribeTransactionsRequest: txn_gates.gate_describe_transactions,
    list_transactions.ListTransactionsRequest: txn_gates.gate_list_transactions,
    write_txn_markers.WriteTxnMarkersRequest: txn_gates.gate_write_txn_markers,
    describe_log_dirs.DescribeLogDirsRequest: _describe_log_dirs,
    describe_topic_partitions.DescribeTopicPartitionsRequest: _describe_topic_partitions,
    elect_leaders.ElectLeadersRequest: _cluster_refusal(AclOperation.ALTER),
    alter_partition_reassignments.AlterPartitionReassignmentsRequest: _cluster_refusal(
        AclOperation.ALTER
    ),
    list_partition_reassignments.ListPartitionReassignmentsRequest: _cluster_refusal(
        AclOperation.DESCRIBE
    ),
    update_features.UpdateFeaturesRequest: _cluster_refusal(AclOperation.ALTER),
    describe_client_quotas.DescribeClientQuotasRequest: whole(
        cluster_op(AclOperation.DESCRIBE_CONFIGS),
        top_level(describe_client_quotas.DescribeClientQuotasResponse),
    ),
    alter_client_quotas.AlterClientQuotasRequest: _cluster_refusal(AclOperation.ALTER_CONFIGS),
    describe_user_scram_credentials.DescribeUserScramCredentialsRequest: whole(
        cluster_op(AclOperation.DESCRIBE),
        top_level(describe_user_scram_credentials.DescribeUserScramCredentialsResponse),
    ),
    alter_user_scram_credentials.AlterUserScramCredentialsRequest: _cluster_refusal(
        AclOperation.ALTER
    ),
    describe_quorum.DescribeQuorumRequest: whole(
        cluster_op(AclOperation.DESCRIBE), top_level(describe_quorum.DescribeQuorumResponse)
    ),
    **SHARE_STATE_GATES,
    **SHARE_OFFSETS_GATES,
    **STREAMS_GATES,
}


def _envelope_refused(_request: Any, code: int) -> Any:
    return envelope.EnvelopeResponse(error_code=code)


# Kafka's ControllerApis: the ACL APIs need ALTER on the cluster, the brokers' and
# controllers' own APIs CLUSTER_ACTION (UnregisterBroker: ALTER), and an Envelope
# CLUSTER_ACTION of its sender before its request is checked as the forwarded client's.
CONTROLLER_GATES: dict[type, Gate] = {
    create_acls.CreateAclsRequest: _cluster_refusal(AclOperation.ALTER),
    delete_acls.DeleteAclsRequest: _cluster_refusal(AclOperation.ALTER),
    alter_client_quotas.AlterClientQuotasRequest: _cluster_refusal(AclOperation.ALTER_CONFIGS),
    alter_user_scram_credentials.AlterUserScramCredentialsRequest: _cluster_refusal(
        AclOperation.ALTER
    ),
    broker_registration.BrokerRegistrationRequest: _cluster_refusal(AclOperation.CLUSTER_ACTION),
    broker_heartbeat.BrokerHeartbeatRequest: _cluster_refusal(AclOperation.CLUSTER_ACTION),
    assign_replicas_to_dirs.AssignReplicasToDirsRequest: _cluster_refusal(
        AclOperation.CLUSTER_ACTION
    ),
    unregister_broker.UnregisterBrokerRequest: _cluster_refusal(AclOperation.ALTER),
    controller_registration.ControllerRegistrationRequest: _cluster_refusal(
        AclOperation.CLUSTER_ACTION
    ),
    alter_partition.AlterPartitionRequest: _cluster_refusal(AclOperation.CLUSTER_ACTION),
    allocate_producer_ids.AllocateProducerIdsRequest: _cluster_refusal(AclOperation.CLUSTER_ACTION),
    envelope.EnvelopeRequest: whole(cluster_op(AclOperation.CLUSTER_ACTION), _envelope_refused),
}
