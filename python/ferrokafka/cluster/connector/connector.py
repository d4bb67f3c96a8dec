"""Connector: how this node opens a connection to a listener of another node, for every request
it sends itself (raft between controllers, broker-to-controller, replica fetchers, the brokers'
own clients), whatever the listener's security protocol.

Kafka's client order: the TCP connection; for SSL and SASL_SSL the TLS handshake (the
server's certificate checked against the truststore, and its host name when
``ssl.endpoint.identification.algorithm=https``; this node's keystore offered for client
authentication); for SASL_PLAINTEXT and SASL_SSL, as Kafka's SaslClientAuthenticator,
ApiVersions, SaslHandshake v1 and SaslAuthenticate (KIP-152 framing, v2 at most) before any
other request. The server's session lifetime (KIP-368, ``connections.max.reauth.ms``) comes
back in the last SaslAuthenticate answer: :attr:`Connection.reauth_at` is when the owner must
re-authenticate (:meth:`Connector.reauthenticate`) or reconnect, before the server closes
the connection.

A failed authentication (TLS refused, SASL refused) is an :class:`AuthenticationError`, logged
once per address and reason at ERROR — the one line an operator needs when a node cannot join.
"""

from __future__ import annotations

import logging
import ssl
import struct
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import trio

from ferrokafka.cluster.connector.sasl_client import SaslClientError, mechanism_client
from ferrokafka.config.internode import REAUTH_FRACTION, InternodeSettings
from ferrokafka.protocol import ProtocolError, RequestHeader, decode_response, encode_request
from ferrokafka.protocol.error_codes import NONE, UNSUPPORTED_SASL_MECHANISM
from ferrokafka.protocol.messages.api_versions import ApiVersionsRequest, ApiVersionsResponse
from ferrokafka.protocol.messages.sasl_authenticate import (
    SaslAuthenticateRequest,
    SaslAuthenticateResponse,
)
from ferrokafka.protocol.messages.sasl_handshake import (
    SaslHandshakeRequest,
    SaslHandshakeResponse,
)

log = logging.getLogger(__name__)

API_VERSIONS_VERSION = 3  # the first flexible version: every Kafka 2.4+ node answers it
SASL_HANDSHAKE_KEY = 17
SASL_HANDSHAKE_VERSION = 1  # v1: tokens in SaslAuthenticate requests (KIP-152)
SASL_AUTHENTICATE_KEY = 36
SASL_AUTHENTICATE_VERSION_MAX = 2
# Rounds of SaslAuthenticate at most: PLAIN takes one, SCRAM two.
AUTH_ROUNDS_MAX = 4
# A frame during authentication above this is refused (an ApiVersions answer is a few KiB).
AUTH_FRAME_BYTES_MAX = 1024 * 1024
RECEIVE_CHUNK_BYTES = 64 * 1024
# Addresses whose last authentication failure is remembered (to log each reason once).
FAILURES_REMEMBERED_MAX = 256
SOFTWARE_NAME = "ferrokafka"
SOFTWARE_VERSION = "1"
_FRAME_SIZE = struct.Struct(">i")


class DialError(Exception):
    """The connection could not be made (the text says where and why)."""


class AuthenticationError(DialError):
    """The other node refused this node's credentials, or its own did not check out."""


@dataclass
class Connection:
    """An open, authenticated connection. ``leftover``: bytes received past the last
    authentication answer (none from a Kafka node; kept rather than lost)."""

    stream: trio.abc.Stream
    address: tuple[str, int]
    leftover: bytearray = field(default_factory=bytearray)
    reauth_at: float | None = None  # trio time; None: the session never ends
    authenticate_version: int = 0
    _correlation_id: int = 0

    def next_correlation_id(self) -> int:
        self._correlation_id = (self._correlation_id + 1) & 0x7FFFFFFF
        return self._correlation_id


