"""Client quotas in the metadata log: AlterClientQuotas as the controller decides it (Kafka's
``ClientQuotaControlManager``) and DescribeClientQuotas as a broker answers it from its image
(Kafka's ``ClientQuotasImage.describe``).

An entity is a set of (type, name) pairs, types among ``user``, ``client-id`` and ``ip``; a name
of None is the type's default (``kafka-configs --entity-default``, shown by the tool as
``<default>``; the log stores null). The image keeps, per entity, its quota keys and values
(floats, as ClientQuotaRecord carries them); an entity whose last key is removed is gone.
"""

from __future__ import annotations

import ipaddress
import math
import socket
from collections.abc import Iterable, Mapping

from ferrokafka.cluster.records import ClientQuotaRecord
from ferrokafka.protocol.error_codes import INVALID_REQUEST, NONE, UNSUPPORTED_VERSION
from ferrokafka.protocol.messages.alter_client_quotas import (
    AlterClientQuotasRequest,
    AlterClientQuotasResponse,
)
from ferrokafka.protocol.messages.describe_client_quotas import (
    DescribeClientQuotasRequest,
    DescribeClientQuotasResponse,
)

USER = "user"
CLIENT_ID = "client-id"
IP = "ip"
ENTITY_TYPES = frozenset({USER, CLIENT_ID, IP})

PRODUCER_BYTE_RATE = "producer_byte_rate"
CONSUMER_BYTE_RATE = "consumer_byte_rate"
REQUEST_PERCENTAGE = "request_percentage"
CONTROLLER_MUTATION_RATE = "controller_mutation_rate"
CONNECTION_CREATION_RATE = "connection_creation_rate"

# Kafka's QuotaConfig key types: an integral type refuses fractions and its overflow.
_LONG_MAX = float(2**63 - 1)
_INT_MAX = float(2**31 - 1)
USER_CLIENT_KEYS: Mapping[str, float | None] = {
    PRODUCER_BYTE_RATE: _LONG_MAX,
    CONSUMER_BYTE_RATE: _LONG_MAX,
    REQUEST_PERCENTAGE: None,  # DOUBLE
    CONTROLLER_MUTATION_RATE: None,
}
IP_KEYS: Mapping[str, float | None] = {CONNECTION_CREATION_RATE: _INT_MAX}
# Kafka's getErrorForIntegralQuotaValue tolerance.
_FRACTION_TOLERANCE = 1e-6

# DescribeClientQuotas match types.
MATCH_EXACT = 0
MATCH_DEFAULT = 1
MATCH_SPECIFIED = 2

# One entity: its (type, name) pairs sorted by type; a None name is the type's default.
QuotaEntity = tuple[tuple[str, str | None], ...]
QuotaImage = Mapping[QuotaEntity, Mapping[str, float]]


class DescribeError(Exception):
    """A DescribeClientQuotas filter Kafka refuses as a whole (its error code and message)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def entity_of(pairs: Iterable[tuple[str, str | None]]) -> QuotaEntity:
    return tuple(sorted(pairs))


def entity_text(entity: QuotaEntity) -> str:
    """Kafka's ClientQuotaEntity toString, for messages."""
    return "ClientQuotaEntity(entries={" + ", ".join(f"{t}={n}" for t, n in entity) + "})"


def replay(quotas: dict[QuotaEntity, dict[str, float]], record: ClientQuotaRecord) -> None:
    """Apply one ClientQuotaRecord to working maps (the delta's)."""
    entity = entity_of((e.entity_type, e.entity_name) for e in record.entity)
    if record.remove:
        values = quotas.get(entity)
        if values is not None:
            values.pop(record.key, None)
            if not values:
                del quotas[entity]
    else:
        quotas.setdefault(entity, {})[record.key] = record.value


def image_records(quotas: QuotaImage) -> list[ClientQuotaRecord]:
    """The records that rebuild ``quotas`` (a snapshot's part), one per key."""
    return [
        ClientQuotaRecord(
            entity=[ClientQuotaRecord.EntityData(entity_type=t, entity_name=n) for t, n in entity],
            key=key,
            value=value,
        )
        for entity, values in quotas.items()
        for key, value in values.items()
    ]


