"""A table test of every request a broker forwards to a remote controller
(RemoteControllerChannel), at every version the broker accepts: the request as the broker
decodes it, sent on at the newest version (``cluster/forwarding.as_forwarded``; UpdateFeatures
v0's ``allow_downgrade`` read by ``with_upgrade_types`` first, as the handlers do), must mean
what its client asked. Kafka's broker forwards the client's own bytes, so the controller sees
the request at the client's version; here, for each field:

- in both versions: the same value reaches the controller;
- only in the newer one: the value is Kafka 4.4's default for it (read from the message JSON in
  Kafka's kafka-clients jar), which is what Kafka's controller assumes for the older version;
- only in the client's version: listed in ``SAID_ANOTHER_WAY`` with the check that it still
  reaches the controller (else the test fails: a field silently dropped).

Every field valid at the client's version is filled with a value that is not its default, so
a lost field shows.
"""

from __future__ import annotations

import copy
import json
import re
import typing
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ferrokafka.cluster.feature_control import with_upgrade_types
from ferrokafka.cluster.forwarding import as_forwarded
from ferrokafka.protocol.api import decode_message, encode_message
from ferrokafka.protocol.messages.alter_client_quotas import AlterClientQuotasRequest
from ferrokafka.protocol.messages.alter_configs import AlterConfigsRequest
from ferrokafka.protocol.messages.alter_partition_reassignments import (
    AlterPartitionReassignmentsRequest,
)
from ferrokafka.protocol.messages.alter_user_scram_credentials import (
    AlterUserScramCredentialsRequest,
)
from ferrokafka.protocol.messages.create_acls import CreateAclsRequest
from ferrokafka.protocol.messages.create_partitions import CreatePartitionsRequest
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.delete_acls import DeleteAclsRequest
from ferrokafka.protocol.messages.delete_topics import DeleteTopicsRequest
from ferrokafka.protocol.messages.elect_leaders import ElectLeadersRequest
from ferrokafka.protocol.messages.incremental_alter_configs import (
    IncrementalAlterConfigsRequest,
)
from ferrokafka.protocol.messages.list_partition_reassignments import (
    ListPartitionReassignmentsRequest,
)
from ferrokafka.protocol.messages.update_features import UpdateFeaturesRequest
from ferrokafka.protocol.schema import Message, Struct

# What RemoteControllerChannel forwards (its admin operations).
FORWARDED: tuple[type[Message], ...] = (
    CreateTopicsRequest,
    DeleteTopicsRequest,
    CreatePartitionsRequest,
    AlterConfigsRequest,
    IncrementalAlterConfigsRequest,
    AlterClientQuotasRequest,
    UpdateFeaturesRequest,
    AlterUserScramCredentialsRequest,
    CreateAclsRequest,
    DeleteAclsRequest,
    ElectLeadersRequest,
    AlterPartitionReassignmentsRequest,
    ListPartitionReassignmentsRequest,
)
CLIENTS_JAR = (
    Path.home() / ".m2/repository/org/apache/kafka/kafka-clients/4.4.0/kafka-clients-4.4.0.jar"
)


def _versions(spec: str | tuple[int, int]) -> range:
    if isinstance(spec, tuple):
        return range(spec[0], spec[1] + 1)
    low, _, high = spec.partition("-")
    return range(int(low), int(high or low) + 1)


def _latest(cls: type[Message]) -> int:
    return _versions(cls.VALID_VERSIONS)[-1]


def prepared(request: Message, version: int) -> Message:
    """What the broker sends on: UpdateFeatures v0 read first (its handler), then forwarded."""
    if isinstance(request, UpdateFeaturesRequest):
        request = with_upgrade_types(request, version)
    return as_forwarded(request)


# Fields of older versions only, and how the newest version says the same.
def _delete_topics_by_name(sent: DeleteTopicsRequest, got: Any) -> None:
    assert [t.name for t in got.topics] == sent.topic_names


def _upgrade_type_from_allow_downgrade(sent: Any, got: Any) -> None:
    assert got.upgrade_type == (2 if sent.allow_downgrade else 1)  # SAFE_DOWNGRADE / UPGRADE


SAID_ANOTHER_WAY: dict[tuple[str, str], Callable[[Any, Any], None]] = {
    ("DeleteTopicsRequest", "topic_names"): _delete_topics_by_name,
    ("FeatureUpdateKey", "allow_downgrade"): _upgrade_type_from_allow_downgrade,
}
# The newer fields that say it (checked by the functions above, not against their defaults).
SAYING_IT: frozenset[tuple[str, str]] = frozenset(
    {("DeleteTopicsRequest", "topics"), ("FeatureUpdateKey", "upgrade_type")}
)


