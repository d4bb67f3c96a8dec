"""The SASL mechanisms, sans-io: PLAIN, SCRAM (RFC 5802 exchange, replayed and forged proofs,
nonce and channel binding), OAUTHBEARER (RFC 7628 framing, unsecured and JWKS validation),
the JAAS parser and the per-listener settings refused at start."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from tests.security.sasl_support import ScramClient, scram_lookup, unsecured_token

from ferrokafka.config import load_broker_config
from ferrokafka.config.definitions import ConfigError
from ferrokafka.config.jaas import JaasConfigError, parse_jaas_config
from ferrokafka.server.sasl.errors import SaslAuthenticationFailed, SaslCredentialsRejected
from ferrokafka.server.sasl.oauth_validators import (
    JwksKeys,
    JwksValidator,
    TokenRejected,
    UnsecuredValidator,
)
from ferrokafka.server.sasl.oauthbearer import OAuthBearerServer, parse_client_response
from ferrokafka.server.sasl.plain import PlainServer, plain_users
from ferrokafka.server.sasl.scram import ScramServer
from ferrokafka.server.sasl.settings import sasl_listener_settings

USERS = {"alice": "alice-secret"}


# -- PLAIN -----------------------------------------------------------------------------------


def test_plain_accepts_the_right_password() -> None:
    server = PlainServer(USERS)
    assert server.evaluate(b"\0alice\0alice-secret") == b""
    assert server.complete and server.authorization_id == "alice"


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (b"\0alice\0wrong", "Authentication failed: Invalid username or password"),
        (b"\0nobody\0alice-secret", "Authentication failed: Invalid username or password"),
        (b"\0\0pw", "Authentication failed: username not specified"),
        (b"\0alice\0", "Authentication failed: password not specified"),
        (b"alice\0alice-secret", "Invalid SASL/PLAIN response: expected 3 tokens, got 2"),
        (
            b"bob\0alice\0alice-secret",
            "Authentication failed: Client requested an authorization id that is different "
            "from username",
        ),
    ],
)
def test_plain_refusals_carry_kafkas_messages(token: bytes, message: str) -> None:
    server = PlainServer(USERS)
    with pytest.raises(SaslAuthenticationFailed) as caught:
        server.evaluate(token)
    assert str(caught.value) == message
    assert not server.complete


# -- SCRAM -----------------------------------------------------------------------------------


LOOKUP = scram_lookup({"bob": "bob-secret"})


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_scram_exchange_completes_and_proves_the_server(mechanism: str) -> None:
    client = ScramClient(mechanism, "bob", "bob-secret")
    server = ScramServer(mechanism, LOOKUP)
    server_first = server.evaluate(client.first())
    assert server_first.startswith(f"r={client.nonce}".encode())
    assert len(server_first.split(b",")[0]) > len(f"r={client.nonce}") + 16  # server nonce
    final, expected_server_final = client.final(server_first)
    assert server.evaluate(final) == expected_server_final
    assert server.complete and server.authorization_id == "bob"


def test_scram_wrong_password_is_refused_without_detail() -> None:
    client = ScramClient("SCRAM-SHA-256", "bob", "not-bobs")
    server = ScramServer("SCRAM-SHA-256", LOOKUP)
    final, _ = client.final(server.evaluate(client.first()))
    with pytest.raises(SaslCredentialsRejected):
        server.evaluate(final)
    assert not server.complete


def test_scram_unknown_user_is_refused_at_the_first_message() -> None:
    server = ScramServer("SCRAM-SHA-256", LOOKUP)
    with pytest.raises(SaslCredentialsRejected):
        server.evaluate(ScramClient("SCRAM-SHA-256", "mallory", "x").first())


def test_scram_replayed_proof_is_refused_on_a_new_exchange() -> None:
    client = ScramClient("SCRAM-SHA-256", "bob", "bob-secret")
    first = ScramServer("SCRAM-SHA-256", LOOKUP)
    final, _ = client.final(first.evaluate(client.first()))
    first.evaluate(final)
    assert first.complete
    # An eavesdropper replays both client messages on a new connection: the server's new
    # nonce makes the recorded final message name the wrong nonce.
    second = ScramServer("SCRAM-SHA-256", LOOKUP)
    second.evaluate(client.first())
    with pytest.raises(SaslCredentialsRejected, match="nonce"):
        second.evaluate(final)
    # And a message after completion is refused.
    with pytest.raises(SaslCredentialsRejected):
        first.evaluate(final)


def test_scram_forged_proof_with_the_right_nonce_is_refused() -> None:
    client = ScramClient("SCRAM-SHA-512", "bob", "bob-secret")
    server = ScramServer("SCRAM-SHA-512", LOOKUP)
    final, _ = client.final(server.evaluate(client.first()))
    head, proof = final.rsplit(b",p=", 1)
    forged = bytearray(base64.b64decode(proof))
    forged[0] ^= 1
    with pytest.raises(SaslCredentialsRejected):
        server.evaluate(head + b",p=" + base64.b64encode(bytes(forged)))


@pytest.mark.parametrize("gs2", ["y,,", "p=tls-unique,,"])
def test_scram_only_channel_binding_flag_n_is_accepted(gs2: str) -> None:
    client = ScramClient("SCRAM-SHA-256", "bob", "bob-secret", gs2=gs2)
    with pytest.raises(SaslCredentialsRejected):
        ScramServer("SCRAM-SHA-256", LOOKUP).evaluate(client.first())


def test_scram_channel_binding_must_echo_the_gs2_header() -> None:
    client = ScramClient("SCRAM-SHA-256", "bob", "bob-secret")
    server = ScramServer("SCRAM-SHA-256", LOOKUP)
    other = base64.b64encode(b"n,a=bob,").decode()
    final, _ = client.final(server.evaluate(client.first()), channel=other)
    with pytest.raises(SaslCredentialsRejected):
        server.evaluate(final)


def test_scram_iteration_count_is_sent_and_too_few_refused() -> None:
    from ferrokafka.server.sasl.scram import scram_credential

    server = ScramServer("SCRAM-SHA-256", LOOKUP)
    assert b",i=4096" in server.evaluate(ScramClient("SCRAM-SHA-256", "bob", "x").first())
    weak = scram_credential("SCRAM-SHA-256", "pw", iterations=1000)
    server = ScramServer("SCRAM-SHA-256", lambda user, mechanism: weak)
    with pytest.raises(SaslCredentialsRejected, match="less than the minimum"):
        server.evaluate(ScramClient("SCRAM-SHA-256", "bob", "pw").first())


# -- OAUTHBEARER -----------------------------------------------------------------------------


def _initial(token: str, authzid: str = "") -> bytes:
    return f"n,{'a=' + authzid if authzid else ''},\x01auth=Bearer {token}\x01\x01".encode()


def test_oauth_client_response_is_parsed() -> None:
    parsed = parse_client_response(b"n,a=alice,\x01auth=Bearer abc.def.\x01traceId=42\x01\x01")
    assert (parsed.authzid, parsed.token, parsed.extensions) == (
        "alice",
        "abc.def.",
        {"traceId": "42"},
    )
    for bad in (b"n,,auth=Bearer x\x01\x01", b"n,,\x01auth=Basic x\x01\x01", b"n,,\x01\x01"):
        with pytest.raises(SaslAuthenticationFailed):
            parse_client_response(bad)


def test_oauth_unsecured_token_authenticates_its_sub() -> None:
    server = OAuthBearerServer(UnsecuredValidator())
    assert server.evaluate(_initial(unsecured_token("carol"))) == b""
    assert server.complete and server.authorization_id == "carol"
    assert server.credential_expiry_ms is not None
    assert server.credential_expiry_ms > time.time() * 1000


def test_oauth_expired_token_gets_the_error_challenge_then_fails() -> None:
    server = OAuthBearerServer(UnsecuredValidator())
    challenge = server.evaluate(_initial(unsecured_token("carol", lifetime_s=-10)))
    assert json.loads(challenge) == {"status": "invalid_token"}
    assert not server.complete
    with pytest.raises(SaslAuthenticationFailed) as caught:
        server.evaluate(b"\x01")
    assert str(caught.value) == '{"status":"invalid_token"}'


def test_oauth_unsecured_required_scope_and_options() -> None:
    validator = UnsecuredValidator.from_jaas_options(
        {
            "unsecuredValidatorRequiredScope": "read write",
            "unsecuredValidatorPrincipalClaimName": "user",
            "unsecuredValidatorAllowableClockSkewMs": "0",
        }
    )
    with pytest.raises(TokenRejected) as caught:
        validator.validate(unsecured_token("x", user="dave", scope="read"))
    assert caught.value.json() == '{"status":"insufficient_scope", "scope":"[read, write]"}'
    assert (
        validator.validate(unsecured_token("x", user="dave", scope="read write")).principal_name
        == "dave"
    )
    with pytest.raises(TokenRejected):  # signed tokens are not unsecured ones
        validator.validate(unsecured_token("x", user="dave") + "c2ln")


def test_oauth_authzid_must_match_the_token() -> None:
    server = OAuthBearerServer(UnsecuredValidator())
    with pytest.raises(SaslAuthenticationFailed, match="different from the token's principal"):
        server.evaluate(_initial(unsecured_token("carol"), authzid="admin"))


@pytest.fixture
def jwks(tmp_path: Path) -> tuple[Path, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}))
    return path, key


def _signed(key: rsa.RSAPrivateKey, **claims: object) -> str:
    now = int(time.time())
    body = {
        "sub": "erin",
        "iat": now,
        "exp": now + 600,
        "aud": "kafka",
        "iss": "https://idp",
        **claims,
    }
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": "k1"})


def test_jwks_validator_checks_signature_audience_issuer_and_expiry(jwks) -> None:
    path, key = jwks
    keys = JwksKeys(path.as_uri(), refresh_ms=3_600_000, retry_backoff_ms=100)
    validator = JwksValidator(keys, audience=["kafka"], issuer="https://idp", clock_skew_s=0)
    assert validator.validate(_signed(key)).principal_name == "erin"
    refusals = [
        _signed(key, aud="other"),
        _signed(key, iss="https://evil"),
        _signed(key, exp=int(time.time()) - 60),
        _signed(key, nbf=int(time.time()) + 600),
        _signed(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        unsecured_token("erin"),
    ]
    for token in refusals:
        with pytest.raises(TokenRejected):
            validator.validate(token)


def test_jwks_key_set_is_fetched_again_for_an_unknown_key_id(jwks) -> None:
    path, key = jwks
    keys = JwksKeys(path.as_uri(), refresh_ms=3_600_000, retry_backoff_ms=0)
    validator = JwksValidator(keys)
    validator.validate(_signed(key))
    new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(new_key.public_key()))
    path.write_text(json.dumps({"keys": [{**public, "kid": "k2", "alg": "RS256"}]}))
    token = jwt.encode(
        {"sub": "erin", "exp": int(time.time()) + 60}, new_key, "RS256", {"kid": "k2"}
    )
    assert validator.validate(token).principal_name == "erin"


# -- JAAS and settings -----------------------------------------------------------------------


def test_jaas_parses_kafkas_plain_login_module_syntax() -> None:
    module = parse_jaas_config(
        "org.apache.kafka.common.security.plain.PlainLoginModule required\n"
        '  username="admin" password="a\\"b c;" user_admin="a\\"b c;" user_x=bare;'
    )
    assert module.class_name.endswith("PlainLoginModule") and module.flag == "required"
    assert plain_users(module.options) == {"admin": 'a"b c;', "x": "bare"}
    for bad in (
        "Module required user=x",
        "Module maybe;",
        "Module required a=;",
        "A required; B required;",
    ):
        with pytest.raises(JaasConfigError):
            parse_jaas_config(bad)


def _sasl_config(tmp_path: Path, **extra: object):
    return load_broker_config(
        None,
        {
            # ferrokafka's own nodes dial PLAINTEXT only: the inter-broker listener is one.
            "listeners": (
                "SASL_PLAINTEXT://127.0.0.1:0,PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0"
            ),
            "listener.security.protocol.map": (
                "SASL_PLAINTEXT:SASL_PLAINTEXT,PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
            ),
            "advertised.listeners": "SASL_PLAINTEXT://127.0.0.1:0,PLAINTEXT://127.0.0.1:0",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(tmp_path / "logs"),
            **extra,
        },
    )


def test_settings_read_listener_and_mechanism_prefixed_keys(tmp_path: Path) -> None:
    config = _sasl_config(
        tmp_path,
        **{
            "sasl.enabled.mechanisms": "GSSAPI",
            "listener.name.sasl_plaintext.sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-512",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": 'M required user_a="b";',
            "sasl.jaas.config": "S required;",
            "listener.name.sasl_plaintext.plain.connections.max.reauth.ms": "5000",
            "connections.max.reauth.ms": "9000",
            "connection.failed.authentication.delay.ms": "7",
        },
    )
    settings = sasl_listener_settings(config, LOOKUP)["SASL_PLAINTEXT"]
    assert settings.mechanisms == ("PLAIN", "SCRAM-SHA-512")
    assert settings.reauth_ms == {"PLAIN": 5000, "SCRAM-SHA-512": 9000}
    assert settings.failed_auth_delay_ms == 7


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"sasl.enabled.mechanisms": "GSSAPI"}, "GSSAPI is not supported"),
        ({"sasl.enabled.mechanisms": "PLAIN"}, "no JAAS configuration for mechanism PLAIN"),
        (
            {"sasl.enabled.mechanisms": "PLAIN", "sasl.jaas.config": 'M required user_a="b"'},
            "does not end with ';'",
        ),
        (
            {
                "sasl.enabled.mechanisms": "OAUTHBEARER",
                "sasl.jaas.config": "M required;",
                "sasl.server.callback.handler.class": "org.apache.kafka.common.security."
                "oauthbearer.OAuthBearerValidatorCallbackHandler",
            },
            "needs a JWKS endpoint",
        ),
    ],
)
def test_unworkable_sasl_settings_are_refused_at_start(
    tmp_path: Path, extra: dict[str, str], reason: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        sasl_listener_settings(_sasl_config(tmp_path, **extra), LOOKUP)
    assert reason in str(caught.value)
    assert "user_a" not in str(caught.value) and '"b"' not in str(caught.value)


def test_jwks_over_http_is_cached_and_refetched_for_a_new_key(jwks) -> None:
    import http.server
    import threading

    path, key = jwks
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            body = path.read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/jwks"
        keys = JwksKeys(url, refresh_ms=3_600_000, retry_backoff_ms=0)
        validator = JwksValidator(keys)
        assert validator.blocking  # the authenticator runs it in a worker thread
        validator.validate(_signed(key))
        validator.validate(_signed(key))
        assert requests == ["/jwks"]  # cached
        with pytest.raises(TokenRejected):  # a key id it does not have: one more fetch
            validator.validate(
                jwt.encode({"sub": "x", "exp": time.time() + 60}, key, "RS256", {"kid": "k9"})
            )
        assert requests == ["/jwks", "/jwks"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
