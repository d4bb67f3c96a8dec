"""Kafka's message-definition semantics at run time: field specs, and per-(class, version)
codec plans compiled once from them.

A generated message class is a slotted dataclass plus a ``SCHEMA`` tuple of ``F`` specs that
mirror the JSON definition (versions, nullableVersions, taggedVersions + tag, ignorable, a
field-level flexibleVersions override, zeroCopy). The first encode or decode of a class at a
version compiles its plan: the fields present at that version, each with a reader and writer
closure for its type, and the tagged fields by tag.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import struct
import sys
from collections.abc import Callable
from typing import Any, ClassVar

from ferrokafka.protocol.errors import ProtocolDecodeError, ProtocolEncodeError
from ferrokafka.protocol.wire import (
    ARRAY_ELEMENTS_MAX,
    STRING_BYTES_MAX,
    FileRecords,
    Reader,
    Writer,
)

VERSION_MAX = 0x7FFF  # "N+" means N up to the largest int16 version

ReadFn = Callable[[Reader], Any]
WriteFn = Callable[[Writer, Any], None]


@functools.cache  # a handful of distinct specs, parsed on every request's version checks
def parse_versions(spec: str) -> tuple[int, int]:
    """``"0+"``, ``"1-3"``, ``"3"`` or ``"none"`` as an inclusive range (empty: lo > hi)."""
    if spec == "none":
        return (1, 0)
    if spec.endswith("+"):
        return (int(spec[:-1]), VERSION_MAX)
    lo, _, hi = spec.partition("-")
    return (int(lo), int(hi or lo))


def _within(version: int, bounds: tuple[int, int]) -> bool:
    return bounds[0] <= version <= bounds[1]


class F:
    """One field of a message definition (see Kafka's ``common/message/README.md``)."""

    __slots__ = (
        "flexible",
        "ignorable",
        "name",
        "nullable",
        "tag",
        "tagged",
        "type",
        "versions",
        "zero_copy",
    )

    def __init__(
        self,
        name: str,
        type_: str,
        versions: str,
        *,
        nullable: str = "none",
        tagged: str = "none",
        tag: int | None = None,
        ignorable: bool = False,
        flexible: str | None = None,
        zero_copy: bool = False,
    ) -> None:
        self.name = name
        self.type = type_
        self.versions = parse_versions(versions)
        self.nullable = parse_versions(nullable)
        self.tagged = parse_versions(tagged)
        self.tag = tag
        self.ignorable = ignorable
        self.flexible = None if flexible is None else parse_versions(flexible)
        self.zero_copy = zero_copy

    def __repr__(self) -> str:
        return f"F({self.name!r}, {self.type!r})"


@dataclasses.dataclass(slots=True, kw_only=True)
class Struct:
    """Base of every generated struct: tagged fields this codec does not know, kept verbatim
    as ``(tag, bytes)`` on decode and written back on encode."""

    SCHEMA: ClassVar[tuple[F, ...]] = ()
    unknown_tagged_fields: list[tuple[int, bytes]] = dataclasses.field(
        default_factory=list, repr=False
    )

    @classmethod
    def message_class(cls) -> type[Message]:
        """The top-level message this struct belongs to (struct names are scoped by it)."""
        module = sys.modules[cls.__module__]
        return getattr(module, cls.__qualname__.split(".")[0])


@dataclasses.dataclass(slots=True, kw_only=True)
class Message(Struct):
    """Base of requests, responses, headers and data records."""

    API_KEY: ClassVar[int | None] = None
    VALID_VERSIONS: ClassVar[str] = "none"
    FLEXIBLE_VERSIONS: ClassVar[str] = "none"

    @classmethod
    def valid_versions(cls) -> tuple[int, int]:
        return parse_versions(cls.VALID_VERSIONS)

    @classmethod
    def is_flexible(cls, version: int) -> bool:
        return _within(version, parse_versions(cls.FLEXIBLE_VERSIONS))


def _struct_eq(self: Any, other: Any) -> Any:
    if other.__class__ is not self.__class__:
        return NotImplemented
    get = self._field_values
    return get(self) == get(other)


def _struct_repr(self: Any) -> str:
    shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._repr_fields)
    return f"{type(self).__qualname__}({shown})"