# -- AlterClientQuotas (the controller) -------------------------------------------------------


def alter_client_quotas(
    quotas: QuotaImage, request: AlterClientQuotasRequest
) -> tuple[list[ClientQuotaRecord], AlterClientQuotasResponse]:
    """The records ``request`` makes and its answer, entity by entity (Kafka commits them all
    at once; a refused entity writes nothing)."""
    records: list[ClientQuotaRecord] = []
    results: dict[QuotaEntity, tuple[int, str | None]] = {}
    order: list[tuple[QuotaEntity, list[AlterClientQuotasRequest.EntityData]]] = []
    for entry in request.entries:
        raw = [(e.entity_type, e.entity_name) for e in entry.entity]
        entity = entity_of(raw)
        if entity not in results:
            order.append((entity, entry.entity))
        alterations: dict[str, float | None] = {}
        duplicate: str | None = None
        for op in entry.ops:
            if op.key in alterations:
                duplicate = op.key
            else:
                alterations[op.key] = None if op.remove else op.value
        if duplicate is not None:
            results[entity] = (
                INVALID_REQUEST,
                f"Duplicate quota key {duplicate} not updating quota for this entity "
                f"{entity_text(entity)}",
            )
        elif entity in results:
            results[entity] = (INVALID_REQUEST, f"Ignoring duplicate entity {entity_text(entity)}")
        else:
            results[entity] = _alter_entity(quotas, raw, entity, alterations, records)
    response = AlterClientQuotasResponse(
        entries=[
            AlterClientQuotasResponse.EntryData(
                error_code=results[entity][0],
                error_message=results[entity][1],
                entity=[
                    AlterClientQuotasResponse.EntityData(
                        entity_type=e.entity_type, entity_name=e.entity_name
                    )
                    for e in wire_entity
                ],
            )
            for entity, wire_entity in order
        ]
    )
    return records, response


def _alter_entity(
    quotas: QuotaImage,
    raw: list[tuple[str, str | None]],
    entity: QuotaEntity,
    alterations: Mapping[str, float | None],
    out: list[ClientQuotaRecord],
) -> tuple[int, str | None]:
    error = _entity_error(raw)
    if error is not None:
        return INVALID_REQUEST, error
    types = {t for t, _ in raw}
    if IP in types:
        if types != {IP}:
            return (
                INVALID_REQUEST,
                "Invalid quota entity combination, IP entity shouldnot be combined with User or "
                "ClientId",
            )
        ip = dict(raw)[IP]
        if ip is not None and not _resolvable(ip):
            return INVALID_REQUEST, f"{ip} is not a valid IP or resolvable host."
        keys = IP_KEYS
    else:
        keys = USER_CLIENT_KEYS
    current = quotas.get(entity, {})
    new: list[ClientQuotaRecord] = []

    def record(key: str, value: float = 0.0, remove: bool = False) -> ClientQuotaRecord:
        return ClientQuotaRecord(
            entity=[ClientQuotaRecord.EntityData(entity_type=t, entity_name=n) for t, n in raw],
            key=key,
            value=value,
            remove=remove,
        )

    for key, value in alterations.items():
        if value is None:
            if key in current:
                new.append(record(key, remove=True))
            continue
        problem = _value_error(keys, key, value)
        if problem is not None:
            return INVALID_REQUEST, problem
        if current.get(key) != value:
            new.append(record(key, value))
    out.extend(new)
    return NONE, None


def _entity_error(raw: list[tuple[str, str | None]]) -> str | None:
    if not raw:
        return "Invalid empty client quota entity"
    seen: set[str] = set()
    for entity_type, name in raw:
        if entity_type in seen:
            return f"Invalid client quota entity, duplicate entity entry {entity_type}"
        if entity_type not in ENTITY_TYPES:
            return f"Unhandled client quota entity type: {entity_type}"
        seen.add(entity_type)
        if name is not None and not name:
            return f"Empty {entity_type} not supported"
    return None


