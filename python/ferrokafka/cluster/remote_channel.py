"""RemoteControllerChannel: a broker's :class:`ControllerChannel` to an active controller in
another process — Apache Kafka's or ferrokafka's (Kafka's ``NodeToControllerChannelManager``).

Each operation goes to the controller the locator names now (the quorum's leader, as the
broker's metadata fetcher last learnt it). A controller that answers NOT_CONTROLLER everywhere,
or cannot be reached, is left for the next one the locator names, after a backoff, until the
operation's deadline; then the broker answers REQUEST_TIMED_OUT, as Kafka's broker does. A
request in flight to a controller is abandoned as soon as the locator names another one (Kafka's
NodeToControllerRequestThread drops its connection when the active controller changes): a
controller cut off from the network would otherwise hold it for a whole request timeout.

Requests travel on separate connections by purpose, as Kafka keeps separate channel managers:
the broker's lifecycle (registration, heartbeats) on one, with a request timeout of half the
broker session (KAFKA-14392: a heartbeat stuck on a dead connection must not outlive the
session it keeps), AlterPartition on another, everything forwarded on a third; so a slow admin
operation never delays a heartbeat.

Metadata does not come back through the channel: a broker in a cluster learns images by
fetching the metadata log (the ``feed`` it was given: its Raft observer or follower), so
``subscribe`` is the feed's.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import trio

from ferrokafka.cluster.channel import MetadataPublisher
from ferrokafka.cluster.connector import PLAINTEXT, Connector
from ferrokafka.cluster.forwarding import as_forwarded
from ferrokafka.cluster.image import BrokerEndpoint, BrokerRegistration
from ferrokafka.cluster.node_client import REQUEST_TIMEOUT_S, NodeClient, NodeUnavailableError
from ferrokafka.protocol.error_codes import (
    NONE,
    NOT_CONTROLLER,
    NOT_LEADER_OR_FOLLOWER,
    REQUEST_TIMED_OUT,
)
from ferrokafka.protocol.error_responses import error_response, is_error_response
from ferrokafka.protocol.messages.add_raft_voter import AddRaftVoterRequest, AddRaftVoterResponse
from ferrokafka.protocol.messages.allocate_producer_ids import AllocateProducerIdsRequest
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
from ferrokafka.protocol.messages.describe_quorum import (
    DescribeQuorumRequest,
    DescribeQuorumResponse,
)
from ferrokafka.protocol.messages.elect_leaders import ElectLeadersRequest, ElectLeadersResponse
from ferrokafka.protocol.messages.incremental_alter_configs import (
    IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
)
from ferrokafka.protocol.messages.list_partition_reassignments import (
    ListPartitionReassignmentsRequest,
    ListPartitionReassignmentsResponse,
)
from ferrokafka.protocol.messages.remove_raft_voter import (
    RemoveRaftVoterRequest,
    RemoveRaftVoterResponse,
)
from ferrokafka.protocol.messages.unregister_broker import (
    UnregisterBrokerRequest,
    UnregisterBrokerResponse,
)
from ferrokafka.protocol.messages.update_features import (
    UpdateFeaturesRequest,
    UpdateFeaturesResponse,
)

log = logging.getLogger(__name__)

# The active controller's address now, or None while no leader is known.
ControllerLocator = Callable[[], tuple[str, int] | None]
# How long one operation may look for an active controller (Kafka's broker bounds a forwarded
# request by its own timeout; this is the bound of the ones without one).
OPERATION_TIMEOUT_S = 30.0
# Pause before asking again after NOT_CONTROLLER, a failed connection or no known leader
# (controller.quorum.retry.backoff.ms is 20 ms; a failover takes an election timeout).
RETRY_BACKOFF_S = 0.1
# Clients kept, one per (purpose, controller address) seen: a quorum has a handful of voters.
CLIENTS_MAX = 16
# The connections by purpose (Kafka's channel managers), and the requests of each but the last.
LIFECYCLE = "heartbeat"
ALTER_PARTITION = "alter-partition"
FORWARDING = "forwarding"
_LIFECYCLE_REQUESTS = (
    BrokerRegistrationRequest,
    BrokerHeartbeatRequest,
    UnregisterBrokerRequest,
    ControllerRegistrationRequest,
)
CLIENT_ID_PREFIX = "ferrokafka-broker-"


def _not_controller(response: Any) -> bool:
    return is_error_response(response, NOT_CONTROLLER)


def _not_quorum_leader(response: DescribeQuorumResponse) -> bool:
    return any(
        p.error_code == NOT_LEADER_OR_FOLLOWER for t in response.topics for p in t.partitions
    )


def _voter_timeout(request: Any, message: str) -> Any:
    response = {
        AddRaftVoterRequest: AddRaftVoterResponse,
        RemoveRaftVoterRequest: RemoveRaftVoterResponse,
    }[type(request)]
    return response(error_code=REQUEST_TIMED_OUT, error_message=message)


class ControllerUnavailableError(Exception):
    """No active controller answered before the operation's deadline."""