class Connector:
    """Dials one listener name of other nodes with ``settings`` (config/internode) and the
    client TLS context built from them (None unless SSL or SASL_SSL); trio thread only."""

    def __init__(
        self, settings: InternodeSettings, tls: ssl.SSLContext | None, purpose: str
    ) -> None:
        assert (tls is not None) == settings.uses_tls, "a TLS listener needs a TLS context"
        self.settings = settings
        self.tls = tls
        self.purpose = purpose
        self._failures: OrderedDict[tuple[str, int], str] = OrderedDict()

    def __repr__(self) -> str:
        return f"<Connector {self.purpose} {self.settings.listener} {self.settings.protocol}>"

    @property
    def protocol(self) -> str:
        return self.settings.protocol

    async def connect(self, address: tuple[str, int], *, client_id: str) -> Connection:
        """Open, shake hands, authenticate. OSError for a refused/unreachable address,
        AuthenticationError, DialError; the caller bounds the time."""
        host, port = address
        tcp = await trio.open_tcp_stream(host, port)
        stream: trio.abc.Stream = tcp
        try:
            if self.tls is not None:
                stream = await self._tls_handshake(tcp, host, address)
            connection = Connection(stream, address)
            if self.settings.sasl is not None:
                try:
                    await self._authenticate(connection, client_id, first=True)
                except trio.BrokenResourceError as exc:
                    refused = self.refused_by_tls(address, exc)
                    if refused is None:
                        raise
                    raise refused from None
        except BaseException:
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(stream)
            raise
        self._failures.pop(address, None)
        return connection

    async def reauthenticate(self, connection: Connection, *, client_id: str) -> None:
        """KIP-368 on an idle connection (no request in flight): SaslHandshake and
        SaslAuthenticate again; a new ``reauth_at``. No-op without SASL."""
        if self.settings.sasl is not None:
            await self._authenticate(connection, client_id, first=False)

    def refused_by_tls(
        self, address: tuple[str, int], exc: BaseException
    ) -> AuthenticationError | None:
        """The AuthenticationError (logged once) when ``exc`` is the other node's TLS alert
        refusing this node — with TLS 1.3 a refused client certificate shows only at the first
        read after the handshake; None for any other failure."""
        cause = exc.__cause__
        reason = getattr(cause, "reason", None) if isinstance(cause, ssl.SSLError) else None
        # Alerts only (TLSV13_ALERT_CERTIFICATE_REQUIRED, TLSV1_ALERT_UNKNOWN_CA, ...): an EOF
        # is a node going away, not a refusal.
        if self.tls is None or not reason or "ALERT" not in reason:
            return None
        try:
            self._refused(address, f"TLS: {reason}")
        except AuthenticationError as refused:
            return refused
        raise AssertionError("_refused raises")

    # -- TLS --------------------------------------------------------------------------------

    async def _tls_handshake(
        self, tcp: trio.SocketStream, host: str, address: tuple[str, int]
    ) -> trio.SSLStream[trio.SocketStream]:
        assert self.tls is not None
        stream = trio.SSLStream(tcp, self.tls, server_hostname=host or None)
        try:
            await stream.do_handshake()
        except trio.BrokenResourceError as exc:
            cause = exc.__cause__
            reason = getattr(cause, "verify_message", None) or getattr(cause, "reason", None)
            self._refused(address, f"TLS handshake failed: {reason or cause or 'peer closed'}")
        return stream

    # -- SASL -------------------------------------------------------------------------------

    async def _authenticate(self, connection: Connection, client_id: str, *, first: bool) -> None:
        sasl = self.settings.sasl
        assert sasl is not None
        address = connection.address
        if first:
            versions = await self._api_versions(connection, client_id)
            if versions.get(SASL_HANDSHAKE_KEY, -1) < SASL_HANDSHAKE_VERSION:
                self._refused(address, "the node does not support SaslHandshake v1")
            connection.authenticate_version = min(
                versions.get(SASL_AUTHENTICATE_KEY, 0), SASL_AUTHENTICATE_VERSION_MAX
            )
        handshake: SaslHandshakeResponse = await _exchange(
            connection,
            SaslHandshakeRequest(mechanism=sasl.mechanism),
            SASL_HANDSHAKE_VERSION,
            client_id,
        )
        if handshake.error_code == UNSUPPORTED_SASL_MECHANISM:
            self._refused(
                address,
                f"SASL mechanism {sasl.mechanism} is not enabled there "
                f"(it offers {', '.join(handshake.mechanisms) or 'none'})",
            )
        if handshake.error_code != NONE:
            self._refused(address, f"SaslHandshake answered error {handshake.error_code}")
        client = mechanism_client(sasl.mechanism, sasl.username, sasl.password)
        token: bytes | None = client.first()
        lifetime_ms = 0
        for _ in range(AUTH_ROUNDS_MAX):
            if token is None:
                break
            response: SaslAuthenticateResponse = await _exchange(
                connection,
                SaslAuthenticateRequest(auth_bytes=token),
                connection.authenticate_version,
                client_id,
            )
            if response.error_code != NONE:
                self._refused(
                    address,
                    f"{sasl.mechanism} as {sasl.username}: "
                    f"{response.error_message or f'error {response.error_code}'}",
                )
            lifetime_ms = int(getattr(response, "session_lifetime_ms", 0) or 0)
            try:
                token = client.evaluate(response.auth_bytes)
            except SaslClientError as exc:
                self._refused(address, str(exc))
        if token is not None or not client.complete:
            self._refused(address, f"{sasl.mechanism}: the exchange did not complete")
        connection.reauth_at = (
            trio.current_time() + lifetime_ms * REAUTH_FRACTION / 1000 if lifetime_ms > 0 else None
        )

    async def _api_versions(self, connection: Connection, client_id: str) -> dict[int, int]:
        response: ApiVersionsResponse = await _exchange(
            connection,
            ApiVersionsRequest(
                client_software_name=SOFTWARE_NAME, client_software_version=SOFTWARE_VERSION
            ),
            API_VERSIONS_VERSION,
            client_id,
        )
        if response.error_code != NONE:
            raise DialError(f"ApiVersions answered error {response.error_code}")
        return {entry.api_key: entry.max_version for entry in response.api_keys}

    def _refused(self, address: tuple[str, int], reason: str) -> None:
        """Log the failure once per address and reason, and raise it."""
        where = f"{address[0]}:{address[1]}"
        message = (
            f"{self.purpose} connection to {where} (listener {self.settings.listener}, "
            f"{self.settings.protocol}) failed authentication: {reason}"
        )
        if self._failures.get(address) != reason:
            self._failures[address] = reason
            self._failures.move_to_end(address)
            while len(self._failures) > FAILURES_REMEMBERED_MAX:
                self._failures.popitem(last=False)
            log.error("%s", message)
        raise AuthenticationError(message)


