"""The response that refuses a request with one error code everywhere it has one (Kafka's
``AbstractRequest.getErrorResponse``), for the admin APIs a controller answers: what an
inactive controller answers (NOT_CONTROLLER), and what a broker answers when the controller
could not be reached in time (REQUEST_TIMED_OUT)."""

from __future__ import annotations

from typing import Any

from ferrokafka.protocol.messages.allocate_producer_ids import (
    AllocateProducerIdsRequest,
    AllocateProducerIdsResponse,
)
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
from ferrokafka.protocol.messages.describe_acls import DescribeAclsRequest, DescribeAclsResponse
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

_TOP_LEVEL: dict[type, type] = {
    AlterPartitionReassignmentsRequest: AlterPartitionReassignmentsResponse,
    ListPartitionReassignmentsRequest: ListPartitionReassignmentsResponse,
    AlterPartitionRequest: AlterPartitionResponse,
    AllocateProducerIdsRequest: AllocateProducerIdsResponse,
    BrokerRegistrationRequest: BrokerRegistrationResponse,
    BrokerHeartbeatRequest: BrokerHeartbeatResponse,
    AssignReplicasToDirsRequest: AssignReplicasToDirsResponse,
    UnregisterBrokerRequest: UnregisterBrokerResponse,
    ControllerRegistrationRequest: ControllerRegistrationResponse,
    UpdateFeaturesRequest: UpdateFeaturesResponse,
}


def error_response(request: Any, code: int, message: str | None = None) -> Any:
    """The response refusing ``request`` with ``code`` everywhere it has an error code (and
    ``message`` where the ACL APIs carry one)."""
    if isinstance(request, CreateTopicsRequest):
        return CreateTopicsResponse(
            topics=[
                CreateTopicsResponse.CreatableTopicResult(name=t.name, error_code=code)
                for t in request.topics
            ]
        )
    if isinstance(request, DeleteTopicsRequest):
        names = [t.name for t in request.topics] or list(request.topic_names)
        return DeleteTopicsResponse(
            responses=[
                DeleteTopicsResponse.DeletableTopicResult(name=name, error_code=code)
                for name in names
            ]
        )
    if isinstance(request, CreatePartitionsRequest):
        return CreatePartitionsResponse(
            results=[
                CreatePartitionsResponse.CreatePartitionsTopicResult(name=t.name, error_code=code)
                for t in request.topics
            ]
        )
    if isinstance(request, AlterConfigsRequest):
        return AlterConfigsResponse(
            responses=[
                AlterConfigsResponse.AlterConfigsResourceResponse(
                    resource_type=r.resource_type, resource_name=r.resource_name, error_code=code
                )
                for r in request.resources
            ]
        )
    if isinstance(request, IncrementalAlterConfigsRequest):
        return IncrementalAlterConfigsResponse(
            responses=[
                IncrementalAlterConfigsResponse.AlterConfigsResourceResponse(
                    resource_type=r.resource_type, resource_name=r.resource_name, error_code=code
                )
                for r in request.resources
            ]
        )
    if isinstance(request, ElectLeadersRequest):
        return elect_leaders_error(request, code)
    if isinstance(request, AlterUserScramCredentialsRequest):
        # Kafka's getErrorResponse: each user named (once), with the code.
        users = dict.fromkeys(u.name for u in [*request.deletions, *request.upsertions])
        return AlterUserScramCredentialsResponse(
            results=[
                AlterUserScramCredentialsResponse.AlterUserScramCredentialsResult(
                    user=user, error_code=code, error_message=None
                )
                for user in users
            ]
        )
    if isinstance(request, CreateAclsRequest):
        return CreateAclsResponse(
            results=[
                CreateAclsResponse.AclCreationResult(error_code=code, error_message=message)
                for _ in request.creations
            ]
        )
    if isinstance(request, DeleteAclsRequest):
        return DeleteAclsResponse(
            filter_results=[
                DeleteAclsResponse.DeleteAclsFilterResult(error_code=code, error_message=message)
                for _ in request.filters
            ]
        )
    if isinstance(request, DescribeAclsRequest):
        return DescribeAclsResponse(error_code=code, error_message=message)
    if isinstance(request, AlterClientQuotasRequest):
        return AlterClientQuotasResponse(
            entries=[
                AlterClientQuotasResponse.EntryData(
                    error_code=code,
                    entity=[
                        AlterClientQuotasResponse.EntityData(
                            entity_type=e.entity_type, entity_name=e.entity_name
                        )
                        for e in entry.entity
                    ],
                )
                for entry in request.entries
            ]
        )
    # The APIs with one top-level error code.
    for request_type, response_type in _TOP_LEVEL.items():
        if isinstance(request, request_type):
            return response_type(error_code=code)
    raise TypeError(f"no error response for {type(request).__name__}")


def elect_leaders_error(
    request: ElectLeadersRequest, code: int, message: str | None = None
) -> ElectLeadersResponse:
    """Kafka's ``ElectLeadersRequest.getErrorResponse``: the top-level code (v1+) and the
    same code for every partition the request named (none for a null list: all partitions)."""
    return ElectLeadersResponse(
        error_code=code,
        replica_election_results=[
            ElectLeadersResponse.ReplicaElectionResult(
                topic=t.topic,
                partition_result=[
                    ElectLeadersResponse.PartitionResult(
                        partition_id=p, error_code=code, error_message=message
                    )
                    for p in t.partitions
                ],
            )
            for t in request.topic_partitions or ()
        ],
    )


def is_error_response(response: Any, code: int) -> bool:
    """Whether every error code ``response`` holds is ``code`` (APIs of :func:`error_response`)."""
    codes = _error_codes(response)
    return bool(codes) and all(c == code for c in codes)


def _error_codes(response: Any) -> list[int]:
    if isinstance(response, CreateTopicsResponse):
        return [t.error_code for t in response.topics]
    if isinstance(response, DeleteTopicsResponse):
        return [t.error_code for t in response.responses]
    if isinstance(response, CreatePartitionsResponse):
        return [t.error_code for t in response.results]
    if isinstance(response, AlterConfigsResponse | IncrementalAlterConfigsResponse):
        return [r.error_code for r in response.responses]
    if isinstance(response, AlterUserScramCredentialsResponse):
        return [r.error_code for r in response.results]
    if isinstance(response, AlterClientQuotasResponse):
        return [e.error_code for e in response.entries]
    if isinstance(response, ElectLeadersResponse):
        return [response.error_code] + [
            p.error_code for r in response.replica_election_results for p in r.partition_result
        ]
    if isinstance(response, tuple(_TOP_LEVEL.values())):
        return [response.error_code]
    raise TypeError(f"no error codes known for {type(response).__name__}")
