"""CreateAcls (30), DescribeAcls (29) and DeleteAcls (31) on a broker (Kafka's ``AclApis``).

Create and Delete need ALTER on the cluster and are decided by the controller
(:mod:`ferrokafka.cluster.acls.control`), reached through the node's ControllerChannel as the
other admin requests are; Describe needs DESCRIBE on the cluster and reads the ACLs of this
node's metadata image. Without an authorizer each answers SECURITY_DISABLED, as Kafka does;
a request with an UNKNOWN field (a type or operation this version does not know) is
INVALID_REQUEST, as Kafka refuses to parse it.

The cluster check happens here, before forwarding: a forwarded request reaches the controller
without the client's principal (our ControllerChannel sends it as itself, not in an Envelope).
"""

from __future__ import annotations

from typing import Protocol

from ferrokafka.cluster.acls.control import filter_of
from ferrokafka.cluster.acls.model import AclBinding, AclFilter
from ferrokafka.cluster.image import MetadataImage
from ferrokafka.protocol.error_codes import (
    CLUSTER_AUTHORIZATION_FAILED,
    INVALID_REQUEST,
    SECURITY_DISABLED,
)
from ferrokafka.protocol.error_responses import error_response
from ferrokafka.protocol.messages.create_acls import CreateAclsRequest, CreateAclsResponse
from ferrokafka.protocol.messages.delete_acls import DeleteAclsRequest, DeleteAclsResponse
from ferrokafka.protocol.messages.describe_acls import DescribeAclsRequest, DescribeAclsResponse
from ferrokafka.server.authorize import AclOperation, StandardAuthorizer, authorized_cluster
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.node import Node

NO_AUTHORIZER = "No Authorizer is configured on the broker"
NOT_AUTHORIZED = "Cluster authorization failed."
UNKNOWN_ELEMENTS = "The request contains UNKNOWN elements"


def _unknown(*codes: int) -> bool:
    # Kafka's request validation: a code 0 (UNKNOWN) field fails the request's parse.
    return 0 in codes


class CreateAclsHandler:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(self, ctx: RequestContext, request: CreateAclsRequest) -> CreateAclsResponse:
        if self.node.authorizer is None:
            return error_response(request, SECURITY_DISABLED, "No Authorizer is configured.")
        if not authorized_cluster(self.node, ctx, AclOperation.ALTER):
            return error_response(request, CLUSTER_AUTHORIZATION_FAILED, NOT_AUTHORIZED)
        if any(
            _unknown(c.resource_type, c.resource_pattern_type, c.operation, c.permission_type)
            for c in request.creations
        ):
            return error_response(request, INVALID_REQUEST, UNKNOWN_ELEMENTS)
        return await self.node.controller_channel.create_acls(request)


class DeleteAclsHandler:
    def __init__(self, node: Node) -> None:
        self.node = node

    async def __call__(self, ctx: RequestContext, request: DeleteAclsRequest) -> DeleteAclsResponse:
        if self.node.authorizer is None:
            return error_response(request, SECURITY_DISABLED, "No Authorizer is configured.")
        if not authorized_cluster(self.node, ctx, AclOperation.ALTER):
            return error_response(request, CLUSTER_AUTHORIZATION_FAILED, NOT_AUTHORIZED)
        if any(
            _unknown(f.resource_type_filter, f.pattern_type_filter, f.operation, f.permission_type)
            for f in request.filters
        ):
            return error_response(request, INVALID_REQUEST, UNKNOWN_ELEMENTS)
        return await self.node.controller_channel.delete_acls(request)


class AclSource(Protocol):
    """Whose ACLs DescribeAcls lists: a broker's node, or a controller's (server/kraft.py)."""

    @property
    def authorizer(self) -> StandardAuthorizer | None: ...

    @property
    def image(self) -> MetadataImage: ...


class DescribeAclsHandler:
    def __init__(self, node: AclSource) -> None:
        self.node = node

    async def __call__(
        self, ctx: RequestContext, request: DescribeAclsRequest
    ) -> DescribeAclsResponse:
        if self.node.authorizer is None:
            return DescribeAclsResponse(error_code=SECURITY_DISABLED, error_message=NO_AUTHORIZER)
        if not authorized_cluster(self.node, ctx, AclOperation.DESCRIBE):
            return error_response(request, CLUSTER_AUTHORIZATION_FAILED, NOT_AUTHORIZED)
        acl_filter = filter_of(request)  # type: ignore[arg-type]  # the same field names
        if acl_filter.is_unknown:
            return DescribeAclsResponse(error_code=INVALID_REQUEST, error_message=UNKNOWN_ELEMENTS)
        acls = [acl for acl in self.node.image.acls.values() if acl_filter.matches(acl)]
        return DescribeAclsResponse(error_code=0, error_message=None, resources=_grouped(acls))


def _grouped(acls: list[AclBinding]) -> list[DescribeAclsResponse.DescribeAclsResource]:
    """Kafka's ``DescribeAclsResponse.aclsResources``: one entry per resource pattern."""
    by_pattern: dict[tuple[int, str, int], list[AclBinding]] = {}
    for acl in acls:
        key = (int(acl.resource_type), acl.resource_name, int(acl.pattern_type))
        by_pattern.setdefault(key, []).append(acl)
    return [
        DescribeAclsResponse.DescribeAclsResource(
            resource_type=resource_type,
            resource_name=name,
            pattern_type=pattern_type,
            acls=[
                DescribeAclsResponse.AclDescription(
                    principal=a.principal,
                    host=a.host,
                    operation=int(a.operation),
                    permission_type=int(a.permission),
                )
                for a in entries
            ],
        )
        for (resource_type, name, pattern_type), entries in by_pattern.items()
    ]


__all__ = [
    "AclFilter",
    "AclSource",
    "CreateAclsHandler",
    "DeleteAclsHandler",
    "DescribeAclsHandler",
]
