"""Fixtures of the fault-injection tests: nodes that are always torn down (process killed by
PID, tmpfs unmounted), and the root check the tmpfs log dirs need."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .nodes import FerrokafkaNode, NodeConfig

NodeFactory = Callable[..., FerrokafkaNode]


@pytest.fixture
def make_node(tmp_path: Path) -> Iterator[NodeFactory]:
    """``make_node(disk_bytes=..., overrides=...)``: a started node, closed after the test."""
    nodes: list[FerrokafkaNode] = []

    def make(*, disk_bytes: int | None = None, **settings: object) -> FerrokafkaNode:
        if disk_bytes is not None and os.geteuid() != 0:
            pytest.fail("a tmpfs log dir needs root (mount -t tmpfs)", pytrace=False)
        config = NodeConfig(
            node_id=1,
            work_dir=tmp_path / f"node-{len(nodes) + 1}",
            disk_bytes=disk_bytes,
            **settings,  # type: ignore[arg-type]
        )
        node = FerrokafkaNode(config)
        nodes.append(node)
        node.start()
        return node

    yield make
    for node in nodes:
        node.close()