def struct_class(cls: type) -> Any:
    """The generated classes' decorator: a slotted keyword-only dataclass whose ``__eq__`` and
    ``__repr__`` are shared functions (the same behaviour as dataclass's) instead of code
    compiled per class, which was 40% of the ~0.4 ms each of ~250 classes costs at start-up."""
    cls = dataclasses.dataclass(slots=True, kw_only=True, repr=False, eq=False)(cls)
    fields = dataclasses.fields(cls)
    names = tuple(spec.name for spec in fields if spec.compare)
    cls._field_values = staticmethod(lambda obj: tuple(getattr(obj, name) for name in names))
    cls._repr_fields = tuple(spec.name for spec in fields if spec.repr)
    cls.__eq__ = _struct_eq
    cls.__repr__ = _struct_repr
    cls.__hash__ = None  # as dataclass(eq=True): mutable, so unhashable
    return cls


class Plan:
    """How one struct class is laid out at one version."""

    __slots__ = (
        "absent",
        "cls",
        "decode",
        "encode",
        "flexible",
        "regular",
        "tagged",
        "tagged_by_tag",
        "version",
    )

    def __init__(self, cls: type[Struct], version: int) -> None:
        owner = cls.message_class()
        flexible = owner.is_flexible(version)
        defaults = _defaults(cls)
        self.cls = cls
        self.version = version
        self.flexible = flexible
        self.regular: list[tuple[str, ReadFn, WriteFn]] = []
        self.tagged: list[tuple[int, str, ReadFn, WriteFn, Any]] = []
        self.absent: list[tuple[str, Any]] = []
        for spec in cls.SCHEMA:
            if _within(version, spec.tagged):
                assert spec.tag is not None and flexible, spec
                read, write = _codec(owner, spec, version, compact=True)
                self.tagged.append((spec.tag, spec.name, read, write, defaults[spec.name]))
            elif _within(version, spec.versions):
                compact = flexible if spec.flexible is None else _within(version, spec.flexible)
                read, write = _codec(owner, spec, version, compact)
                self.regular.append((spec.name, read, write))
            elif not spec.ignorable:
                self.absent.append((spec.name, defaults[spec.name]))
        self.tagged.sort(key=lambda item: item[0])
        self.tagged_by_tag = {item[0]: item[1:4] for item in self.tagged}
        self.decode: Callable[[Reader], Any] = _compile_decode(self)
        self.encode: Callable[[Any, Writer], None] = _compile_encode(self)


# Plans compile to straight-line functions (one call per field, no loop over the field list,
# no dict of values unless tagged fields are present): every request and response goes
# through them, and the interpreted loop cost about a third of Produce's decode and encode.


def _compile_decode(plan: Plan) -> Callable[[Reader], Any]:
    names = [name for name, _, _ in plan.regular]
    scope: dict[str, Any] = {"cls": plan.cls, "plan": plan, "_read_tagged": _read_tagged}
    lines = ["def decode(reader):"]
    for index, (_, read, _) in enumerate(plan.regular):
        scope[f"r{index}"] = read
        lines.append(f"    v{index} = r{index}(reader)")
    kwargs = ", ".join(f"{name}=v{index}" for index, name in enumerate(names))
    if plan.flexible:
        values = ", ".join(f"{name!r}: v{index}" for index, name in enumerate(names))
        lines += [
            "    pos = reader.pos",
            "    if pos < reader.end and reader.buf[pos] == 0:",  # no tagged fields: usual
            "        reader.pos = pos + 1",
            f"        return cls({kwargs})",
            f"    values = {{{values}}}",
            "    unknown = _read_tagged(reader, plan, values)",
            "    if unknown:",
            "        values['unknown_tagged_fields'] = unknown",
            "    return cls(**values)",
        ]
    else:
        lines.append(f"    return cls({kwargs})")
    exec("\n".join(lines), scope)  # source built from the schema's field names only
    return scope["decode"]


