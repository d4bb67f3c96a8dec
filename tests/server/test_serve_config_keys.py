"""`ferrokafka serve --config` with keys of each kind (ferrokafka.config.known_keys): a key
Kafka knows that has no effect here starts the broker with one WARNING line for it; a security
key ferrokafka does not implement is one line saying it is not supported and exit code 2; a
misspelt key is "Unknown configuration"."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from serve_process import serving
from test_serve_cli import COMMAND, REPO, START_TIMEOUT_S

CLUSTER_ID = "MkU3OEVBNTcwNTJENDM2Qk"


def write_properties(tmp_path: Path, extra: str) -> Path:
    properties = tmp_path / "server.properties"
    properties.write_text(
        "process.roles=broker,controller\n"
        "node.id=1\n"
        "controller.quorum.voters=1@127.0.0.1:9093\n"
        "listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0\n"
        "controller.listener.names=CONTROLLER\n"
        # Kafka's shipped file maps SSL and SASL listener names: mapping them is fine.
        "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,"
        "SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL\n"
        f"log.dirs={tmp_path / 'logs'}\n" + extra
    )
    return properties


def serve_once(properties: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, "--config", str(properties)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_key_without_effect_warns_and_starts(tmp_path: Path) -> None:
    properties = write_properties(
        tmp_path,
        "num.network.threads=8\nnum.replica.alter.log.dirs.threads=2\nrequest.timeout.ms=40000\n",
    )
    formatted = subprocess.run(
        [*COMMAND[:-1], "storage", "format", "-t", CLUSTER_ID, "-c", str(properties)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        check=False,
    )
    assert formatted.returncode == 0, formatted.stderr
    with serving("--config", str(properties)) as serve:
        assert serve.bootstrap.startswith("127.0.0.1:")
        assert serve.stop() == 0, serve.stderr()
        stderr = serve.stderr()
    warnings = [line for line in stderr.splitlines() if "has no effect in ferrokafka yet" in line]
    # One line per key: an implemented key with no effect here, and two keys only Kafka has.
    assert len(warnings) == 3, stderr
    for key in (
        "num.network.threads=8",
        "num.replica.alter.log.dirs.threads=2",
        "request.timeout.ms=40000",
    ):
        assert sum(key in line for line in warnings) == 1, stderr
    assert all("WARNING" in line for line in warnings)


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("ssl.keymanager.algorithm=SunX509\n", "ssl.keymanager.algorithm"),
        ("sasl.kerberos.service.name=kafka\n", "sasl.kerberos.service.name"),
        ("delegation.token.secret.key=hunter2\n", "delegation.token.secret.key"),
    ],
)  # fmt: skip
def test_security_key_is_refused_naming_issue_18(tmp_path: Path, extra: str, key: str) -> None:
    proc = serve_once(write_properties(tmp_path, extra))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ferrokafka serve: "), proc.stderr
    assert key in lines[0] and "not supported yet" in lines[0]
    assert "hunter2" not in proc.stderr  # a password is never echoed


def test_ssl_listener_without_keystore_is_refused(tmp_path: Path) -> None:
    properties = write_properties(tmp_path, "")
    text = properties.read_text().replace(
        "listeners=PLAINTEXT://127.0.0.1:0,", "listeners=PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,"
    )
    properties.write_text(text)
    proc = serve_once(properties)
    assert proc.returncode != 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "listener SSL" in lines[0], proc.stderr
    assert "ssl.keystore.location" in lines[0], proc.stderr


def test_misspelt_key_is_unknown(tmp_path: Path) -> None:
    proc = serve_once(write_properties(tmp_path, "num.netwrk.threads=8\n"))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Unknown configuration 'num.netwrk.threads'" in lines[0]
    assert "did you mean 'num.network.threads'" in lines[0]
