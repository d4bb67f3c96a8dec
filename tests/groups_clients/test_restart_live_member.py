"""A live confluent-kafka group member across a broker restart (same data directory, same
ports): the coordinator reloads the group as Stable with its member from
``__consumer_offsets``, so the member's heartbeats keep working, it keeps its partitions with
no rebalance, and it reads what is produced after the restart."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from ferrokafka.testing import run_broker

TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _produce(bootstrap: str, start: int, count: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(start, start + count):
        producer.produce("t", f"v{i}".encode(), partition=i % 2)
    assert producer.flush(30) == 0


def test_live_member_survives_a_broker_restart(tmp_path: Path) -> None:
    port, controller = _free_port(), _free_port()
    overrides = {
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "group.initial.rebalance.delay.ms": 0,
        "offsets.topic.num.partitions": 2,
    }
    data = tmp_path / "broker"
    events: list[str] = []
    values: list[str] = []
    stop = threading.Event()
    consumer = Consumer(
        {
            "bootstrap.servers": f"127.0.0.1:{port}",
            "group.id": "live",
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 30_000,
            "heartbeat.interval.ms": 500,
            "reconnect.backoff.max.ms": 500,
        }
    )

    def poll() -> None:
        while not stop.is_set():
            message = consumer.poll(0.2)
            if message is not None and not message.error():
                values.append(message.value().decode())

    poller = threading.Thread(target=poll, daemon=True)
    closed = False
    try:
        with run_broker(data, overrides) as broker:
            admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
            admin.create_topics([NewTopic("t", 2, 1)])["t"].result(30)
            _produce(broker.bootstrap_servers, 0, 10)
            consumer.subscribe(
                ["t"],
                on_assign=lambda c, ps: events.append(f"assign {len(ps)}"),
                on_revoke=lambda c, ps: events.append(f"revoke {len(ps)}"),
            )
            poller.start()
            deadline = time.monotonic() + TIMEOUT_S
            while len(values) < 10:
                assert time.monotonic() < deadline, values
                time.sleep(0.1)
            generation = broker.broker.node.group_coordinator.groups["live"].generation_id
        with run_broker(data, overrides) as broker:
            _produce(broker.bootstrap_servers, 10, 10)
            deadline = time.monotonic() + TIMEOUT_S
            while len(set(values)) < 20:
                assert time.monotonic() < deadline, values
                time.sleep(0.1)
            time.sleep(2)  # a few heartbeats on the reloaded group
            group = broker.broker.node.group_coordinator.groups["live"]
            assert (group.state, group.generation_id) == ("Stable", generation)
            assert len(group.members) == 1
            assert events == ["assign 2"]  # no rebalance across the restart
            stop.set()
            poller.join(30)
            consumer.close()  # while the broker runs: close commits and leaves the group
            closed = True
    finally:
        stop.set()
        if poller.is_alive():
            poller.join(30)
        if not closed:
            consumer.close()
    assert sorted(set(values)) == sorted(f"v{i}" for i in range(20))
