"""One connection's SASL authentication, as Kafka's SaslServerAuthenticator (sans-io but for
the ApiVersions handler it awaits and the worker thread a blocking validator runs in).

The connection hands it every frame while it :meth:`~SaslAuthenticator.intercepts` them: all
frames until authentication completes, a SaslHandshake that starts a re-authentication
(KIP-368), and any frame once the session expired. It answers each with a :class:`SaslStep`.

Before authentication only ApiVersions (once, before the handshake), SaslHandshake and then
SaslAuthenticate are allowed, as Kafka: any other request closes the connection with no answer
(before the handshake) or with its API's ILLEGAL_SASL_STATE answer (after it: Kafka's
getErrorResponse of the API, :mod:`.illegal_state`). SaslHandshake
v0 is followed by raw size-prefixed tokens without a Kafka header (the pre-KIP-152 framing);
v1 by SaslAuthenticate requests. A failure is answered (SASL_AUTHENTICATION_FAILED with Kafka's
message, UNSUPPORTED_SASL_MECHANISM with the enabled list) after
``connection.failed.authentication.delay.ms``, and the connection closes.

Passwords, proofs and tokens never reach a log line: only mechanism names, user names once
authenticated, and Kafka's fixed messages do.
"""

from __future__ import annotations

import logging
import re
import struct
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import trio

from ferrokafka.protocol import (
    API_VERSIONS_KEY,
    APIS,
    ProtocolDecodeError,
    ProtocolEncodeError,
    RequestHeader,
    UnsupportedApiVersionError,
    decode_request,
    encode_response_parts,
)
from ferrokafka.protocol.error_codes import (
    NONE,
    SASL_AUTHENTICATION_FAILED,
    UNSUPPORTED_SASL_MECHANISM,
)
from ferrokafka.protocol.messages.sasl_authenticate import (
    SaslAuthenticateRequest,
    SaslAuthenticateResponse,
)
from ferrokafka.protocol.messages.sasl_handshake import (
    SaslHandshakeRequest,
    SaslHandshakeResponse,
)
from ferrokafka.protocol.principal import USER_TYPE, KafkaPrincipal
from ferrokafka.server.sasl.errors import (
    SaslAuthenticationFailed,
    SaslCredentialsRejected,
    invalid_credentials_message,
)
from ferrokafka.server.sasl.illegal_state import illegal_state_response
from ferrokafka.server.sasl.mechanism import MechanismServer
from ferrokafka.server.sasl.settings import SaslListenerSettings

log = logging.getLogger(__name__)

SASL_HANDSHAKE_KEY = 17
SASL_AUTHENTICATE_KEY = 36
_API_KEY = struct.Struct(">h")
_SIZE = struct.Struct(">i")

# States, as Kafka's SaslState.
HANDSHAKE_OR_VERSIONS = "HANDSHAKE_OR_VERSIONS_REQUEST"
HANDSHAKE = "HANDSHAKE_REQUEST"
AUTHENTICATE = "AUTHENTICATE"  # SaslAuthenticate requests (handshake v1+)
AUTHENTICATE_RAW = "AUTHENTICATE_RAW"  # raw tokens (handshake v0)
REAUTH_BAD_MECHANISM = "REAUTH_BAD_MECHANISM"
COMPLETE = "COMPLETE"
FAILED = "FAILED"

ContextFor = Callable[[RequestHeader], Any]  # header -> RequestContext
ApiVersionsHandler = Callable[[Any, Any], Awaitable[Any]]


@dataclass
class SaslStep:
    """What the connection does with a frame: send ``parts`` (a size-prefixed response, or
    nothing), then, when ``close_reason`` is set, close; ``delayed``: wait
    connection.failed.authentication.delay.ms first (an authentication failure)."""

    parts: Sequence[Any] | None = None
    close_reason: str | None = None
    delayed: bool = False


