"""The secured cluster of the inter-node tests (tests/security/test_internode_sasl_ssl.py,
tests/cluster/test_mixed_internode.py): an SSL controller listener with client certificates,
one SASL_SSL broker listener with SCRAM-SHA-512 for clients and inter-broker traffic, the
StandardAuthorizer with the broker user and the nodes' certificate as super users."""

from __future__ import annotations

from pathlib import Path

from tests.security.certs import PASSWORD, Authority, issue

SCRAM_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"
MECHANISM = "SCRAM-SHA-512"
USERS = {"broker": "broker-secret-512", "admin": "admin-secret-512", "alice": "alice-secret"}
NODE_SUBJECT = "CN=node,O=ferrokafka"


def client_config(ca: Authority, user: str = "admin") -> dict[str, object]:
    return {
        "security.protocol": "SASL_SSL",
        "ssl.ca.location": str(ca.pem),
        "sasl.mechanism": MECHANISM,
        "sasl.username": user,
        "sasl.password": USERS[user],
    }


def scram_format_args() -> tuple[str, ...]:
    """``--add-scram`` for every user, as both format tools (Kafka's and ours) take it."""
    entries = [f"{MECHANISM}=[name={user},password={pw}]" for user, pw in USERS.items()]
    return tuple(arg for entry in entries for arg in ("--add-scram", entry))


def admin_properties(ca: Authority, path: Path) -> Path:
    """A Kafka tool's --command-config for the admin user over SASL_SSL."""
    path.write_text(
        "security.protocol=SASL_SSL\n"
        f"sasl.mechanism={MECHANISM}\n"
        f'sasl.jaas.config={SCRAM_MODULE} required username="admin" '
        f'password="{USERS["admin"]}";\n'
        f"ssl.truststore.type=PEM\nssl.truststore.location={ca.pem}\n"
    )
    return path


def secured_overrides(ca: Authority, pki: Path) -> dict[str, str]:
    node = issue(ca, pki, "node", NODE_SUBJECT, server=True)
    stores = {
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": str(node.p12),
        "ssl.keystore.password": PASSWORD,
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(ca.pem),
    }
    jaas = f'{SCRAM_MODULE} required username="broker" password="{USERS["broker"]}";'
    return {
        **{f"listener.name.sasl_ssl.{k}": v for k, v in stores.items()},
        **{f"listener.name.controller.{k}": v for k, v in stores.items()},
        "listener.name.controller.ssl.client.auth": "required",
        "listener.name.sasl_ssl.sasl.enabled.mechanisms": MECHANISM,
        f"listener.name.sasl_ssl.{MECHANISM.lower()}.sasl.jaas.config": jaas,
        "sasl.mechanism.inter.broker.protocol": MECHANISM,
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "super.users": f"User:broker;User:admin;User:{NODE_SUBJECT}",
        "replica.lag.time.max.ms": "10000",
    }
