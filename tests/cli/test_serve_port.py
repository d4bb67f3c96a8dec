"""``ferrokafka serve --port N``: clients on localhost:N and the controller on N+1 with the
built-in config; with ``--config``, the first non-controller listener moves to N. Checked with
kcat (metadata) and confluent-kafka (a produce and a consume)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

from confluent_kafka import Consumer, Producer
from serve_process import COMMAND, REPO, env, free_port_pair, run_serve, serving

CLIENT_TIMEOUT_S = 30.0
CLUSTER_ID = "MkU3OEVBNTcwNTJENDM2Qk"


def produce_and_consume(bootstrap: str) -> None:
    topic = f"port-{uuid.uuid4().hex[:8]}"
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(topic, b"hello")
    assert producer.flush(CLIENT_TIMEOUT_S) == 0
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "port", "auto.offset.reset": "earliest"}
    )
    try:
        consumer.subscribe([topic])
        message = None
        for _ in range(int(CLIENT_TIMEOUT_S)):
            message = consumer.poll(1.0)
            if message is not None and message.error() is None:
                break
        assert message is not None and message.value() == b"hello"
    finally:
        consumer.close()


def test_port_moves_both_default_listeners(tmp_path: Path) -> None:
    port = free_port_pair()
    with serving("--port", str(port), "--log-dirs", str(tmp_path / "data")) as serve:
        assert serve.bootstrap == f"127.0.0.1:{port}"
        assert f"CONTROLLER://127.0.0.1:{port + 1}" in "\n".join(serve.stdout_lines)
        # Advertised as localhost:N, so a client bootstrapped there stays there.
        assert f"advertised PLAINTEXT://localhost:{port}" in "\n".join(serve.stdout_lines)
        if shutil.which("kcat") is not None:
            listing = subprocess.run(
                ["kcat", "-b", f"localhost:{port}", "-L", "-m", "10"],
                capture_output=True,
                text=True,
                timeout=CLIENT_TIMEOUT_S,
            )
            assert listing.returncode == 0, listing.stderr
            assert f"broker 1 at localhost:{port}" in listing.stdout
        produce_and_consume(f"localhost:{port}")


def test_port_with_config_moves_the_first_client_listener(tmp_path: Path) -> None:
    port = free_port_pair()
    data = tmp_path / "data"
    config = tmp_path / "server.properties"
    # The file's client port (9) is what --port replaces; the single voter's controller
    # port must be fixed in the file, so it takes the free one after N.
    config.write_text(
        "process.roles=broker,controller\nnode.id=1\n"
        f"controller.quorum.voters=1@127.0.0.1:{port + 1}\n"
        f"listeners=PLAINTEXT://127.0.0.1:9,CONTROLLER://127.0.0.1:{port + 1}\n"
        "controller.listener.names=CONTROLLER\n"
        "offsets.topic.replication.factor=1\n"
        f"log.dirs={data}\n"
    )
    formatted = subprocess.run(
        [*COMMAND[:-1], "storage", "format", "--config", str(config), "--cluster-id", CLUSTER_ID],
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT_S,
        cwd=REPO,
        env=env(),
    )
    assert formatted.returncode == 0, formatted.stderr
    with serving("--config", str(config), "--port", str(port)) as serve:
        assert serve.bootstrap == f"127.0.0.1:{port}"
        produce_and_consume(f"127.0.0.1:{port}")


def test_port_out_of_range_is_a_usage_error(tmp_path: Path) -> None:
    result = run_serve("--port", "70000", "--log-dirs", str(tmp_path / "data"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--port" in result.stderr


def test_listeners_without_a_controller_keep_the_default_one(tmp_path: Path) -> None:
    """``--listeners PLAINTEXT://0.0.0.0:9092`` alone (Kafka's way to expose a broker) is a
    valid built-in node: the controller listener stays on loopback."""
    from ferrokafka.config import load_broker_config
    from ferrokafka_cli.serve import with_controller_listener

    listeners = with_controller_listener("PLAINTEXT://0.0.0.0:9092")
    assert listeners == "PLAINTEXT://0.0.0.0:9092,CONTROLLER://localhost:9093"
    config = load_broker_config(
        None,
        [
            f"listeners={listeners}",
            "advertised.listeners=PLAINTEXT://broker1.example.com:9092",
            f"log.dirs={tmp_path}",
        ],
    )
    assert [str(ep) for ep in config.listeners] == [
        "PLAINTEXT://0.0.0.0:9092",
        "CONTROLLER://localhost:9093",
    ]
    given = "PLAINTEXT://:9092,controller://127.0.0.1:9500"
    assert with_controller_listener(given) == given
