"""Kafka's wire protocol, sans-io: request and response codecs for every API.

Frames in, messages out, and back; no sockets here. The broker reads a frame (after Kafka's
4-byte size prefix) and calls :func:`decode_request`, which returns the ``RequestHeader`` and
the request message; it answers with :func:`encode_response`, which picks the response header
version (ApiVersions always gets header v0). Clients and the replication fetcher use
:func:`encode_request` and :func:`decode_response`. :data:`APIS` is the table of API keys with
their versions and listeners (broker, controller), from which ApiVersions is answered.

Message classes live in :mod:`ferrokafka.protocol.messages` (``messages.produce.ProduceRequest``
and so on): slotted dataclasses whose fields are the snake_case names of Kafka's JSON fields,
with nested structs as inner classes. ``records`` fields decode as memoryviews into the frame,
never copied; a response's ``records`` may also be a :class:`FileRecords` (file regions the
broker sends with sendfile). Malformed input raises :class:`ProtocolDecodeError` and nothing
else; an unknown API key or version raises :class:`UnsupportedApiVersionError` carrying the
correlation id.

Layout: ``wire`` (bounds-checked reader, writer), ``schema`` (Kafka's field semantics:
versions, nullable, tagged, flexible), ``api`` (headers and framing), ``messages`` (generated).

The messages are generated from Apache Kafka's own definitions (``common/message/*.json`` in
the kafka-clients jar that ``tests/kafka/fetch.sh`` fetches). Regenerate them with::

    python scripts/gen_protocol.py            # or: python scripts/gen_protocol.py DIR
"""

from ferrokafka.protocol.api import (
    API_VERSIONS_KEY,
    api_info,
    decode_message,
    decode_request,
    decode_response,
    encode_message,
    encode_request,
    encode_request_parts,
    encode_response,
    encode_response_parts,
    request_header_version,
    response_header_version,
    supported_api_versions,
)
from ferrokafka.protocol.errors import (
    ProtocolDecodeError,
    ProtocolEncodeError,
    ProtocolError,
    UnsupportedApiVersionError,
)
from ferrokafka.protocol.messages import APIS
from ferrokafka.protocol.messages.header import RequestHeader, ResponseHeader
from ferrokafka.protocol.schema import ApiInfo, Message, Struct
from ferrokafka.protocol.wire import FileRecords, joined

__all__ = [
    "API_VERSIONS_KEY",
    "APIS",
    "ApiInfo",
    "FileRecords",
    "Message",
    "ProtocolDecodeError",
    "ProtocolEncodeError",
    "ProtocolError",
    "RequestHeader",
    "ResponseHeader",
    "Struct",
    "UnsupportedApiVersionError",
    "api_info",
    "decode_message",
    "decode_request",
    "decode_response",
    "encode_message",
    "encode_request",
    "encode_request_parts",
    "encode_response",
    "encode_response_parts",
    "joined",
    "request_header_version",
    "response_header_version",
    "supported_api_versions",
]
