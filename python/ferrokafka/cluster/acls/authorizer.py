"""The decision for one action, as Kafka's ``StandardAuthorizerData.authorize`` makes it.

A super user is allowed everything. Otherwise the ACLs that apply to the resource are those
of its type whose pattern covers its name: LITERAL with the same name or ``*``, PREFIXED
with a prefix of it. Among those, an ACL *matches* the request when its principal is the
requester's or ``User:*``, its host the client's address or ``*``, and its operation the
requested one or ALL — where an ALLOW of READ, WRITE, DELETE or ALTER also allows DESCRIBE,
and an ALLOW of ALTER_CONFIGS also DESCRIBE_CONFIGS (a DENY denies only its own operation, or
everything for ALL). A matching DENY wins; else a matching ALLOW allows; else, when the
resource has ACLs at all the answer is DENIED, and when it has none it is
``allow.everyone.if.no.acl.found``.

:class:`AclIndex` holds one image's ACLs grouped for that lookup; it is built once per image.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ferrokafka.cluster.acls.model import (
    WILDCARD_HOST,
    WILDCARD_PRINCIPAL,
    WILDCARD_RESOURCE,
    AclBinding,
    AclOperation,
    AclPermissionType,
    PatternType,
    ResourceType,
)

_IMPLIES_DESCRIBE = frozenset(
    {
        AclOperation.DESCRIBE,
        AclOperation.READ,
        AclOperation.WRITE,
        AclOperation.DELETE,
        AclOperation.ALTER,
    }
)
_IMPLIES_DESCRIBE_CONFIGS = frozenset({AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS})


class AclIndex:
    """ACLs by (resource type, literal name) and by resource type for prefixed ones."""

    def __init__(self, acls: Iterable[AclBinding]) -> None:
        self.literal: dict[tuple[ResourceType, str], list[AclBinding]] = {}
        self.prefixed: dict[ResourceType, list[AclBinding]] = {}
        for acl in acls:
            if acl.pattern_type is PatternType.PREFIXED:
                self.prefixed.setdefault(acl.resource_type, []).append(acl)
            else:
                self.literal.setdefault((acl.resource_type, acl.resource_name), []).append(acl)

    def applicable(self, resource_type: ResourceType, name: str) -> Iterable[AclBinding]:
        yield from self.literal.get((resource_type, name), ())
        if name != WILDCARD_RESOURCE:
            yield from self.literal.get((resource_type, WILDCARD_RESOURCE), ())
        for acl in self.prefixed.get(resource_type, ()):
            if name.startswith(acl.resource_name):
                yield acl


EMPTY_INDEX = AclIndex(())


@dataclass(frozen=True, slots=True)
class AuthorizerSettings:
    """``super.users`` (principals as ``Type:name``) and ``allow.everyone.if.no.acl.found``."""

    super_users: frozenset[str] = frozenset()
    allow_if_no_acl: bool = False


def parse_super_users(value: str | None) -> frozenset[str]:
    """Kafka's ``super.users``: principals separated by semicolons, blanks ignored."""
    if not value:
        return frozenset()
    return frozenset(part.strip() for part in value.split(";") if part.strip())


def authorize(
    settings: AuthorizerSettings,
    index: AclIndex,
    principal: str,
    host: str,
    operation: AclOperation,
    resource_type: ResourceType,
    resource_name: str,
) -> bool:
    """Whether ``principal`` (``Type:name``) connecting from ``host`` (an IP address) may do
    ``operation`` on the literal resource ``resource_type``/``resource_name``."""
    if principal in settings.super_users:
        return True
    found = False
    allowed = False
    for acl in index.applicable(resource_type, resource_name):
        found = True
        result = _result(acl, principal, host, operation)
        if result is AclPermissionType.DENY:
            return False
        if result is AclPermissionType.ALLOW:
            allowed = True
    if allowed:
        return True
    return False if found else settings.allow_if_no_acl


def _result(
    acl: AclBinding, principal: str, host: str, operation: AclOperation
) -> AclPermissionType | None:
    """ALLOW or DENY when ``acl`` matches the request, None when it does not apply to it."""
    if acl.principal not in (principal, WILDCARD_PRINCIPAL):
        return None
    if acl.host not in (WILDCARD_HOST, host):
        return None
    if acl.operation is not AclOperation.ALL:
        if acl.permission is AclPermissionType.ALLOW:
            if operation is AclOperation.DESCRIBE:
                if acl.operation not in _IMPLIES_DESCRIBE:
                    return None
            elif operation is AclOperation.DESCRIBE_CONFIGS:
                if acl.operation not in _IMPLIES_DESCRIBE_CONFIGS:
                    return None
            elif acl.operation is not operation:
                return None
        elif acl.operation is not operation:
            return None
    return acl.permission
