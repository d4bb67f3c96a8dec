"""Metadata (key 3): the brokers, the controller and the topics, as the node's image says.

Brokers are the registered, unfenced ones with an endpoint on the listener the request came
in on (a client must be told addresses it can reach through that listener); this node's own
entry comes from its advertised listeners with the bound ports, so a request answered before
the registration record is committed still names the broker it is talking to. A KRaft broker
never exposes the controller quorum to clients: ``controller_id`` is an alive broker, here this
node.

Auto-creation follows Kafka 4's broker: a missing, validly named, non-internal topic asked for
by name with ``allow_auto_topic_creation`` (and ``auto.create.topics.enable``) is created with
the defaults (num.partitions, default.replication.factor), and this first answer still says
UNKNOWN_TOPIC_OR_PARTITION because a Kafka broker only sends the creation to the controller and
answers before it is done; the client's retry then sees the topic. Internal topics
(__consumer_offsets and the like) are never auto-created here: their coordinators create them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from ferrokafka.cluster import errors
from ferrokafka.cluster.image import ZERO_UUID, MetadataImage, TopicImage
from ferrokafka.cluster.metadata_log import METADATA_TOPIC
from ferrokafka.cluster.topics import topic_name_error
from ferrokafka.config import Endpoint
from ferrokafka.protocol.error_codes import TOPIC_AUTHORIZATION_FAILED
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.metadata import MetadataRequest, MetadataResponse
from ferrokafka.server.authorize import (
    CLUSTER_NAME,
    AclOperation,
    ResourceType,
    authorized,
    authorized_cluster,
    authorized_operations,
    filter_authorized,
)
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node
from ferrokafka.server.request_log import log_auto_created

log = logging.getLogger(__name__)

LEADER_NOT_AVAILABLE = 5
REPLICA_NOT_AVAILABLE = 9
LISTENER_NOT_FOUND = 72
# Kafka's MetadataResponse.NO_LEADER_ID.
NO_LEADER_ID = -1
# Kafka's Topic.INTERNAL_TOPICS (org.apache.kafka.common.internals.Topic).
INTERNAL_TOPICS = frozenset({"__consumer_offsets", "__transaction_state", "__share_group_state"})
# The "not requested" value of every authorized-operations field.
AUTHORIZED_OPERATIONS_OMITTED = -(2**31)
# AclOperation codes: READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9,
# DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12. Without an authorizer Kafka
# reports every operation the resource type supports (AclEntry.supportedOperations).
TOPIC_OPERATIONS = sum(1 << op for op in (3, 4, 5, 6, 7, 8, 10, 11))
CLUSTER_OPERATIONS = sum(1 << op for op in (5, 7, 8, 9, 10, 11, 12))
# Topic names may be null from v10 and ids are looked up from v12 (Kafka rejects both below).
TOPIC_IDS_MIN_VERSION = 12
NULLABLE_NAME_MIN_VERSION = 12
# The time a controller operation may take, handed to the auto-creation request as Kafka does.
AUTO_CREATE_TIMEOUT_MS = 30_000

_Broker = MetadataResponse.MetadataResponseBroker
_Topic = MetadataResponse.MetadataResponseTopic
_Partition = MetadataResponse.MetadataResponsePartition


def alive_brokers(
    node: Node,
    image: MetadataImage,
    listener: str,
    advertised: Callable[[], list[Endpoint]],
    *,
    include_fenced: bool = False,
) -> list[tuple[int, str, int, str | None, bool]]:
    """(id, host, port, rack, fenced) of the brokers reachable through ``listener``."""
    me = node.config.node_id
    out = []
    for broker_id, broker in sorted(image.brokers.items()):
        if broker_id == me or broker.in_controlled_shutdown:
            continue
        endpoint = broker.endpoint(listener)
        if endpoint is not None and (include_fenced or not broker.fenced):
            out.append((broker_id, endpoint.host, endpoint.port, broker.rack, broker.fenced))
    own = next((ep for ep in advertised() if ep.name == listener), None)
    if own is not None:
        out.append((me, own.host, own.port, node.config["broker.rack"], False))
    return sorted(out)


class MetadataHandler:
    def __init__(self, node: Node, advertised: Callable[[], list[Endpoint]]) -> None:
        self.node = node
        self.advertised = advertised

    async def __call__(self, ctx: RequestContext, request: MetadataRequest) -> MetadataResponse:
        version = ctx.api_version
        all_topics = request.topics is None or (version == 0 and not request.topics)
        wanted = [] if all_topics else list(request.topics or [])
        if version < TOPIC_IDS_MIN_VERSION and any(
            t.name is None or t.topic_id != ZERO_UUID for t in wanted
        ):
            # Kafka refuses ids (and null names) below v12 with INVALID_REQUEST per topic.
            return self._response(
                ctx,
                request,
                [_Topic(error_code=errors.INVALID_REQUEST, name=t.name or "") for t in wanted],
            )
        image = self.node.image
        if all_topics:
            # Kafka lists only the topics the principal may describe, silently.
            visible = filter_authorized(
                self.node,
                ctx,
                AclOperation.DESCRIBE,
                ResourceType.TOPIC,
                (t for _, t in sorted(image.topics_by_name.items())),
                lambda t: t.name,
            )
            topics = [self._topic(ctx, image, t) for t in visible]
            return self._response(ctx, request, topics)
        names = list(dict.fromkeys(t.name for t in wanted if t.name is not None))
        ids = list(dict.fromkeys(t.topic_id for t in wanted if t.name is None))
        denied = self._denied(ctx, names)
        missing = [name for name in names if image.topic(name) is None and name not in denied]
        auto_create = request.allow_auto_topic_creation and bool(
            self.node.config["auto.create.topics.enable"]
        )
        creatable = [n for n in missing if _creatable(n)] if auto_create else []
        if creatable and self.node.authorizer is not None:
            # Auto-creation needs CREATE on the cluster or on the topic (Kafka's KafkaApis).
            may_create_all = authorized_cluster(self.node, ctx, AclOperation.CREATE)
            for name in creatable:
                if not may_create_all and not authorized(
                    self.node, ctx, AclOperation.CREATE, ResourceType.TOPIC, name
                ):
                    denied.add(name)
            creatable = [n for n in creatable if n not in denied]
        if creatable:
            await self._create(creatable, ctx)
        topics = []
        for name in names:
            topic = image.topic(name)
            if name in denied:
                topics.append(
                    _Topic(
                        error_code=TOPIC_AUTHORIZATION_FAILED,
                        name=name,
                        is_internal=_internal(name),
                    )
                )
            elif topic is not None:
                topics.append(self._topic(ctx, image, topic))
            else:
                code = (
                    errors.INVALID_TOPIC_EXCEPTION
                    if topic_name_error(name) is not None
                    else errors.UNKNOWN_TOPIC_OR_PARTITION
                )
                topics.append(_Topic(error_code=code, name=name, is_internal=_internal(name)))
        topics += [self._topic_by_id(ctx, image, topic_id) for topic_id in ids]
        return self._response(ctx, request, topics)

    def _denied(self, ctx: RequestContext, names: list[str]) -> set[str]:
        """The named topics the principal may not describe."""
        if self.node.authorizer is None:
            return set()
        return {
            n
            for n in names
            if not authorized(self.node, ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, n)
        }

    async def _create(self, names: list[str], ctx: RequestContext) -> None:
        request = CreateTopicsRequest(
            topics=[
                CreateTopicsRequest.CreatableTopic(
                    name=name, num_partitions=-1, replication_factor=-1
                )
                for name in names
            ],
            timeout_ms=AUTO_CREATE_TIMEOUT_MS,
        )
        response = await self.node.controller_channel.create_topics(request)
        for result in response.topics:
            if result.error_code == errors.NONE:
                log_auto_created(ctx, result.name, result.num_partitions, result.replication_factor)
            elif result.error_code != errors.TOPIC_ALREADY_EXISTS:
                # Kafka's broker only logs what the controller said about an auto-creation.
                log.warning(
                    "auto-creation of topic %r failed: error %d (%s)",
                    result.name,
                    result.error_code,
                    result.error_message,
                )

    def _topic_by_id(
        self, ctx: RequestContext, image: MetadataImage, topic_id: uuid.UUID
    ) -> _Topic:
        topic = image.topic_by_id(topic_id)
        if topic is None:
            return _Topic(error_code=errors.UNKNOWN_TOPIC_ID, name=None, topic_id=topic_id)
        if not authorized(self.node, ctx, AclOperation.DESCRIBE, ResourceType.TOPIC, topic.name):
            return _Topic(error_code=TOPIC_AUTHORIZATION_FAILED, name=None, topic_id=topic_id)
        return self._topic(ctx, image, topic)

    def _topic(self, ctx: RequestContext, image: MetadataImage, topic: TopicImage) -> _Topic:
        return _Topic(
            error_code=errors.NONE,
            name=topic.name,
            topic_id=topic.topic_id,
            is_internal=_internal(topic.name),
            partitions=[
                self._partition(ctx, image, topic, index) for index in sorted(topic.partitions)
            ],
        )

    def _partition(
        self, ctx: RequestContext, image: MetadataImage, topic: TopicImage, index: int
    ) -> _Partition:
        part = topic.partitions[index]
        alive = {
            broker_id
            for broker_id, broker in image.brokers.items()
            if not broker.fenced and broker.endpoint(ctx.listener_name) is not None
        }
        offline = [r for r in part.replicas if not _alive(image, r)]
        replicas, isr = list(part.replicas), list(part.isr)
        if ctx.api_version == 0:
            # v0 clients expect only replicas they can reach (Kafka's errorUnavailableEndpoints).
            replicas = [r for r in replicas if r in alive]
            isr = [r for r in isr if r in alive]
        if part.leader not in alive:
            # Kafka's KRaftMetadataCache: a registered leader without this listener is a
            # configuration problem the client should see as such.
            registered = part.leader in image.brokers
            return _Partition(
                error_code=LISTENER_NOT_FOUND if registered else LEADER_NOT_AVAILABLE,
                partition_index=index,
                leader_id=NO_LEADER_ID,
                leader_epoch=part.leader_epoch,
                replica_nodes=replicas,
                isr_nodes=isr,
                offline_replicas=offline,
            )
        short = len(replicas) < len(part.replicas) or len(isr) < len(part.isr)
        return _Partition(
            error_code=REPLICA_NOT_AVAILABLE if short else errors.NONE,
            partition_index=index,
            leader_id=part.leader,
            leader_epoch=part.leader_epoch,
            replica_nodes=replicas,
            isr_nodes=isr,
            offline_replicas=offline,
        )

    def _response(
        self, ctx: RequestContext, request: MetadataRequest, topics: list[_Topic]
    ) -> MetadataResponse:
        version = ctx.api_version
        if version < NULLABLE_NAME_MIN_VERSION:
            for topic in topics:
                if topic.name is None:
                    topic.name = ""
        if version >= 8 and request.include_topic_authorized_operations:
            for topic in topics:
                if topic.error_code == errors.NONE and topic.name:
                    topic.topic_authorized_operations = authorized_operations(
                        self.node, ctx, ResourceType.TOPIC, topic.name
                    )
        cluster_ops = AUTHORIZED_OPERATIONS_OMITTED
        if 8 <= version <= 10 and request.include_cluster_authorized_operations:
            cluster_ops = authorized_operations(self.node, ctx, ResourceType.CLUSTER, CLUSTER_NAME)
        brokers = alive_brokers(self.node, self.node.image, ctx.listener_name, self.advertised)
        return MetadataResponse(
            brokers=[
                _Broker(node_id=broker_id, host=host, port=port, rack=rack)
                for broker_id, host, port, rack, _ in brokers
            ],
            cluster_id=self.node.cluster_id,
            controller_id=self.node.config.node_id,
            topics=topics,
            cluster_authorized_operations=cluster_ops,
        )


def _internal(name: str) -> bool:
    return name in INTERNAL_TOPICS


def _creatable(name: str) -> bool:
    return topic_name_error(name) is None and not _internal(name) and name != METADATA_TOPIC


def _alive(image: MetadataImage, broker_id: int) -> bool:
    broker = image.broker(broker_id)
    return broker is not None and not broker.fenced
