"""The authorization check every handler calls: :func:`authorized` (and its filters).

With no ``authorizer.class.name`` the node has no authorizer (``node.authorizer is None``)
and every check is that one attribute test, allowing everything as Kafka without an
authorizer does. With Kafka's StandardAuthorizer the decision is
:func:`ferrokafka.cluster.acls.authorizer.authorize` over the ACLs of the node's current
metadata image, for the request's principal and client address.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

from ferrokafka.cluster.acls.authorizer import (
    AclIndex,
    AuthorizerSettings,
    authorize,
    parse_super_users,
)
from ferrokafka.cluster.acls.model import (
    CLUSTER_NAME,
    WILDCARD_HOST,
    WILDCARD_PRINCIPAL,
    WILDCARD_RESOURCE,
    AclBinding,
    AclOperation,
    AclPermissionType,
    PatternType,
    ResourceType,
)
from ferrokafka.cluster.image import MetadataImage
from ferrokafka.config import BrokerConfig
from ferrokafka.config.authorizer_keys import STANDARD_AUTHORIZER
from ferrokafka.server.dispatcher import RequestContext

T = TypeVar("T")

__all__ = [
    "CLUSTER_NAME",
    "AclOperation",
    "ResourceType",
    "StandardAuthorizer",
    "authorized",
    "authorized_cluster",
    "build_authorizer",
]


class _HasAuthorizer(Protocol):
    authorizer: StandardAuthorizer | None


class StandardAuthorizer:
    """The node's authorizer: settings from the config, ACLs from the current image (their
    index rebuilt only when the image's ACL map changes)."""

    def __init__(self, settings: AuthorizerSettings, image: Callable[[], MetadataImage]) -> None:
        self.settings = settings
        self._image = image
        self._acls: object = None
        self._index = AclIndex(())

    def image(self) -> MetadataImage:
        return self._image()

    def index(self) -> AclIndex:
        acls = self._image().acls
        if acls is not self._acls:
            self._index = AclIndex(acls.values())
            self._acls = acls
        return self._index

    def allows(
        self,
        ctx: RequestContext,
        operation: AclOperation,
        resource_type: ResourceType,
        name: str,
    ) -> bool:
        host = str(ctx.client_address[0]) if ctx.client_address else ""
        return authorize(
            self.settings, self.index(), str(ctx.principal), host, operation, resource_type, name
        )


def authorized_any_of_type(
    authorizer: StandardAuthorizer,
    ctx: RequestContext,
    operation: AclOperation,
    resource_type: ResourceType,
) -> bool:
    """Kafka's ``Authorizer.authorizeByResourceType``: whether some resource of the type is
    allowed ``operation`` for the principal — an ALLOW that no DENY of the same principal
    fully covers (a super user, or no ACL at all with allow.everyone, is allowed)."""
    if authorizer.allows(ctx, operation, resource_type, "hardcode"):
        return True
    principal = str(ctx.principal)
    host = str(ctx.client_address[0]) if ctx.client_address else ""

    def matches(acl: AclBinding) -> bool:
        return (
            acl.resource_type is resource_type
            and acl.principal in (principal, WILDCARD_PRINCIPAL)
            and acl.host in (WILDCARD_HOST, host)
            and acl.operation in (operation, AclOperation.ALL)
        )

    acls = [a for a in authorizer.image().acls.values() if matches(a)]
    denied_literal = {
        a.resource_name
        for a in acls
        if a.permission is AclPermissionType.DENY and a.pattern_type is PatternType.LITERAL
    }
    denied_prefixes = [
        a.resource_name
        for a in acls
        if a.permission is AclPermissionType.DENY and a.pattern_type is PatternType.PREFIXED
    ]
    if WILDCARD_RESOURCE in denied_literal:
        return False
    for acl in acls:
        if acl.permission is not AclPermissionType.ALLOW:
            continue
        if any(acl.resource_name.startswith(prefix) for prefix in denied_prefixes):
            continue
        if acl.pattern_type is PatternType.LITERAL and acl.resource_name in denied_literal:
            continue
        return True
    return False


def build_authorizer(
    config: BrokerConfig, image: Callable[[], MetadataImage]
) -> StandardAuthorizer | None:
    """The authorizer ``authorizer.class.name`` asks for, or None (everything allowed)."""
    if config.value("authorizer.class.name") != STANDARD_AUTHORIZER:
        return None
    settings = AuthorizerSettings(
        super_users=parse_super_users(config.value("super.users")),
        allow_if_no_acl=bool(config.value("allow.everyone.if.no.acl.found")),
    )
    return StandardAuthorizer(settings, image)


def authorized(
    node: _HasAuthorizer,
    ctx: RequestContext,
    operation: AclOperation,
    resource_type: ResourceType,
    name: str,
) -> bool:
    """Whether ``ctx``'s principal may do ``operation`` on the resource (always, without an
    authorizer)."""
    authorizer = node.authorizer
    return authorizer is None or authorizer.allows(ctx, operation, resource_type, name)


def authorized_cluster(node: _HasAuthorizer, ctx: RequestContext, operation: AclOperation) -> bool:
    return authorized(node, ctx, operation, ResourceType.CLUSTER, CLUSTER_NAME)


def filter_authorized(
    node: _HasAuthorizer,
    ctx: RequestContext,
    operation: AclOperation,
    resource_type: ResourceType,
    items: Iterable[T],
    name: Callable[[T], str],
) -> list[T]:
    """The items whose resource ``ctx``'s principal may do ``operation`` on."""
    authorizer = node.authorizer
    if authorizer is None:
        return list(items)
    return [i for i in items if authorizer.allows(ctx, operation, resource_type, name(i))]


# AclEntry.supportedOperations: what each resource type's authorized_operations can report.
SUPPORTED_OPERATIONS: dict[ResourceType, tuple[AclOperation, ...]] = {
    ResourceType.TOPIC: (
        AclOperation.READ,
        AclOperation.WRITE,
        AclOperation.CREATE,
        AclOperation.DESCRIBE,
        AclOperation.DELETE,
        AclOperation.ALTER,
        AclOperation.DESCRIBE_CONFIGS,
        AclOperation.ALTER_CONFIGS,
    ),
    ResourceType.GROUP: (
        AclOperation.READ,
        AclOperation.DESCRIBE,
        AclOperation.DELETE,
        AclOperation.DESCRIBE_CONFIGS,
        AclOperation.ALTER_CONFIGS,
    ),
    ResourceType.CLUSTER: (
        AclOperation.CREATE,
        AclOperation.CLUSTER_ACTION,
        AclOperation.DESCRIBE_CONFIGS,
        AclOperation.ALTER_CONFIGS,
        AclOperation.IDEMPOTENT_WRITE,
        AclOperation.ALTER,
        AclOperation.DESCRIBE,
    ),
    ResourceType.TRANSACTIONAL_ID: (
        AclOperation.DESCRIBE,
        AclOperation.WRITE,
        AclOperation.TWO_PHASE_COMMIT,
    ),
}


def authorized_operations(
    node: _HasAuthorizer, ctx: RequestContext, resource_type: ResourceType, name: str
) -> int:
    """Kafka's ``authorizedOperations`` bit field: bit ``op`` set for each supported operation
    the principal may do on the resource (all of them without an authorizer)."""
    authorizer = node.authorizer
    ops = SUPPORTED_OPERATIONS[resource_type]
    if authorizer is None:
        return sum(1 << op for op in ops)
    return sum(1 << op for op in ops if authorizer.allows(ctx, op, resource_type, name))