class MetadataFeed(Protocol):
    """Where a broker's images come from (its metadata log fetcher)."""

    async def subscribe(self, publisher: MetadataPublisher) -> None: ...

    def unsubscribe(self, publisher: MetadataPublisher) -> None: ...


class RemoteControllerChannel:
    """Operations sent to the active controller; images from ``feed``."""

    def __init__(
        self,
        broker_id: int,
        locate: ControllerLocator,
        feed: MetadataFeed,
        *,
        timeout_s: float = OPERATION_TIMEOUT_S,
        retry_backoff_s: float = RETRY_BACKOFF_S,
        lifecycle_request_timeout_s: float = REQUEST_TIMEOUT_S,
        connector: Connector = PLAINTEXT,
    ) -> None:
        self.broker_id = broker_id
        self.connector = connector  # the controller listener's TLS and SASL
        self._locate = locate
        self._feed = feed
        self.timeout_s = timeout_s
        self.retry_backoff_s = retry_backoff_s
        self.lifecycle_request_timeout_s = lifecycle_request_timeout_s
        self._clients: dict[tuple[str, tuple[str, int]], NodeClient] = {}

    async def subscribe(self, publisher: MetadataPublisher) -> None:
        await self._feed.subscribe(publisher)

    def unsubscribe(self, publisher: MetadataPublisher) -> None:
        self._feed.unsubscribe(publisher)

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    # -- operations --------------------------------------------------------------------------

    async def create_topics(self, request: CreateTopicsRequest) -> CreateTopicsResponse:
        return await self._forward(request)

    async def delete_topics(self, request: DeleteTopicsRequest) -> DeleteTopicsResponse:
        return await self._forward(request)

    async def create_partitions(self, request: CreatePartitionsRequest) -> CreatePartitionsResponse:
        return await self._forward(request)

    async def alter_client_quotas(
        self, request: AlterClientQuotasRequest
    ) -> AlterClientQuotasResponse:
        return await self._forward(request)

    async def alter_configs(self, request: AlterConfigsRequest) -> AlterConfigsResponse:
        return await self._forward(request)

    async def incremental_alter_configs(
        self, request: IncrementalAlterConfigsRequest
    ) -> IncrementalAlterConfigsResponse:
        return await self._forward(request)

    async def update_features(self, request: UpdateFeaturesRequest) -> UpdateFeaturesResponse:
        return await self._forward(request)

    async def alter_user_scram_credentials(
        self, request: AlterUserScramCredentialsRequest
    ) -> AlterUserScramCredentialsResponse:
        return await self._forward(request)

    async def create_acls(self, request: CreateAclsRequest) -> CreateAclsResponse:
        return await self._forward(request)

    async def delete_acls(self, request: DeleteAclsRequest) -> DeleteAclsResponse:
        return await self._forward(request)

    # -- membership (the broker's lifecycle manager sends these) ------------------------------

    async def broker_registration(
        self, request: BrokerRegistrationRequest
    ) -> BrokerRegistrationResponse:
        return await self._forward(request)

    async def broker_heartbeat(self, request: BrokerHeartbeatRequest) -> BrokerHeartbeatResponse:
        return await self._forward(request)

    async def assign_replicas_to_dirs(
        self, request: AssignReplicasToDirsRequest
    ) -> AssignReplicasToDirsResponse:
        return await self._forward(request)

    async def unregister_broker(self, request: UnregisterBrokerRequest) -> UnregisterBrokerResponse:
        return await self._forward(request)

    async def register_controller(
        self, request: ControllerRegistrationRequest
    ) -> ControllerRegistrationResponse:
        return await self._forward(request)

    async def describe_quorum(self, request: DescribeQuorumRequest) -> DescribeQuorumResponse:
        """Asked of the quorum's leader (the active controller). A node that answers
        NOT_LEADER_OR_FOLLOWER lost the lead since the locator named it: asked again of the
        next leader, as a NOT_CONTROLLER answer is; REQUEST_TIMED_OUT (top level) when no
        leader answered in time."""
        try:
            return await self._call(request, redirected=_not_quorum_leader)
        except ControllerUnavailableError as exc:
            log.info("DescribeQuorum not answered: %s", exc)
            return DescribeQuorumResponse(error_code=REQUEST_TIMED_OUT, error_message=str(exc))

    async def raft_voter_change(self, request: Any) -> Any:
        """AddRaftVoter or RemoveRaftVoter (KIP-853), which a broker forwards to the active
        controller as Kafka's does; a NOT_LEADER_OR_FOLLOWER answer is asked again of the
        next leader; REQUEST_TIMED_OUT when none answered in time."""
        try:
            return await self._call(
                request, redirected=lambda r: r.error_code == NOT_LEADER_OR_FOLLOWER
            )
        except ControllerUnavailableError as exc:
            log.info("%s not answered: %s", type(request).__name__, exc)
            return _voter_timeout(request, str(exc))

    async def alter_partition(self, request: AlterPartitionRequest) -> AlterPartitionResponse:
        return await self._forward(request)

    async def elect_leaders(self, request: ElectLeadersRequest) -> ElectLeadersResponse:
        return await self._forward(request)

    async def alter_partition_reassignments(
        self, request: AlterPartitionReassignmentsRequest
    ) -> AlterPartitionReassignmentsResponse:
        return await self._forward(request)

    async def list_partition_reassignments(
        self, request: ListPartitionReassignmentsRequest
    ) -> ListPartitionReassignmentsResponse:
        return await self._forward(request)

    async def register_broker(
        self,
        broker_id: int,
        endpoints: Sequence[BrokerEndpoint],
        log_dir_ids: Sequence[uuid.UUID],
        rack: str | None = None,
    ) -> BrokerRegistration:
        """The single node's shortcut (its own controller registers it at once); a broker of a
        cluster registers through its lifecycle manager (``broker_registration``)."""
        raise ControllerUnavailableError(
            "a broker of a cluster registers with BrokerRegistration (its lifecycle manager)"
        )

    async def allocate_producer_ids(self, broker_id: int, broker_epoch: int) -> range:
        """A block of producer ids (AllocateProducerIds); raises ControllerUnavailableError
        when no controller gave one in time, or the controller's error as it answered it."""
        response = await self._call(
            AllocateProducerIdsRequest(broker_id=broker_id, broker_epoch=broker_epoch)
        )
        if response.error_code != NONE:
            raise ControllerUnavailableError(
                f"AllocateProducerIds answered with error {response.error_code}"
            )
        start = response.producer_id_start
        return range(start, start + response.producer_id_len)

    async def _forward(self, request: Any) -> Any:
        """An admin request answered by the active controller, or REQUEST_TIMED_OUT in every
        entry when none answered in time."""
        try:
            # Sent at the newest version: said so that it means what its client asked.
            return await self._call(as_forwarded(request))
        except ControllerUnavailableError as exc:
            log.info("%s not answered: %s", type(request).__name__, exc)
            return error_response(request, REQUEST_TIMED_OUT)

    async def _call(self, request: Any, redirected: Callable[[Any], bool] | None = None) -> Any:
        """``request`` answered by the active controller; an answer ``redirected`` calls a
        "not me" (default: NOT_CONTROLLER everywhere) sends it to the next one named."""
        not_me = redirected or _not_controller
        deadline = trio.current_time() + self.timeout_s
        last_problem = "no active controller known"
        while True:
            address = self._locate()
            if address is not None:
                client = await self._client(_purpose(request), address)
                with trio.move_on_at(deadline):
                    try:
                        response = await self._ask_while_named(client, request, address)
                    except NodeUnavailableError as exc:
                        last_problem = str(exc)
                    else:
                        if response is None:
                            last_problem = f"{address[0]}:{address[1]} lost the lead"
                            continue  # the locator names the next one already
                        if not not_me(response):
                            return response
                        last_problem = f"{address[0]}:{address[1]} is not the active controller"
            if trio.current_time() + self.retry_backoff_s >= deadline:
                raise ControllerUnavailableError(
                    f"{last_problem} (gave up after {self.timeout_s:g} s)"
                )
            await trio.sleep(self.retry_backoff_s)

    async def _ask_while_named(
        self, client: NodeClient, request: Any, address: tuple[str, int]
    ) -> Any | None:
        """``client.call(request)``, or None once the locator names another controller than
        ``address`` (no leader known yet is no reason to give up on it)."""
        outcome: list[Any] = []  # the response or the NodeUnavailableError; empty: abandoned
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                while self._locate() in (address, None):
                    await trio.sleep(self.retry_backoff_s)
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch)
            try:
                outcome.append(await client.call(request))
            except NodeUnavailableError as exc:  # raised here, not wrapped in a group
                outcome.append(exc)
            nursery.cancel_scope.cancel()
        if outcome and isinstance(outcome[0], NodeUnavailableError):
            raise outcome[0]
        return outcome[0] if outcome else None

    async def _client(self, purpose: str, address: tuple[str, int]) -> NodeClient:
        key = (purpose, address)
        client = self._clients.get(key)
        if client is None:
            if len(self._clients) >= CLIENTS_MAX:
                # Addresses of old controllers: forget the oldest.
                await self._clients.pop(next(iter(self._clients))).aclose()
            timeout_s = (
                self.lifecycle_request_timeout_s if purpose == LIFECYCLE else REQUEST_TIMEOUT_S
            )
            client = self._clients[key] = NodeClient(
                address,
                client_id=f"{CLIENT_ID_PREFIX}{self.broker_id}",
                timeout_s=timeout_s,
                connector=self.connector,
            )
        return client


def _purpose(request: Any) -> str:
    if isinstance(request, _LIFECYCLE_REQUESTS):
        return LIFECYCLE
    if isinstance(request, AlterPartitionRequest):
        return ALTER_PARTITION
    return FORWARDING
