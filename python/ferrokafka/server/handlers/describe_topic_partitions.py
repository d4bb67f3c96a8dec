"""DescribeTopicPartitions (key 75, KIP-966): topics and their partitions, a page at a time
(Kafka 4's ``kafka-topics --describe`` and the admin client's ``describeTopics``), as Kafka's
``DescribeTopicPartitionsRequestHandler`` and ``KRaftMetadataCache`` answer it.

- Which topics: the named ones, or every topic when none is named; only those whose name
  sorts at or after the cursor's topic; in name order. A cursor naming a topic the list does
  not hold, or a negative cursor partition, refuses the request (INVALID_REQUEST in every
  named topic).
- How many partitions: at most ``response_partition_limit``, clamped to
  [1, ``MAX_REQUEST_PARTITION_SIZE_LIMIT``] (Kafka's ``max.request.partition.size.limit``),
  starting at the cursor's partition in the cursor's topic and at 0 in the others. When the
  limit cuts a topic (or is used up before the next topic), ``next_cursor`` names where the
  next page starts.
- A named topic that does not exist is UNKNOWN_TOPIC_OR_PARTITION (INVALID_TOPIC_EXCEPTION
  for an illegal name), with the zero topic id; when all topics were asked for, only existing
  ones appear.
- Per partition: the leader (-1 when its broker is not registered on this listener), replicas
  and ISR unfiltered, offline replicas (not registered, fenced, or without this listener), and
  the ELR fields from the image (empty when the partition has none).
- There is no authorizer: every topic is described, with every operation Kafka reports for
  topics without one.
"""

from __future__ import annotations

from collections.abc import Iterable

from ferrokafka.cluster import errors
from ferrokafka.cluster.image import ZERO_UUID, MetadataImage, PartitionImage, TopicImage
from ferrokafka.cluster.topics import topic_name_error
from ferrokafka.protocol.messages.describe_topic_partitions import (
    DescribeTopicPartitionsRequest,
    DescribeTopicPartitionsResponse,
)
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.handlers.metadata import INTERNAL_TOPICS, NO_LEADER_ID, TOPIC_OPERATIONS
from ferrokafka.server.node import Node

# Kafka's max.request.partition.size.limit default: the most partitions one response holds.
MAX_REQUEST_PARTITION_SIZE_LIMIT = 2000

_Response = DescribeTopicPartitionsResponse
_Topic = DescribeTopicPartitionsResponse.DescribeTopicPartitionsResponseTopic
_Partition = DescribeTopicPartitionsResponse.DescribeTopicPartitionsResponsePartition


class DescribeTopicPartitionsHandler:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(
        self, ctx: RequestContext, request: DescribeTopicPartitionsRequest
    ) -> DescribeTopicPartitionsResponse:
        return describe(self.node.image, request, ctx.listener_name)


def describe(
    image: MetadataImage, request: DescribeTopicPartitionsRequest, listener: str
) -> DescribeTopicPartitionsResponse:
    """The response to ``request`` from ``image``, for a client on ``listener``."""
    cursor = request.cursor
    start_topic = cursor.topic_name if cursor is not None else ""
    every_topic = not request.topics
    named = image.topics_by_name if every_topic else [t.name for t in request.topics]
    names = sorted({name for name in named if name >= start_topic})
    if cursor is not None and (
        (not every_topic and cursor.topic_name not in names) or cursor.partition_index < 0
    ):
        return _refused(request, errors.INVALID_REQUEST)
    limit = max(min(MAX_REQUEST_PARTITION_SIZE_LIMIT, request.response_partition_limit), 1)
    response = _Response(topics=[])
    remaining = limit
    for name in names:
        if remaining == 0:
            # The previous topics used the page up: the next one starts the next page.
            response.next_cursor = _Response.Cursor(topic_name=name, partition_index=0)
            break
        topic = image.topic(name)
        if topic is None:
            if not every_topic:
                response.topics.append(_missing(name))
            continue
        first = cursor.partition_index if cursor is not None and name == start_topic else 0
        partitions, next_partition = _page(image, topic, first, remaining, listener)
        response.topics.append(
            _Topic(
                error_code=errors.NONE,
                name=name,
                topic_id=topic.topic_id,
                is_internal=name in INTERNAL_TOPICS,
                partitions=partitions,
                topic_authorized_operations=TOPIC_OPERATIONS,
            )
        )
        if next_partition is not None:
            response.next_cursor = _Response.Cursor(topic_name=name, partition_index=next_partition)
            break
        remaining -= len(partitions)
    return response


def _page(
    image: MetadataImage, topic: TopicImage, first: int, count: int, listener: str
) -> tuple[list[_Partition], int | None]:
    """Partitions ``first`` .. ``first + count - 1`` of ``topic``, and where the next page
    starts (None: this page ends the topic)."""
    upper = min(len(topic.partitions), first + count)
    partitions = [
        _partition(image, index, topic.partitions[index], listener)
        for index in range(first, upper)
        if index in topic.partitions
    ]
    return partitions, (upper if upper < len(topic.partitions) else None)


def _partition(image: MetadataImage, index: int, part: PartitionImage, listener: str) -> _Partition:
    leader = image.broker(part.leader)
    reachable = leader is not None and leader.endpoint(listener) is not None
    return _Partition(
        error_code=errors.NONE,
        partition_index=index,
        leader_id=part.leader if reachable else NO_LEADER_ID,
        leader_epoch=part.leader_epoch,
        replica_nodes=list(part.replicas),
        isr_nodes=list(part.isr),
        eligible_leader_replicas=list(part.elr or ()),
        last_known_elr=list(part.last_known_elr or ()),
        offline_replicas=list(_offline(image, part.replicas, listener)),
    )


def _offline(image: MetadataImage, replicas: Iterable[int], listener: str) -> Iterable[int]:
    for broker_id in replicas:
        broker = image.broker(broker_id)
        if broker is None or broker.fenced or broker.endpoint(listener) is None:
            yield broker_id


def _missing(name: str) -> _Topic:
    code = (
        errors.INVALID_TOPIC_EXCEPTION
        if topic_name_error(name)
        else errors.UNKNOWN_TOPIC_OR_PARTITION
    )
    return _Topic(
        error_code=code,
        name=name,
        topic_id=ZERO_UUID,
        is_internal=name in INTERNAL_TOPICS,
        partitions=[],
    )


def _refused(request: DescribeTopicPartitionsRequest, code: int) -> DescribeTopicPartitionsResponse:
    """Kafka's DescribeTopicPartitionsRequest.getErrorResponse: ``code`` in every named topic."""
    return _Response(
        topics=[
            _Topic(error_code=code, name=t.name, is_internal=False, partitions=[])
            for t in request.topics
        ]
    )
