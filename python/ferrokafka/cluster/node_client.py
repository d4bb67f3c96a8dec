"""NodeClient: one connection from this node to another Kafka node (a controller, a broker,
Apache Kafka or ferrokafka), for the requests a node sends itself — a broker's calls to the
active controller (Kafka's ``NodeToControllerChannelManager``), and later a follower's fetches.

Kafka's wire protocol through ferrokafka's codecs: on connect (through the listener's
:class:`~ferrokafka.cluster.connector.Connector`: TLS, SASL as the listener says), ApiVersions,
then each API at
the highest version both sides support (or the version the caller asks for). One request at a
time per client: the callers that need concurrency (heartbeats next to admin operations) hold
a client each, as Kafka's channel managers do. Every call is bounded by ``timeout_s``; a
failure of any kind (refused, reset, timed out, garbled) closes the connection and raises
:class:`NodeUnavailableError`, and the next call connects again.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import AsyncIterator
from typing import Any

import trio

from ferrokafka.cluster.connector import (
    PLAINTEXT,
    AuthenticationError,
    Connection,
    Connector,
    DialError,
)
from ferrokafka.protocol import (
    APIS,
    ProtocolError,
    RequestHeader,
    decode_response,
    encode_request,
)
from ferrokafka.protocol.messages.api_versions import ApiVersionsRequest, ApiVersionsResponse

# Kafka's request.timeout.ms for inter-node requests (controller.socket.timeout.ms is 30 s).
REQUEST_TIMEOUT_S = 30.0
# A response frame above this is refused rather than buffered: nothing a node sends another
# through this client (admin answers, heartbeats, metadata fetches of 8 MiB) comes near it.
RESPONSE_FRAME_BYTES_MAX = 64 * 1024 * 1024
# Bytes asked of the socket per read.
RECEIVE_CHUNK_BYTES = 256 * 1024
# ApiVersions v3: the first flexible version, what every Kafka 2.4+ node answers.
API_VERSIONS_VERSION = 3
SOFTWARE_NAME = "ferrokafka"
SOFTWARE_VERSION = "1"
_FRAME_SIZE = struct.Struct(">i")


class NodeUnavailableError(Exception):
    """The node could not be reached or did not answer properly (the connection is closed)."""


class NodeAuthenticationError(NodeUnavailableError):
    """The node refused this node's credentials (or TLS failed): the connector logged why."""


class UnsupportedByNodeError(NodeUnavailableError):
    """The node does not support the API (or the version asked for)."""


