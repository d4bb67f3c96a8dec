"""The share groups' dead-letter queue writer (share.version 2, KIP-1191), as Kafka 4.4's
``ShareGroupDLQStateManager``: a share-partition leader writes the records its share-partition
archived (rejected, or at the delivery count limit) to the group's
``errors.deadletterqueue.topic.name``, then archives them whatever came of it.

Before each write, the DLQ topic is checked as Kafka checks it (messages are Kafka's): a name
that is empty or starts with ``__`` is refused; an existing topic must have the topic config
``errors.deadletterqueue.group.enable=true``; a missing one is created only with the broker's
``errors.deadletterqueue.auto.create.topics.enable`` (default partitions and replication
factor, ``errors.deadletterqueue.group.enable=true``, ``message.timestamp.type=CreateTime``),
and the name must start with the broker's ``errors.deadletterqueue.topic.name.prefix``
(default ``dlq.``; empty: any name). The records of source partition p go to DLQ partition
p mod the DLQ topic's partition count, with acks=-1: through this broker's ReplicaManager when
it leads that partition, else a Produce to its leader. Retriable failures are retried
:data:`ATTEMPTS` times with an exponential backoff from 1 s (Kafka's 5 attempts, 1 s..30 s).
"""

from __future__ import annotations

import logging

import trio

from ferrokafka.cluster.node_client import NodeUnavailableError
from ferrokafka.config.group import GROUP_RESOURCE, effective_group_value
from ferrokafka.partition import AppendOrigin, Partition
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.produce import ProduceRequest
from ferrokafka.server.handlers.share_broker_clients import ShareBrokerClients
from ferrokafka.server.node import Node
from ferrokafka.share.dead_letter import dead_letter_batches
from ferrokafka.share.manager import read_originals
from ferrokafka.share.partition import DeadLetter
from ferrokafka.share.persister import SharePartitionKey

log = logging.getLogger(__name__)

DLQ_TOPIC = "errors.deadletterqueue.topic.name"
COPY_RECORD = "errors.deadletterqueue.copy.record.enable"
AUTO_CREATE = "errors.deadletterqueue.auto.create.topics.enable"
NAME_PREFIX = "errors.deadletterqueue.topic.name.prefix"
TOPIC_ENABLE = "errors.deadletterqueue.group.enable"
ATTEMPTS = 5
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
# acks=-1 and the Produce timeout Kafka's DLQ requests carry.
PRODUCE_TIMEOUT_MS = 30_000
CREATE_TIMEOUT_MS = 30_000
_RETRIABLE = frozenset(
    {
        ec.NOT_LEADER_OR_FOLLOWER,
        ec.UNKNOWN_TOPIC_OR_PARTITION,
        ec.LEADER_NOT_AVAILABLE,
        ec.NOT_ENOUGH_REPLICAS,
        ec.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        ec.REQUEST_TIMED_OUT,
        ec.NETWORK_EXCEPTION,
        ec.KAFKA_STORAGE_ERROR,
    }
)


class DeadLetterError(Exception):
    """The DLQ write cannot happen (Kafka's ConfigException messages) or failed for good."""


