"""SASL on the wire, byte-level, against an in-process broker: the pre-authentication gate,
SaslHandshake v0 (raw tokens) and v1 (SaslAuthenticate), Kafka's error codes and messages,
the failed-authentication delay, KIP-368 session lifetime and re-authentication, and the
principal a connection gets."""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator

import pytest
from server_wire import RawClient, api_versions_frame
from tests.security.sasl_support import SaslBroker, ScramClient, run_sasl_broker, unsecured_token

from ferrokafka.protocol.error_codes import (
    ILLEGAL_SASL_STATE,
    NONE,
    SASL_AUTHENTICATION_FAILED,
    UNSUPPORTED_SASL_MECHANISM,
)
from ferrokafka.protocol.messages.metadata import MetadataRequest
from ferrokafka.protocol.messages.sasl_authenticate import SaslAuthenticateRequest
from ferrokafka.protocol.messages.sasl_handshake import SaslHandshakeRequest
from ferrokafka.protocol.principal import KafkaPrincipal

DELAY_MS = 300
REAUTH_MS = 1500  # SCRAM-SHA-512 sessions only (a per-mechanism key)
ENABLED = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SaslBroker]:
    with run_sasl_broker(
        tmp_path_factory.mktemp("sasl-wire"),
        **{
            "connection.failed.authentication.delay.ms": DELAY_MS,
            "listener.name.sasl_plaintext.scram-sha-512.connections.max.reauth.ms": REAUTH_MS,
        },
    ) as running:
        yield running


def _handshake(client: RawClient, mechanism: str, version: int = 1):
    return client.call(SaslHandshakeRequest(mechanism=mechanism), version)


def _authenticate(client: RawClient, token: bytes, version: int = 2):
    return client.call(SaslAuthenticateRequest(auth_bytes=token), version)


def _plain_login(client: RawClient, user: str = "alice", password: str = "alice-secret"):
    assert _handshake(client, "PLAIN").error_code == NONE
    return _authenticate(client, f"\0{user}\0{password}".encode())


def _scram_login(client: RawClient, user: str, password: str, mechanism: str = "SCRAM-SHA-512"):
    scram = ScramClient(mechanism, user, password)
    handshake = _handshake(client, mechanism)
    assert handshake.error_code == NONE
    first = _authenticate(client, scram.first())
    assert first.error_code == NONE, first.error_message
    final, _ = scram.final(first.auth_bytes)
    return _authenticate(client, final)


def _metadata_ok(client: RawClient) -> bool:
    return client.call(MetadataRequest(topics=None), 12).brokers != []


def _principal_of(broker: SaslBroker, client: RawClient) -> KafkaPrincipal:
    port = client.sock.getsockname()[1]
    server = broker.running.broker.server
    return next(c.principal for c in server._connections if c.client_address[1] == port)


def test_api_versions_before_authentication_lists_the_sasl_apis(broker: SaslBroker) -> None:
    for address in (broker.sasl_bootstrap, broker.plaintext_bootstrap):
        with RawClient(address) as client:
            keys = {k.api_key for k in client.call_api_versions().api_keys}
            assert {17, 36, 3} <= keys  # as Kafka, on every listener


def test_other_requests_before_the_handshake_close_the_connection_unanswered(
    broker: SaslBroker,
) -> None:
    with RawClient(broker.sasl_bootstrap) as client:
        client.send_request(MetadataRequest(topics=None), 12)
        assert client.is_closed_by_peer()
    with RawClient(broker.sasl_bootstrap) as client:  # a second ApiVersions, too
        client.call_api_versions()
        client.send(api_versions_frame(2))
        assert client.is_closed_by_peer()


def test_a_request_other_than_sasl_authenticate_after_the_handshake_closes(
    broker: SaslBroker,
) -> None:
    with RawClient(broker.sasl_bootstrap) as client:
        assert _handshake(client, "PLAIN").error_code == NONE
        client.send_request(MetadataRequest(topics=None), 12)
        assert client.is_closed_by_peer()


def test_unsupported_mechanism_lists_the_enabled_ones_then_closes(broker: SaslBroker) -> None:
    with RawClient(broker.sasl_bootstrap) as client:
        response = _handshake(client, "GSSAPI")
        assert (response.error_code, response.mechanisms) == (UNSUPPORTED_SASL_MECHANISM, ENABLED)
        assert client.is_closed_by_peer()