def _compile_encode(plan: Plan) -> Callable[[Any, Writer], None]:
    scope: dict[str, Any] = {"plan": plan, "_check_absent": _check_absent}
    scope["_write_tagged"] = _write_tagged
    lines = ["def encode(obj, writer):"]
    for index, (name, _, write) in enumerate(plan.regular):
        scope[f"w{index}"] = write
        lines.append(f"    w{index}(writer, obj.{name})")
    if plan.absent:
        lines.append("    _check_absent(obj, plan)")
    if plan.flexible:
        lines.append("    _write_tagged(obj, writer, plan)")
    lines.append("    return None")
    exec("\n".join(lines), scope)  # source built from the schema's field names only
    return scope["encode"]


_PLANS: dict[tuple[type[Struct], int], Plan] = {}


def plan_for(cls: type[Struct], version: int) -> Plan:
    plan = _PLANS.get((cls, version))
    if plan is None:
        plan = _PLANS[(cls, version)] = Plan(cls, version)
    return plan


def _defaults(cls: type[Struct]) -> dict[str, Any]:
    out = {}
    for spec in dataclasses.fields(cls):
        if spec.default is not dataclasses.MISSING:
            out[spec.name] = spec.default
        elif spec.default_factory is not dataclasses.MISSING:
            out[spec.name] = spec.default_factory()
    return out


def decode_struct(cls: type[Struct], reader: Reader, version: int) -> Any:
    return plan_for(cls, version).decode(reader)


def _read_tagged(reader: Reader, plan: Plan, values: dict[str, Any]) -> list[tuple[int, bytes]]:
    unknown = []
    count = reader.checked_length(reader.uvarint(), ARRAY_ELEMENTS_MAX, "tagged fields")
    for _ in range(count):
        tag = reader.uvarint()
        size = reader.checked_length(reader.uvarint(), reader.remaining, f"tagged field {tag}")
        known = plan.tagged_by_tag.get(tag)
        if known is None:
            unknown.append((tag, bytes(reader.view(size))))
            continue
        sub = Reader(reader.buf, reader.pos, reader.pos + size)
        reader.pos += size
        name, read, _ = known
        values[name] = read(sub)
        if sub.remaining:
            raise ProtocolDecodeError(f"tagged field {tag} ({name}): {sub.remaining} extra bytes")
    return unknown


def encode_struct(obj: Struct, writer: Writer, version: int) -> None:
    plan_for(type(obj), version).encode(obj, writer)


def _check_absent(obj: Struct, plan: Plan) -> None:
    """A field the version lacks must keep its default: its value could not be sent."""
    version = plan.version
    for name, default in plan.absent:
        if getattr(obj, name) != default:
            raise ProtocolEncodeError(
                f"{type(obj).__qualname__}.{name} has a non-default value but version "
                f"{version} does not have it"
            )


def _write_tagged(obj: Struct, writer: Writer, plan: Plan) -> None:
    if not plan.tagged and not obj.unknown_tagged_fields:
        writer.uvarint(0)
        return
    fields: list[tuple[int, bytes | bytearray | memoryview]] = []
    for tag, name, _, write, default in plan.tagged:
        value = getattr(obj, name)
        if value != default:
            sub = Writer()
            write(sub, value)
            fields.append((tag, sub.getvalue()))
    if obj.unknown_tagged_fields:
        fields.extend(obj.unknown_tagged_fields)
        fields.sort(key=lambda item: item[0])
    writer.uvarint(len(fields))
    for tag, data in fields:
        writer.uvarint(tag)
        writer.uvarint(len(data))
        writer.raw(data)


# -- per-type codecs ---------------------------------------------------------------------

_FIXED = ("int8", "int16", "uint16", "int32", "uint32", "int64", "float64", "bool", "uuid")


def _codec(owner: type[Message], spec: F, version: int, compact: bool) -> tuple[ReadFn, WriteFn]:
    nullable = _within(version, spec.nullable)
    return _type_codec(owner, spec.type, spec, version, compact, nullable)


