"""A node in its own network namespace (the multi-node form's placement): reached from the
host through the bridge, its PID the broker's own (faults by PID still land), and a link cut
by the kernel: clients get no answer until the link is up again."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .netns import Bridge
from .nodes import FerrokafkaNode, NodeConfig
from .workloads import create_topic, producer_config

SEND_TIMEOUT_S = 30.0


@pytest.fixture
def bridge() -> Iterator[Bridge]:
    if os.geteuid() != 0:
        pytest.fail("network namespaces need root (ip netns add)", pytrace=False)
    made = Bridge()
    try:
        yield made
    finally:
        made.close()


def _send(bootstrap: str, value: str, timeout_s: float) -> Any:
    """(error or None) of one idempotent send waited for up to ``timeout_s``."""
    from confluent_kafka import Producer

    producer = Producer({**producer_config(bootstrap), "message.timeout.ms": int(timeout_s * 1000)})
    errors: list[Any] = []
    producer.produce("netns", value.encode(), on_delivery=lambda err, msg: errors.append(err))
    producer.flush(timeout_s + 5)
    return errors[0] if errors else "unanswered"


def _net_namespace(pid: int | str) -> str:
    return os.readlink(f"/proc/{pid}/ns/net")


@pytest.mark.slow
def test_a_node_in_a_namespace(bridge: Bridge, tmp_path: Path) -> None:
    placement = bridge.placement(0)
    node = FerrokafkaNode(NodeConfig(node_id=1, work_dir=tmp_path / "node-1"), placement)
    try:
        node.start()
        assert node.bootstrap == f"{bridge.subnet[10]}:9092"
        # The process we signal is the broker itself, inside the namespace.
        assert b"serve" in Path(f"/proc/{node.pid}/cmdline").read_bytes()
        assert _net_namespace(node.pid) != _net_namespace("self")
        create_topic(node.bootstrap, "netns", 1)
        assert _send(node.bootstrap, "first", SEND_TIMEOUT_S) is None

        placement.link_down()
        assert _send(node.bootstrap, "cut off", 3.0) is not None
        placement.link_up()
        assert _send(node.bootstrap, "back", SEND_TIMEOUT_S) is None

        node.kill()
        node.start()
        assert _send(node.bootstrap, "after kill", SEND_TIMEOUT_S) is None
    finally:
        node.close()
