"""One request to a node straight on the wire, blocking and bounded, for the process tests
(what a node reports in ApiVersions; what a controller answers to a hand-made request)."""

from __future__ import annotations

import socket
from typing import Any

from ferrokafka.protocol import RequestHeader, decode_response, encode_request
from ferrokafka.protocol.messages.api_versions import ApiVersionsRequest

CALL_TIMEOUT_S = 30.0
FRAME_BYTES_MAX = 1 << 20


def call(address: str, request: Any, version: int) -> Any:
    """``request`` at ``version`` to ``host:port``; the decoded response."""
    host, port = address.rsplit(":", 1)
    header = RequestHeader(
        request_api_key=request.API_KEY,
        request_api_version=version,
        correlation_id=1,
        client_id="ferrokafka-tests",
    )
    with socket.create_connection((host, int(port)), timeout=CALL_TIMEOUT_S) as sock:
        sock.sendall(encode_request(header, request))
        size = int.from_bytes(_exact(sock, 4), "big")
        assert 0 < size <= FRAME_BYTES_MAX, size
        _, response = decode_response(_exact(sock, size), request.API_KEY, version)
    return response


def api_versions(address: str) -> Any:
    return call(
        address, ApiVersionsRequest(client_software_name="t", client_software_version="1"), 3
    )


def _exact(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        assert chunk, "connection closed by the node"
        data += chunk
    return data
