"""DescribeQuorum (key 55): the KRaft quorum as its leader sees it (``kafka-metadata-quorum
describe``, the admin client's ``describeMetadataQuorum``).

On a controller listener it is answered by this node's :class:`RaftDriver`, as Kafka's
``KafkaRaftClient.handleDescribeQuorumRequest``: a request that does not name exactly
partition 0 of ``__cluster_metadata`` gets UNKNOWN_TOPIC_OR_PARTITION in every partition it
named; a node that does not lead, NOT_LEADER_OR_FOLLOWER; the leader, its leader id, epoch,
high watermark, voters and observers (log end offset, last fetch and last caught-up times,
directory ids from v2) and, from v2, the voters' listeners.

The single node (one voter, no Raft driver) answers it on both kinds of listener from its
metadata log: itself the leader and only voter, its log end the high watermark.

On a broker listener of a cluster node it is forwarded to the active controller, as Kafka's
broker does (``forwardToControllerOrFail``), through the broker's
:class:`RemoteControllerChannel`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from ferrokafka.cluster.metadata_log import METADATA_TOPIC, SingleVoterLog
from ferrokafka.cluster.raft.describe import (
    NO_DIRECTORY_ID,
    QuorumDescription,
    ReplicaDescription,
)
from ferrokafka.cluster.raft.driver import RaftDriver
from ferrokafka.cluster.remote_channel import RemoteControllerChannel
from ferrokafka.protocol.error_codes import NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION
from ferrokafka.protocol.messages.describe_quorum import (
    DescribeQuorumRequest,
    DescribeQuorumResponse,
)
from ferrokafka.server.dispatcher import Dispatcher, RequestContext

METADATA_PARTITION = 0
NODES_MIN_VERSION = 2  # v2 (KIP-853): directory ids and the voters' listeners
# Kafka's Errors messages, which the response carries beside the code.
ERROR_MESSAGES = {
    UNKNOWN_TOPIC_OR_PARTITION: "This server does not host this topic-partition.",
    NOT_LEADER_OR_FOLLOWER: (
        "For requests intended only for the leader, this error indicates that the broker is "
        "not the current leader. For requests intended for any replica, this error indicates "
        "that the broker is not a replica of the topic partition."
    ),
}

Partition = DescribeQuorumResponse.PartitionData


def names_metadata_partition(request: DescribeQuorumRequest) -> bool:
    """Exactly one topic, ``__cluster_metadata``, with exactly partition 0 (Kafka's
    ``RaftUtil.hasValidTopicPartition``)."""
    return (
        len(request.topics) == 1
        and request.topics[0].topic_name == METADATA_TOPIC
        and len(request.topics[0].partitions) == 1
        and request.topics[0].partitions[0].partition_index == METADATA_PARTITION
    )


def partition_error_response(request: DescribeQuorumRequest, code: int) -> DescribeQuorumResponse:
    """Every partition the request named, refused with ``code``."""
    return DescribeQuorumResponse(
        topics=[
            DescribeQuorumResponse.TopicData(
                topic_name=t.topic_name,
                partitions=[
                    Partition(
                        partition_index=p.partition_index,
                        error_code=code,
                        error_message=ERROR_MESSAGES[code],
                    )
                    for p in t.partitions
                ],
            )
            for t in request.topics
        ]
    )


def not_leader_response() -> DescribeQuorumResponse:
    return DescribeQuorumResponse(
        topics=[
            DescribeQuorumResponse.TopicData(
                topic_name=METADATA_TOPIC,
                partitions=[
                    Partition(
                        partition_index=METADATA_PARTITION,
                        error_code=NOT_LEADER_OR_FOLLOWER,
                        error_message=ERROR_MESSAGES[NOT_LEADER_OR_FOLLOWER],
                    )
                ],
            )
        ]
    )


def _replica_state(replica: ReplicaDescription) -> DescribeQuorumResponse.ReplicaState:
    return DescribeQuorumResponse.ReplicaState(
        replica_id=replica.replica_id,
        replica_directory_id=replica.directory_id,
        log_end_offset=replica.log_end_offset,
        last_fetch_timestamp=replica.last_fetch_timestamp_ms,
        last_caught_up_timestamp=replica.last_caught_up_timestamp_ms,
    )


# The leader's view now, or None when this node does not lead.
Describe = Callable[[], QuorumDescription | None]
# A voter's listener (name, host, port) as the quorum knows it, or None.
VoterEndpoint = Callable[[int], tuple[str, str, int] | None]


class DescribeQuorumHandler:
    """A controller listener's: the quorum's leader state, or NOT_LEADER_OR_FOLLOWER."""

    def __init__(self, describe: Describe, endpoint_of: VoterEndpoint) -> None:
        self.describe = describe
        self.endpoint_of = endpoint_of

    async def __call__(
        self, ctx: RequestContext, request: DescribeQuorumRequest
    ) -> DescribeQuorumResponse:
        if not names_metadata_partition(request):
            return partition_error_response(request, UNKNOWN_TOPIC_OR_PARTITION)
        quorum = self.describe()
        if quorum is None:
            return not_leader_response()
        response = DescribeQuorumResponse(
            topics=[
                DescribeQuorumResponse.TopicData(
                    topic_name=METADATA_TOPIC,
                    partitions=[
                        Partition(
                            partition_index=METADATA_PARTITION,
                            leader_id=quorum.leader_id,
                            leader_epoch=quorum.leader_epoch,
                            high_watermark=quorum.high_watermark,
                            current_voters=[_replica_state(v) for v in quorum.voters],
                            observers=[_replica_state(o) for o in quorum.observers],
                        )
                    ],
                )
            ]
        )
        if ctx.api_version >= NODES_MIN_VERSION:
            response.nodes = [
                DescribeQuorumResponse.Node(
                    node_id=voter.replica_id,
                    listeners=[
                        DescribeQuorumResponse.Listener(name=name, host=host, port=port)
                        for name, host, port in filter(None, [self.endpoint_of(voter.replica_id)])
                    ],
                )
                for voter in quorum.voters
            ]
        return response


class ForwardedDescribeQuorumHandler:
    """A broker listener's: forwarded to the active controller (Kafka brokers forward it)."""

    def __init__(self, channel: RemoteControllerChannel) -> None:
        self.channel = channel

    async def __call__(
        self, ctx: RequestContext, request: DescribeQuorumRequest
    ) -> DescribeQuorumResponse:
        return await self.channel.describe_quorum(request)


