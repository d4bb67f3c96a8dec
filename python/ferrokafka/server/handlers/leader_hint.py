"""The leader hint of a partition error (KIP-951), as Kafka's ``KafkaApis.getCurrentLeader``:
for a partition answered NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH, the partition's
current leader id and epoch (this broker's replica state when it hosts the partition, else the
metadata image; -1 and -1 when neither knows it) and the leader's endpoint on the listener the
request came in on (when that broker is registered, unfenced and has such a listener). A
client moves its requests to the new leader without a metadata round trip.

Kafka 4.4 hints ShareFetch and ShareAcknowledge partitions this way
(``processShareFetchResponse`` / ``processShareAcknowledgeResponse``); the other partitions
keep the response's default leader fields."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ferrokafka.protocol import error_codes as ec
from ferrokafka.server.node import Node

HINTED_ERRORS = frozenset({ec.NOT_LEADER_OR_FOLLOWER, ec.FENCED_LEADER_EPOCH})


@dataclass(frozen=True)
class Endpoint:
    node_id: int
    host: str
    port: int
    rack: str | None


@dataclass(frozen=True)
class LeaderHint:
    leader_id: int
    leader_epoch: int
    endpoint: Endpoint | None


def current_leader(node: Node, topic_id: uuid.UUID, index: int, listener: str) -> LeaderHint:
    """The partition's leader as this broker knows it, and its endpoint on ``listener``."""
    hosted = node.replicas.partition_by_id(topic_id, index)
    if hosted is not None:
        leader_id, leader_epoch = hosted.leader_id, hosted.leader_epoch
    else:
        topic = node.image.topics_by_id.get(topic_id)
        part = topic.partitions.get(index) if topic is not None else None
        leader_id, leader_epoch = (part.leader, part.leader_epoch) if part else (-1, -1)
    broker = node.image.brokers.get(leader_id) if leader_id >= 0 else None
    found = broker.endpoint(listener) if broker is not None and not broker.fenced else None
    endpoint = (
        Endpoint(leader_id, found.host, found.port, broker.rack)
        if found is not None and broker is not None
        else None
    )
    return LeaderHint(leader_id, leader_epoch, endpoint)
