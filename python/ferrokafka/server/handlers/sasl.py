"""SaslHandshake (17) and SaslAuthenticate (36) that reach the dispatcher: on a listener without
SASL, or on an authenticated connection whose client cannot re-authenticate. Kafka's KafkaApis
answers both with ILLEGAL_SASL_STATE; the exchange itself is server/sasl/authenticator.py's.
"""

from __future__ import annotations

from ferrokafka.protocol.error_codes import ILLEGAL_SASL_STATE
from ferrokafka.protocol.messages.sasl_authenticate import (
    SaslAuthenticateRequest,
    SaslAuthenticateResponse,
)
from ferrokafka.protocol.messages.sasl_handshake import (
    SaslHandshakeRequest,
    SaslHandshakeResponse,
)
from ferrokafka.server.dispatcher import Dispatcher, RequestContext

SASL_HANDSHAKE_KEY = 17
SASL_AUTHENTICATE_KEY = 36


async def handle_handshake(
    ctx: RequestContext, request: SaslHandshakeRequest
) -> SaslHandshakeResponse:
    return SaslHandshakeResponse(error_code=ILLEGAL_SASL_STATE)


async def handle_authenticate(
    ctx: RequestContext, request: SaslAuthenticateRequest
) -> SaslAuthenticateResponse:
    return SaslAuthenticateResponse(
        error_code=ILLEGAL_SASL_STATE,
        error_message="SaslAuthenticate request received after successful authentication",
    )


def register(dispatcher: Dispatcher) -> None:
    dispatcher.register(SASL_HANDSHAKE_KEY, handle_handshake)
    dispatcher.register(SASL_AUTHENTICATE_KEY, handle_authenticate)
