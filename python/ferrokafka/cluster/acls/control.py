"""CreateAcls and DeleteAcls decided by the controller (Kafka's ``AclControlManager`` with
the broker-side checks of ``AclApis``): validation, and the AccessControlEntryRecords /
RemoveAccessControlEntryRecords that carry the change.

Creating an ACL that exists already succeeds and writes nothing; each filter of a DeleteAcls
removes every ACL it matches (a filter with an UNKNOWN field fails with INVALID_REQUEST);
one operation writes at most :data:`MAX_RECORDS_PER_USER_OP` records (Kafka's bound).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from ferrokafka.cluster.acls.model import (
    CLUSTER_NAME,
    AclBinding,
    AclFilter,
    AclOperation,
    AclPermissionType,
    PatternType,
    ResourceType,
    enum_or_unknown,
)
from ferrokafka.cluster.records import AccessControlEntryRecord, RemoveAccessControlEntryRecord
from ferrokafka.protocol.error_codes import INVALID_REQUEST, UNKNOWN_SERVER_ERROR
from ferrokafka.protocol.messages.create_acls import CreateAclsRequest, CreateAclsResponse
from ferrokafka.protocol.messages.delete_acls import DeleteAclsRequest, DeleteAclsResponse
from ferrokafka.protocol.principal import KafkaPrincipal
from ferrokafka.protocol.schema import Message

# Kafka's QuorumController.MAX_RECORDS_PER_USER_OP.
MAX_RECORDS_PER_USER_OP = 10_000

AclMap = Mapping[uuid.UUID, AclBinding]


def binding_from_record(record: AccessControlEntryRecord) -> AclBinding:
    return AclBinding(
        resource_type=enum_or_unknown(ResourceType, record.resource_type),
        resource_name=record.resource_name,
        pattern_type=enum_or_unknown(PatternType, record.pattern_type),
        principal=record.principal,
        host=record.host,
        operation=enum_or_unknown(AclOperation, record.operation),
        permission=enum_or_unknown(AclPermissionType, record.permission_type),
    )


def record_from_binding(acl_id: uuid.UUID, acl: AclBinding) -> AccessControlEntryRecord:
    return AccessControlEntryRecord(
        id=acl_id,
        resource_type=int(acl.resource_type),
        resource_name=acl.resource_name,
        pattern_type=int(acl.pattern_type),
        principal=acl.principal,
        host=acl.host,
        operation=int(acl.operation),
        permission_type=int(acl.permission),
    )


def creation_binding(creation: CreateAclsRequest.AclCreation) -> AclBinding:
    return AclBinding(
        resource_type=enum_or_unknown(ResourceType, creation.resource_type),
        resource_name=creation.resource_name,
        pattern_type=enum_or_unknown(PatternType, creation.resource_pattern_type),
        principal=creation.principal,
        host=creation.host,
        operation=enum_or_unknown(AclOperation, creation.operation),
        permission=enum_or_unknown(AclPermissionType, creation.permission_type),
    )


def filter_of(f: DeleteAclsRequest.DeleteAclsFilter) -> AclFilter:
    """A DeleteAcls (or DescribeAcls: same field names) filter."""
    return AclFilter(
        resource_type=enum_or_unknown(ResourceType, f.resource_type_filter),
        resource_name=f.resource_name_filter,
        pattern_type=enum_or_unknown(PatternType, f.pattern_type_filter),
        principal=f.principal_filter,
        host=f.host_filter,
        operation=enum_or_unknown(AclOperation, f.operation),
        permission=enum_or_unknown(AclPermissionType, f.permission_type),
    )


def validate_new_acl(acl: AclBinding) -> str | None:
    """Why Kafka refuses to create ``acl`` (INVALID_REQUEST), or None."""
    if acl.resource_type is ResourceType.CLUSTER and acl.resource_name != CLUSTER_NAME:
        return f"The only valid name for the CLUSTER resource is {CLUSTER_NAME}"
    if not acl.resource_name:
        return "Invalid empty resource name"
    if acl.resource_type in (ResourceType.UNKNOWN, ResourceType.ANY):
        return f"Invalid resourceType {acl.resource_type.name}"
    if acl.pattern_type not in (PatternType.LITERAL, PatternType.PREFIXED):
        return f"Invalid patternType {acl.pattern_type.name}"
    if acl.operation in (AclOperation.UNKNOWN, AclOperation.ANY):
        return f"Invalid operation {acl.operation.name}"
    if acl.permission not in (AclPermissionType.ALLOW, AclPermissionType.DENY):
        return f"Invalid permissionType {acl.permission.name}"
    try:
        KafkaPrincipal.parse(acl.principal)
    except ValueError:
        return (
            f"Could not parse principal from `{acl.principal}` (no colon is present "
            "separating the principal type from the principal name)"
        )
    return None


def create_acls(
    acls: AclMap, request: CreateAclsRequest
) -> tuple[list[Message], CreateAclsResponse]:
    """Records adding the new ACLs of ``request`` to ``acls``, and its response."""
    existing = set(acls.values())
    taken = set(acls)
    records: list[Message] = []
    results: list[CreateAclsResponse.AclCreationResult] = []
    for creation in request.creations:
        acl = creation_binding(creation)
        reason = validate_new_acl(acl)
        if reason is not None:
            results.append(
                CreateAclsResponse.AclCreationResult(
                    error_code=INVALID_REQUEST, error_message=reason
                )
            )
            continue
        if acl not in existing:
            if len(records) >= MAX_RECORDS_PER_USER_OP:
                results.append(
                    CreateAclsResponse.AclCreationResult(
                        error_code=UNKNOWN_SERVER_ERROR,
                        error_message=f"Cannot create more than {MAX_RECORDS_PER_USER_OP} acls "
                        "in a single operation.",
                    )
                )
                continue
            existing.add(acl)
            acl_id = _new_id(taken)
            records.append(record_from_binding(acl_id, acl))
        results.append(CreateAclsResponse.AclCreationResult(error_code=0, error_message=None))
    return records, CreateAclsResponse(results=results)


def delete_acls(
    acls: AclMap, request: DeleteAclsRequest
) -> tuple[list[Message], DeleteAclsResponse]:
    """Records removing every ACL a filter of ``request`` matches, and its response; more than
    :data:`MAX_RECORDS_PER_USER_OP` removals fail the filter that passes the bound."""
    removed: set[uuid.UUID] = set()
    results: list[DeleteAclsResponse.DeleteAclsFilterResult] = []
    for f in request.filters:
        acl_filter = filter_of(f)
        if acl_filter.is_unknown:
            results.append(
                DeleteAclsResponse.DeleteAclsFilterResult(
                    error_code=INVALID_REQUEST, error_message=_unknown_part(acl_filter)
                )
            )
            continue
        matched = [(i, acl) for i, acl in acls.items() if acl_filter.matches(acl)]
        if len(removed | {i for i, _ in matched}) > MAX_RECORDS_PER_USER_OP:
            results.append(
                DeleteAclsResponse.DeleteAclsFilterResult(
                    error_code=UNKNOWN_SERVER_ERROR,
                    error_message=f"Cannot remove more than {MAX_RECORDS_PER_USER_OP} acls in a "
                    "single delete operation.",
                )
            )
            continue
        removed.update(i for i, _ in matched)
        results.append(
            DeleteAclsResponse.DeleteAclsFilterResult(
                error_code=0,
                error_message=None,
                matching_acls=[_matching(acl) for _, acl in matched],
            )
        )
    records: list[Message] = [RemoveAccessControlEntryRecord(id=i) for i in sorted(removed)]
    return records, DeleteAclsResponse(filter_results=results)


def _unknown_part(acl_filter: AclFilter) -> str:
    pattern = (acl_filter.resource_type, acl_filter.pattern_type)
    if ResourceType.UNKNOWN in pattern or PatternType.UNKNOWN in pattern:
        return "Unknown patternFilter."
    return "Unknown entryFilter."


def _matching(acl: AclBinding) -> DeleteAclsResponse.DeleteAclsMatchingAcl:
    return DeleteAclsResponse.DeleteAclsMatchingAcl(
        error_code=0,
        error_message=None,
        resource_type=int(acl.resource_type),
        resource_name=acl.resource_name,
        pattern_type=int(acl.pattern_type),
        principal=acl.principal,
        host=acl.host,
        operation=int(acl.operation),
        permission_type=int(acl.permission),
    )


def _new_id(taken: set[uuid.UUID]) -> uuid.UUID:
    while True:
        candidate = uuid.uuid4()
        if candidate not in taken and candidate.int > 1:
            taken.add(candidate)
            return candidate