async def _exchange(connection: Connection, request: Any, version: int, client_id: str) -> Any:
    """One request and its answer on a connection nothing else uses yet."""
    correlation_id = connection.next_correlation_id()
    header = RequestHeader(
        request_api_key=request.API_KEY,
        request_api_version=version,
        correlation_id=correlation_id,
        client_id=client_id,
    )
    await connection.stream.send_all(encode_request(header, request))
    frame = await _read_frame(connection)
    try:
        response_header, response = decode_response(frame, request.API_KEY, version)
    except ProtocolError as exc:
        raise DialError(f"bad {type(request).__name__} answer: {exc}") from exc
    if response_header.correlation_id != correlation_id:
        raise DialError(
            f"answer to correlation id {response_header.correlation_id}, expected {correlation_id}"
        )
    return response


async def _read_frame(connection: Connection) -> bytes:
    buffer = connection.leftover
    while True:
        if len(buffer) >= _FRAME_SIZE.size:
            (size,) = _FRAME_SIZE.unpack_from(buffer)
            if not 0 <= size <= AUTH_FRAME_BYTES_MAX:
                raise DialError(f"a frame of {size} bytes during authentication")
            if len(buffer) >= _FRAME_SIZE.size + size:
                frame = bytes(buffer[_FRAME_SIZE.size : _FRAME_SIZE.size + size])
                del buffer[: _FRAME_SIZE.size + size]
                return frame
        chunk = await connection.stream.receive_some(RECEIVE_CHUNK_BYTES)
        if not chunk:
            raise DialError("the node closed the connection during authentication")
        buffer += chunk
