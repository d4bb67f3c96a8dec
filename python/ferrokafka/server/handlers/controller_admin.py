"""The APIs a controller answers on its controller listeners (Kafka's ``ControllerApis``): the
admin APIs (CreateTopics, DeleteTopics, CreatePartitions, AlterConfigs, IncrementalAlterConfigs,
UpdateFeatures, AlterUserScramCredentials) and AllocateProducerIds sent straight to it (a
broker's ControllerChannel, or an admin client with ``--bootstrap-controller``); the membership
APIs (BrokerRegistration, BrokerHeartbeat, AssignReplicasToDirs, UnregisterBroker,
ControllerRegistration: brokers'
and controllers' lifecycle managers, the decisions are
:mod:`ferrokafka.cluster.cluster_control`'s); AlterPartition (partition leaders' ISR changes,
:mod:`ferrokafka.cluster.isr_change`); ElectLeaders (:mod:`ferrokafka.cluster.elections`);
Alter/ListPartitionReassignments (:mod:`ferrokafka.cluster.reassignment`); and Envelope — a
broker forwarding a client's admin request, as Kafka brokers do — unwrapped, answered by the
same handlers and wrapped back. Each only hands the decoded request to the controller through a
:class:`ControllerChannel` and returns its answer.

Only the active controller decides: any other answers NOT_CONTROLLER in every entry of the
response (top-level where the API has one), the sender's cue to find the active controller and
retry there; so does one that loses the lead while an operation's records are committing.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ferrokafka.cluster.channel import ControllerChannel
from ferrokafka.cluster.feature_control import with_upgrade_types
from ferrokafka.cluster.raft.metadata_log import NotActiveControllerError
from ferrokafka.protocol import ProtocolError, decode_request, encode_response
from ferrokafka.protocol.api import decode_message
from ferrokafka.protocol.error_codes import (
    INVALID_REQUEST,
    NOT_CONTROLLER,
    PRINCIPAL_DESERIALIZATION_FAILURE,
    UNSUPPORTED_VERSION,
)
from ferrokafka.protocol.error_responses import error_response
from ferrokafka.protocol.messages.allocate_producer_ids import (
    AllocateProducerIdsRequest,
    AllocateProducerIdsResponse,
)
from ferrokafka.protocol.messages.alter_client_quotas import AlterClientQuotasRequest
from ferrokafka.protocol.messages.alter_configs import AlterConfigsRequest
from ferrokafka.protocol.messages.alter_partition import AlterPartitionRequest
from ferrokafka.protocol.messages.alter_partition_reassignments import (
    AlterPartitionReassignmentsRequest,
)
from ferrokafka.protocol.messages.alter_user_scram_credentials import (
    AlterUserScramCredentialsRequest,
)
from ferrokafka.protocol.messages.assign_replicas_to_dirs import AssignReplicasToDirsRequest
from ferrokafka.protocol.messages.broker_heartbeat import BrokerHeartbeatRequest
from ferrokafka.protocol.messages.broker_registration import BrokerRegistrationRequest
from ferrokafka.protocol.messages.controller_registration import ControllerRegistrationRequest
from ferrokafka.protocol.messages.create_acls import CreateAclsRequest
from ferrokafka.protocol.messages.create_partitions import (
    CreatePartitionsRequest,
)
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.default_principal_data import DefaultPrincipalData
from ferrokafka.protocol.messages.delete_acls import DeleteAclsRequest
from ferrokafka.protocol.messages.delete_topics import DeleteTopicsRequest
from ferrokafka.protocol.messages.elect_leaders import ElectLeadersRequest
from ferrokafka.protocol.messages.envelope import EnvelopeRequest, EnvelopeResponse
from ferrokafka.protocol.messages.incremental_alter_configs import (
    IncrementalAlterConfigsRequest,
)
from ferrokafka.protocol.messages.list_partition_reassignments import (
    ListPartitionReassignmentsRequest,
)
from ferrokafka.protocol.messages.unregister_broker import UnregisterBrokerRequest
from ferrokafka.protocol.messages.update_features import UpdateFeaturesRequest
from ferrokafka.protocol.principal import KafkaPrincipal
from ferrokafka.server.dispatcher import Dispatcher, RequestContext

log = logging.getLogger(__name__)

# Whether this node is the active controller now (the quorum's leader).
IsActive = Callable[[], bool]
# The Envelope's inner request: a whole request frame, bounded as any frame of the listener is;
# a request inside an Envelope may not be another Envelope (Kafka: INVALID_REQUEST).
ENVELOPE_KEY = EnvelopeRequest.API_KEY
_SIZE_PREFIX_BYTES = 4
# Kafka's MessageUtil.toVersionPrefixedBytes: a DefaultPrincipalData behind its int16 version.
_VERSION_PREFIX_BYTES = 2


class ControllerAdminHandlers:
    """The controller's admin APIs, answered through ``channel`` (to this node's own
    controller) while ``is_active()``."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        channel: ControllerChannel,
        is_active: IsActive,
        *,
        update_features: bool = False,
    ):
        """``update_features``: answer UpdateFeatures too (a controller of a cluster; the single
        node reports fixed levels in ApiVersions, so it does not change them)."""
        self.dispatcher = dispatcher
        self.channel = channel
        self.is_active = is_active
        self._operations: dict[type, Callable[[Any], Awaitable[Any]]] = {
            CreateTopicsRequest: channel.create_topics,
            DeleteTopicsRequest: channel.delete_topics,
            CreatePartitionsRequest: channel.create_partitions,
            AlterConfigsRequest: channel.alter_configs,
            AlterClientQuotasRequest: channel.alter_client_quotas,
            IncrementalAlterConfigsRequest: channel.incremental_alter_configs,
            AlterUserScramCredentialsRequest: channel.alter_user_scram_credentials,
            AllocateProducerIdsRequest: self._allocate_producer_ids,
            CreateAclsRequest: channel.create_acls,
            DeleteAclsRequest: channel.delete_acls,
            BrokerRegistrationRequest: channel.broker_registration,
            BrokerHeartbeatRequest: channel.broker_heartbeat,
            AssignReplicasToDirsRequest: channel.assign_replicas_to_dirs,
            UnregisterBrokerRequest: channel.unregister_broker,
            ControllerRegistrationRequest: channel.register_controller,
            AlterPartitionRequest: channel.alter_partition,
            ElectLeadersRequest: channel.elect_leaders,
            AlterPartitionReassignmentsRequest: channel.alter_partition_reassignments,
            ListPartitionReassignmentsRequest: channel.list_partition_reassignments,
        }
        if update_features:
            self._operations[UpdateFeaturesRequest] = channel.update_features
        # What a forwarded (enveloped) request may be: the admin APIs, as Kafka forwards.
        self._forwardable = frozenset(
            {
                CreateTopicsRequest,
                DeleteTopicsRequest,
                CreatePartitionsRequest,
                AlterConfigsRequest,
                AlterClientQuotasRequest,
                IncrementalAlterConfigsRequest,
                AlterUserScramCredentialsRequest,
                ElectLeadersRequest,
                AlterPartitionReassignmentsRequest,
                ListPartitionReassignmentsRequest,
                UpdateFeaturesRequest,
                CreateAclsRequest,
                DeleteAclsRequest,
            }
        )

    def register(self) -> None:
        for request_type in self._operations:
            self.dispatcher.register(request_type.API_KEY, self.answer)
        self.dispatcher.register(ENVELOPE_KEY, self.envelope)

    async def answer(self, ctx: RequestContext, request: Any) -> Any:
        if not self.is_active():
            return error_response(request, NOT_CONTROLLER)
        try:
            return await self._operations[type(request)](_as_latest(request, ctx.api_version))
        except NotActiveControllerError:
            # The lead was lost while the records were being committed (Kafka's controller
            # fails such an operation with NotControllerException): nothing was applied.
            return error_response(request, NOT_CONTROLLER)

    async def _allocate_producer_ids(
        self, request: AllocateProducerIdsRequest
    ) -> AllocateProducerIdsResponse:
        ids = await self.channel.allocate_producer_ids(request.broker_id, request.broker_epoch)
        return AllocateProducerIdsResponse(producer_id_start=ids.start, producer_id_len=len(ids))

    async def envelope(self, ctx: RequestContext, request: EnvelopeRequest) -> EnvelopeResponse:
        """A forwarded request: decoded, answered as if it came here, its response encoded
        under its own header. Kafka answers NOT_CONTROLLER at the envelope level when this
        controller is not active, and INVALID_REQUEST / UNSUPPORTED_VERSION when the inner
        request cannot be decoded or is not one the controller forwards."""
        if not self.is_active():
            return EnvelopeResponse(error_code=NOT_CONTROLLER)
        try:
            header, inner = decode_request(bytes(request.request_data))
        except ProtocolError as exc:
            log.info("Envelope from %s with an undecodable request: %s", ctx.client_address, exc)
            return EnvelopeResponse(error_code=INVALID_REQUEST)
        if header.request_api_key == ENVELOPE_KEY:
            return EnvelopeResponse(error_code=INVALID_REQUEST)
        if type(inner) not in self._forwardable or type(inner) not in self._operations:
            return EnvelopeResponse(error_code=UNSUPPORTED_VERSION)
        operation = self._operations[type(inner)]
        version = header.request_api_version

        async def run(_ctx: RequestContext, forwarded: Any) -> Any:
            return await operation(_as_latest(forwarded, version))

        # With an authorizer the forwarded request is checked as its client's (Kafka's
        # ControllerApis): the principal and address the forwarding broker put in the Envelope.
        gate_with = getattr(self.dispatcher.handler_for(header.request_api_key), "gate_with", None)
        try:
            if gate_with is None:
                response = await run(ctx, inner)
            else:
                client = enveloped_context(ctx, header, request)
                if client is None:
                    return EnvelopeResponse(error_code=PRINCIPAL_DESERIALIZATION_FAILURE)
                response = await gate_with(client, inner, run)
        except NotActiveControllerError:
            return EnvelopeResponse(error_code=NOT_CONTROLLER)
        # The response as it would be sent, less the frame's size prefix.
        framed = encode_response(header, response)
        return EnvelopeResponse(response_data=memoryview(framed)[_SIZE_PREFIX_BYTES:])


