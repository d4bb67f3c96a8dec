"""AlterUserScramCredentials as the controller decides it, and DescribeUserScramCredentials as
a broker (or controller) answers it from its image (sans-io; KIP-554).

Alter follows Kafka's ScramControlManager.alterCredentials: each user is answered once; a user
named twice in one request (two deletions, two upsertions, or one of each) gets
DUPLICATE_RESOURCE; an empty user name UNACCEPTABLE_CREDENTIAL; an unknown mechanism
UNSUPPORTED_SASL_MECHANISM; iterations outside [the mechanism's minimum, 16384]
UNACCEPTABLE_CREDENTIAL; an empty salted password UNKNOWN_SERVER_ERROR without a message (as
Kafka 4.4 answers: its HMAC refuses an empty key), while an empty salt is accepted (Kafka 4.4
accepts it too); deleting a credential that does not
exist RESOURCE_NOT_FOUND; a metadata.version before 3.5-IV2 UNSUPPORTED_VERSION. The records
(a UserScramCredentialRecord with StoredKey and ServerKey derived from the salted password, or
a RemoveUserScramCredentialRecord) are committed together.

Kafka answers in the iteration order of Java HashMaps keyed by user name; so do we
(:func:`java_hash_order`), so that a response lists users as Kafka's does.
"""

from __future__ import annotations

from collections.abc import Iterable

from ferrokafka.cluster.errors import ApiError
from ferrokafka.cluster.image import MetadataImage
from ferrokafka.cluster.records import RemoveUserScramCredentialRecord
from ferrokafka.cluster.scram_credentials import MECHANISMS_BY_TYPE
from ferrokafka.cluster.scram_store import credential_from_salted, credential_record
from ferrokafka.protocol.error_codes import (
    DUPLICATE_RESOURCE,
    RESOURCE_NOT_FOUND,
    UNACCEPTABLE_CREDENTIAL,
    UNKNOWN_SERVER_ERROR,
    UNSUPPORTED_SASL_MECHANISM,
    UNSUPPORTED_VERSION,
)
from ferrokafka.protocol.messages.alter_user_scram_credentials import (
    AlterUserScramCredentialsRequest,
    AlterUserScramCredentialsResponse,
)
from ferrokafka.protocol.messages.describe_user_scram_credentials import (
    DescribeUserScramCredentialsRequest,
    DescribeUserScramCredentialsResponse,
)
from ferrokafka.protocol.schema import Message

# Kafka's ScramControlManager.MAX_ITERATIONS (the mechanisms' own maximum is the same).
MAX_ITERATIONS = 16384
# MetadataVersion.IBP_3_5_IV2: the first level whose log may hold SCRAM records.
SCRAM_MIN_METADATA_VERSION = 11
_TWICE = "A user credential cannot be altered twice in the same request"
_DESCRIBE_TWICE = "Cannot describe SCRAM credentials for the same user twice in a single request: "
_DESCRIBE_MISSING = "Attempt to describe a user credential that does not exist: "
# java.util.HashMap: initial table size and load factor.
_JAVA_TABLE_MIN = 16
_JAVA_LOAD_FACTOR = 0.75

_Deletion = AlterUserScramCredentialsRequest.ScramCredentialDeletion
_Upsertion = AlterUserScramCredentialsRequest.ScramCredentialUpsertion
_AlterResult = AlterUserScramCredentialsResponse.AlterUserScramCredentialsResult
_DescribeResult = DescribeUserScramCredentialsResponse.DescribeUserScramCredentialsResult
_Info = DescribeUserScramCredentialsResponse.CredentialInfo


def alter_credentials(
    image: MetadataImage, request: AlterUserScramCredentialsRequest
) -> tuple[list[Message], AlterUserScramCredentialsResponse]:
    """The records to commit (all or none) and the answer."""
    supported = image.metadata_version >= SCRAM_MIN_METADATA_VERSION
    deletions: dict[str, _Deletion] = {}
    upsertions: dict[str, _Upsertion] = {}
    failed: dict[str, ApiError] = {}
    for deletion in request.deletions:
        if deletion.name in failed:
            continue
        if deletions.pop(deletion.name, None) is not None:
            failed[deletion.name] = ApiError(DUPLICATE_RESOURCE, _TWICE)
            continue
        error = _unsupported(supported) or _check_deletion(image, deletion)
        if error is not None:
            failed[deletion.name] = error
        else:
            deletions[deletion.name] = deletion
    for upsertion in request.upsertions:
        if upsertion.name in failed:
            continue
        if (
            deletions.pop(upsertion.name, None) is not None
            or upsertions.pop(upsertion.name, None) is not None
        ):
            failed[upsertion.name] = ApiError(DUPLICATE_RESOURCE, _TWICE)
            continue
        error = _unsupported(supported) or _check_upsertion(upsertion)
        if error is not None:
            failed[upsertion.name] = error
        else:
            upsertions[upsertion.name] = upsertion
    records: list[Message] = []
    results: list[_AlterResult] = []
    for name in java_hash_order(deletions):
        deletion = deletions[name]
        records.append(RemoveUserScramCredentialRecord(name=name, mechanism=deletion.mechanism))
        results.append(_AlterResult(user=name, error_code=0, error_message=None))
    for name in java_hash_order(upsertions):
        upsertion = upsertions[name]
        if not upsertion.salted_password:
            # Kafka's finishUpsertion fails here (an HMAC key may not be empty in Java) and
            # answers UNKNOWN_SERVER_ERROR without a message; an empty salt is accepted.
            failed[name] = ApiError(UNKNOWN_SERVER_ERROR, None)
            continue
        mechanism = MECHANISMS_BY_TYPE[upsertion.mechanism]
        credential = credential_from_salted(
            mechanism, bytes(upsertion.salt), bytes(upsertion.salted_password), upsertion.iterations
        )
        records.append(credential_record(name, credential))
        results.append(_AlterResult(user=name, error_code=0, error_message=None))
    for name in java_hash_order(failed):
        results.append(
            _AlterResult(
                user=name, error_code=failed[name].code, error_message=failed[name].message
            )
        )
    return records, AlterUserScramCredentialsResponse(results=results)