def _type_codec(
    owner: type[Message], type_: str, spec: F, version: int, compact: bool, nullable: bool
) -> tuple[ReadFn, WriteFn]:
    packed = _PACKED.get(type_)
    if packed is not None:
        return _packed_reader(packed), _packed_writer(packed, spec.name)
    if type_ in _FIXED:
        return getattr(Reader, type_), _fixed_writer(type_, spec.name)
    if type_ == "string":
        return _string_codec(spec.name, compact, nullable)
    if type_ in ("bytes", "records"):
        keep_view = type_ == "records" or spec.zero_copy
        return _bytes_codec(spec.name, compact, nullable, keep_view)
    if type_.startswith("[]"):
        element = _type_codec(owner, type_[2:], spec, version, compact, nullable=False)
        return _array_codec(spec.name, compact, nullable, *element)
    cls = getattr(owner, type_)
    return _struct_codec(spec.name, cls, version, nullable)


def _null_error(name: str) -> ProtocolEncodeError:
    return ProtocolEncodeError(f"{name} is null but not nullable at this version")


# Fixed-width numbers: one closure each way that packs in place (no Reader/Writer method hops;
# they run for every int of every request). Errors are the Reader's and Writer's.
_PACKED = {
    "int8": struct.Struct(">b"),
    "int16": struct.Struct(">h"),
    "uint16": struct.Struct(">H"),
    "int32": struct.Struct(">i"),
    "uint32": struct.Struct(">I"),
    "int64": struct.Struct(">q"),
    "float64": struct.Struct(">d"),
}


def _packed_reader(codec: struct.Struct) -> ReadFn:
    size = codec.size
    unpack_from = codec.unpack_from

    def read(reader: Reader) -> Any:
        pos = reader.pos
        end = pos + size
        if end > reader.end:
            raise ProtocolDecodeError(
                f"need {size} bytes at offset {pos}, only {reader.end - pos} remain"
            )
        reader.pos = end
        return unpack_from(reader.buf, pos)[0]

    return read


def _packed_writer(codec: struct.Struct, name: str) -> WriteFn:
    pack = codec.pack

    def write(writer: Writer, value: Any) -> None:
        try:
            writer.append_bytes(pack(value))
        except (struct.error, TypeError) as exc:
            if value is None:
                raise _null_error(name) from None
            raise ProtocolEncodeError(f"cannot write {value!r} as {codec.format}: {exc}") from None

    return write


def _fixed_writer(type_: str, name: str) -> WriteFn:
    method = getattr(Writer, type_)

    def write(writer: Writer, value: Any) -> None:
        if value is None:
            raise _null_error(name)
        try:
            method(writer, value)
        except AttributeError:
            raise ProtocolEncodeError(f"{name}: cannot write {value!r} as {type_}") from None

    return write


def _read_length(reader: Reader, name: str, compact: bool, wide: bool, nullable: bool) -> int:
    length = reader.length(compact, wide)
    if length < -1 or (length == -1 and not nullable):
        raise ProtocolDecodeError(f"{name}: invalid length {length}")
    return length