def register_controller_describe_quorum(dispatcher: Dispatcher, driver: RaftDriver) -> None:
    def endpoint_of(voter_id: int) -> tuple[str, str, int] | None:
        endpoint = driver.endpoint_of(voter_id)
        return None if endpoint is None else (endpoint.name, endpoint.host, endpoint.port)

    dispatcher.register(
        DescribeQuorumRequest.API_KEY, DescribeQuorumHandler(driver.describe_quorum, endpoint_of)
    )


def single_voter_description(node_id: int, log: SingleVoterLog) -> QuorumDescription:
    """The single node's quorum: itself, the only voter, leads; everything it wrote is
    committed (its log end is the high watermark)."""
    now_ms = int(time.time() * 1000)
    end = log.end_offset
    me = ReplicaDescription(node_id, NO_DIRECTORY_ID, end, now_ms, now_ms)
    return QuorumDescription(node_id, log.epoch, end, (me,), ())


def register_single_voter_describe_quorum(
    dispatchers: Sequence[Dispatcher],
    node_id: int,
    log: SingleVoterLog,
    controller_endpoint: Callable[[], tuple[str, str, int] | None],
) -> None:
    """The single node (one voter, no Raft driver) answers on its broker and controller
    listeners at once: its broker would forward to its own controller."""
    handler = DescribeQuorumHandler(
        lambda: single_voter_description(node_id, log),
        lambda voter_id: controller_endpoint() if voter_id == node_id else None,
    )
    for dispatcher in dispatchers:
        dispatcher.register(DescribeQuorumRequest.API_KEY, handler)


def register_broker_describe_quorum(
    dispatcher: Dispatcher, channel: RemoteControllerChannel
) -> None:
    dispatcher.register(DescribeQuorumRequest.API_KEY, ForwardedDescribeQuorumHandler(channel))