def _unsupported(supported: bool) -> ApiError | None:
    if supported:
        return None
    return ApiError(UNSUPPORTED_VERSION, "The current metadata.version does not support SCRAM")


def _check_name_and_mechanism(name: str, mechanism: int) -> ApiError | None:
    if not name:
        return ApiError(UNACCEPTABLE_CREDENTIAL, "Username must not be empty")
    if mechanism not in MECHANISMS_BY_TYPE:
        return ApiError(UNSUPPORTED_SASL_MECHANISM, "Unknown SCRAM mechanism")
    return None


def _check_deletion(image: MetadataImage, deletion: _Deletion) -> ApiError | None:
    error = _check_name_and_mechanism(deletion.name, deletion.mechanism)
    if error is not None:
        return error
    mechanism = MECHANISMS_BY_TYPE[deletion.mechanism]
    if (deletion.name, mechanism.name) not in image.scram:
        return ApiError(
            RESOURCE_NOT_FOUND, "Attempt to delete a user credential that does not exist"
        )
    return None


def _check_upsertion(upsertion: _Upsertion) -> ApiError | None:
    error = _check_name_and_mechanism(upsertion.name, upsertion.mechanism)
    if error is not None:
        return error
    mechanism = MECHANISMS_BY_TYPE[upsertion.mechanism]
    if upsertion.iterations < mechanism.min_iterations:
        return ApiError(UNACCEPTABLE_CREDENTIAL, "Too few iterations")
    if upsertion.iterations > MAX_ITERATIONS:
        return ApiError(UNACCEPTABLE_CREDENTIAL, "Too many iterations")
    return None


def describe_credentials(
    image: MetadataImage, request: DescribeUserScramCredentialsRequest
) -> DescribeUserScramCredentialsResponse:
    """Kafka's ScramImage.describe: every user with a credential when the request names none;
    never a salt or a key, only mechanisms and iteration counts."""
    duplicated: dict[str, bool] = {}
    if not request.users:
        for user, _ in image.scram:
            duplicated[user] = False
    else:
        for named in request.users:
            duplicated[named.name] = named.name in duplicated
    results: list[_DescribeResult] = []
    for user in java_hash_order(duplicated):
        if duplicated[user]:
            results.append(
                _DescribeResult(
                    user=user, error_code=DUPLICATE_RESOURCE, error_message=_DESCRIBE_TWICE + user
                )
            )
            continue
        infos = [
            _Info(mechanism=mechanism.kafka_type, iterations=credential.iterations)
            for mechanism in MECHANISMS_BY_TYPE.values()
            if (credential := image.scram.get((user, mechanism.name))) is not None
        ]
        if infos:
            results.append(_DescribeResult(user=user, credential_infos=infos))
        else:
            results.append(
                _DescribeResult(
                    user=user,
                    error_code=RESOURCE_NOT_FOUND,
                    error_message=_DESCRIBE_MISSING + user,
                )
            )
    # Kafka leaves the messages of a success at their default, "" (not null).
    return DescribeUserScramCredentialsResponse(results=results)


def java_hash_order(keys: Iterable[str]) -> list[str]:
    """``keys`` (in insertion order) in the order a java.util.HashMap<String, ?> built by
    inserting them iterates: by bucket of the spread String.hashCode, then insertion order
    within a bucket (a resize keeps it). Bins that Java turns into trees (8 or more keys in
    one bucket) are not modelled; such maps keep insertion order within the bucket here."""
    items = list(dict.fromkeys(keys))
    table = _JAVA_TABLE_MIN
    while len(items) > table * _JAVA_LOAD_FACTOR:
        table *= 2
    indexed = [
        (_spread(_java_string_hash(key)) & (table - 1), i, key) for i, key in enumerate(items)
    ]
    return [key for _, _, key in sorted(indexed)]


def _java_string_hash(text: str) -> int:
    value = 0
    for unit in _utf16_units(text):
        value = (31 * value + unit) & 0xFFFFFFFF
    return value


def _utf16_units(text: str) -> Iterable[int]:
    data = text.encode("utf-16-be")
    for i in range(0, len(data), 2):
        yield (data[i] << 8) | data[i + 1]


def _spread(h: int) -> int:
    """HashMap.hash: the high half of the hash folded into the low half."""
    return (h ^ (h >> 16)) & 0xFFFFFFFF
