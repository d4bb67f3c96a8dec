"""Requests and responses as whole frames: header plus body, chosen by API key and version.

A frame here is what follows Kafka's 4-byte size prefix. Decoding takes the frame (the
connection has already read the prefix); encoding returns the frame with its prefix, ready to
send. Which header version goes with which API version is decided here, once.
"""

from __future__ import annotations

import struct
from typing import Any, TypeVar

from ferrokafka.protocol.errors import (
    ProtocolDecodeError,
    ProtocolEncodeError,
    UnsupportedApiVersionError,
)
from ferrokafka.protocol.messages import APIS
from ferrokafka.protocol.messages.header import RequestHeader, ResponseHeader
from ferrokafka.protocol.native import (
    REQUEST_DECODERS,
    RESPONSE_ENCODERS,
    decode_request_header,
)
from ferrokafka.protocol.schema import ApiInfo, Message, decode_struct, encode_struct
from ferrokafka.protocol.wire import Reader, Writer, joined

API_VERSIONS_KEY = 18
PRODUCE_KEY = 0
# Kafka 4 removed Produce v0-2 but still advertises v0 as the minimum: librdkafka refuses a
# broker whose Produce minimum is above 0 (KAFKA-18659; a comment in ProduceRequest.json,
# Kafka's ApiKeys.PRODUCE_API_VERSIONS_RESPONSE_MIN_VERSION). Requests for v0-2 are still
# refused.
PRODUCE_ADVERTISED_MIN_VERSION = 0
# api key (int16), api version (int16), correlation id (int32): shared by every header version
REQUEST_HEADER_PREFIX = struct.Struct(">hhi")
FRAME_SIZE = struct.Struct(">i")

M = TypeVar("M", bound=Message)


def api_info(api_key: int) -> ApiInfo | None:
    return APIS.get(api_key)


def _supported(api_key: int, api_version: int) -> ApiInfo | None:
    info = APIS.get(api_key)
    return info if info is not None and info.supports(api_version) else None


def request_header_version(api_key: int, api_version: int) -> int:
    """2 for a flexible API version (compact client id stays classic), else 1."""
    info = APIS[api_key]
    return 2 if info.is_flexible(api_version) else 1


def response_header_version(api_key: int, api_version: int) -> int:
    """1 for a flexible API version, else 0 -- but ApiVersions responses always use 0: a
    client reads the response before it knows which versions the broker speaks."""
    if api_key == API_VERSIONS_KEY:
        return 0
    return 1 if APIS[api_key].is_flexible(api_version) else 0


# -- bodies -----------------------------------------------------------------------------


def encode_message(message: Message, version: int) -> bytes:
    """The body of ``message`` at ``version`` (no header, no size prefix)."""
    writer = Writer()
    _encode_body(message, version, writer)
    return writer.getvalue()


def decode_message(cls: type[M], data: bytes | memoryview, version: int) -> M:
    """A body of ``cls`` at ``version`` that must span all of ``data``."""
    lo, hi = cls.valid_versions()
    if not lo <= version <= hi:
        raise ProtocolDecodeError(f"{cls.__name__} has no version {version}")
    reader = Reader(memoryview(data))
    message = decode_struct(cls, reader, version)
    _expect_end(reader, cls.__name__)
    return message


def _encode_body(message: Message, version: int, writer: Writer) -> None:
    lo, hi = message.valid_versions()
    if not lo <= version <= hi:
        raise ProtocolEncodeError(f"{type(message).__name__} has no version {version}")
    encode_struct(message, writer, version)


def _expect_end(reader: Reader, what: str) -> None:
    if reader.remaining:
        raise ProtocolDecodeError(f"{reader.remaining} bytes left over after {what}")


def _framed(writer: Writer) -> list[Any]:
    return [FRAME_SIZE.pack(writer.size()), *writer.parts()]


# -- requests ---------------------------------------------------------------------------


