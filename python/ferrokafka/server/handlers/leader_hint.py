"""The leader hint of a partition error (KIP-951), as Kafka's ``KafkaApis.getCurrentLeader``:
for a partition answered NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH, the partition's
current leader id and epoch (this broker's replica state when it hosts the partition, else the
metadata image; -1 and -1 when neither knows it) and the leader's endpoint on the listener the
request came in on (when that broker is registered, unfenced and has such a listener). A
client moves its requests to the new leader without a metadata round trip.

Kafka 4.4 hints, for these errors: Produce v10+ partitions answered NOT_LEADER_OR_FOLLOWER
(``handleProduceRequest``), Fetch v16+ partitions answered either (``handleFetchRequest``),
and ShareFetch and ShareAcknowledge partitions (``processShareFetchResponse`` /
``processShareAcknowledgeResponse``); the other partitions keep the response's default leader
fields, and the response lists each hinted leader's endpoint once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

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


class LeaderHints:
    """One response's hints: ``hint`` sets a partition's ``current_leader``, and the leaders'
    endpoints gather for the response's ``node_endpoints``. ``response`` is the response
    message class (its nested ``LeaderIdAndEpoch`` and ``NodeEndpoint`` are used)."""

    def __init__(self, node: Node, listener: str, response: type) -> None:
        self._node = node
        self._listener = listener
        self._response: Any = response
        self._endpoints: dict[int, Endpoint] = {}

    def hint(self, part: Any, topic_id: uuid.UUID, index: int) -> None:
        hint = current_leader(self._node, topic_id, index, self._listener)
        part.current_leader = self._response.LeaderIdAndEpoch(
            leader_id=hint.leader_id, leader_epoch=hint.leader_epoch
        )
        if hint.endpoint is not None:
            self._endpoints[hint.endpoint.node_id] = hint.endpoint

    def node_endpoints(self) -> list[Any]:
        node_endpoint = self._response.NodeEndpoint
        return [
            node_endpoint(node_id=e.node_id, host=e.host, port=e.port, rack=e.rack)
            for e in self._endpoints.values()
        ]
