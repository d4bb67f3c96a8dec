"""A blocking raw-socket Kafka client for the server tests: frames in, frames out, with every
wait bounded, so tests can assert on the bytes the broker writes."""

from __future__ import annotations

import socket
import struct
from typing import Any

from ferrokafka.protocol import RequestHeader, decode_response, encode_request
from ferrokafka.protocol.messages.api_versions import ApiVersionsRequest

SOCKET_TIMEOUT_S = 10.0
# A response larger than this is a bug in the test or the broker, not something to read.
RESPONSE_BYTES_MAX = 16 << 20
SIZE = struct.Struct(">i")
# The correlation id of the hand-written ApiVersions v5 frames (recognisable in a byte dump).
CORRELATION_ID = 0x01020304


def api_versions_frame(correlation_id: int, version: int = 3) -> bytes:
    header = RequestHeader(
        request_api_key=18,
        request_api_version=version,
        correlation_id=correlation_id,
        client_id="raw-test",
    )
    request = ApiVersionsRequest(client_software_name="raw", client_software_version="1.0")
    return encode_request(header, request)


def raw_frame(api_key: int, version: int, correlation_id: int, rest: bytes = b"") -> bytes:
    """A frame with a classic (v1) header prefix, client id "x", then ``rest``."""
    body = struct.pack(">hhih", api_key, version, correlation_id, 1) + b"x" + rest
    return SIZE.pack(len(body)) + body


def _compact(value: bytes | None) -> bytes:
    """A compact (nullable) string: its length + 1 as an unsigned varint (all under 127 here),
    0 for null."""
    if value is None:
        return b"\x00"
    assert len(value) < 127
    return bytes([len(value) + 1]) + value


def api_versions_v5_frame(
    cluster_id: str | None, node_id: int, correlation_id: int = CORRELATION_ID
) -> bytes:
    """An ApiVersions v5 request written out by hand: header v2 (api key, version, correlation
    id, classic client id, no tags), then the flexible body (software name and version, cluster
    id as a compact nullable string, node id int32, no tags)."""
    header = struct.pack(">hhih", 18, 5, correlation_id, 1) + b"x" + b"\x00"
    body = (
        _compact(b"raw")
        + _compact(b"1.0")
        + _compact(None if cluster_id is None else cluster_id.encode())
        + struct.pack(">i", node_id)
        + b"\x00"
    )
    return struct.pack(">i", len(header) + len(body)) + header + body


def api_versions_error_answer(code: int, correlation_id: int = CORRELATION_ID) -> bytes:
    """Kafka's ApiVersionsRequest.getErrorResponse at v5: response header v0 (correlation id
    only), error code, an empty compact API list, throttle time 0, no tagged fields."""
    return struct.pack(">ih", correlation_id, code) + b"\x01" + b"\x00\x00\x00\x00" + b"\x00"


class RawClient:
    """One blocking connection. ``call`` encodes a request with our codec and decodes its
    answer; ``send``/``recv_frame`` work on raw bytes for the byte-level tests."""

    def __init__(
        self, address: str, timeout_s: float = SOCKET_TIMEOUT_S, client_id: str = "raw-test"
    ) -> None:
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout_s)
        self.client_id = client_id
        self.correlation_id = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _exact(self, n: int) -> bytes:
        chunks = bytearray()
        while len(chunks) < n:
            chunk = self.sock.recv(n - len(chunks))
            if not chunk:
                raise ConnectionError(f"closed after {len(chunks)} of {n} bytes")
            chunks += chunk
        return bytes(chunks)

    def recv_frame(self) -> bytes:
        (size,) = SIZE.unpack(self._exact(SIZE.size))
        assert 0 <= size <= RESPONSE_BYTES_MAX, size
        return self._exact(size)

    def call(self, request: Any, version: int) -> Any:
        """Send ``request`` at ``version`` and return the decoded response."""
        correlation_id = self.send_request(request, version)
        return self.receive(request.API_KEY, version, correlation_id)

    def send_request(self, request: Any, version: int) -> int:
        """Send without waiting (pipelining); returns the correlation id."""
        self.correlation_id += 1
        header = RequestHeader(
            request_api_key=request.API_KEY,
            request_api_version=version,
            correlation_id=self.correlation_id,
            client_id=self.client_id,
        )
        self.send(encode_request(header, request))
        return self.correlation_id

    def receive(self, api_key: int, version: int, correlation_id: int | None = None) -> Any:
        """Decode the next response frame (checking its correlation id when given)."""
        header, response = decode_response(self.recv_frame(), api_key, version)
        if correlation_id is not None:
            assert header.correlation_id == correlation_id
        return response

    def call_api_versions(self, correlation_id: int = 1, version: int = 3) -> Any:
        self.send(api_versions_frame(correlation_id, version))
        header, response = decode_response(self.recv_frame(), 18, version)
        assert header.correlation_id == correlation_id
        return response

    def is_closed_by_peer(self) -> bool:
        """True when the broker closed the connection (EOF or reset) within the timeout."""
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False
