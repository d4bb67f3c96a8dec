"""What a SASL listener answers a request sent after the handshake instead of
SaslAuthenticate: Kafka's ``SaslServerAuthenticator`` sends the request's own
``getErrorResponse`` with ILLEGAL_SASL_STATE (then closes the connection), so the error is
wherever that API's response carries one — per partition, per group, per coordinator key, or
top-level — shaped as Kafka 4.4's ``getErrorResponse`` of each API.

:func:`illegal_state_response` is that answer, or None for an API (at this version) whose
error response is not built here and has no top-level error code: then the connection closes
unanswered (OffsetFetch v0-1 and v8+, the share and streams group APIs, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ferrokafka.protocol import APIS, Message
from ferrokafka.protocol.error_codes import ILLEGAL_SASL_STATE
from ferrokafka.protocol.error_responses import error_response
from ferrokafka.protocol.messages import (
    delete_groups,
    describe_groups,
    fetch,
    find_coordinator,
    list_offsets,
    metadata,
    offset_commit,
    produce,
)

# Errors.ILLEGAL_SASL_STATE's default message (what Kafka's error responses built from the
# error alone carry).
ILLEGAL_SASL_STATE_MESSAGE = "Request is not valid given the current SASL state."
# Fetch from this version answers a request error top-level only (no partitions).
_FETCH_TOP_LEVEL_ONLY_VERSION = 13
# FindCoordinator from this version answers per coordinator key.
_FIND_BATCHED_VERSION = 4
_OPERATIONS_OMITTED = -(2**31)

# (request, version, the exception's message) -> the response
Builder = Callable[[Any, int, str], Message]


def _has(message_class: Any, name: str, version: int) -> bool:
    """Whether ``message_class`` has the field ``name`` at ``version``."""
    spec = next((f for f in message_class.SCHEMA if f.name == name), None)
    return spec is not None and spec.versions[0] <= version <= spec.versions[1]


def _top_level(message_class: Any, version: int) -> int:
    """ILLEGAL_SASL_STATE where the response has a top-level error code at ``version``."""
    return ILLEGAL_SASL_STATE if _has(message_class, "error_code", version) else 0


def _metadata(request: Any, version: int, _message: str) -> Message:
    r = metadata.MetadataResponse
    return r(
        error_code=_top_level(r, version),
        topics=[
            r.MetadataResponseTopic(
                name=t.name,
                topic_id=t.topic_id,
                error_code=ILLEGAL_SASL_STATE,
                is_internal=False,
                partitions=[],
            )
            for t in request.topics or ()
        ],
    )


def _produce(request: Any, version: int, message: str) -> Message:
    r = produce.ProduceResponse
    has_message = _has(r.PartitionProduceResponse, "error_message", version)
    return r(
        responses=[
            r.TopicProduceResponse(
                name=t.name,
                topic_id=t.topic_id,
                partition_responses=[
                    r.PartitionProduceResponse(
                        index=p.index,
                        error_code=ILLEGAL_SASL_STATE,
                        base_offset=-1,
                        log_append_time_ms=-1,
                        log_start_offset=-1,
                        error_message=message if has_message else None,
                    )
                    for p in t.partition_data
                ],
            )
            for t in request.topic_data
        ]
    )


def _fetch(request: Any, version: int, _message: str) -> Message:
    r = fetch.FetchResponse
    topics = []
    if version < _FETCH_TOP_LEVEL_ONLY_VERSION:
        topics = [
            r.FetchableTopicResponse(
                topic=t.topic,
                topic_id=t.topic_id,
                partitions=[
                    r.PartitionData(
                        partition_index=p.partition,
                        error_code=ILLEGAL_SASL_STATE,
                        high_watermark=-1,
                        last_stable_offset=-1,
                        log_start_offset=-1,
                        records=b"",
                    )
                    for p in t.partitions
                ],
            )
            for t in request.topics
        ]
    return r(error_code=_top_level(r, version), session_id=request.session_id, responses=topics)


def _list_offsets(request: Any, _version: int, _message: str) -> Message:
    r = list_offsets.ListOffsetsResponse
    return r(
        topics=[
            r.ListOffsetsTopicResponse(
                name=t.name,
                partitions=[
                    r.ListOffsetsPartitionResponse(
                        partition_index=p.partition_index,
                        error_code=ILLEGAL_SASL_STATE,
                        timestamp=-1,
                        offset=-1,
                        leader_epoch=-1,
                    )
                    for p in t.partitions
                ],
            )
            for t in request.topics
        ]
    )


def _offset_commit(request: Any, _version: int, _message: str) -> Message:
    r = offset_commit.OffsetCommitResponse
    return r(
        topics=[
            r.OffsetCommitResponseTopic(
                name=t.name,
                topic_id=t.topic_id,
                partitions=[
                    r.OffsetCommitResponsePartition(
                        partition_index=p.partition_index, error_code=ILLEGAL_SASL_STATE
                    )
                    for p in t.partitions
                ],
            )
            for t in request.topics
        ]
    )


def _describe_groups(request: Any, _version: int, _message: str) -> Message:
    r = describe_groups.DescribeGroupsResponse
    return r(
        groups=[
            r.DescribedGroup(
                error_code=ILLEGAL_SASL_STATE,
                group_id=group,
                group_state="",
                protocol_type="",
                protocol_data="",
                members=[],
                authorized_operations=_OPERATIONS_OMITTED,
            )
            for group in request.groups
        ]
    )


def _delete_groups(request: Any, _version: int, _message: str) -> Message:
    r = delete_groups.DeleteGroupsResponse
    return r(
        results=[
            r.DeletableGroupResult(group_id=group, error_code=ILLEGAL_SASL_STATE)
            for group in request.groups_names
        ]
    )


def _find_coordinator(request: Any, version: int, _message: str) -> Message:
    r = find_coordinator.FindCoordinatorResponse
    if version < _FIND_BATCHED_VERSION:
        return r(
            error_code=ILLEGAL_SASL_STATE,
            error_message=ILLEGAL_SASL_STATE_MESSAGE,
            node_id=-1,
            host="",
            port=-1,
        )
    return r(
        coordinators=[
            r.Coordinator(
                key=key,
                node_id=-1,
                host="",
                port=-1,
                error_code=ILLEGAL_SASL_STATE,
                error_message=ILLEGAL_SASL_STATE_MESSAGE,
            )
            for key in request.coordinator_keys
        ]
    )


BUILDERS: dict[int, Builder] = {
    metadata.MetadataRequest.API_KEY: _metadata,
    produce.ProduceRequest.API_KEY: _produce,
    fetch.FetchRequest.API_KEY: _fetch,
    list_offsets.ListOffsetsRequest.API_KEY: _list_offsets,
    offset_commit.OffsetCommitRequest.API_KEY: _offset_commit,
    describe_groups.DescribeGroupsRequest.API_KEY: _describe_groups,
    delete_groups.DeleteGroupsRequest.API_KEY: _delete_groups,
    find_coordinator.FindCoordinatorRequest.API_KEY: _find_coordinator,
}


def illegal_state_response(api_key: int, version: int, request: Any, message: str) -> Any:
    """The request's own error response with ILLEGAL_SASL_STATE (see the module doc); None
    when it has none here."""
    builder = BUILDERS.get(api_key)
    if builder is not None:
        return builder(request, version, message)
    try:
        return error_response(request, ILLEGAL_SASL_STATE)  # the admin APIs
    except TypeError:
        pass
    response_class = APIS[api_key].response_class
    if not _has(response_class, "error_code", version):
        return None
    return response_class(error_code=ILLEGAL_SASL_STATE)  # type: ignore[call-arg]