def test_wrong_password_is_refused_after_the_delay_and_others_keep_working(
    broker: SaslBroker,
) -> None:
    with RawClient(broker.sasl_bootstrap) as good, RawClient(broker.sasl_bootstrap) as bad:
        assert _plain_login(good).error_code == NONE
        assert _handshake(bad, "PLAIN").error_code == NONE
        started = time.monotonic()
        response = _authenticate(bad, b"\0alice\0not-the-password")
        waited_s = time.monotonic() - started
        assert response.error_code == SASL_AUTHENTICATION_FAILED
        assert response.error_message == "Authentication failed: Invalid username or password"
        assert waited_s >= DELAY_MS / 1000  # connection.failed.authentication.delay.ms
        assert bad.is_closed_by_peer()
        assert _metadata_ok(good)
        assert _principal_of(broker, good) == KafkaPrincipal("User", "alice")


def test_handshake_v0_is_followed_by_raw_tokens(broker: SaslBroker) -> None:
    with RawClient(broker.sasl_bootstrap) as client:
        assert _handshake(client, "PLAIN", version=0).error_code == NONE
        token = b"\0admin\0admin-secret"
        client.send(struct.pack(">i", len(token)) + token)
        assert client.recv_frame() == b""  # PLAIN's empty server token, size-prefixed
        assert _metadata_ok(client)
        assert _principal_of(broker, client) == KafkaPrincipal("User", "admin")


def test_raw_token_with_a_wrong_password_closes_without_an_answer(broker: SaslBroker) -> None:
    with RawClient(broker.sasl_bootstrap) as client:
        assert _handshake(client, "PLAIN", version=0).error_code == NONE
        token = b"\0admin\0wrong"
        client.send(struct.pack(">i", len(token)) + token)
        assert client.is_closed_by_peer()


def test_scram_login_and_kafkas_generic_failure_message(broker: SaslBroker) -> None:
    with RawClient(broker.sasl_bootstrap) as client:
        final = _scram_login(client, "bob", "bob-secret", "SCRAM-SHA-256")
        assert final.error_code == NONE and final.auth_bytes.startswith(b"v=")
        assert final.session_lifetime_ms == 0  # connections.max.reauth.ms 0 for SHA-256
        assert _principal_of(broker, client) == KafkaPrincipal("User", "bob")
    with RawClient(broker.sasl_bootstrap) as client:
        final = _scram_login(client, "bob", "wrong", "SCRAM-SHA-256")
        assert final.error_code == SASL_AUTHENTICATION_FAILED
        assert final.error_message == (
            "Authentication failed during authentication due to invalid credentials with SASL "
            "mechanism SCRAM-SHA-256"
        )


def test_replayed_scram_final_message_is_refused(broker: SaslBroker) -> None:
    scram = ScramClient("SCRAM-SHA-256", "bob", "bob-secret")
    with RawClient(broker.sasl_bootstrap) as client:
        _handshake(client, "SCRAM-SHA-256")
        final, _ = scram.final(_authenticate(client, scram.first()).auth_bytes)
        assert _authenticate(client, final).error_code == NONE
    with RawClient(broker.sasl_bootstrap) as replay:
        _handshake(replay, "SCRAM-SHA-256")
        assert _authenticate(replay, scram.first()).error_code == NONE
        assert _authenticate(replay, final).error_code == SASL_AUTHENTICATION_FAILED
        assert replay.is_closed_by_peer()


def test_expired_oauth_token_gets_the_json_error(broker: SaslBroker) -> None:
    token = unsecured_token("carol", lifetime_s=-60)
    with RawClient(broker.sasl_bootstrap) as client:
        assert _handshake(client, "OAUTHBEARER").error_code == NONE
        first = _authenticate(client, f"n,,\x01auth=Bearer {token}\x01\x01".encode())
        assert (first.error_code, first.auth_bytes) == (NONE, b'{"status":"invalid_token"}')
        final = _authenticate(client, b"\x01")
        assert final.error_code == SASL_AUTHENTICATION_FAILED
        assert final.error_message == '{"status":"invalid_token"}'


def test_oauth_session_ends_with_the_token(broker: SaslBroker) -> None:
    token = unsecured_token("carol", lifetime_s=600)
    with RawClient(broker.sasl_bootstrap) as client:
        assert _handshake(client, "OAUTHBEARER").error_code == NONE
        done = _authenticate(client, f"n,,\x01auth=Bearer {token}\x01\x01".encode())
        assert done.error_code == NONE
        assert 590_000 <= done.session_lifetime_ms <= 600_000
        assert _principal_of(broker, client) == KafkaPrincipal("User", "carol")