def _sample(field_type: str, owner: type, version: int, depth: int) -> Any:
    element = field_type[2:] if field_type.startswith("[]") else None
    if element is not None:
        return [_sample(element, owner, version, depth)]
    samples: dict[str, Any] = {
        "int8": 3,
        "int16": 7,
        "int32": 11,
        "int64": 13,
        "uint16": 17,
        "float64": 1.5,
        "string": "s",
        "bool": True,
        "uuid": uuid.UUID(int=77),
        "bytes": b"xy",
    }
    if field_type in samples:
        return samples[field_type]
    top = owner.message_class() if issubclass(owner, Struct) and owner is not Message else owner
    struct = getattr(owner, field_type, None) or getattr(top, field_type)
    return filled(struct, version, depth + 1)


def filled(cls: type, version: int, depth: int = 0) -> Any:
    """An instance with every field valid at ``version`` set to a non-default value."""
    assert depth < 8, cls
    values = {
        f.name: _sample(f.type, cls, version, depth)
        for f in cls.SCHEMA
        if version in _versions(f.versions)
    }
    return cls(**values)


def compare(cls: type, sent: Any, got: Any, version: int, defaults: dict, path: str) -> None:
    """``got`` (decoded at the newest version) against ``sent`` (decoded at ``version``)."""
    latest = _latest(sent.message_class() if isinstance(sent, Struct) else type(sent))
    for f in cls.SCHEMA:
        valid = _versions(f.versions)
        here, there = version in valid, latest in valid
        where = f"{path}.{f.name} (v{version} -> v{latest})"
        if here and not there:
            check = SAID_ANOTHER_WAY.get((cls.__name__, f.name))
            assert check is not None, f"{where} is lost at the newest version"
            check(sent, got)
        elif there and not here:
            if (cls.__name__, f.name) in SAYING_IT:
                continue
            expected = defaults.get((cls.__name__, f.name), getattr(cls(), f.name))
            assert getattr(got, f.name) == expected, f"{where}: {getattr(got, f.name)!r}"
        elif here and there:
            mine, theirs = getattr(sent, f.name), getattr(got, f.name)
            if isinstance(mine, list) and mine and isinstance(mine[0], Struct):
                assert len(mine) == len(theirs), where
                for a, b in zip(mine, theirs, strict=True):
                    compare(type(a), a, b, version, defaults, where)
            elif isinstance(mine, Struct):
                compare(type(mine), mine, theirs, version, defaults, where)
            else:
                assert mine == theirs, f"{where}: {mine!r} became {theirs!r}"


def _kafka_defaults(cls: type[Message]) -> dict[tuple[str, str], Any]:
    """(struct name, field) -> Kafka 4.4's default for fields with an explicit one."""
    if not CLIENTS_JAR.exists():
        # As require_kafka: missing jars fail the suite (tests/kafka/fetch.sh fetches them).
        raise AssertionError(f"{CLIENTS_JAR} not fetched: run tests/kafka/fetch.sh")
    with zipfile.ZipFile(CLIENTS_JAR) as jar:
        text = jar.read(f"common/message/{cls.__name__}.json").decode()
    spec = json.loads(re.sub(r"^\s*//.*$", "", text, flags=re.MULTILINE))
    found: dict[tuple[str, str], Any] = {}

    def visit(owner: str, fields: list[dict]) -> None:
        for field in fields:
            name = re.sub(r"(?<!^)(?=[A-Z])", "_", field["name"]).lower()
            if "default" in field:
                raw = field["default"]
                kind = field["type"]
                value: Any = raw
                if kind == "bool":
                    value = str(raw).lower() == "true"
                elif kind.startswith("int") or kind == "uint16":
                    value = int(raw)
                found[(owner, name)] = value
            if "fields" in field:
                visit(field["type"].lstrip("[]"), field["fields"])

    visit(cls.__name__, spec["fields"])
    return found


CASES = [
    pytest.param(cls, version, id=f"{cls.__name__}-v{version}")
    for cls in FORWARDED
    for version in _versions(cls.VALID_VERSIONS)
]


@pytest.mark.parametrize(("cls", "version"), CASES)
def test_a_forwarded_request_means_what_its_client_asked(cls: type[Message], version: int) -> None:
    client = filled(cls, version)
    sent = decode_message(cls, encode_message(client, version), version)  # the broker's view
    latest = _latest(cls)
    forwarded = prepared(copy.deepcopy(sent), version)
    got = decode_message(cls, encode_message(forwarded, latest), latest)  # the controller's
    compare(cls, sent, got, version, _kafka_defaults(cls), cls.__name__)


def test_the_generated_defaults_are_kafkas() -> None:
    """Where a newer field stands in for an older request's meaning, its default here is the
    one in Kafka's JSON (the controller reads an absent field so)."""
    for cls in FORWARDED:
        for (owner, name), value in _kafka_defaults(cls).items():
            struct = cls if owner == cls.__name__ else getattr(cls, owner, None)
            if struct is None or name not in {f.name for f in struct.SCHEMA}:
                continue
            hints = typing.get_type_hints(struct)
            mine = getattr(struct(), name)
            if hints.get(name) in (int, bool) or isinstance(mine, int | bool):
                assert mine == value, (cls.__name__, owner, name, mine, value)