class SaslAuthenticator:
    def __init__(
        self,
        settings: SaslListenerSettings,
        api_versions: ApiVersionsHandler,
        *,
        wall_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self._settings = settings
        self._api_versions = api_versions
        self._wall_ms = wall_ms
        self.state = HANDSHAKE_OR_VERSIONS
        self._mechanism: MechanismServer | None = None
        self.mechanism_name: str | None = None
        # Set once authenticated; a re-authentication must keep it.
        self.principal: KafkaPrincipal | None = None
        self._previous_mechanism: str | None = None
        self._bad_mechanism_message = ""
        self.client_supports_reauth = False
        # trio clock time the session ends (None: never), as Kafka's sessionExpirationTimeNanos.
        self.session_expiry: float | None = None

    @property
    def delay_s(self) -> float:
        return self._settings.failed_auth_delay_ms / 1000

    @property
    def reauthenticating(self) -> bool:
        return self._previous_mechanism is not None

    def frame_bytes_max(self, authenticated_max: int) -> int:
        """The largest frame to accept next: sasl.server.max.receive.size until authenticated
        (an unauthenticated peer cannot make the broker buffer socket.request.max.bytes)."""
        if self.state == COMPLETE:
            return authenticated_max
        return min(authenticated_max, self._settings.receive_bytes_max)

    def intercepts(self, frame: bytes | bytearray) -> bool:
        """Whether ``frame`` is the authenticator's rather than the dispatcher's."""
        if self.state != COMPLETE:
            return True
        # Else KafkaApis answers a SaslHandshake with ILLEGAL_SASL_STATE (unless expired).
        return self._starts_reauthentication(frame) or self.expired()

    def _starts_reauthentication(self, frame: bytes | bytearray) -> bool:
        """KIP-368: a SaslHandshake from a client that said it can re-authenticate (it used
        SaslAuthenticate v1+)."""
        return (
            self.client_supports_reauth
            and len(frame) >= 2
            and _API_KEY.unpack_from(frame)[0] == SASL_HANDSHAKE_KEY
        )

    def expired(self) -> bool:
        return self.session_expiry is not None and trio.current_time() > self.session_expiry

    async def receive(self, frame: bytes | bytearray, context_for: ContextFor) -> SaslStep:
        if self.state == COMPLETE:
            if not self._starts_reauthentication(frame):
                return SaslStep(close_reason="SASL session expired (connections.max.reauth.ms)")
            # KIP-368: a handshake on an authenticated connection begins re-authentication.
            self._previous_mechanism = self.mechanism_name
            self.state = HANDSHAKE
        if self.state == FAILED:
            return SaslStep(close_reason="SASL authentication already failed")
        if self.state == AUTHENTICATE_RAW:
            return await self._raw_token(bytes(frame))
        if self.state == REAUTH_BAD_MECHANISM:
            self.state = FAILED
            return self._failure(None, self._bad_mechanism_message)
        try:
            header, request = decode_request(memoryview(frame).toreadonly())
        except UnsupportedApiVersionError as exc:
            if exc.api_key == API_VERSIONS_KEY and self.state == HANDSHAKE_OR_VERSIONS:
                from ferrokafka.server.connection import unsupported_api_versions_frame

                return SaslStep(unsupported_api_versions_frame(exc.correlation_id))
            self.state = FAILED
            return SaslStep(close_reason=f"during SASL authentication: {exc}")
        except ProtocolDecodeError as exc:
            # Kafka would take a first packet that is no Kafka request for GSSAPI's.
            self.state = FAILED
            return self._failure(None, f"malformed request during SASL authentication: {exc}")
        api_key = header.request_api_key
        if self.state in (HANDSHAKE_OR_VERSIONS, HANDSHAKE):
            if api_key == API_VERSIONS_KEY:
                return await self._api_versions_request(header, request, context_for)
            if api_key == SASL_HANDSHAKE_KEY:
                return self._handshake(header, cast(SaslHandshakeRequest, request).mechanism)
            self.state = FAILED
            return self._failure(
                None, f"Unexpected Kafka request of type {_name(api_key)} during SASL handshake."
            )
        # AUTHENTICATE
        if api_key != SASL_AUTHENTICATE_KEY:
            self.state = FAILED
            message = (
                f"Unexpected Kafka request of type {_name(api_key)} during SASL authentication."
            )
            return self._failure(_illegal_state_answer(header, request, message), message)
        if header.request_api_version > 0:
            self.client_supports_reauth = True
        return await self._authenticate(header, cast(SaslAuthenticateRequest, request).auth_bytes)

    # -- the handshake ----------------------------------------------------------------------

    async def _api_versions_request(
        self, header: RequestHeader, request: Any, context_for: ContextFor
    ) -> SaslStep:
        if self.state != HANDSHAKE_OR_VERSIONS:
            self.state = FAILED
            return SaslStep(close_reason=f"Unexpected ApiVersions request in state {self.state}")
        response = await self._api_versions(context_for(header), request)
        if response.error_code == NONE:
            self.state = HANDSHAKE
        return SaslStep(encode_response_parts(header, response))

    def _handshake(self, header: RequestHeader, mechanism: str) -> SaslStep:
        enabled = list(self._settings.mechanisms)
        factory = self._settings.factories.get(mechanism)
        if factory is None:
            self.state = FAILED
            response = SaslHandshakeResponse(
                error_code=UNSUPPORTED_SASL_MECHANISM, mechanisms=enabled
            )
            return self._failure(
                encode_response_parts(header, response), f"Unsupported SASL mechanism {mechanism}"
            )
        parts = encode_response_parts(
            header, SaslHandshakeResponse(error_code=NONE, mechanisms=enabled)
        )
        if self.reauthenticating and mechanism != self._previous_mechanism:
            self.state = REAUTH_BAD_MECHANISM
            self._bad_mechanism_message = (
                f"SASL mechanism '{mechanism}' requested by client is not supported for "
                f"re-authentication of mechanism '{self._previous_mechanism}'"
            )
            return SaslStep(parts)
        self._mechanism = factory()
        self.mechanism_name = mechanism
        self.state = AUTHENTICATE if header.request_api_version >= 1 else AUTHENTICATE_RAW
        return SaslStep(parts)

    # -- the tokens -------------------------------------------------------------------------

    async def _evaluate(self, token: bytes) -> bytes:
        mechanism = self._mechanism
        assert mechanism is not None
        if mechanism.blocking:
            return await trio.to_thread.run_sync(mechanism.evaluate, token)
        return mechanism.evaluate(token)

    async def _authenticate(self, header: RequestHeader, token: bytes) -> SaslStep:
        try:
            response_token = await self._evaluate(token)
            lifetime_ms = self._maybe_complete()
        except SaslAuthenticationFailed as exc:
            return self._authenticate_failed(header, str(exc))
        except SaslCredentialsRejected as exc:
            log.debug("SASL %s: %s", self.mechanism_name, exc)
            return self._authenticate_failed(
                header,
                invalid_credentials_message(
                    self.mechanism_name or "", reauthenticating=self.reauthenticating
                ),
            )
        response = SaslAuthenticateResponse(
            error_code=NONE,
            error_message="",  # Kafka's default: an empty string, not null
            auth_bytes=response_token,
            session_lifetime_ms=lifetime_ms,
        )
        return SaslStep(encode_response_parts(header, response))

    def _authenticate_failed(self, header: RequestHeader, message: str) -> SaslStep:
        self.state = FAILED
        response = SaslAuthenticateResponse(
            error_code=SASL_AUTHENTICATION_FAILED, error_message=message
        )
        return self._failure(encode_response_parts(header, response), message)

    async def _raw_token(self, token: bytes) -> SaslStep:
        try:
            response_token = await self._evaluate(token)
            self._maybe_complete()
        except (SaslAuthenticationFailed, SaslCredentialsRejected) as exc:
            self.state = FAILED
            message = (
                str(exc) if isinstance(exc, SaslAuthenticationFailed) else "invalid credentials"
            )
            return self._failure(None, message)  # v0 framing has no way to say why
        return SaslStep([_SIZE.pack(len(response_token)), response_token])

    def _maybe_complete(self) -> int:
        """When the mechanism is through: check the principal, start the session; its lifetime
        in ms for the client (0: none), as Kafka's calcCompletionTimesAndReturnSessionLifetimeMs."""
        mechanism = self._mechanism
        assert mechanism is not None
        if not mechanism.complete:
            return 0
        principal = KafkaPrincipal(USER_TYPE, mechanism.authorization_id)
        if self.principal is not None and principal != self.principal:
            old = self.principal
            raise SaslAuthenticationFailed(
                f"Cannot change principals during re-authentication from "
                f"{old.principal_type}.{old.name}: {principal.principal_type}.{principal.name}"
            )
        reauth_ms = self._settings.reauth_ms.get(mechanism.mechanism, 0)
        expiry_ms = mechanism.credential_expiry_ms
        lifetime_ms = 0
        if expiry_ms is not None or reauth_ms > 0:
            left_ms = expiry_ms - self._wall_ms() if expiry_ms is not None else None
            if left_ms is None:
                lifetime_ms = max(0, reauth_ms)
            elif reauth_ms <= 0:
                lifetime_ms = max(0, left_ms)
            else:
                lifetime_ms = max(0, min(left_ms, reauth_ms))
            self.session_expiry = trio.current_time() + lifetime_ms / 1000
        else:
            self.session_expiry = None
        what = "re-authenticated" if self.reauthenticating else "authenticated"
        self.principal = principal
        self.state = COMPLETE
        self._previous_mechanism = None
        log.debug("SASL %s %s %s", mechanism.mechanism, what, principal)
        return lifetime_ms

    def _failure(self, parts: Sequence[Any] | None, message: str) -> SaslStep:
        return SaslStep(parts, close_reason=f"SASL authentication failed: {message}", delayed=True)


def _illegal_state_answer(
    header: RequestHeader, request: Any, message: str
) -> Sequence[Any] | None:
    """The request's own response with ILLEGAL_SASL_STATE (Kafka's getErrorResponse:
    :mod:`.illegal_state`), encoded; None (close unanswered) for an API with none here, or one
    that does not encode at this version."""
    version = header.request_api_version
    response = illegal_state_response(header.request_api_key, version, request, message)
    if response is None:
        return None
    try:
        return encode_response_parts(header, response)
    except ProtocolEncodeError:
        log.info("no ILLEGAL_SASL_STATE answer for %s v%d", _name(header.request_api_key), version)
        return None


def _name(api_key: int) -> str:
    """Kafka's ApiKeys name (SASL_AUTHENTICATE), as its messages print it."""
    info = APIS.get(api_key)
    if info is None:
        return str(api_key)
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", info.name).upper()