def enveloped_context(
    ctx: RequestContext, header: Any, envelope: EnvelopeRequest
) -> RequestContext | None:
    """The context of a forwarded request: the Envelope's principal (Kafka's
    DefaultPrincipalData, version-prefixed) and client address; None when they do not
    decode."""
    data = envelope.request_principal
    try:
        if data is None or len(data) < _VERSION_PREFIX_BYTES:
            raise ProtocolError("no principal")
        version = int.from_bytes(data[:_VERSION_PREFIX_BYTES], "big", signed=True)
        principal = decode_message(
            DefaultPrincipalData, memoryview(data)[_VERSION_PREFIX_BYTES:], version
        )
        host = str(ipaddress.ip_address(bytes(envelope.client_host_address)))
    except (ProtocolError, ValueError) as exc:
        log.info("Envelope from %s with an unreadable principal: %s", ctx.client_address, exc)
        return None
    return RequestContext(
        header,
        (host, 0),
        ctx.listener_name,
        ctx.connection_id,
        KafkaPrincipal(principal.type, principal.name, principal.token_authenticated),
    )


def _as_latest(request: Any, version: int) -> Any:
    """A request whose meaning depends on its version, made version-free (UpdateFeatures v0's
    allow_downgrade is an upgrade type)."""
    if isinstance(request, UpdateFeaturesRequest):
        return with_upgrade_types(request, version)
    return request


def register_controller_admin_handlers(
    dispatcher: Dispatcher,
    channel: ControllerChannel,
    is_active: IsActive,
    *,
    update_features: bool = False,
) -> ControllerAdminHandlers:
    handlers = ControllerAdminHandlers(
        dispatcher, channel, is_active, update_features=update_features
    )
    handlers.register()
    return handlers
