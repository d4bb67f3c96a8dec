"""Test certificates (made with ``cryptography``): a CA, a broker certificate for 127.0.0.1,
client certificates, and the PKCS12 / PEM stores Kafka's ``ssl.*`` keys point at."""

from __future__ import annotations

import datetime
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

PASSWORD = "store-secret"
_VALID_FOR = datetime.timedelta(days=2)
KEYTOOL_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Identity:
    """A key and its certificate, with the files written for it under ``directory``."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    p12: Path  # PKCS12 keystore, password PASSWORD
    pem: Path  # key (unencrypted) followed by the chain
    cert_pem: Path  # the chain only
    key_pem: Path  # the key only (unencrypted)

    def pem_text(self) -> tuple[str, str]:
        """(key, chain) as inline PEM strings."""
        return self.key_pem.read_text(), self.cert_pem.read_text()


@dataclass(frozen=True)
class Authority:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    pem: Path  # PEM truststore
    p12: Path  # PKCS12 truststore made by keytool, password PASSWORD


def _name(subject: str) -> x509.Name:
    oids = {"CN": NameOID.COMMON_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
            "O": NameOID.ORGANIZATION_NAME, "C": NameOID.COUNTRY_NAME}  # fmt: skip
    # Written most specific first, as RFC 2253 prints it; stored in the reverse order.
    parts = [p.split("=", 1) for p in subject.split(",")]
    return x509.Name([x509.NameAttribute(oids[k], v) for k, v in reversed(parts)])


def make_authority(directory: Path, subject: str = "CN=Test CA,O=ferrokafka") -> Authority:
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    name = _name(subject)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALID_FOR)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .sign(key, hashes.SHA256())
    )
    stem = directory / "ca"
    pem = stem.with_suffix(".pem")
    pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    p12 = stem.with_suffix(".p12")
    # keytool's PKCS12 truststore: Java trusts only certificates stored with its trusted-key
    # attribute, which cryptography's PKCS12 writer does not set.
    subprocess.run(
        [
            "keytool", "-importcert", "-noprompt", "-alias", "ca", "-file", str(pem),
            "-keystore", str(p12), "-storetype", "PKCS12", "-storepass", PASSWORD,
        ],
        check=True, capture_output=True, timeout=KEYTOOL_TIMEOUT_S,
    )  # fmt: skip
    return Authority(key, certificate, pem, p12)


def issue(ca: Authority, directory: Path, stem: str, subject: str, *, server: bool) -> Identity:
    """A certificate for ``subject`` signed by ``ca`` (a server one names 127.0.0.1)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + _VALID_FOR)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if server:
        import ipaddress

        builder = builder.add_extension(
            x509.SubjectAlternativeName([
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            ]),
            critical=False,
        )  # fmt: skip
    certificate = builder.sign(ca.key, hashes.SHA256())
    chain = (certificate, ca.certificate)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    cert_pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
    base = directory / stem
    paths = {s: base.with_name(f"{stem}{s}") for s in (".p12", ".pem", ".crt", ".key")}
    paths[".p12"].write_bytes(
        pkcs12.serialize_key_and_certificates(
            stem.encode(), key, certificate, [ca.certificate],
            serialization.BestAvailableEncryption(PASSWORD.encode()),
        )
    )  # fmt: skip
    paths[".pem"].write_bytes(key_pem + cert_pem)
    paths[".crt"].write_bytes(cert_pem)
    paths[".key"].write_bytes(key_pem)
    return Identity(
        key, certificate, chain, paths[".p12"], paths[".pem"], paths[".crt"], paths[".key"]
    )
