"""Native (Rust) codecs of request headers and of the hottest bodies: Produce and Fetch
requests read and their responses written, byte for byte as the schema codec does, without a
Python call per field (which was a fifth of the broker's CPU per Produce request).

Each declines (returns None) whatever it does not handle exactly -- a malformed body, a tagged
field, a value of the wrong type or out of range -- and the schema codec then takes that
message as it always did, its errors included. ``tests/protocol/test_native_codec.py`` holds
them to the schema codec's bytes and messages.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from ferrokafka._ferrokafka import (  # noqa: F401  (ResponseWriter: re-exported for server/)
    ResponseWriter,
    read_fetch_request,
    read_produce_request,
    read_request_header,
    write_fetch_response,
    write_produce_response,
)
from ferrokafka.protocol.messages.fetch import FetchRequest
from ferrokafka.protocol.messages.header import RequestHeader
from ferrokafka.protocol.messages.produce import ProduceRequest
from ferrokafka.protocol.schema import Message
from ferrokafka.protocol.wire import ZERO_UUID

# Produce and Fetch name topics by id from v13 on (and by name before).
_TOPIC_ID_VERSION = 13
_Topic = ProduceRequest.TopicProduceData
_Partition = ProduceRequest.PartitionProduceData


def _topic_id(raw: bytes, by_id: bool) -> uuid.UUID:
    """A topic's id as the message holds it: the zero id where the version names topics."""
    return uuid.UUID(bytes=raw) if by_id else ZERO_UUID


def decode_request_header(frame: memoryview, version: int) -> tuple[RequestHeader, int] | None:
    """The request header (version 1 or 2) at the start of ``frame`` and where its body
    starts; None to leave it to the schema codec."""
    read = read_request_header(frame, version >= 2)
    if read is None:
        return None
    api_key, api_version, correlation_id, client_id, end = read
    header = RequestHeader(
        request_api_key=api_key,
        request_api_version=api_version,
        correlation_id=correlation_id,
        client_id=client_id,
    )
    return header, end


def decode_produce_request(frame: memoryview, start: int, version: int) -> ProduceRequest | None:
    """The ProduceRequest body at ``start`` of ``frame``, its records views of ``frame`` as
    the schema codec gives them; None to leave it to the schema codec."""
    read = read_produce_request(frame, start, version)
    if read is None:
        return None
    transactional_id, acks, timeout_ms, topics = read
    by_id = version >= _TOPIC_ID_VERSION
    return ProduceRequest(
        transactional_id=transactional_id,
        acks=acks,
        timeout_ms=timeout_ms,
        topic_data=[
            _Topic(
                name=name,
                topic_id=_topic_id(topic_id, by_id),
                partition_data=[
                    _Partition(index=index, records=None if at is None else frame[at[0] : at[1]])
                    for index, at in partitions
                ],
            )
            for name, topic_id, partitions in topics
        ],
    )


_FetchTopic = FetchRequest.FetchTopic
_FetchPartition = FetchRequest.FetchPartition
_Forgotten = FetchRequest.ForgottenTopic


def decode_fetch_request(frame: memoryview, start: int, version: int) -> FetchRequest | None:
    """The FetchRequest body at ``start`` of ``frame``; None to leave it to the schema codec
    (tagged fields: a follower's replica state, a cluster id)."""
    read = read_fetch_request(frame, start, version)
    if read is None:
        return None
    head, topics, forgotten, rack_id = read
    replica_id, max_wait_ms, min_bytes, max_bytes, isolation_level, session_id, epoch = head
    by_id = version >= _TOPIC_ID_VERSION
    return FetchRequest(
        replica_id=replica_id,
        max_wait_ms=max_wait_ms,
        min_bytes=min_bytes,
        max_bytes=max_bytes,
        isolation_level=isolation_level,
        session_id=session_id,
        session_epoch=epoch,
        topics=[
            _FetchTopic(
                topic=topic,
                topic_id=_topic_id(topic_id, by_id),
                partitions=[
                    _FetchPartition(
                        partition=p,
                        current_leader_epoch=leader_epoch,
                        fetch_offset=offset,
                        last_fetched_epoch=last_epoch,
                        log_start_offset=start_offset,
                        partition_max_bytes=most,
                    )
                    for p, leader_epoch, offset, last_epoch, start_offset, most in parts
                ],
            )
            for topic, topic_id, parts in topics
        ],
        forgotten_topics_data=[
            _Forgotten(
                topic=topic,
                topic_id=_topic_id(topic_id, by_id),
                partitions=parts,
            )
            for topic, topic_id, parts in forgotten
        ],
        rack_id=rack_id,
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