def _string_codec(name: str, compact: bool, nullable: bool) -> tuple[ReadFn, WriteFn]:
    def read(reader: Reader) -> str | None:
        length = _read_length(reader, name, compact, False, nullable)
        if length < 0:
            return None
        reader.checked_length(length, STRING_BYTES_MAX, name)
        try:
            return str(reader.view(length), "utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolDecodeError(f"{name}: invalid UTF-8: {exc}") from None

    def write(writer: Writer, value: str | None) -> None:
        if value is None:
            if not nullable:
                raise _null_error(name)
            writer.length(-1, compact, False)
            return
        data = value.encode()
        if len(data) > STRING_BYTES_MAX:
            raise ProtocolEncodeError(f"{name}: {len(data)} bytes exceeds {STRING_BYTES_MAX}")
        writer.length(len(data), compact, False)
        writer.raw(data)

    return read, write


def _bytes_codec(
    name: str, compact: bool, nullable: bool, keep_view: bool
) -> tuple[ReadFn, WriteFn]:
    def read(reader: Reader) -> bytes | memoryview | None:
        length = _read_length(reader, name, compact, True, nullable)
        if length < 0:
            return None
        reader.checked_length(length, reader.remaining, name)
        view = reader.view(length)
        return view if keep_view else bytes(view)

    def write(writer: Writer, value: bytes | memoryview | FileRecords | None) -> None:
        if value is None:
            if not nullable:
                raise _null_error(name)
            writer.length(-1, compact, True)
            return
        size = value.nbytes if isinstance(value, FileRecords) else memoryview(value).nbytes
        writer.length(size, compact, True)
        writer.raw(value)

    return read, write


def _array_codec(
    name: str, compact: bool, nullable: bool, read_item: ReadFn, write_item: WriteFn
) -> tuple[ReadFn, WriteFn]:
    def read(reader: Reader) -> list[Any] | None:
        length = _read_length(reader, name, compact, True, nullable)
        if length < 0:
            return None
        reader.checked_length(length, ARRAY_ELEMENTS_MAX, name)
        return [read_item(reader) for _ in range(length)]

    def write(writer: Writer, value: list[Any] | None) -> None:
        if value is None:
            if not nullable:
                raise _null_error(name)
            writer.length(-1, compact, True)
            return
        writer.length(len(value), compact, True)
        for item in value:
            write_item(writer, item)

    return read, write


def _struct_codec(
    name: str, cls: type[Struct], version: int, nullable: bool
) -> tuple[ReadFn, WriteFn]:
    def read(reader: Reader) -> Any:
        if nullable and reader.int8() < 0:
            return None
        return decode_struct(cls, reader, version)

    def write(writer: Writer, value: Any) -> None:
        if value is None:
            if not nullable:
                raise _null_error(name)
            writer.int8(-1)
            return
        if not isinstance(value, cls):
            raise ProtocolEncodeError(f"{name}: expected {cls.__qualname__}, got {value!r}")
        if nullable:
            writer.int8(1)
        encode_struct(value, writer, version)

    return read, write


class ApiInfo:
    """One API of the table in ``messages/__init__.py``: versions, listeners, classes."""

    __slots__ = (
        "api_key",
        "flexible_versions",
        "latest_version_unstable",
        "listeners",
        "module",
        "name",
        "valid_versions",
    )

    def __init__(
        self,
        api_key: int,
        name: str,
        module: str,
        valid_versions: str,
        flexible_versions: str,
        listeners: tuple[str, ...],
        *,
        latest_version_unstable: bool = False,
    ) -> None:
        self.api_key = api_key
        self.name = name
        self.module = module
        self.valid_versions = parse_versions(valid_versions)
        self.flexible_versions = parse_versions(flexible_versions)
        self.listeners = listeners
        self.latest_version_unstable = latest_version_unstable

    @property
    def min_version(self) -> int:
        return self.valid_versions[0]

    @property
    def max_version(self) -> int:
        """The newest version the codecs speak (may be unstable: see max_stable_version)."""
        return self.valid_versions[1]

    @property
    def max_stable_version(self) -> int:
        """The newest version to advertise in ApiVersions (Kafka hides an unstable latest)."""
        return self.max_version - 1 if self.latest_version_unstable else self.max_version

    def supports(self, version: int) -> bool:
        return _within(version, self.valid_versions)

    def is_flexible(self, version: int) -> bool:
        return _within(version, self.flexible_versions)

    @property
    def request_class(self) -> type[Message]:
        return getattr(self._module(), f"{self.name}Request")

    @property
    def response_class(self) -> type[Message]:
        return getattr(self._module(), f"{self.name}Response")

    def _module(self) -> Any:
        return importlib.import_module(f"ferrokafka.protocol.messages.{self.module}")

    def __repr__(self) -> str:
        lo, hi = self.valid_versions
        return f"ApiInfo({self.api_key}, {self.name!r}, versions {lo}-{hi})"