def _value_error(keys: Mapping[str, float | None], key: str, value: float) -> str | None:
    if key not in keys:
        return f"Invalid configuration key {key}"
    if value <= 0.0:
        return f"Quota {key} must be greater than 0"
    integral_max = keys[key]
    if integral_max is None:
        return None
    if value > integral_max:
        kind = "a LONG" if integral_max == _LONG_MAX else "an INT"
        return f"Proposed value for {key} is too large for {kind}."
    if abs(math.fmod(value, 1.0)) > _FRACTION_TOLERANCE:
        return f"{key} cannot be a fractional value."
    return None


def _resolvable(host: str) -> bool:
    """Kafka's InetAddress.getByName: an IP literal, or a name that resolves (this blocks on
    DNS for a name, as Kafka's controller does; literals never do)."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        socket.getaddrinfo(host, None)
        return True
    except OSError:
        return False


# -- DescribeClientQuotas (a broker, from its image) -----------------------------------------


def describe_client_quotas(
    quotas: QuotaImage, request: DescribeClientQuotasRequest
) -> DescribeClientQuotasResponse:
    try:
        exact, typed = _filter(request.components)
    except DescribeError as exc:
        return DescribeClientQuotasResponse(
            error_code=exc.code, error_message=str(exc), entries=None
        )
    entries = []
    for entity, values in quotas.items():
        if _matches(dict(entity), exact, typed, request.strict):
            entries.append(
                DescribeClientQuotasResponse.EntryData(
                    entity=[
                        DescribeClientQuotasResponse.EntityData(entity_type=t, entity_name=n)
                        for t, n in entity
                    ],
                    values=[
                        DescribeClientQuotasResponse.ValueData(key=k, value=v)
                        for k, v in values.items()
                    ],
                )
            )
    return DescribeClientQuotasResponse(error_code=NONE, error_message=None, entries=entries)


def _filter(
    components: Iterable[DescribeClientQuotasRequest.ComponentData],
) -> tuple[dict[str, str | None], set[str]]:
    exact: dict[str, str | None] = {}
    typed: set[str] = set()
    for c in components:
        if not c.entity_type:
            raise DescribeError(INVALID_REQUEST, "Invalid empty entity type.")
        if c.entity_type in exact or c.entity_type in typed:
            raise DescribeError(
                INVALID_REQUEST,
                f"Entity type {c.entity_type} cannot appear more than once in the filter.",
            )
        if c.entity_type not in ENTITY_TYPES:
            raise DescribeError(UNSUPPORTED_VERSION, f"Unsupported entity type {c.entity_type}")
        if c.match_type == MATCH_EXACT:
            if c.match is None:
                raise DescribeError(
                    INVALID_REQUEST,
                    "Request specified MATCH_TYPE_EXACT, but set match string to null.",
                )
            exact[c.entity_type] = c.match
        elif c.match_type == MATCH_DEFAULT:
            if c.match is not None:
                raise DescribeError(
                    INVALID_REQUEST,
                    "Request specified MATCH_TYPE_DEFAULT, but also specified a match string.",
                )
            exact[c.entity_type] = None
        elif c.match_type == MATCH_SPECIFIED:
            if c.match is not None:
                raise DescribeError(
                    INVALID_REQUEST,
                    "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.",
                )
            typed.add(c.entity_type)
        else:
            raise DescribeError(INVALID_REQUEST, f"Unknown match type {c.match_type}")
    if (IP in exact or IP in typed) and ({USER, CLIENT_ID} & (set(exact) | typed)):
        raise DescribeError(
            INVALID_REQUEST,
            "Invalid entity filter component combination. IP filter component should not be "
            "used with user or clientId filter component.",
        )
    return exact, typed


def _matches(
    entity: Mapping[str, str | None], exact: Mapping[str, str | None], typed: set[str], strict: bool
) -> bool:
    if strict and len(entity) != len(exact) + len(typed):
        return False
    for entity_type, name in exact.items():
        if entity_type not in entity or entity[entity_type] != name:
            return False
    return all(t in entity for t in typed)