def decode_request(frame: bytes | memoryview) -> tuple[RequestHeader, Message]:
    """The header and request in a frame (without its size prefix).

    Raises UnsupportedApiVersionError for an API key or version not in the table (having read
    only the header's shared prefix), ProtocolDecodeError for anything malformed. Bytes-like
    fields that are records stay views into ``frame``: keep the frame alive while they are.
    """
    view = memoryview(frame)
    if view.nbytes < REQUEST_HEADER_PREFIX.size:
        raise ProtocolDecodeError(f"request frame of {view.nbytes} bytes is shorter than a header")
    reader = Reader(view)
    api_key, api_version, correlation_id = REQUEST_HEADER_PREFIX.unpack_from(reader.buf, 0)
    info = _supported(api_key, api_version)
    if info is None:
        raise UnsupportedApiVersionError(api_key, api_version, correlation_id)
    header_version = request_header_version(api_key, api_version)
    native_header = decode_request_header(view, header_version)
    if native_header is not None:
        header, reader.pos = native_header
    else:
        header = decode_struct(RequestHeader, reader, header_version)
    native = REQUEST_DECODERS.get(api_key)
    request = None if native is None else native(view, reader.pos, api_version)
    if request is None:
        request = decode_struct(info.request_class, reader, api_version)
    # Bytes after the request body are ignored, as Kafka's broker ignores them: librdkafka
    # (through 2.x, its issue #5049) writes a null Metadata topic array as four bytes where
    # flexible versions read one, and real brokers answer it.
    return header, request


def encode_request(header: RequestHeader, request: Message) -> bytes:
    """A size-prefixed request frame; the header names the API version and correlation id."""
    return b"".join(encode_request_parts(header, request))


def encode_request_parts(header: RequestHeader, request: Message) -> list[Any]:
    api_key, api_version = header.request_api_key, header.request_api_version
    if request.API_KEY != api_key or _supported(api_key, api_version) is None:
        raise ProtocolEncodeError(
            f"{type(request).__name__} cannot go under a header for API {api_key} v{api_version}"
        )
    writer = Writer()
    encode_struct(header, writer, request_header_version(api_key, api_version))
    _encode_body(request, api_version, writer)
    return _framed(writer)


# -- responses --------------------------------------------------------------------------


def encode_response(request_header: RequestHeader, response: Message) -> bytes:
    """The size-prefixed response frame answering the request that had ``request_header``
    (file-backed records are read into it)."""
    return joined(encode_response_parts(request_header, response))


def encode_response_parts(request_header: RequestHeader, response: Message) -> list[Any]:
    """As encode_response, but as buffers in order (record batches are not copied), for a
    vectored send; a FileRecords value stays a FileRecords part, for the sender to write."""
    api_key, api_version = request_header.request_api_key, request_header.request_api_version
    if response.API_KEY != api_key or _supported(api_key, api_version) is None:
        raise ProtocolEncodeError(
            f"{type(response).__name__} cannot answer a request for API {api_key} v{api_version}"
        )
    native = RESPONSE_ENCODERS.get(api_key)
    if native is not None:
        parts = native(request_header.correlation_id, api_version, response)
        if parts is not None:
            return parts
    writer = Writer()
    header = ResponseHeader(correlation_id=request_header.correlation_id)
    encode_struct(header, writer, response_header_version(api_key, api_version))
    _encode_body(response, api_version, writer)
    return _framed(writer)


def decode_response(
    frame: bytes | memoryview, api_key: int, api_version: int
) -> tuple[ResponseHeader, Message]:
    """The header and response in a frame (without its size prefix) answering a request for
    ``api_key`` at ``api_version`` (responses do not say which API they answer)."""
    info = _supported(api_key, api_version)
    if info is None:
        raise ProtocolDecodeError(f"no API {api_key} v{api_version} to decode a response for")
    reader = Reader(memoryview(frame))
    header = decode_struct(ResponseHeader, reader, response_header_version(api_key, api_version))
    response = decode_struct(info.response_class, reader, api_version)
    _expect_end(reader, f"{info.name} response v{api_version}")
    return header, response


def supported_api_versions(listener: str = "broker") -> list[tuple[int, int, int]]:
    """``(api_key, min_version, max_version)`` for every API served on ``listener``, as
    Kafka's ApiVersions advertises them: an unstable latest version is left out, and Produce
    claims v0 (see PRODUCE_ADVERTISED_MIN_VERSION)."""
    return [
        (
            key,
            PRODUCE_ADVERTISED_MIN_VERSION if key == PRODUCE_KEY else info.min_version,
            info.max_stable_version,
        )
        for key, info in sorted(APIS.items())
        if listener in info.listeners
    ]