class NodeClient:
    """Requests from this node to the node at ``address``; trio thread only."""

    def __init__(
        self,
        address: tuple[str, int],
        *,
        client_id: str,
        timeout_s: float = REQUEST_TIMEOUT_S,
        connector: Connector = PLAINTEXT,
    ) -> None:
        self.address = address
        self.client_id = client_id
        self.timeout_s = timeout_s
        self.connector = connector
        self._connection: Connection | None = None
        self._stream: trio.abc.Stream | None = None
        self._buffer = bytearray()
        self._versions: dict[int, int] = {}
        self._correlation_id = 0
        self._lock = trio.Lock()

    def __repr__(self) -> str:
        return f"<NodeClient {self.address[0]}:{self.address[1]}>"

    @property
    def connected(self) -> bool:
        return self._stream is not None

    def version(self, api_key: int) -> int | None:
        """The version a call of ``api_key`` uses (None: not supported, or not connected)."""
        return self._versions.get(api_key)

    async def call(self, request: Any, *, version: int | None = None) -> Any:
        """Send ``request`` and return the node's response (connecting first if needed)."""
        async with self._lock, self._failures():
            if self._stream is None:
                await self._connect()
            await self._maybe_reauthenticate()
            if version is None:
                version = self._versions.get(request.API_KEY)
                if version is None:
                    raise UnsupportedByNodeError(
                        f"{self._where()} does not support {APIS[request.API_KEY].name}"
                    )
            return await self._round_trip(request, version)

    async def connect(self) -> None:
        """Connect (and learn the node's API versions) now if not connected: callers whose
        request depends on the version (:meth:`version`) call this first."""
        async with self._lock, self._failures():
            if self._stream is None:
                await self._connect()

    @contextlib.asynccontextmanager
    async def _failures(self) -> AsyncIterator[None]:
        """Bound the block by ``timeout_s``; any failure in it closes the connection and is
        raised as NodeUnavailableError (the caller's next call connects again)."""
        try:
            with trio.fail_after(self.timeout_s):
                yield
        except trio.TooSlowError as exc:
            await self._close()
            raise NodeUnavailableError(
                f"{self._where()} did not answer within {self.timeout_s:g} s"
            ) from exc
        except trio.BrokenResourceError as exc:
            await self._close()
            refused = self.connector.refused_by_tls(self.address, exc)
            if refused is not None:
                raise NodeAuthenticationError(str(refused)) from exc
            raise NodeUnavailableError(f"{self._where()}: {exc or exc.__cause__}") from exc
        except (OSError, trio.ClosedResourceError) as exc:
            await self._close()
            raise NodeUnavailableError(f"{self._where()}: {exc}") from exc
        except AuthenticationError as exc:
            await self._close()
            raise NodeAuthenticationError(str(exc)) from exc
        except DialError as exc:
            await self._close()
            raise NodeUnavailableError(f"{self._where()}: {exc}") from exc
        except (ProtocolError, NodeUnavailableError):
            await self._close()
            raise
        except trio.Cancelled:
            await self._close()  # abandoned mid-request: its answer would be the next call's
            raise

    async def aclose(self) -> None:
        async with self._lock:
            await self._close()

    # -- internals ---------------------------------------------------------------------------

    def _where(self) -> str:
        return f"node {self.address[0]}:{self.address[1]}"

    async def _connect(self) -> None:
        connection = await self.connector.connect(self.address, client_id=self.client_id)
        self._connection = connection
        self._stream = connection.stream
        self._buffer[:] = connection.leftover
        response: ApiVersionsResponse = await self._round_trip(
            ApiVersionsRequest(
                client_software_name=SOFTWARE_NAME, client_software_version=SOFTWARE_VERSION
            ),
            API_VERSIONS_VERSION,
        )
        if response.error_code:
            raise NodeUnavailableError(
                f"{self._where()} answered ApiVersions with error {response.error_code}"
            )
        versions = {}
        for entry in response.api_keys:
            info = APIS.get(entry.api_key)
            if info is None:
                continue
            high = min(entry.max_version, info.max_stable_version)
            if high >= max(entry.min_version, info.min_version):
                versions[entry.api_key] = high
        self._versions = versions

    async def _maybe_reauthenticate(self) -> None:
        """KIP-368: re-authenticate, between two requests, once the session nears its end."""
        connection = self._connection
        if connection is None or connection.reauth_at is None:
            return
        if trio.current_time() < connection.reauth_at:
            return
        connection.leftover[:] = self._buffer
        await self.connector.reauthenticate(connection, client_id=self.client_id)
        self._buffer[:] = connection.leftover

    async def _round_trip(self, request: Any, version: int) -> Any:
        assert self._stream is not None
        self._correlation_id = (self._correlation_id + 1) & 0x7FFFFFFF
        header = RequestHeader(
            request_api_key=request.API_KEY,
            request_api_version=version,
            correlation_id=self._correlation_id,
            client_id=self.client_id,
        )
        await self._stream.send_all(encode_request(header, request))
        frame = await self._read_frame()
        try:
            response_header, response = decode_response(frame, request.API_KEY, version)
        except ProtocolError as exc:
            raise NodeUnavailableError(f"{self._where()} sent a bad response: {exc}") from exc
        if response_header.correlation_id != self._correlation_id:
            raise NodeUnavailableError(
                f"{self._where()} answered correlation id {response_header.correlation_id}, "
                f"expected {self._correlation_id}"
            )
        return response

    async def _read_frame(self) -> bytes:
        assert self._stream is not None
        size = -1
        while True:
            if size < 0 and len(self._buffer) >= _FRAME_SIZE.size:
                (size,) = _FRAME_SIZE.unpack_from(self._buffer)
                if not 0 <= size <= RESPONSE_FRAME_BYTES_MAX:
                    raise NodeUnavailableError(
                        f"{self._where()} sent a response frame of {size} bytes"
                    )
            if size >= 0 and len(self._buffer) >= _FRAME_SIZE.size + size:
                frame = bytes(self._buffer[_FRAME_SIZE.size : _FRAME_SIZE.size + size])
                del self._buffer[: _FRAME_SIZE.size + size]
                return frame
            chunk = await self._stream.receive_some(RECEIVE_CHUNK_BYTES)
            if not chunk:
                raise NodeUnavailableError(f"{self._where()} closed the connection")
            self._buffer += chunk

    async def _close(self) -> None:
        stream, self._stream = self._stream, None
        self._connection = None
        self._buffer.clear()
        if stream is not None:
            with trio.CancelScope(shield=True):
                await stream.aclose()
