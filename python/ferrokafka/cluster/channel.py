"""ControllerChannel: everything a broker asks of the active controller, and the publisher
interface through which metadata reaches brokers.

A broker never calls :class:`Controller` itself: it sends requests through a channel and
receives each new :class:`MetadataImage` through the publishers it subscribed. Today's channel
is :class:`InProcessControllerChannel` — the controller lives in this process (the node's own,
or one shared by the brokers of :mod:`ferrokafka.testing`'s in-process cluster); the cluster
issue adds a channel that sends the same requests to the active controller over the wire
(Kafka's ``NodeToControllerChannelManager``), and brokers then learn images by fetching the
metadata log instead of being published to.

Threading: the trio thread. The controller is synchronous and fsyncs its log, so each
operation runs in a worker thread, one at a time; the new image is then published to every
subscriber, in subscription order, before the caller gets its answer — a broker that asked
for a topic can serve it when the answer arrives.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

import trio

from ferrokafka.cluster.controller import Controller
from ferrokafka.cluster.image import BrokerEndpoint, BrokerRegistration, MetadataImage
from ferrokafka.protocol.messages.alter_configs import AlterConfigsRequest, AlterConfigsResponse
from ferrokafka.protocol.messages.create_partitions import (
    CreatePartitionsRequest,
    CreatePartitionsResponse,
)
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest, CreateTopicsResponse
from ferrokafka.protocol.messages.delete_topics import DeleteTopicsRequest, DeleteTopicsResponse
from ferrokafka.protocol.messages.incremental_alter_configs import (
    IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
)

T = TypeVar("T")

# Receives every new image, in log order (a broker's metadata publisher).
MetadataPublisher = Callable[[MetadataImage], Awaitable[None]]
# Subscribers of one channel: one per broker of the process; the in-process cluster harness
# has a handful. A bound, so that a leak of subscriptions shows.
PUBLISHERS_MAX = 64


class ControllerChannel(Protocol):
    """What a broker asks of the controller."""

    async def subscribe(self, publisher: MetadataPublisher) -> None:
        """Publish the current image to ``publisher`` now, and every later one."""
        ...

    def unsubscribe(self, publisher: MetadataPublisher) -> None: ...

    async def create_topics(self, request: CreateTopicsRequest) -> CreateTopicsResponse: ...

    async def delete_topics(self, request: DeleteTopicsRequest) -> DeleteTopicsResponse: ...

    async def create_partitions(
        self, request: CreatePartitionsRequest
    ) -> CreatePartitionsResponse: ...

    async def alter_configs(self, request: AlterConfigsRequest) -> AlterConfigsResponse: ...

    async def incremental_alter_configs(
        self, request: IncrementalAlterConfigsRequest
    ) -> IncrementalAlterConfigsResponse: ...

    async def register_broker(
        self,
        broker_id: int,
        endpoints: Sequence[BrokerEndpoint],
        log_dir_ids: Sequence[uuid.UUID],
        rack: str | None = None,
    ) -> BrokerRegistration: ...

    async def allocate_producer_ids(self, broker_id: int, broker_epoch: int) -> range: ...


class InProcessControllerChannel:
    """A channel to a :class:`Controller` of this process."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self._lock = trio.Lock()
        self._publishers: list[MetadataPublisher] = []

    async def subscribe(self, publisher: MetadataPublisher) -> None:
        if len(self._publishers) >= PUBLISHERS_MAX:
            raise RuntimeError(f"more than {PUBLISHERS_MAX} brokers on one controller channel")
        async with self._lock:  # no image published in between: each sees them in order
            await publisher(self.controller.image)
            self._publishers.append(publisher)

    def unsubscribe(self, publisher: MetadataPublisher) -> None:
        self._publishers.remove(publisher)

    async def _run(self, operation: Callable[[], T]) -> T:
        """One controller operation in a worker thread, then its image to every subscriber."""
        async with self._lock:
            before = self.controller.image
            result = await trio.to_thread.run_sync(operation)
            image = self.controller.image
            if image is not before:
                for publish in list(self._publishers):
                    await publish(image)
        return result

    async def create_topics(self, request: CreateTopicsRequest) -> CreateTopicsResponse:
        return await self._run(lambda: self.controller.create_topics(request))

    async def delete_topics(self, request: DeleteTopicsRequest) -> DeleteTopicsResponse:
        return await self._run(lambda: self.controller.delete_topics(request))

    async def create_partitions(self, request: CreatePartitionsRequest) -> CreatePartitionsResponse:
        return await self._run(lambda: self.controller.create_partitions(request))

    async def alter_configs(self, request: AlterConfigsRequest) -> AlterConfigsResponse:
        return await self._run(lambda: self.controller.alter_configs(request))

    async def incremental_alter_configs(
        self, request: IncrementalAlterConfigsRequest
    ) -> IncrementalAlterConfigsResponse:
        return await self._run(lambda: self.controller.incremental_alter_configs(request))

    async def register_broker(
        self,
        broker_id: int,
        endpoints: Sequence[BrokerEndpoint],
        log_dir_ids: Sequence[uuid.UUID],
        rack: str | None = None,
    ) -> BrokerRegistration:
        return await self._run(
            lambda: self.controller.register_broker(
                endpoints, log_dir_ids=log_dir_ids, rack=rack, broker_id=broker_id
            )
        )

    async def allocate_producer_ids(self, broker_id: int, broker_epoch: int) -> range:
        return await self._run(
            lambda: self.controller.allocate_producer_ids(broker_id, broker_epoch)
        )
