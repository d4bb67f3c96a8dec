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

from ferrokafka.cluster.cluster_control import monotonic_ms
from ferrokafka.cluster.controller import Controller
from ferrokafka.cluster.image import BrokerEndpoint, BrokerRegistration, MetadataImage
from ferrokafka.cluster.raft.metadata_log import NotActiveControllerError
from ferrokafka.protocol.messages.alter_client_quotas import (
    AlterClientQuotasRequest,
    AlterClientQuotasResponse,
)
from ferrokafka.protocol.messages.alter_configs import AlterConfigsRequest, AlterConfigsResponse
from ferrokafka.protocol.messages.alter_partition import (
    AlterPartitionRequest,
    AlterPartitionResponse,
)
from ferrokafka.protocol.messages.alter_partition_reassignments import (
    AlterPartitionReassignmentsRequest,
    AlterPartitionReassignmentsResponse,
)
from ferrokafka.protocol.messages.alter_user_scram_credentials import (
    AlterUserScramCredentialsRequest,
    AlterUserScramCredentialsResponse,
)
from ferrokafka.protocol.messages.assign_replicas_to_dirs import (
    AssignReplicasToDirsRequest,
    AssignReplicasToDirsResponse,
)
from ferrokafka.protocol.messages.broker_heartbeat import (
    BrokerHeartbeatRequest,
    BrokerHeartbeatResponse,
)
from ferrokafka.protocol.messages.broker_registration import (
    BrokerRegistrationRequest,
    BrokerRegistrationResponse,
)
from ferrokafka.protocol.messages.controller_registration import (
    ControllerRegistrationRequest,
    ControllerRegistrationResponse,
)
from ferrokafka.protocol.messages.create_acls import CreateAclsRequest, CreateAclsResponse
from ferrokafka.protocol.messages.create_partitions import (
    CreatePartitionsRequest,
    CreatePartitionsResponse,
)
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest, CreateTopicsResponse
from ferrokafka.protocol.messages.delete_acls import DeleteAclsRequest, DeleteAclsResponse
from ferrokafka.protocol.messages.delete_topics import DeleteTopicsRequest, DeleteTopicsResponse
from ferrokafka.protocol.messages.elect_leaders import ElectLeadersRequest, ElectLeadersResponse
from ferrokafka.protocol.messages.incremental_alter_configs import (
    IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
)
from ferrokafka.protocol.messages.list_partition_reassignments import (
    ListPartitionReassignmentsRequest,
    ListPartitionReassignmentsResponse,
)
from ferrokafka.protocol.messages.unregister_broker import (
    UnregisterBrokerRequest,
    UnregisterBrokerResponse,
)
from ferrokafka.protocol.messages.update_features import (
    UpdateFeaturesRequest,
    UpdateFeaturesResponse,
)

T = TypeVar("T")

