"""``ferrokafka serve`` with a server.properties that has a SASL_PLAINTEXT listener, its JAAS
config written as Kafka's docs write it: a real client authenticates, a wrong password is
refused, and neither the file's passwords nor the client's reach serve's output."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from serve_process import COMMAND, EXIT_TIMEOUT_S, REPO, env, serving

from kafka_support.broker import free_loopback_port

PLAIN_MODULE = "org.apache.kafka.common.security.plain.PlainLoginModule"
CLUSTER_ID = "MkU3OEVBNTcwNTJENDM2Qk"
SASL_ADDRESS = re.compile(r"SASL_PLAINTEXT://([0-9.]+):(\d+)")
PASSWORDS = ("alice-secret", "broker-secret", "wrong-secret")


def _properties(tmp_path: Path) -> Path:
    path = tmp_path / "server.properties"
    plain, sasl, controller = (free_loopback_port() for _ in range(3))
    path.write_text(
        f"""process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{controller}
listeners=PLAINTEXT://127.0.0.1:{plain},SASL_PLAINTEXT://127.0.0.1:{sasl},CONTROLLER://127.0.0.1:{controller}
advertised.listeners=PLAINTEXT://127.0.0.1:{plain},SASL_PLAINTEXT://127.0.0.1:{sasl}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT
sasl.enabled.mechanisms=PLAIN
sasl.mechanism.inter.broker.protocol=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config={PLAIN_MODULE} required \\
    username="broker" \\
    password="broker-secret" \\
    user_broker="broker-secret" \\
    user_alice="alice-secret";
log.dirs={tmp_path / "logs"}
"""
    )
    return path


def test_serve_authenticates_with_the_jaas_config_of_its_file(tmp_path: Path) -> None:
    properties = _properties(tmp_path)
    formatted = subprocess.run(
        [*COMMAND[:-1], "storage", "format", "-c", str(properties), "-t", CLUSTER_ID, "-s"],
        cwd=REPO,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=EXIT_TIMEOUT_S,
        env=env(),
    )
    assert formatted.returncode == 0, formatted.stderr
    with serving("--config", str(properties)) as serve:
        match = next(m for line in serve.stdout_lines if (m := SASL_ADDRESS.search(line)))
        config = {
            "bootstrap.servers": f"{match.group(1)}:{match.group(2)}",
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": "PLAIN",
            "sasl.username": "alice",
        }
        good = AdminClient(config | {"sasl.password": "alice-secret"})
        assert good.list_topics(timeout=30).brokers
        bad = AdminClient(config | {"sasl.password": "wrong-secret"})
        try:
            bad.list_topics(timeout=3)
            raise AssertionError("a wrong password was accepted")
        except KafkaException:
            pass
        serve.wait_stderr("Authentication failed: Invalid username or password")
        output = serve.stderr() + "\n".join(serve.stdout_lines)
    for secret in PASSWORDS:
        assert secret not in output