def test_sasl_apis_after_authentication_or_without_sasl_are_illegal(broker: SaslBroker) -> None:
    with RawClient(broker.plaintext_bootstrap) as client:
        assert _handshake(client, "PLAIN").error_code == ILLEGAL_SASL_STATE
    with RawClient(broker.sasl_bootstrap) as client:
        assert _handshake(client, "PLAIN").error_code == NONE
        assert _authenticate(client, b"\0alice\0alice-secret", version=0).error_code == NONE
        # A v0 client cannot re-authenticate: KafkaApis answers both.
        again = _authenticate(client, b"\0alice\0alice-secret", version=0)
        assert again.error_code == ILLEGAL_SASL_STATE
        assert again.error_message == (
            "SaslAuthenticate request received after successful authentication"
        )
        assert _handshake(client, "PLAIN").error_code == ILLEGAL_SASL_STATE
        assert _metadata_ok(client)


def test_reauthentication_keeps_the_principal_and_refuses_another(broker: SaslBroker) -> None:
    with RawClient(broker.sasl_bootstrap) as client:
        done = _scram_login(client, "bob", "bob-secret")
        assert (done.error_code, done.session_lifetime_ms) == (NONE, REAUTH_MS)
        again = _scram_login(client, "bob", "bob-secret")  # KIP-368, same principal
        assert (again.error_code, again.session_lifetime_ms) == (NONE, REAUTH_MS)
        assert _metadata_ok(client)
        other = _scram_login(client, "scrammer", "scram-secret-1")
        assert other.error_code == SASL_AUTHENTICATION_FAILED
        assert other.error_message == (
            "Cannot change principals during re-authentication from User.bob: User.scrammer"
        )
        assert client.is_closed_by_peer()


def test_reauthentication_with_another_mechanism_is_refused(broker: SaslBroker) -> None:
    with RawClient(broker.sasl_bootstrap) as client:
        assert _scram_login(client, "bob", "bob-secret").error_code == NONE
        assert _handshake(client, "PLAIN").error_code == NONE
        client.send_request(SaslAuthenticateRequest(auth_bytes=b"\0bob\0x"), 2)
        assert client.is_closed_by_peer()


def test_an_expired_session_is_closed_at_its_next_request(broker: SaslBroker) -> None:
    with RawClient(broker.sasl_bootstrap) as client:
        assert _scram_login(client, "bob", "bob-secret").error_code == NONE
        assert _metadata_ok(client)
        time.sleep(REAUTH_MS / 1000 + 0.3)
        client.send_request(MetadataRequest(topics=None), 12)
        assert client.is_closed_by_peer()


def test_a_large_frame_before_authentication_closes_the_connection(broker: SaslBroker) -> None:
    """sasl.server.max.receive.size (512 KiB): an unauthenticated peer cannot make the broker
    buffer socket.request.max.bytes (100 MiB); once authenticated the usual limit applies."""
    with RawClient(broker.sasl_bootstrap) as client:
        client.send(struct.pack(">i", 524_289))
        assert client.is_closed_by_peer()
    with RawClient(broker.sasl_bootstrap) as client:
        assert _plain_login(client).error_code == NONE
        client.send(struct.pack(">i", 524_289) + b"\0" * 1024)  # accepted, waits for the rest
        client.sock.settimeout(1.0)  # bounded wait for a close that must not come
        assert not client.is_closed_by_peer()


def test_an_expired_v0_session_is_closed_even_at_a_handshake(broker: SaslBroker) -> None:
    """A client that authenticated with SaslAuthenticate v0 cannot re-authenticate: once its
    session is over, even a SaslHandshake closes the connection."""
    with RawClient(broker.sasl_bootstrap) as client:
        scram = ScramClient("SCRAM-SHA-512", "bob", "bob-secret")
        assert _handshake(client, "SCRAM-SHA-512").error_code == NONE
        first = _authenticate(client, scram.first(), version=0)
        final, _ = scram.final(first.auth_bytes)
        assert _authenticate(client, final, version=0).error_code == NONE
        assert _handshake(client, "SCRAM-SHA-512").error_code == ILLEGAL_SASL_STATE
        time.sleep(REAUTH_MS / 1000 + 0.3)
        client.send_request(SaslHandshakeRequest(mechanism="SCRAM-SHA-512"), 1)
        assert client.is_closed_by_peer()
