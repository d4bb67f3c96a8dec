"""A broker with two TLS listeners, and the certificates of its tests.

- ``SSL``: PKCS12 keystore file, ``ssl.client.auth=requested``, PEM truststore file, and
  ``ssl.principal.mapping.rules`` taking the CN of ``CN=<name>,OU=...`` in upper case;
- ``MTLS``: PEM keystore inline (``ssl.keystore.key`` / ``certificate.chain``),
  ``ssl.client.auth=required``, PKCS12 truststore;
- ``PLAINTEXT`` for the inter-broker listener and the admin tools, ``CONTROLLER``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.security.certs import PASSWORD, Authority, Identity, issue, make_authority

from ferrokafka.testing.broker import RunningBroker, run_broker

MAPPING_RULES = "RULE:^CN=([^,]*),OU=.*$/$1/U,DEFAULT"


@dataclass(frozen=True)
class Pki:
    directory: Path
    ca: Authority
    broker: Identity
    alice: Identity  # CN=alice,OU=eng,O=acme -> User:ALICE
    bob: Identity  # CN=bob,O=acme (no OU: DEFAULT) -> User:CN=bob,O=acme
    stranger: Identity  # signed by another CA


@dataclass(frozen=True)
class TlsBroker:
    running: RunningBroker
    pki: Pki

    def port(self, listener: str) -> int:
        return next(a.port for a in self.running.addresses if a.listener_name == listener)

    def servers(self, listener: str) -> str:
        return f"127.0.0.1:{self.port(listener)}"


def make_pki(directory: Path) -> Pki:
    ca = make_authority(directory)
    other = make_authority(directory / "other", "CN=Other CA,O=elsewhere")
    return Pki(
        directory,
        ca,
        issue(ca, directory, "broker", "CN=broker,O=ferrokafka", server=True),
        issue(ca, directory, "alice", "CN=alice,OU=eng,O=acme", server=False),
        issue(ca, directory, "bob", "CN=bob,O=acme", server=False),
        issue(other, directory / "other", "stranger", "CN=stranger,OU=x,O=elsewhere", server=False),
    )


def tls_overrides(pki: Pki) -> dict[str, str]:
    key, chain = pki.broker.pem_text()
    return {
        "listeners": (
            "PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0,SSL://127.0.0.1:0,MTLS://127.0.0.1:0"
        ),
        "advertised.listeners": "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,MTLS://127.0.0.1:0",
        "listener.security.protocol.map": (
            "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL,MTLS:SSL"
        ),
        "ssl.principal.mapping.rules": MAPPING_RULES,
        "listener.name.ssl.ssl.keystore.type": "PKCS12",
        "listener.name.ssl.ssl.keystore.location": str(pki.broker.p12),
        "listener.name.ssl.ssl.keystore.password": PASSWORD,
        "listener.name.ssl.ssl.truststore.type": "PEM",
        "listener.name.ssl.ssl.truststore.location": str(pki.ca.pem),
        "listener.name.ssl.ssl.client.auth": "requested",
        "listener.name.mtls.ssl.keystore.type": "PEM",
        "listener.name.mtls.ssl.keystore.key": key,
        "listener.name.mtls.ssl.keystore.certificate.chain": chain,
        "listener.name.mtls.ssl.truststore.type": "PKCS12",
        "listener.name.mtls.ssl.truststore.location": str(pki.ca.p12),
        "listener.name.mtls.ssl.truststore.password": PASSWORD,
        "listener.name.mtls.ssl.client.auth": "required",
    }


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_broker(pki: Pki) -> Iterator[TlsBroker]:
    with run_broker(overrides=tls_overrides(pki)) as running:
        yield TlsBroker(running, pki)


@pytest.fixture
def tls_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The server's connection log, principals included (DEBUG)."""
    with caplog.at_level(logging.DEBUG, logger="ferrokafka.server.server"):
        yield caplog
