"""The node's own connector (cluster/connector/) against ferrokafka's server side in process:
SASL/PLAIN and SCRAM-SHA-256/512 client exchanges with a SASL_PLAINTEXT broker (a wrong
password refused with Kafka's message, logged once), KIP-368 re-authentication on the same
connection before the session ends, and the TLS client's host name check
(``ssl.endpoint.identification.algorithm``) against a TLS server whose certificate names
another host; the SCRAM client against the server's mechanism sans-io (a forged server
signature, a foreign nonce, a downgraded iteration count refused); plus the config rules that
lift or keep the refusal of internal listeners.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import trio
from tests.security.certs import PASSWORD, issue, make_authority
from tests.security.conftest import TlsBroker
from tests.security.sasl_support import PLAIN_USERS, SCRAM_USERS, SaslBroker, run_sasl_broker

from ferrokafka.cluster.connector import AuthenticationError, Connector, make_connector
from ferrokafka.cluster.connector.sasl_client import SaslClientError, ScramClient
from ferrokafka.cluster.connector.tls import client_tls_context
from ferrokafka.cluster.node_client import NodeAuthenticationError, NodeClient
from ferrokafka.config import ConfigError
from ferrokafka.config.internode import InternodeSettings, SaslClientSettings
from ferrokafka.config.tls_settings import TlsSettingsError, listener_values
from ferrokafka.protocol.messages.metadata import MetadataRequest
from ferrokafka.server.sasl.scram import ScramServer, scram_credential
from ferrokafka.testing.broker import testing_config as make_config

CALL_TIMEOUT_S = 30.0
REAUTH_MS = 1500


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SaslBroker]:
    with run_sasl_broker(
        tmp_path_factory.mktemp("sasl"),
        mechanisms=("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"),
        **{"listener.name.sasl_plaintext.scram-sha-512.connections.max.reauth.ms": REAUTH_MS},
    ) as broker:
        yield broker


def _sasl(mechanism: str, user: str, password: str) -> Connector:
    settings = InternodeSettings(
        "SASL_PLAINTEXT", "SASL_PLAINTEXT", None, SaslClientSettings(mechanism, user, password)
    )
    return make_connector(settings, "inter-broker")


def _address(servers: str) -> tuple[str, int]:
    host, port = servers.rsplit(":", 1)
    return host, int(port)


async def _metadata(broker: SaslBroker, connector: Connector) -> list[int]:
    client = NodeClient(
        _address(broker.sasl_bootstrap), client_id="test", timeout_s=CALL_TIMEOUT_S,
        connector=connector,
    )  # fmt: skip
    try:
        response = await client.call(MetadataRequest(topics=[]))
        return [b.node_id for b in response.brokers]
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("mechanism", "user", "password"),
    [
        ("PLAIN", "alice", PLAIN_USERS["alice"]),
        ("SCRAM-SHA-256", "bob", SCRAM_USERS["bob"]),
        ("SCRAM-SHA-512", "scrammer", SCRAM_USERS["scrammer"]),
    ],
)
def test_sasl_client_mechanisms(
    sasl_broker: SaslBroker, mechanism: str, user: str, password: str
) -> None:
    brokers = trio.run(_metadata, sasl_broker, _sasl(mechanism, user, password))
    assert brokers == [sasl_broker.running.config.node_id]


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-512"])
def test_wrong_password_refused_and_logged_once(
    sasl_broker: SaslBroker, mechanism: str, caplog: pytest.LogCaptureFixture
) -> None:
    connector = _sasl(mechanism, "scrammer" if mechanism != "PLAIN" else "alice", "wrong")
    with caplog.at_level(logging.ERROR, logger="ferrokafka.cluster.connector.connector"):
        for _ in range(2):
            with pytest.raises(NodeAuthenticationError, match="failed authentication") as refused:
                trio.run(_metadata, sasl_broker, connector)
    assert "wrong" not in str(refused.value)
    if mechanism == "PLAIN":
        assert "Invalid username or password" in str(refused.value)
    else:
        assert "invalid credentials with SASL mechanism SCRAM-SHA-512" in str(refused.value)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1, lines  # once per address and reason, not once per attempt
    assert "inter-broker connection to 127.0.0.1:" in lines[0]


def _config(tmp_path: Path, **overrides: object) -> None:
    make_config(
        tmp_path,
        {
            "listeners": "SASL_PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0",
            "advertised.listeners": "SASL_PLAINTEXT://127.0.0.1:0",
            "listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SSL",
            "security.inter.broker.protocol": "SASL_PLAINTEXT",
            **overrides,
        },
    )


def test_internal_listeners_need_client_credentials(tmp_path: Path) -> None:
    jaas = "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config"
    module = "org.apache.kafka.common.security.scram.ScramLoginModule required"
    with pytest.raises(ConfigError, match="GSSAPI.*inter.broker.protocol: inter-broker SASL"):
        _config(tmp_path)  # Kafka's default mechanism: not one ferrokafka's clients speak
    mechanism = {"sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-256"}
    with pytest.raises(ConfigError, match=f"{jaas} is needed for inter-broker SASL"):
        _config(tmp_path, **mechanism)
    with pytest.raises(ConfigError, match="needs the username= and password= options"):
        _config(tmp_path, **mechanism, **{jaas: f"{module};"})
    # With credentials both internal listeners are accepted (the controller one is SSL).
    _config(tmp_path, **mechanism, **{jaas: f'{module} username="b" password="p";'})


def test_reauthenticates_on_the_same_connection(sasl_broker: SaslBroker) -> None:
    """SCRAM-SHA-512's sessions last REAUTH_MS: the client re-authenticates before the end
    (KIP-368) and keeps its connection; without that the broker would close it."""

    async def main() -> None:
        client = NodeClient(
            _address(sasl_broker.sasl_bootstrap), client_id="reauth", timeout_s=CALL_TIMEOUT_S,
            connector=_sasl("SCRAM-SHA-512", "scrammer", SCRAM_USERS["scrammer"]),
        )  # fmt: skip
        try:
            await client.call(MetadataRequest(topics=[]))
            connection = client._connection
            assert connection is not None and connection.reauth_at is not None
            first_deadline = connection.reauth_at
            stream = connection.stream
            for _ in range(2):  # two sessions past the first one's end
                await trio.sleep_until(connection.reauth_at + 0.05)
                await client.call(MetadataRequest(topics=[]))
            assert client._connection is connection and connection.stream is stream
            assert connection.reauth_at > first_deadline + REAUTH_MS / 1000
        finally:
            await client.aclose()

    trio.run(main)


# -- TLS ------------------------------------------------------------------------------------


def _tls_values(**overrides: object) -> dict[str, object]:
    config = make_config(Path("/nonexistent"))
    values = listener_values(config, "PLAINTEXT")
    values.update(overrides)
    return values


@pytest.mark.parametrize(("algorithm", "accepted"), [("https", False), ("", True)])
def test_tls_host_name_check(tmp_path: Path, algorithm: str, accepted: bool) -> None:
    ca = make_authority(tmp_path)
    # A certificate for CN=elsewhere with no subject alternative name: not 127.0.0.1's.
    server = issue(ca, tmp_path, "elsewhere", "CN=elsewhere,O=x", server=False)
    values = _tls_values(
        **{
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(ca.pem),
            "ssl.endpoint.identification.algorithm": algorithm,
        }
    )
    settings = InternodeSettings("SSL", "SSL", values)
    connector = make_connector(settings, "controller")

    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(server.pem)

    async def main() -> None:
        async def serve(stream: trio.SSLStream[trio.SocketStream]) -> None:
            try:
                await stream.do_handshake()
                await stream.send_all(b"")
            except trio.BrokenResourceError:
                pass

        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(
                partial(trio.serve_ssl_over_tcp, serve, 0, server_context, host="127.0.0.1")
            )
            port = listeners[0].transport_listener.socket.getsockname()[1]
            with trio.fail_after(CALL_TIMEOUT_S):
                if accepted:
                    connection = await connector.connect(("127.0.0.1", port), client_id="t")
                    await connection.stream.aclose()
                else:
                    with pytest.raises(AuthenticationError, match="IP address mismatch"):
                        await connector.connect(("127.0.0.1", port), client_id="t")
            nursery.cancel_scope.cancel()

    trio.run(main)


def test_tls_client_settings_refused_in_one_line() -> None:
    with pytest.raises(TlsSettingsError, match="unknown algorithm 'http'"):
        client_tls_context(_tls_values(**{"ssl.endpoint.identification.algorithm": "http"}))
    settings = InternodeSettings(
        "SSL",
        "SSL",
        _tls_values(**{"ssl.truststore.location": "/no/such/file", "ssl.truststore.type": "PEM"}),
    )
    with pytest.raises(ConfigError, match="controller TLS client of listener SSL: truststore"):
        make_connector(settings, "controller")


# -- the client mechanisms against the server's, sans-io ---------------------------------------


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_scram_client_proves_itself_and_checks_the_server(mechanism: str) -> None:
    credential = scram_credential(mechanism, "pw=,with")
    lookup = {("us,er=", mechanism): credential}

    def exchange(password: str, *, tamper: bool = False) -> ScramClient:
        client = ScramClient(mechanism, "us,er=", password)
        server = ScramServer(mechanism, lambda user, mech: lookup.get((user, mech)))
        client_final = client.evaluate(server.evaluate(client.first()))
        assert client_final is not None
        server_final = server.evaluate(client_final)
        assert server.complete and server.authorization_id == "us,er="
        if tamper:
            server_final = server_final[:-4] + b"AAA="
        assert client.evaluate(server_final) is None
        return client

    assert exchange("pw=,with").complete
    # A server that does not hold the credential cannot forge the final signature.
    with pytest.raises(SaslClientError, match="invalid server signature"):
        exchange("pw=,with", tamper=True)
    # A server nonce that does not extend the client's is refused before any proof is sent.
    client = ScramClient(mechanism, "u", "p")
    client.first()
    with pytest.raises(SaslClientError, match="does not extend ours"):
        client.evaluate(b"r=someone-else,s=c2FsdA==,i=4096")
    # Too few iterations (a downgrade) are refused too.
    client = ScramClient(mechanism, "u", "p")
    first = client.first().decode()
    nonce = first.split("r=", 1)[1]
    with pytest.raises(SaslClientError, match="iteration count 1 refused"):
        client.evaluate(f"r={nonce}x,s=c2FsdA==,i=1".encode())


def test_tls_client_certificate_from_the_keystore(tls_broker: TlsBroker) -> None:
    """The MTLS listener requires a client certificate: without a keystore the node is
    refused (TLS 1.3 tells it at the first read; reported as an authentication failure),
    with one it is served."""
    trusting = {"ssl.truststore.type": "PEM", "ssl.truststore.location": str(tls_broker.pki.ca.pem)}
    keystore = {
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": str(tls_broker.pki.alice.p12),
        "ssl.keystore.password": PASSWORD,
    }
    address = ("127.0.0.1", tls_broker.port("MTLS"))

    async def metadata(values: dict[str, object]) -> int:
        connector = make_connector(InternodeSettings("MTLS", "SSL", values), "inter-broker")
        client = NodeClient(
            address, client_id="mtls", timeout_s=CALL_TIMEOUT_S, connector=connector
        )
        try:
            return len((await client.call(MetadataRequest(topics=[]))).brokers)
        finally:
            await client.aclose()

    with pytest.raises(NodeAuthenticationError, match="TLS: TLSV13_ALERT_CERTIFICATE_REQUIRED"):
        trio.run(metadata, _tls_values(**trusting))
    assert trio.run(metadata, _tls_values(**trusting, **keystore)) == 1