class DeadLetterQueues:
    """One per broker: :meth:`__call__` is the share-partition manager's DLQ writer."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._clients = ShareBrokerClients(node, "share-dlq", PRODUCE_TIMEOUT_MS / 1000)
        self._create_lock = trio.Lock()

    def _group_value(self, group_id: str, name: str) -> object:
        overrides = self.node.image.configs.get((GROUP_RESOURCE, group_id), {})
        return effective_group_value(self.node.broker_config(), overrides, name)

    async def __call__(self, key: SharePartitionKey, handle: Partition, letter: DeadLetter) -> None:
        """Write ``letter``'s records to the group's DLQ topic; a failure is logged (as Kafka's
        "Failed to write to DLQ, proceeding to ARCHIVED regardless.") and the records are
        archived all the same by the caller."""
        try:
            await self._write(key, handle, letter)
        except DeadLetterError as exc:
            log.error(
                "Failed to write offsets %d-%d of %s to DLQ, proceeding to ARCHIVED regardless: %s",
                letter.first_offset,
                letter.last_offset,
                key,
                exc,
            )

    async def _write(self, key: SharePartitionKey, handle: Partition, letter: DeadLetter) -> None:
        group_id = key.group_id
        dlq = str(self._group_value(group_id, DLQ_TOPIC) or "")
        source = self.node.image.topics_by_id.get(key.topic_id)
        source_name = source.name if source is not None else str(key.topic_id)
        originals = {}
        if self._group_value(group_id, COPY_RECORD):
            originals = await read_originals(handle, letter.first_offset, letter.last_offset)
        delay = BACKOFF_FIRST_S
        for attempt in range(1, ATTEMPTS + 1):
            await self._check_topic(group_id, dlq)
            code = await self._write_once(key, dlq, source_name, letter, originals)
            if code == ec.NONE:
                return
            if code not in _RETRIABLE or attempt == ATTEMPTS:
                raise DeadLetterError(
                    f"Unable to produce to DLQ topic {dlq}: {ec.error_name(code)}"
                )
            await trio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)

    async def _check_topic(self, group_id: str, dlq: str) -> None:
        """Kafka's ProduceRequestHandler.validateDlqTopic, then the auto-creation."""
        broker = self.node.broker_config()
        if not dlq:
            raise DeadLetterError(f"Configured DLQ topic name in share group: {group_id} is empty.")
        if dlq.startswith("__"):
            raise DeadLetterError(
                f"Configured DLQ topic name in share group: {group_id} cannot start with __, "
                f"topic: {dlq}."
            )
        exists = dlq in self.node.image.topics_by_name
        if exists and not _enabled(self.node.image.topic_config(dlq).get(TOPIC_ENABLE)):
            raise DeadLetterError(
                f"DLQ is not enabled on configured DLQ topic for share group: {group_id}, "
                f"topic: {dlq}."
            )
        if not exists and not broker.value(AUTO_CREATE):
            raise DeadLetterError(
                "DLQ topic does not exist and auto create is disabled on cluster for share "
                f"group: {group_id}, topic: {dlq}."
            )
        prefix = str(broker.value(NAME_PREFIX) or "")
        if prefix and not dlq.startswith(prefix):
            raise DeadLetterError(
                "Configured DLQ topic name does not comply with the DLQ topic prefix in share "
                f"group: {group_id}, topic: {dlq}, prefix: {prefix}."
            )
        if not exists:
            await self._create(dlq)

    async def _create(self, dlq: str) -> None:
        async with self._create_lock:
            if dlq in self.node.image.topics_by_name:
                return
            request = CreateTopicsRequest(
                topics=[
                    CreateTopicsRequest.CreatableTopic(
                        name=dlq,
                        num_partitions=-1,
                        replication_factor=-1,
                        configs=[
                            CreateTopicsRequest.CreatableTopicConfig(
                                name=TOPIC_ENABLE, value="true"
                            ),
                            CreateTopicsRequest.CreatableTopicConfig(
                                name="message.timestamp.type", value="CreateTime"
                            ),
                        ],
                    )
                ],
                timeout_ms=CREATE_TIMEOUT_MS,
            )
            response = await self.node.controller_channel.create_topics(request)
            code = response.topics[0].error_code if response.topics else ec.NONE
            if code not in (ec.NONE, ec.TOPIC_ALREADY_EXISTS):
                raise DeadLetterError(f"Creating DLQ topic {dlq} failed: {ec.error_name(code)}")
            log.info("created DLQ topic %s", dlq)

    async def _write_once(
        self,
        key: SharePartitionKey,
        dlq: str,
        source_name: str,
        letter: DeadLetter,
        originals: dict[int, tuple[bytes | None, bytes | None]],
    ) -> int:
        topic = self.node.image.topics_by_name.get(dlq)
        if topic is None or not topic.partitions:
            return ec.UNKNOWN_TOPIC_OR_PARTITION  # created, not in this broker's image yet
        index = key.partition % len(topic.partitions)
        part = topic.partitions.get(index)
        if part is None or part.leader < 0:
            return ec.LEADER_NOT_AVAILABLE
        max_bytes = int(
            self.node.image.topic_config(dlq).get(
                "max.message.bytes", self.node.broker_config().value("message.max.bytes")
            )
        )
        batches = dead_letter_batches(
            key.group_id,
            source_name,
            key.partition,
            letter,
            originals,
            self.node.wall_clock.now_ms(),
            max_bytes,
        )
        for batch in batches:
            if part.leader == self.node.config.node_id:
                code = await self._append_local(dlq, index, batch)
            else:
                code = await self._produce_remote(part.leader, topic.topic_id, dlq, index, batch)
            if code:
                return code
        return ec.NONE

    async def _append_local(self, dlq: str, index: int, batch: bytes) -> int:
        found = self.node.replicas.leader_partition_or_error(dlq, index)
        if isinstance(found, int):
            return found
        result = await found.append_as_leader(batch, origin=AppendOrigin.CLIENT, required_acks=-1)
        if result.code or result.info is None:
            return result.code or ec.UNKNOWN_SERVER_ERROR
        end = result.info.last_offset + 1
        committed = found.commits_on_append or await self.node.replicas.purgatory.wait_until(
            lambda: found.high_watermark >= end or not found.is_leader,
            [found.key],
            trio.current_time() + PRODUCE_TIMEOUT_MS / 1000,
        )
        if not found.is_leader:
            return ec.NOT_LEADER_OR_FOLLOWER
        return ec.NONE if committed else ec.REQUEST_TIMED_OUT

    async def _produce_remote(
        self, leader: int, topic_id: object, dlq: str, index: int, batch: bytes
    ) -> int:
        request = ProduceRequest(
            acks=-1,
            timeout_ms=PRODUCE_TIMEOUT_MS,
            topic_data=[
                ProduceRequest.TopicProduceData(
                    name=dlq,
                    partition_data=[
                        ProduceRequest.PartitionProduceData(index=index, records=batch)
                    ],
                )
            ],
        )
        try:
            client = await self._clients.get().client(leader)
            answer = await client.call(request, version=12)
        except (NodeUnavailableError, trio.TooSlowError, OSError):
            return ec.NETWORK_EXCEPTION
        try:
            return int(answer.responses[0].partition_responses[0].error_code)
        except (IndexError, AttributeError):
            return ec.UNKNOWN_SERVER_ERROR


def _enabled(raw: str | None) -> bool:
    return raw is not None and raw.strip().lower() == "true"
