"""The durable :class:`~ferrokafka.share.persister.Persister`: share-partition state on
``__share_group_state`` through the share coordinator (Kafka's DefaultStatePersister with its
PersisterStateManager).

For each call the coordinator of the share-partition is the leader of its
``__share_group_state`` partition, found in the metadata image (Kafka's
ShareCoordinatorMetadataCacheHelper; the topic is created on first use). When that is this
node the :class:`~ferrokafka.share.coordinator.ShareCoordinator` is called in-process; else
the state RPC goes to the leader over the inter-broker listener. NOT_COORDINATOR,
COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS (and an unreachable node) are retried
with Kafka's backoff — exponential from :data:`BACKOFF_S`, capped at :data:`BACKOFF_MAX_S`,
20% jitter — at most :data:`ATTEMPTS_MAX` times; then the last error is the answer.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import trio

from ferrokafka.cluster.broker_clients import BrokerClients
from ferrokafka.cluster.connector import PLAINTEXT, Connector
from ferrokafka.cluster.image import MetadataImage
from ferrokafka.cluster.node_client import NodeUnavailableError
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.delete_share_group_state import DeleteShareGroupStateRequest
from ferrokafka.protocol.messages.initialize_share_group_state import (
    InitializeShareGroupStateRequest,
)
from ferrokafka.protocol.messages.read_share_group_state import ReadShareGroupStateRequest
from ferrokafka.protocol.messages.read_share_group_state_summary import (
    ReadShareGroupStateSummaryRequest,
)
from ferrokafka.protocol.messages.write_share_group_state import WriteShareGroupStateRequest
from ferrokafka.share.coordinator import SHARE_STATE_TOPIC, ShareCoordinator
from ferrokafka.share.persister import (
    SharePartitionKey,
    ShareState,
    ShareStateSummary,
    StateBatch,
)

log = logging.getLogger(__name__)

# Kafka's PersisterStateManager: REQUEST_BACKOFF_MS 1000, REQUEST_BACKOFF_MAX_MS 30000, five
# attempts, jitter 0.2.
BACKOFF_S = 1.0
BACKOFF_MAX_S = 30.0
BACKOFF_JITTER = 0.2
ATTEMPTS_MAX = 5
# One state RPC's own timeout (Kafka's share.coordinator.write.timeout.ms default is 5 s; a
# read or write here may wait for replication too).
RPC_TIMEOUT_S = 30.0
RETRIABLE = frozenset(
    {ec.NOT_COORDINATOR, ec.COORDINATOR_NOT_AVAILABLE, ec.COORDINATOR_LOAD_IN_PROGRESS}
)

T = TypeVar("T")


class CoordinatorPersister:
    """A :class:`~ferrokafka.share.persister.Persister` on the share coordinator."""

    def __init__(
        self,
        coordinator: ShareCoordinator,
        image: Callable[[], MetadataImage],
        *,
        node_id: int,
        listener: str | None,
        connector: Connector = PLAINTEXT,
        backoff_s: float = BACKOFF_S,
    ) -> None:
        self.coordinator = coordinator
        self._image = image
        self.node_id = node_id
        self._backoff_s = backoff_s
        self._clients = BrokerClients(
            image,
            listener,
            client_id=f"share-persister-{node_id}",
            timeout_s=RPC_TIMEOUT_S,
            connector=connector,  # the inter-broker listener's TLS and SASL
        )

    async def aclose(self) -> None:
        await self._clients.aclose()

    # -- routing -----------------------------------------------------------------------------

    async def _call(
        self,
        key: SharePartitionKey,
        local: Callable[[], Awaitable[T]],
        remote: Callable[[Any], Awaitable[T]],
        code_of: Callable[[T], int],
        failed: Callable[[int], T],
    ) -> T:
        """``local()`` when this node coordinates ``key``, else ``remote(client)``; retried
        on the coordinator errors with Kafka's backoff."""
        result: T = failed(ec.COORDINATOR_NOT_AVAILABLE)
        delay = self._backoff_s
        for attempt in range(ATTEMPTS_MAX):
            if attempt:
                await trio.sleep(delay * random.uniform(1 - BACKOFF_JITTER, 1 + BACKOFF_JITTER))
                delay = min(delay * 2, BACKOFF_MAX_S)
            if await self.coordinator.ensure_topic() != ec.NONE:
                result = failed(ec.COORDINATOR_NOT_AVAILABLE)
                continue
            part = self._image().partition(SHARE_STATE_TOPIC, self.coordinator.partition_for(key))
            leader = part.leader if part is not None else -1
            try:
                if leader == self.node_id:
                    result = await local()
                elif leader < 0:
                    result = failed(ec.COORDINATOR_NOT_AVAILABLE)
                else:
                    result = await remote(await self._clients.client(leader))
            except (NodeUnavailableError, trio.TooSlowError, OSError) as exc:
                log.info("share state call to node %d for %s failed: %s", leader, key, exc)
                result = failed(ec.COORDINATOR_NOT_AVAILABLE)
                continue
            if code_of(result) not in RETRIABLE:
                return result
        return result

    # -- the Persister -----------------------------------------------------------------------

    async def initialize(self, key: SharePartitionKey, state_epoch: int, start_offset: int) -> int:
        async def local() -> int:
            return (await self.coordinator.initialize(key, state_epoch, start_offset)).error_code

        async def remote(client: Any) -> int:
            R = InitializeShareGroupStateRequest
            part = R.PartitionData(
                partition=key.partition, state_epoch=state_epoch, start_offset=start_offset
            )
            request = R(
                group_id=key.group_id,
                topics=[R.InitializeStateData(topic_id=key.topic_id, partitions=[part])],
            )
            return _only(await client.call(request)).error_code

        return await self._call(key, local, remote, lambda c: c, lambda c: c)

    async def read(self, key: SharePartitionKey, leader_epoch: int) -> ShareState:
        async def remote(client: Any) -> ShareState:
            R = ReadShareGroupStateRequest
            part = R.PartitionData(partition=key.partition, leader_epoch=leader_epoch)
            request = R(
                group_id=key.group_id,
                topics=[R.ReadStateData(topic_id=key.topic_id, partitions=[part])],
            )
            p = _only(await client.call(request))
            if p.error_code:
                return ShareState(error_code=p.error_code, error_message=p.error_message)
            return ShareState(
                state_epoch=p.state_epoch,
                leader_epoch=leader_epoch,
                start_offset=p.start_offset,
                batches=tuple(
                    StateBatch(b.first_offset, b.last_offset, b.delivery_state, b.delivery_count)
                    for b in p.state_batches
                ),
            )

        return await self._call(
            key,
            lambda: self.coordinator.read(key, leader_epoch),
            remote,
            lambda s: s.error_code,
            lambda c: ShareState(error_code=c),
        )

    async def write(
        self,
        key: SharePartitionKey,
        state_epoch: int,
        leader_epoch: int,
        start_offset: int,
        batches: tuple[StateBatch, ...],
        delivery_complete_count: int = -1,
    ) -> int:
        async def local() -> int:
            out = await self.coordinator.write(
                key, state_epoch, leader_epoch, start_offset, batches, delivery_complete_count
            )
            return out.error_code

        async def remote(client: Any) -> int:
            R = WriteShareGroupStateRequest
            part = R.PartitionData(
                partition=key.partition,
                state_epoch=state_epoch,
                leader_epoch=leader_epoch,
                start_offset=start_offset,
                delivery_complete_count=delivery_complete_count,
                state_batches=[
                    R.StateBatch(
                        first_offset=b.first_offset,
                        last_offset=b.last_offset,
                        delivery_state=b.delivery_state,
                        delivery_count=b.delivery_count,
                    )
                    for b in batches
                ],
            )
            request = R(
                group_id=key.group_id,
                topics=[R.WriteStateData(topic_id=key.topic_id, partitions=[part])],
            )
            return _only(await client.call(request)).error_code

        return await self._call(key, local, remote, lambda c: c, lambda c: c)

    async def delete(self, key: SharePartitionKey) -> int:
        async def local() -> int:
            return (await self.coordinator.delete(key)).error_code

        async def remote(client: Any) -> int:
            R = DeleteShareGroupStateRequest
            request = R(
                group_id=key.group_id,
                topics=[
                    R.DeleteStateData(
                        topic_id=key.topic_id, partitions=[R.PartitionData(partition=key.partition)]
                    )
                ],
            )
            return _only(await client.call(request)).error_code

        return await self._call(key, local, remote, lambda c: c, lambda c: c)

    async def read_summary(self, key: SharePartitionKey, leader_epoch: int) -> ShareStateSummary:
        async def remote(client: Any) -> ShareStateSummary:
            R = ReadShareGroupStateSummaryRequest
            part = R.PartitionData(partition=key.partition, leader_epoch=leader_epoch)
            request = R(
                group_id=key.group_id,
                topics=[R.ReadStateSummaryData(topic_id=key.topic_id, partitions=[part])],
            )
            p = _only(await client.call(request))
            return ShareStateSummary(
                error_code=p.error_code,
                error_message=p.error_message,
                state_epoch=p.state_epoch,
                leader_epoch=p.leader_epoch,
                start_offset=p.start_offset,
                delivery_complete_count=p.delivery_complete_count,
            )

        return await self._call(
            key,
            lambda: self.coordinator.read_summary(key, leader_epoch),
            remote,
            lambda s: s.error_code,
            lambda c: ShareStateSummary(error_code=c),
        )


def _only(response: Any) -> Any:
    """The one partition result of a one-partition state response (a malformed answer is
    COORDINATOR_NOT_AVAILABLE's worth of failure: the call is retried)."""
    if len(response.results) != 1 or len(response.results[0].partitions) != 1:
        raise NodeUnavailableError("a state response without exactly one partition")
    return response.results[0].partitions[0]
