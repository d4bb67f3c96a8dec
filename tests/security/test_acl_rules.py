"""Kafka's StandardAuthorizer rules, one test per rule (cluster/acls/authorizer.py), and the
controller's create/delete validation and records (cluster/acls/control.py)."""

from __future__ import annotations

import uuid

import pytest

from ferrokafka.cluster.acls.authorizer import (
    AclIndex,
    AuthorizerSettings,
    authorize,
    parse_super_users,
)
from ferrokafka.cluster.acls.control import create_acls, delete_acls
from ferrokafka.cluster.acls.model import (
    AclBinding,
    AclFilter,
    AclOperation,
    AclPermissionType,
    PatternType,
    ResourceType,
)
from ferrokafka.cluster.delta import MetadataDelta
from ferrokafka.cluster.image import EMPTY_IMAGE
from ferrokafka.cluster.image_records import image_from_records, image_records
from ferrokafka.cluster.records import AccessControlEntryRecord
from ferrokafka.protocol.error_codes import INVALID_REQUEST
from ferrokafka.protocol.messages.create_acls import CreateAclsRequest
from ferrokafka.protocol.messages.delete_acls import DeleteAclsRequest

Op = AclOperation
ALLOW = AclPermissionType.ALLOW
DENY = AclPermissionType.DENY
TOPIC = ResourceType.TOPIC
LITERAL = PatternType.LITERAL
PREFIXED = PatternType.PREFIXED
ALICE = "User:alice"
HOST = "10.0.0.1"
STRICT = AuthorizerSettings()


def acl(
    name: str = "orders",
    op: AclOperation = Op.READ,
    perm: AclPermissionType = ALLOW,
    *,
    principal: str = ALICE,
    host: str = "*",
    pattern: PatternType = LITERAL,
    rtype: ResourceType = TOPIC,
) -> AclBinding:
    return AclBinding(rtype, name, pattern, principal, host, op, perm)


def allowed(
    acls: list[AclBinding],
    op: AclOperation = Op.READ,
    name: str = "orders",
    *,
    principal: str = ALICE,
    host: str = HOST,
    settings: AuthorizerSettings = STRICT,
    rtype: ResourceType = TOPIC,
) -> bool:
    return authorize(settings, AclIndex(acls), principal, host, op, rtype, name)


def test_literal_allow_applies_to_its_name_only() -> None:
    assert allowed([acl()])
    assert not allowed([acl()], name="orders2")


def test_prefixed_allow_applies_to_names_it_prefixes() -> None:
    rules = [acl("ord", pattern=PREFIXED)]
    assert allowed(rules, name="orders")
    assert allowed(rules, name="ord")
    assert not allowed(rules, name="or")


def test_wildcard_resource_name() -> None:
    assert allowed([acl("*")], name="anything")


def test_wildcard_principal_and_host() -> None:
    assert allowed([acl(principal="User:*")], principal="User:bob")
    assert not allowed([acl(host="10.0.0.2")])
    assert allowed([acl(host=HOST)])


def test_other_principal_does_not_match() -> None:
    assert not allowed([acl(principal="User:bob")])


def test_deny_wins_over_allow() -> None:
    assert not allowed([acl(), acl(perm=DENY)])
    assert not allowed([acl(), acl("*", Op.ALL, DENY, principal="User:*")])
    # A prefixed deny beats a literal allow.
    assert not allowed([acl(), acl("o", perm=DENY, pattern=PREFIXED)])


def test_deny_is_for_its_own_operation_only() -> None:
    # A DENY READ does not deny DESCRIBE (no implication for denials).
    assert allowed([acl(op=Op.DESCRIBE), acl(perm=DENY)], Op.DESCRIBE)


@pytest.mark.parametrize("granted", [Op.READ, Op.WRITE, Op.DELETE, Op.ALTER, Op.DESCRIBE])
def test_describe_implied(granted: AclOperation) -> None:
    assert allowed([acl(op=granted)], Op.DESCRIBE)


def test_describe_not_implied_by_create() -> None:
    assert not allowed([acl(op=Op.CREATE)], Op.DESCRIBE)


def test_describe_configs_implied_by_alter_configs() -> None:
    assert allowed([acl(op=Op.ALTER_CONFIGS)], Op.DESCRIBE_CONFIGS)
    assert not allowed([acl(op=Op.DESCRIBE_CONFIGS)], Op.ALTER_CONFIGS)


def test_all_allows_every_operation() -> None:
    for op in (Op.READ, Op.WRITE, Op.CREATE, Op.DESCRIBE_CONFIGS):
        assert allowed([acl(op=Op.ALL)], op)


