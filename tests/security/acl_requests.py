"""One request per API key a broker advertises, aimed at resources an unauthorized principal
may not touch, with the error codes Kafka 4.4 answers such a principal and what it must not
learn (for test_acls_denied.py).

Each row: the API name, the version sent (one both Kafka 4.4 and ferrokafka support), the
request, and the non-zero error codes expected anywhere in the response. ``no_data`` rows
check that nothing is disclosed (no records fetched, no topics or groups listed).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ferrokafka.protocol.messages import (
    add_offsets_to_txn,
    add_partitions_to_txn,
    alter_client_quotas,
    alter_configs,
    alter_partition_reassignments,
    alter_user_scram_credentials,
    api_versions,
    consumer_group_describe,
    consumer_group_heartbeat,
    create_acls,
    create_partitions,
    create_topics,
    delete_acls,
    delete_groups,
    delete_records,
    delete_topics,
    describe_acls,
    describe_client_quotas,
    describe_cluster,
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
    fetch,
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
    metadata,
    offset_commit,
    offset_delete,
    offset_fetch,
    offset_for_leader_epoch,
    produce,
    share_acknowledge,
    share_fetch,
    share_group_describe,
    share_group_heartbeat,
    streams_group_describe,
    streams_group_heartbeat,
    sync_group,
    txn_offset_commit,
    write_txn_markers,
)
from ferrokafka.protocol.messages import alter_share_group_offsets as asgo
from ferrokafka.protocol.messages import delete_share_group_offsets as dsgo
from ferrokafka.protocol.messages import delete_share_group_state as dssg
from ferrokafka.protocol.messages import describe_share_group_offsets as desgo
from ferrokafka.protocol.messages import initialize_share_group_state as issg
from ferrokafka.protocol.messages import read_share_group_state as rssg
from ferrokafka.protocol.messages import read_share_group_state_summary as rssgs
from ferrokafka.protocol.messages import write_share_group_state as wssg
from ferrokafka.share.persister import SharePartitionKey

TOPIC = "acl-t"
NEW_TOPIC = "acl-new"
GROUP = "acl-g"
TXN = "acl-tx"
TA, GA, CA, XA = 29, 30, 31, 53  # TOPIC_/GROUP_/CLUSTER_/TRANSACTIONAL_ID_AUTHORIZATION_FAILED


@dataclass(frozen=True)
class Row:
    api: str
    version: int
    # The request, given the topic's id (for the APIs that name topics by id).
    request: Callable[[uuid.UUID], Any]
    codes: frozenset[int]
    # What the response may not disclose: a function returning a falsy value when nothing is.
    disclosed: Callable[[Any], object] = lambda _response: None


def error_codes(message: Any) -> frozenset[int]:
    """Every non-zero error code anywhere in a decoded message."""
    found: set[int] = set()

    def walk(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item)
            return
        fields = getattr(value, "SCHEMA", None)
        if fields is None:
            return
        for spec in fields:
            item = getattr(value, spec.name, None)
            if spec.name.endswith("error_code") and isinstance(item, int) and item:
                found.add(item)
            else:
                walk(item)

    walk(message)
    return frozenset(found)


def _fetch_records(response: Any) -> object:
    return [p.records for t in response.responses for p in t.partitions if p.records]


def _join_group(_id: uuid.UUID) -> Any:
    return join_group.JoinGroupRequest(
        group_id=GROUP,
        session_timeout_ms=30000,
        rebalance_timeout_ms=30000,
        member_id="",
        protocol_type="consumer",
        protocols=[
            join_group.JoinGroupRequest.JoinGroupRequestProtocol(name="range", metadata=b"")
        ],
    )


def _rows(batch: bytes) -> list[Row]:
    m = metadata.MetadataRequest
    f = fetch.FetchRequest
    return [
        Row(
            "ApiVersions",
            3,
            lambda _id: api_versions.ApiVersionsRequest(
                client_software_name="acl-test", client_software_version="1"
            ),
            frozenset(),
        ),
        Row(
            "Produce",
            9,
            lambda _id: produce.ProduceRequest(
                acks=1,
                timeout_ms=5000,
                topic_data=[
                    produce.ProduceRequest.TopicProduceData(
                        name=TOPIC,
                        partition_data=[
                            produce.ProduceRequest.PartitionProduceData(index=0, records=batch)
                        ],
                    )
                ],
            ),
            frozenset({TA}),
        ),
        Row(
            "Fetch",
            12,
            lambda _id: f(
                replica_id=-1,
                max_wait_ms=0,
                min_bytes=0,
                max_bytes=1 << 20,
                session_id=0,
                session_epoch=-1,
                topics=[
                    f.FetchTopic(
                        topic=TOPIC,
                        partitions=[
                            f.FetchPartition(
                                partition=0, fetch_offset=0, partition_max_bytes=1 << 20
                            )
                        ],
                    )
                ],
            ),
            frozenset({TA}),
            _fetch_records,
        ),
        Row(
            "Produce (topic id)",
            13,
            lambda topic_id: produce.ProduceRequest(
                acks=1,
                timeout_ms=5000,
                topic_data=[
                    produce.ProduceRequest.TopicProduceData(
                        topic_id=topic_id,
                        partition_data=[
                            produce.ProduceRequest.PartitionProduceData(index=0, records=batch)
                        ],
                    )
                ],
            ),
            frozenset({TA}),
        ),
        Row(
            "Fetch (topic id)",
            13,
            lambda topic_id: f(
                replica_id=-1,
                max_wait_ms=0,
                min_bytes=0,
                max_bytes=1 << 20,
                session_id=0,
                session_epoch=-1,
                topics=[
                    f.FetchTopic(
                        topic_id=topic_id,
                        partitions=[
                            f.FetchPartition(
                                partition=0, fetch_offset=0, partition_max_bytes=1 << 20
                            )
                        ],
                    )
                ],
            ),
            frozenset({TA}),
            _fetch_records,
        ),
        Row(
            "ListOffsets",
            7,
            lambda _id: list_offsets.ListOffsetsRequest(
                replica_id=-1,
                topics=[
                    list_offsets.ListOffsetsRequest.ListOffsetsTopic(
                        name=TOPIC,
                        partitions=[
                            list_offsets.ListOffsetsRequest.ListOffsetsPartition(
                                partition_index=0, timestamp=-1
                            )
                        ],
                    )
                ],
            ),
            frozenset({TA}),
        ),
        Row(
            "Metadata",
            12,
            lambda _id: m(
                topics=[m.MetadataRequestTopic(name=TOPIC)], allow_auto_topic_creation=False
            ),
            frozenset({TA}),
            lambda r: [t.partitions for t in r.topics if t.partitions],
        ),
        Row(
            "Metadata (all topics)",
            12,
            lambda _id: m(topics=None, allow_auto_topic_creation=False),
            frozenset(),
            lambda r: r.topics,
        ),
        Row(
            "OffsetCommit",
            8,
            lambda _id: offset_commit.OffsetCommitRequest(
                group_id=GROUP,
                generation_id_or_member_epoch=-1,
                member_id="",
                topics=[
                    offset_commit.OffsetCommitRequest.OffsetCommitRequestTopic(
                        name=TOPIC,
                        partitions=[
                            offset_commit.OffsetCommitRequest.OffsetCommitRequestPartition(
                                partition_index=0, committed_offset=0
                            )
                        ],
                    )
                ],
            ),
            frozenset({GA}),
        ),
        Row(
            "OffsetFetch",
            8,
            lambda _id: offset_fetch.OffsetFetchRequest(
                groups=[
                    offset_fetch.OffsetFetchRequest.OffsetFetchRequestGroup(
                        group_id=GROUP, topics=None
                    )
                ]
            ),
            frozenset({GA}),
            lambda r: [t for g in r.groups for t in g.topics],
        ),
        Row(
            "FindCoordinator",
            4,
            lambda _id: find_coordinator.FindCoordinatorRequest(
                key_type=0, coordinator_keys=[GROUP]
            ),
            frozenset({GA}),
        ),
        Row(
            "FindCoordinator (share-partition key)",
            6,
            lambda topic_id: find_coordinator.FindCoordinatorRequest(
                key_type=2,
                coordinator_keys=[SharePartitionKey(GROUP, topic_id, 0).coordinator_key()],
            ),
            frozenset({CA}),
        ),
        Row(
            "JoinGroup",
            5,
            lambda _id: join_group.JoinGroupRequest(
                group_id=GROUP,
                session_timeout_ms=30000,
                rebalance_timeout_ms=30000,
                member_id="",
                protocol_type="consumer",
                protocols=[
                    join_group.JoinGroupRequest.JoinGroupRequestProtocol(name="range", metadata=b"")
                ],
            ),
            frozenset({GA}),
        ),
        Row(
            "Heartbeat",
            4,
            lambda _id: heartbeat.HeartbeatRequest(group_id=GROUP, generation_id=1, member_id="m"),
            frozenset({GA}),
        ),
        # From v7 Kafka's refusal of JoinGroup has a null protocol name (and never a member
        # id or leader).
        Row(
            "JoinGroup (v9)",
            9,
            _join_group,
            frozenset({GA}),
            lambda r: r.protocol_name is not None or r.member_id or r.leader,
        ),
        Row(
            "LeaveGroup",
            4,
            lambda _id: leave_group.LeaveGroupRequest(
                group_id=GROUP,
                members=[leave_group.LeaveGroupRequest.MemberIdentity(member_id="m")],
            ),
            frozenset({GA}),
        ),
        Row(
            "SyncGroup",
            5,
            lambda _id: sync_group.SyncGroupRequest(
                group_id=GROUP,
                generation_id=1,
                member_id="m",
                protocol_type="consumer",
                protocol_name="range",
            ),
            frozenset({GA}),
        ),
        Row(
            "DescribeGroups",
            5,
            lambda _id: describe_groups.DescribeGroupsRequest(groups=[GROUP]),
            frozenset({GA}),
            lambda r: [g.members for g in r.groups if g.members],
        ),
        Row(
            "ListGroups",
            4,
            lambda _id: list_groups.ListGroupsRequest(),
            frozenset(),
            lambda r: r.groups,
        ),
        Row(
            "CreateTopics",
            5,
            lambda _id: create_topics.CreateTopicsRequest(
                topics=[
                    create_topics.CreateTopicsRequest.CreatableTopic(
                        name=NEW_TOPIC, num_partitions=1, replication_factor=1
                    )
                ],
                timeout_ms=10000,
            ),
            frozenset({TA}),
        ),
        Row(
            "DeleteTopics",
            5,
            lambda _id: delete_topics.DeleteTopicsRequest(topic_names=[TOPIC], timeout_ms=10000),
            frozenset({TA}),
        ),
        Row(
            "DeleteRecords",
            2,
            lambda _id: delete_records.DeleteRecordsRequest(
                topics=[
                    delete_records.DeleteRecordsRequest.DeleteRecordsTopic(
                        name=TOPIC,
                        partitions=[
                            delete_records.DeleteRecordsRequest.DeleteRecordsPartition(
                                partition_index=0, offset=0
                            )
                        ],
                    )
                ],
                timeout_ms=10000,
            ),
            frozenset({TA}),
        ),
        Row(
            "InitProducerId",
            4,
            lambda _id: init_producer_id.InitProducerIdRequest(
                transactional_id=TXN,
                transaction_timeout_ms=60000,
                producer_id=-1,
                producer_epoch=-1,
            ),
            frozenset({XA}),
        ),
        Row(
            "InitProducerId (idempotent)",
            4,
            lambda _id: init_producer_id.InitProducerIdRequest(
                transactional_id=None,
                transaction_timeout_ms=60000,
                producer_id=-1,
                producer_epoch=-1,
            ),
            frozenset({CA}),
        ),
        Row(
            "OffsetForLeaderEpoch",
            4,
            lambda _id: offset_for_leader_epoch.OffsetForLeaderEpochRequest(
                replica_id=-1,
                topics=[
                    offset_for_leader_epoch.OffsetForLeaderEpochRequest.OffsetForLeaderTopic(
                        topic=TOPIC,
                        partitions=[
                            offset_for_leader_epoch.OffsetForLeaderEpochRequest.OffsetForLeaderPartition(
                                partition=0, current_leader_epoch=-1, leader_epoch=0
                            )
                        ],
                    )
                ],
            ),
            frozenset({TA}),
        ),
        Row(
            "AddPartitionsToTxn",
            3,
            lambda _id: add_partitions_to_txn.AddPartitionsToTxnRequest(
                v3_and_below_transactional_id=TXN,
                v3_and_below_producer_id=0,
                v3_and_below_producer_epoch=0,
                v3_and_below_topics=[
                    add_partitions_to_txn.AddPartitionsToTxnRequest.AddPartitionsToTxnTopic(
                        name=TOPIC, partitions=[0]
                    )
                ],
            ),
            frozenset({XA}),
        ),
        Row(
            "AddOffsetsToTxn",
            3,
            lambda _id: add_offsets_to_txn.AddOffsetsToTxnRequest(
                transactional_id=TXN, producer_id=0, producer_epoch=0, group_id=GROUP
            ),
            frozenset({XA}),
        ),
        Row(
            "EndTxn",
            3,
            lambda _id: end_txn.EndTxnRequest(
                transactional_id=TXN, producer_id=0, producer_epoch=0, committed=True
            ),
            frozenset({XA}),
        ),
        Row(
            "WriteTxnMarkers",
            1,
            lambda _id: write_txn_markers.WriteTxnMarkersRequest(
                markers=[
                    write_txn_markers.WriteTxnMarkersRequest.WritableTxnMarker(
                        producer_id=0,
                        producer_epoch=0,
                        transaction_result=True,
                        coordinator_epoch=0,
                        topics=[
                            write_txn_markers.WriteTxnMarkersRequest.WritableTxnMarkerTopic(
                                name=TOPIC, partition_indexes=[0]
                            )
                        ],
                    )
                ]
            ),
            frozenset({CA}),
        ),
        # The share coordinator's state RPCs: the brokers' own (CLUSTER_ACTION).
        Row(
            "InitializeShareGroupState",
            0,
            lambda topic_id: issg.InitializeShareGroupStateRequest(
                group_id=GROUP,
                topics=[
                    issg.InitializeShareGroupStateRequest.InitializeStateData(
                        topic_id=topic_id,
                        partitions=[issg.InitializeShareGroupStateRequest.PartitionData()],
                    )
                ],
            ),
            frozenset({CA}),
        ),
        Row(
            "ReadShareGroupState",
            0,
            lambda topic_id: rssg.ReadShareGroupStateRequest(
                group_id=GROUP,
                topics=[
                    rssg.ReadShareGroupStateRequest.ReadStateData(
                        topic_id=topic_id,
                        partitions=[rssg.ReadShareGroupStateRequest.PartitionData()],
                    )
                ],
            ),
            frozenset({CA}),
            lambda r: [p.state_batches for t in r.results for p in t.partitions if p.state_batches],
        ),
        Row(
            "WriteShareGroupState",
            0,
            lambda topic_id: wssg.WriteShareGroupStateRequest(
                group_id=GROUP,
                topics=[
                    wssg.WriteShareGroupStateRequest.WriteStateData(
                        topic_id=topic_id,
                        partitions=[wssg.WriteShareGroupStateRequest.PartitionData()],
                    )
                ],
            ),
            frozenset({CA}),
        ),
        Row(
            "DeleteShareGroupState",
            0,
            lambda topic_id: dssg.DeleteShareGroupStateRequest(
                group_id=GROUP,
                topics=[
                    dssg.DeleteShareGroupStateRequest.DeleteStateData(
                        topic_id=topic_id,
                        partitions=[dssg.DeleteShareGroupStateRequest.PartitionData()],
                    )
                ],
            ),
            frozenset({CA}),
        ),
        Row(
            "ReadShareGroupStateSummary",
            0,
            lambda topic_id: rssgs.ReadShareGroupStateSummaryRequest(
                group_id=GROUP,
                topics=[
                    rssgs.ReadShareGroupStateSummaryRequest.ReadStateSummaryData(
                        topic_id=topic_id,
                        partitions=[rssgs.ReadShareGroupStateSummaryRequest.PartitionData()],
                    )
                ],
            ),
            frozenset({CA}),
        ),
        Row(
            "TxnOffsetCommit",
            3,
            lambda _id: txn_offset_commit.TxnOffsetCommitRequest(
                transactional_id=TXN,
                group_id=GROUP,
                producer_id=0,
                producer_epoch=0,
                generation_id_or_member_epoch=-1,
                member_id="",
                topics=[
                    txn_offset_commit.TxnOffsetCommitRequest.TxnOffsetCommitRequestTopic(
                        name=TOPIC,
                        partitions=[
                            txn_offset_commit.TxnOffsetCommitRequest.TxnOffsetCommitRequestPartition(
                                partition_index=0, committed_offset=0
                            )
                        ],
                    )
                ],
            ),
            frozenset({XA}),
        ),
        Row(
            "DescribeAcls",
            2,
            lambda _id: describe_acls.DescribeAclsRequest(
                resource_type_filter=1,
                resource_name_filter=None,
                pattern_type_filter=1,
                principal_filter=None,
                host_filter=None,
                operation=1,
                permission_type=1,
            ),
            frozenset({CA}),
            lambda r: r.resources,
        ),
        Row(
            "CreateAcls",
            2,
            lambda _id: create_acls.CreateAclsRequest(
                creations=[
                    create_acls.CreateAclsRequest.AclCreation(
                        resource_type=2,
                        resource_name=TOPIC,
                        resource_pattern_type=3,
                        principal="User:ANONYMOUS",
                        host="*",
                        operation=2,
                        permission_type=3,
                    )
                ]
            ),
            frozenset({CA}),
        ),
        Row(
            "DeleteAcls",
            2,
            lambda _id: delete_acls.DeleteAclsRequest(
                filters=[
                    delete_acls.DeleteAclsRequest.DeleteAclsFilter(
                        resource_type_filter=1,
                        resource_name_filter=None,
                        pattern_type_filter=1,
                        principal_filter=None,
                        host_filter=None,
                        operation=1,
                        permission_type=1,
                    )
                ]
            ),
            frozenset({CA}),
        ),
        Row(
            "DescribeConfigs",
            4,
            lambda _id: describe_configs.DescribeConfigsRequest(
                resources=[
                    describe_configs.DescribeConfigsRequest.DescribeConfigsResource(
                        resource_type=2, resource_name=TOPIC, configuration_keys=None
                    )
                ]
            ),
            frozenset({TA}),
            lambda r: [x.configs for x in r.results if x.configs],
        ),
        Row(
            "AlterConfigs",
            2,
            lambda _id: alter_configs.AlterConfigsRequest(
                resources=[
                    alter_configs.AlterConfigsRequest.AlterConfigsResource(
                        resource_type=2,
                        resource_name=TOPIC,
                        configs=[
                            alter_configs.AlterConfigsRequest.AlterableConfig(
                                name="retention.ms", value="1000"
                            )
                        ],
                    )
                ]
            ),
            frozenset({TA}),
        ),
        Row(
            "DescribeLogDirs",
            4,
            lambda _id: describe_log_dirs.DescribeLogDirsRequest(topics=None),
            frozenset({CA}),
            lambda r: r.results,
        ),
        Row(
            "CreatePartitions",
            3,
            lambda _id: create_partitions.CreatePartitionsRequest(
                topics=[
                    create_partitions.CreatePartitionsRequest.CreatePartitionsTopic(
                        name=TOPIC, count=2, assignments=None
                    )
                ],
                timeout_ms=10000,
            ),
            frozenset({TA}),
        ),
        Row(
            "DeleteGroups",
            2,
            lambda _id: delete_groups.DeleteGroupsRequest(groups_names=[GROUP]),
            frozenset({GA}),
        ),
        Row(
            "ElectLeaders",
            2,
            lambda _id: elect_leaders.ElectLeadersRequest(
                election_type=0,
                topic_partitions=[
                    elect_leaders.ElectLeadersRequest.TopicPartitions(topic=TOPIC, partitions=[0])
                ],
                timeout_ms=10000,
            ),
            frozenset({CA}),
        ),
        Row(
            "IncrementalAlterConfigs",
            1,
            lambda _id: incremental_alter_configs.IncrementalAlterConfigsRequest(
                resources=[
                    incremental_alter_configs.IncrementalAlterConfigsRequest.AlterConfigsResource(
                        resource_type=2,
                        resource_name=TOPIC,
                        configs=[
                            incremental_alter_configs.IncrementalAlterConfigsRequest.AlterableConfig(
                                name="retention.ms", config_operation=0, value="1000"
                            )
                        ],
                    )
                ]
            ),
            frozenset({TA}),
        ),
        Row(
            "AlterPartitionReassignments",
            0,
            lambda _id: alter_partition_reassignments.AlterPartitionReassignmentsRequest(
                timeout_ms=10000,
                topics=[
                    alter_partition_reassignments.AlterPartitionReassignmentsRequest.ReassignableTopic(
                        name=TOPIC,
                        partitions=[
                            alter_partition_reassignments.AlterPartitionReassignmentsRequest.ReassignablePartition(
                                partition_index=0, replicas=None
                            )
                        ],
                    )
                ],
            ),
            frozenset({CA}),
        ),
        Row(
            "ListPartitionReassignments",
            0,
            lambda _id: list_partition_reassignments.ListPartitionReassignmentsRequest(
                timeout_ms=10000, topics=None
            ),
            frozenset({CA}),
        ),
        Row(
            "OffsetDelete",
            0,
            lambda _id: offset_delete.OffsetDeleteRequest(
                group_id=GROUP,
                topics=[
                    offset_delete.OffsetDeleteRequest.OffsetDeleteRequestTopic(
                        name=TOPIC,
                        partitions=[
                            offset_delete.OffsetDeleteRequest.OffsetDeleteRequestPartition(
                                partition_index=0
                            )
                        ],
                    )
                ],
            ),
            frozenset({GA}),
        ),
        Row(
            "DescribeClientQuotas",
            1,
            lambda _id: describe_client_quotas.DescribeClientQuotasRequest(
                components=[], strict=False
            ),
            frozenset({CA}),
            lambda r: r.entries,
        ),
        Row(
            "AlterClientQuotas",
            1,
            lambda _id: alter_client_quotas.AlterClientQuotasRequest(
                entries=[
                    alter_client_quotas.AlterClientQuotasRequest.EntryData(
                        entity=[
                            alter_client_quotas.AlterClientQuotasRequest.EntityData(
                                entity_type="client-id", entity_name="acl-client"
                            )
                        ],
                        ops=[
                            alter_client_quotas.AlterClientQuotasRequest.OpData(
                                key="producer_byte_rate", value=1024.0, remove=False
                            )
                        ],
                    )
                ],
                validate_only=False,
            ),
            frozenset({CA}),
        ),
        Row(
            "DescribeUserScramCredentials",
            0,
            # A user named: Kafka 4.4's getErrorResponse walks data.users() and throws on null,
            # so a denied describe-all is never answered by a Kafka broker.
            lambda _id: describe_user_scram_credentials.DescribeUserScramCredentialsRequest(
                users=[
                    describe_user_scram_credentials.DescribeUserScramCredentialsRequest.UserName(
                        name="acl-user"
                    )
                ]
            ),
            frozenset({CA}),
            lambda r: [x.credential_infos for x in r.results if x.credential_infos],
        ),
        Row(
            "AlterUserScramCredentials",
            0,
            lambda _id: alter_user_scram_credentials.AlterUserScramCredentialsRequest(
                deletions=[
                    alter_user_scram_credentials.AlterUserScramCredentialsRequest.ScramCredentialDeletion(
                        name="acl-user", mechanism=1
                    )
                ],
                upsertions=[],
            ),
            frozenset({CA}),
        ),
        Row(
            "DescribeQuorum",
            1,
            lambda _id: describe_quorum.DescribeQuorumRequest(
                topics=[
                    describe_quorum.DescribeQuorumRequest.TopicData(
                        topic_name="__cluster_metadata",
                        partitions=[
                            describe_quorum.DescribeQuorumRequest.PartitionData(partition_index=0)
                        ],
                    )
                ]
            ),
            frozenset({CA}),
            lambda r: r.topics,
        ),
        Row(
            "DescribeCluster",
            1,
            lambda _id: describe_cluster.DescribeClusterRequest(
                include_cluster_authorized_operations=True, endpoint_type=1
            ),
            frozenset(),
            lambda r: r.cluster_authorized_operations,
        ),
        Row(
            "DescribeProducers",
            0,
            lambda _id: describe_producers.DescribeProducersRequest(
                topics=[
                    describe_producers.DescribeProducersRequest.TopicRequest(
                        name=TOPIC, partition_indexes=[0]
                    )
                ]
            ),
            frozenset({TA}),
        ),
        Row(
            "DescribeTransactions",
            0,
            lambda _id: describe_transactions.DescribeTransactionsRequest(transactional_ids=[TXN]),
            frozenset({XA}),
        ),
        Row(
            "ListTransactions",
            1,
            lambda _id: list_transactions.ListTransactionsRequest(),
            frozenset(),
            lambda r: r.transaction_states,
        ),
        Row(
            "ConsumerGroupHeartbeat",
            0,
            lambda _id: consumer_group_heartbeat.ConsumerGroupHeartbeatRequest(
                group_id=GROUP,
                member_id="acl-member-0000000001",
                member_epoch=0,
                rebalance_timeout_ms=30000,
                subscribed_topic_names=[TOPIC],
                topic_partitions=[],
                server_assignor=None,
            ),
            frozenset({GA}),
        ),
        Row(
            "ConsumerGroupDescribe",
            0,
            lambda _id: consumer_group_describe.ConsumerGroupDescribeRequest(group_ids=[GROUP]),
            frozenset({GA}),
        ),
        Row(
            "ShareGroupHeartbeat",
            1,
            lambda _id: share_group_heartbeat.ShareGroupHeartbeatRequest(
                group_id=GROUP,
                member_id="acl-share-member-01",
                member_epoch=0,
                subscribed_topic_names=[TOPIC],
            ),
            frozenset({GA}),
        ),
        Row(
            "StreamsGroupHeartbeat",
            0,
            lambda _id: streams_group_heartbeat.StreamsGroupHeartbeatRequest(
                group_id=GROUP,
                member_id="acl-streams-member-01",
                member_epoch=0,
                rebalance_timeout_ms=30000,
                topology=streams_group_heartbeat.StreamsGroupHeartbeatRequest.Topology(
                    epoch=0,
                    subtopologies=[
                        streams_group_heartbeat.StreamsGroupHeartbeatRequest.Subtopology(
                            subtopology_id="0", source_topics=[TOPIC]
                        )
                    ],
                ),
                active_tasks=[],
                standby_tasks=[],
                warmup_tasks=[],
                process_id="acl-process",
            ),
            frozenset({GA}),
        ),
        Row(
            "StreamsGroupDescribe",
            0,
            lambda _id: streams_group_describe.StreamsGroupDescribeRequest(group_ids=[GROUP]),
            frozenset({GA}),
        ),
        Row(
            "ShareGroupDescribe",
            1,
            lambda _id: share_group_describe.ShareGroupDescribeRequest(group_ids=[GROUP]),
            frozenset({GA}),
        ),
        Row(
            "ShareFetch",
            1,
            lambda topic_id: share_fetch.ShareFetchRequest(
                group_id=GROUP,
                member_id="acl-share-member-01",
                share_session_epoch=0,
                max_wait_ms=0,
                max_records=10,
                batch_size=10,
                topics=[
                    share_fetch.ShareFetchRequest.FetchTopic(
                        topic_id=topic_id,
                        partitions=[
                            share_fetch.ShareFetchRequest.FetchPartition(partition_index=0)
                        ],
                    )
                ],
            ),
            frozenset({GA}),
            _fetch_records,
        ),
        Row(
            "ShareAcknowledge",
            1,
            lambda topic_id: share_acknowledge.ShareAcknowledgeRequest(
                group_id=GROUP,
                member_id="acl-share-member-01",
                share_session_epoch=1,
                topics=[
                    share_acknowledge.ShareAcknowledgeRequest.AcknowledgeTopic(
                        topic_id=topic_id,
                        partitions=[
                            share_acknowledge.ShareAcknowledgeRequest.AcknowledgePartition(
                                partition_index=0,
                                acknowledgement_batches=[
                                    share_acknowledge.ShareAcknowledgeRequest.AcknowledgementBatch(
                                        first_offset=0, last_offset=0, acknowledge_types=[1]
                                    )
                                ],
                            )
                        ],
                    )
                ],
            ),
            frozenset({GA}),
        ),
        Row(
            "DescribeShareGroupOffsets",
            1,
            lambda _id: desgo.DescribeShareGroupOffsetsRequest(
                groups=[
                    desgo.DescribeShareGroupOffsetsRequest.DescribeShareGroupOffsetsRequestGroup(
                        group_id=GROUP,
                        topics=[
                            desgo.DescribeShareGroupOffsetsRequest.DescribeShareGroupOffsetsRequestTopic(
                                topic_name=TOPIC, partitions=[0]
                            )
                        ],
                    )
                ]
            ),
            frozenset({GA}),
        ),
        Row(
            "AlterShareGroupOffsets",
            0,
            lambda _id: asgo.AlterShareGroupOffsetsRequest(
                group_id=GROUP,
                topics=[
                    asgo.AlterShareGroupOffsetsRequest.AlterShareGroupOffsetsRequestTopic(
                        topic_name=TOPIC,
                        partitions=[
                            asgo.AlterShareGroupOffsetsRequest.AlterShareGroupOffsetsRequestPartition(
                                partition_index=0, start_offset=0
                            )
                        ],
                    )
                ],
            ),
            frozenset({GA}),
        ),
        Row(
            "DeleteShareGroupOffsets",
            0,
            lambda _id: dsgo.DeleteShareGroupOffsetsRequest(
                group_id=GROUP,
                topics=[
                    dsgo.DeleteShareGroupOffsetsRequest.DeleteShareGroupOffsetsRequestTopic(
                        topic_name=TOPIC
                    )
                ],
            ),
            frozenset({GA}),
        ),
        Row(
            "DescribeTopicPartitions",
            0,
            lambda _id: describe_topic_partitions.DescribeTopicPartitionsRequest(
                topics=[
                    describe_topic_partitions.DescribeTopicPartitionsRequest.TopicRequest(
                        name=TOPIC
                    )
                ],
                response_partition_limit=100,
                cursor=None,
            ),
            frozenset({TA}),
            lambda r: [t.partitions for t in r.topics if t.partitions],
        ),
    ]


def rows(batch: bytes) -> list[Row]:
    """The table; ``batch`` is a valid record batch for Produce."""
    return _rows(batch)


# APIs a client sends before or to authenticate: no authorization applies to them.
AUTHENTICATION_APIS = frozenset({"SaslHandshake", "SaslAuthenticate"})
