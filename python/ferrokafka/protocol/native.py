"""Native (Rust) codecs of request headers and of the hottest bodies: Produce and Fetch
requests read and their responses written, byte for byte as the schema codec does, without a
Python call per field (which was a fifth of the broker's CPU per Produce request).

Each declines (returns None) whatever it does not handle exactly -- a malformed body, a tagged
field, a value of the wrong type or out of range -- and the schema codec then takes that
message as it always did, its errors included. ``tests/protocol/test_native_codec.py`` holds
them to the schema codec's bytes and messages.

The readers give frozen native objects (NativeRequestHeader, NativeProduceRequest,
NativeFetchRequest, ...) whose fields are named as the message classes' fields; they are read
here by name. The response writers read the message objects' attributes by name in Rust:
``tests/protocol/test_native_drift.py`` holds every name they read to the generated classes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from ferrokafka._ferrokafka import (  # noqa: F401  (ResponseWriter: re-exported for server/)
    ResponseWriter,
    parse_fetch_request,
    parse_produce_request,
    parse_request_header,
    write_fetch_response,
    write_produce_response,
)
from ferrokafka.protocol.messages.fetch import FetchRequest
from ferrokafka.protocol.messages.header import RequestHeader
from ferrokafka.protocol.messages.produce import ProduceRequest
from ferrokafka.protocol.schema import Message
from ferrokafka.protocol.wire import ZERO_UUID

_Topic = ProduceRequest.TopicProduceData
_Partition = ProduceRequest.PartitionProduceData


def _topic_id(raw: bytes | None) -> uuid.UUID:
    """A topic's id as the message holds it: the zero id where the version names topics
    (the native reader gives None)."""
    return ZERO_UUID if raw is None else uuid.UUID(bytes=raw)


def decode_request_header(frame: memoryview, version: int) -> tuple[RequestHeader, int] | None:
    """The request header (version 1 or 2) at the start of ``frame`` and where its body
    starts; None to leave it to the schema codec."""
    read = parse_request_header(frame, version >= 2)
    if read is None:
        return None
    header = RequestHeader(
        request_api_key=read.api_key,
        request_api_version=read.api_version,
        correlation_id=read.correlation_id,
        client_id=read.client_id,
    )
    return header, read.body_start


def decode_produce_request(frame: memoryview, start: int, version: int) -> ProduceRequest | None:
    """The ProduceRequest body at ``start`` of ``frame``, its records views of ``frame`` as
    the schema codec gives them; None to leave it to the schema codec."""
    read = parse_produce_request(frame, start, version)
    if read is None:
        return None
    return ProduceRequest(
        transactional_id=read.transactional_id,
        acks=read.acks,
        timeout_ms=read.timeout_ms,
        topic_data=[
            _Topic(
                name=topic.name,
                topic_id=_topic_id(topic.topic_id),
                partition_data=[
                    _Partition(
                        index=p.index,
                        records=None
                        if p.records_start is None
                        else frame[p.records_start : p.records_end],
                    )
                    for p in topic.partitions
                ],
            )
            for topic in read.topics
        ],
    )


_FetchTopic = FetchRequest.FetchTopic
_FetchPartition = FetchRequest.FetchPartition
_Forgotten = FetchRequest.ForgottenTopic


def decode_fetch_request(frame: memoryview, start: int, version: int) -> FetchRequest | None:
    """The FetchRequest body at ``start`` of ``frame``; None to leave it to the schema codec
    (tagged fields: a follower's replica state, a cluster id)."""
    read = parse_fetch_request(frame, start, version)
    if read is None:
        return None
    return FetchRequest(
        replica_id=read.replica_id,
        max_wait_ms=read.max_wait_ms,
        min_bytes=read.min_bytes,
        max_bytes=read.max_bytes,
        isolation_level=read.isolation_level,
        session_id=read.session_id,
        session_epoch=read.session_epoch,
        topics=[
            _FetchTopic(
                topic=topic.topic,
                topic_id=_topic_id(topic.topic_id),
                partitions=[
                    _FetchPartition(
                        partition=p.partition,
                        current_leader_epoch=p.current_leader_epoch,
                        fetch_offset=p.fetch_offset,
                        last_fetched_epoch=p.last_fetched_epoch,
                        log_start_offset=p.log_start_offset,
                        partition_max_bytes=p.partition_max_bytes,
                    )
                    for p in topic.partitions
                ],
            )
            for topic in read.topics
        ],
        forgotten_topics_data=[
            _Forgotten(
                topic=topic.topic,
                topic_id=_topic_id(topic.topic_id),
                partitions=topic.partitions,
            )
            for topic in read.forgotten_topics_data
        ],
        rack_id=read.rack_id,
    )


# API key -> (frame, body start, version) -> the request, or None for the schema codec.
REQUEST_DECODERS: dict[int, Callable[[memoryview, int, int], Message | None]] = {
    ProduceRequest.API_KEY: decode_produce_request,
    FetchRequest.API_KEY: decode_fetch_request,
}
# API key -> (correlation id, version, response) -> the size-prefixed frame as parts (bytes,
# and file-backed records kept whole for sendfile), or None.
RESPONSE_ENCODERS: dict[int, Callable[[int, int, Any], list[Any] | None]] = {
    ProduceRequest.API_KEY: write_produce_response,
    FetchRequest.API_KEY: write_fetch_response,
}