def test_no_acl_found_follows_allow_everyone() -> None:
    assert not allowed([])
    assert allowed([], settings=AuthorizerSettings(allow_if_no_acl=True))
    # ACLs on the resource, none for this principal: denied even when allow.everyone is on.
    assert not allowed(
        [acl(principal="User:bob")], settings=AuthorizerSettings(allow_if_no_acl=True)
    )


def test_super_users() -> None:
    settings = AuthorizerSettings(super_users=parse_super_users(" User:admin ; User:alice;"))
    assert settings.super_users == {"User:admin", "User:alice"}
    assert allowed([acl(op=Op.ALL, perm=DENY)], Op.WRITE, settings=settings)


def test_resource_types_are_separate() -> None:
    assert not allowed([acl(rtype=ResourceType.GROUP)])


def _filter(**overrides: object) -> AclFilter:
    fields: dict[str, object] = {
        "resource_type": ResourceType.ANY,
        "resource_name": None,
        "pattern_type": PatternType.ANY,
        "principal": None,
        "host": None,
        "operation": Op.ANY,
        "permission": AclPermissionType.ANY,
    }
    fields.update(overrides)
    return AclFilter(**fields)  # type: ignore[arg-type]


def test_filters() -> None:
    literal, prefixed, star = acl(), acl("ord", pattern=PREFIXED), acl("*")
    every = [literal, prefixed, star]
    match = _filter(resource_name="orders", pattern_type=PatternType.MATCH)
    assert [a for a in every if match.matches(a)] == every
    exact = _filter(resource_name="orders", pattern_type=LITERAL)
    assert [a for a in every if exact.matches(a)] == [literal]
    any_named = _filter(resource_name="ord")
    assert [a for a in every if any_named.matches(a)] == [prefixed]
    assert not _filter(operation=Op.WRITE).matches(literal)
    assert _filter(pattern_type=PatternType.UNKNOWN).is_unknown


def _creation(**overrides: object) -> CreateAclsRequest.AclCreation:
    fields: dict[str, object] = {
        "resource_type": int(TOPIC),
        "resource_name": "orders",
        "resource_pattern_type": int(LITERAL),
        "principal": ALICE,
        "host": "*",
        "operation": int(Op.READ),
        "permission_type": int(ALLOW),
    }
    fields.update(overrides)
    return CreateAclsRequest.AclCreation(**fields)  # type: ignore[arg-type]


def test_create_validation_and_records() -> None:
    request = CreateAclsRequest(
        creations=[
            _creation(),
            _creation(),  # a duplicate: success, no second record
            _creation(resource_type=int(ResourceType.CLUSTER), resource_name="x"),
            _creation(resource_name=""),
            _creation(resource_pattern_type=int(PatternType.MATCH)),
            _creation(operation=int(Op.ANY)),
            _creation(permission_type=int(AclPermissionType.ANY)),
            _creation(principal="alice"),
        ]
    )
    records, response = create_acls({}, request)
    codes = [r.error_code for r in response.results]
    assert codes == [0, 0] + [INVALID_REQUEST] * 6
    assert len(records) == 1 and isinstance(records[0], AccessControlEntryRecord)
    # Existing already: nothing new.
    delta = MetadataDelta(EMPTY_IMAGE)
    delta.replay_all(records, 0)
    image = delta.apply()
    again, response = create_acls(image.acls, CreateAclsRequest(creations=[_creation()]))
    assert again == [] and response.results[0].error_code == 0


def test_delete_records_and_snapshot_round_trip() -> None:
    records, _ = create_acls(
        {}, CreateAclsRequest(creations=[_creation(), _creation(operation=int(Op.WRITE))])
    )
    delta = MetadataDelta(EMPTY_IMAGE)
    delta.replay_all(records, 1)
    image = delta.apply()
    assert len(image.acls) == 2
    rebuilt, _ = image_from_records(image_records(image), image.offset)
    assert dict(rebuilt.acls) == dict(image.acls)
    f = DeleteAclsRequest.DeleteAclsFilter(
        resource_type_filter=int(ResourceType.ANY),
        resource_name_filter=None,
        pattern_type_filter=int(PatternType.ANY),
        principal_filter=None,
        host_filter=None,
        operation=int(Op.WRITE),
        permission_type=int(AclPermissionType.ANY),
    )
    removals, response = delete_acls(image.acls, DeleteAclsRequest(filters=[f]))
    assert [m.operation for m in response.filter_results[0].matching_acls] == [int(Op.WRITE)]
    delta = MetadataDelta(image)
    delta.replay_all(removals, 2)
    after = delta.apply()
    assert [a.operation for a in after.acls.values()] == [Op.READ]
    assert all(isinstance(i, uuid.UUID) for i in after.acls)
