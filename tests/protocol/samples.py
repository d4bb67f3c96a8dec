"""Messages with a non-default value in every field a version has, built by walking the
schema: the raw material of the round-trip and fuzz tests.

``sample(cls, version)`` sets every present field to a value that differs from its default
(non-null, non-empty, non-ASCII strings, two-element arrays, nested structs filled the same
way) and gives every struct of a flexible version an unknown tagged field, which the codec
must carry through. ``sample(cls, version, nulls=True)`` sets every field nullable at that
version to None instead.
"""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from typing import Any

from ferrokafka.protocol import APIS
from ferrokafka.protocol.schema import F, Message, Struct, parse_versions

INT_RANGES = {
    "int8": (-(1 << 7), (1 << 7) - 1),
    "int16": (-(1 << 15), (1 << 15) - 1),
    "uint16": (0, (1 << 16) - 1),
    "int32": (-(1 << 31), (1 << 31) - 1),
    "uint32": (0, (1 << 32) - 1),
    "int64": (-(1 << 63), (1 << 63) - 1),
}
UNKNOWN_TAG_BASE = 900  # above every tag Kafka uses


def within(version: int, spec: tuple[int, int]) -> bool:
    return spec[0] <= version <= spec[1]


class Sampler:
    def __init__(self, version: int, nulls: bool) -> None:
        self.version = version
        self.nulls = nulls
        self.counter = itertools.count(1)

    def struct(self, cls: type[Struct]) -> Any:
        defaults = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        tags = set()
        for spec in cls.SCHEMA:
            tagged = within(self.version, spec.tagged)
            if not (tagged or within(self.version, spec.versions)):
                continue
            if tagged:
                tags.add(spec.tag)
            values[spec.name] = self.field(cls, spec, _default(defaults[spec.name]))
        owner = cls.message_class()
        if owner.is_flexible(self.version):
            tag = UNKNOWN_TAG_BASE + next(self.counter) % 50
            assert tag not in tags
            values["unknown_tagged_fields"] = [(tag, b"?" * (tag % 3))]
        return cls(**values)

    def field(self, cls: type[Struct], spec: F, default: Any) -> Any:
        if self.nulls and within(self.version, spec.nullable):
            return None
        value = self.value(cls.message_class(), spec.type, spec)
        if value == default:  # e.g. a bool defaulting to true
            value = self.value(cls.message_class(), spec.type, spec, other=True)
        assert value != default, (cls, spec)
        return value

    def value(self, owner: type[Message], type_: str, spec: F, other: bool = False) -> Any:
        n = next(self.counter)
        if type_ in INT_RANGES:
            lo, hi = INT_RANGES[type_]
            return lo + (n * 7919 + 3) % (hi - lo)
        if type_ == "bool":
            return not other
        if type_ == "float64":
            return n + 0.25
        if type_ == "uuid":
            return uuid.UUID(int=n * 0x1_0000_0001 + 1)
        if type_ == "string":
            return f"s{n}-é"
        if type_ in ("bytes", "records"):
            return bytes([n % 256, 0, 255]) * (1 + n % 3)
        if type_.startswith("[]"):
            return [self.value(owner, type_[2:], spec) for _ in range(2)]
        return self.struct(getattr(owner, type_))


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    return field.default_factory()  # type: ignore[misc]


def sample(cls: type[Message], version: int, *, nulls: bool = False) -> Any:
    return Sampler(version, nulls).struct(cls)


def api_versions() -> list[tuple[int, int]]:
    """Every (api_key, version) in the table."""
    return [
        (key, version)
        for key, info in sorted(APIS.items())
        for version in range(info.min_version, info.max_version + 1)
    ]


def data_classes() -> list[tuple[type[Message], int]]:
    """Header and data-type messages (not in the API table) at each of their versions."""
    from ferrokafka.protocol.messages import (
        consumer_protocol_assignment,
        consumer_protocol_subscription,
        control_record_type_schema,
        default_principal_data,
        end_txn_marker,
        header,
        k_raft_version_record,
        leader_change_message,
        snapshot_footer_record,
        snapshot_header_record,
        voters_record,
    )

    modules = (
        consumer_protocol_assignment,
        consumer_protocol_subscription,
        control_record_type_schema,
        default_principal_data,
        end_txn_marker,
        header,
        k_raft_version_record,
        leader_change_message,
        snapshot_footer_record,
        snapshot_header_record,
        voters_record,
    )
    out = []
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Message) and value is not Message:
                lo, hi = parse_versions(value.VALID_VERSIONS)
                out += [(value, version) for version in range(lo, hi + 1)]
    return out