# Receives every new image, in log order (a broker's metadata publisher).
MetadataPublisher = Callable[[MetadataImage], Awaitable[None]]
# Subscribers of one channel: one per broker of the process; the in-process cluster harness
# has a handful. A bound, so that a leak of subscriptions shows.
PUBLISHERS_MAX = 64
# The timer task looks at broker sessions at the earliest expiry, but no more often than
# every TICK_MIN_MS (a clock a little behind must not make it spin) and at least every
# TICK_IDLE_MS (a broker unfenced meanwhile brings a new deadline).
TICK_MIN_MS = 10.0
TICK_IDLE_MS = 500.0
# Stale brokers fenced in one wake-up, each in its own batch; the rest wait for the next.
FENCES_PER_TICK_MAX = 64


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

    async def alter_client_quotas(
        self, request: AlterClientQuotasRequest
    ) -> AlterClientQuotasResponse: ...

    async def alter_configs(self, request: AlterConfigsRequest) -> AlterConfigsResponse: ...

    async def create_acls(self, request: CreateAclsRequest) -> CreateAclsResponse: ...

    async def delete_acls(self, request: DeleteAclsRequest) -> DeleteAclsResponse: ...

    async def incremental_alter_configs(
        self, request: IncrementalAlterConfigsRequest
    ) -> IncrementalAlterConfigsResponse: ...

    async def alter_user_scram_credentials(
        self, request: AlterUserScramCredentialsRequest
    ) -> AlterUserScramCredentialsResponse: ...

    async def register_broker(
        self,
        broker_id: int,
        endpoints: Sequence[BrokerEndpoint],
        log_dir_ids: Sequence[uuid.UUID],
        rack: str | None = None,
    ) -> BrokerRegistration: ...

    async def allocate_producer_ids(self, broker_id: int, broker_epoch: int) -> range: ...

    async def update_features(self, request: UpdateFeaturesRequest) -> UpdateFeaturesResponse:
        """UpdateFeatures, v0's allow_downgrade already read as an upgrade type."""
        ...

    # -- membership (Kafka's BrokerLifecycleManager sends these) ---------------------------

    async def broker_registration(
        self, request: BrokerRegistrationRequest
    ) -> BrokerRegistrationResponse: ...

    async def broker_heartbeat(
        self, request: BrokerHeartbeatRequest
    ) -> BrokerHeartbeatResponse: ...

    async def assign_replicas_to_dirs(
        self, request: AssignReplicasToDirsRequest
    ) -> AssignReplicasToDirsResponse: ...

    async def unregister_broker(
        self, request: UnregisterBrokerRequest
    ) -> UnregisterBrokerResponse: ...

    async def register_controller(
        self, request: ControllerRegistrationRequest
    ) -> ControllerRegistrationResponse: ...

    # -- replication (a partition leader's ISR changes) -------------------------------------

    async def alter_partition(self, request: AlterPartitionRequest) -> AlterPartitionResponse: ...

    # -- leader elections (cluster/elections.py) -------------------------------------------

    async def elect_leaders(self, request: ElectLeadersRequest) -> ElectLeadersResponse: ...

    # -- reassignment (admin clients' requests, forwarded) ----------------------------------

    async def alter_partition_reassignments(
        self, request: AlterPartitionReassignmentsRequest
    ) -> AlterPartitionReassignmentsResponse: ...

    async def list_partition_reassignments(
        self, request: ListPartitionReassignmentsRequest
    ) -> ListPartitionReassignmentsResponse: ...


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

    async def catch_up(self) -> MetadataImage:
        """Apply what the metadata log committed that this controller did not write (a standby
        controller of a quorum follows the active one's records)."""
        return await self._run(lambda: self.controller.loader.catch_up(self.controller.log))

    async def activate(self) -> MetadataImage:
        """This controller became the active one: catch up, bootstrap a new cluster, learn the
        registrations (:meth:`Controller.start`)."""
        return await self._run(self.controller.start)

    async def create_topics(self, request: CreateTopicsRequest) -> CreateTopicsResponse:
        return await self._run(lambda: self.controller.create_topics(request))

    async def delete_topics(self, request: DeleteTopicsRequest) -> DeleteTopicsResponse:
        return await self._run(lambda: self.controller.delete_topics(request))

    async def create_partitions(self, request: CreatePartitionsRequest) -> CreatePartitionsResponse:
        return await self._run(lambda: self.controller.create_partitions(request))

    async def alter_client_quotas(
        self, request: AlterClientQuotasRequest
    ) -> AlterClientQuotasResponse:
        return await self._run(lambda: self.controller.alter_client_quotas(request))

    async def alter_configs(self, request: AlterConfigsRequest) -> AlterConfigsResponse:
        return await self._run(lambda: self.controller.alter_configs(request))

    async def incremental_alter_configs(
        self, request: IncrementalAlterConfigsRequest
    ) -> IncrementalAlterConfigsResponse:
        return await self._run(lambda: self.controller.incremental_alter_configs(request))

    async def update_features(self, request: UpdateFeaturesRequest) -> UpdateFeaturesResponse:
        return await self._run(lambda: self.controller.update_features(request))

    async def alter_user_scram_credentials(
        self, request: AlterUserScramCredentialsRequest
    ) -> AlterUserScramCredentialsResponse:
        return await self._run(lambda: self.controller.alter_user_scram_credentials(request))

    async def create_acls(self, request: CreateAclsRequest) -> CreateAclsResponse:
        return await self._run(lambda: self.controller.create_acls(request))

    async def delete_acls(self, request: DeleteAclsRequest) -> DeleteAclsResponse:
        return await self._run(lambda: self.controller.delete_acls(request))

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

    async def broker_registration(
        self, request: BrokerRegistrationRequest
    ) -> BrokerRegistrationResponse:
        return await self._run(lambda: self.controller.broker_registration(request))

    async def broker_heartbeat(self, request: BrokerHeartbeatRequest) -> BrokerHeartbeatResponse:
        return await self._run(lambda: self.controller.broker_heartbeat(request))

    async def assign_replicas_to_dirs(
        self, request: AssignReplicasToDirsRequest
    ) -> AssignReplicasToDirsResponse:
        return await self._run(lambda: self.controller.assign_replicas_to_dirs(request))

    async def alter_partition(self, request: AlterPartitionRequest) -> AlterPartitionResponse:
        return await self._run(lambda: self.controller.alter_partition(request))

    async def elect_leaders(self, request: ElectLeadersRequest) -> ElectLeadersResponse:
        return await self._run(lambda: self.controller.elect_leaders(request))

    async def alter_partition_reassignments(
        self, request: AlterPartitionReassignmentsRequest
    ) -> AlterPartitionReassignmentsResponse:
        return await self._run(lambda: self.controller.alter_partition_reassignments(request))

    async def list_partition_reassignments(
        self, request: ListPartitionReassignmentsRequest
    ) -> ListPartitionReassignmentsResponse:
        return await self._run(lambda: self.controller.list_partition_reassignments(request))

    async def unregister_broker(self, request: UnregisterBrokerRequest) -> UnregisterBrokerResponse:
        return await self._run(lambda: self.controller.unregister_broker(request))

    async def register_controller(
        self, request: ControllerRegistrationRequest
    ) -> ControllerRegistrationResponse:
        return await self._run(lambda: self.controller.register_controller(request))

    async def run_timers(
        self,
        now_ms: Callable[[], float] = monotonic_ms,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """The controller's periodic work until cancelled: fence each broker whose session
        expired, when it expires (Kafka reschedules its fencing check at the earliest
        deadline). ``now_ms`` must be the controller's clock."""
        task_status.started()
        while True:
            async with self._lock:  # sessions change in operations' worker threads
                deadline = self.controller.next_tick_ms()
            wait_ms = TICK_IDLE_MS if deadline is None else deadline - now_ms()
            await trio.sleep(min(max(wait_ms, TICK_MIN_MS), TICK_IDLE_MS) / 1000.0)
            for _ in range(FENCES_PER_TICK_MAX):  # one broker per batch, as Kafka
                try:
                    if not await self._run(self.controller.tick):
                        break
                except NotActiveControllerError:
                    # The lead was lost (resigned at a clean shutdown, or a new leader
                    # elected) before the leadership follower cancelled these timers: nothing
                    # was written or replayed, and only an active controller fences brokers.
                    await trio.sleep_forever()
