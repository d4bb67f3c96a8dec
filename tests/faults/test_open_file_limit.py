"""A broker whose process runs out of file descriptors (its RLIMIT_NOFILE lowered under it with
prlimit, then used up by idle client connections), as the issue found at 1,024: it keeps
serving the connections it has; a new connection is accepted and closed at once (the client
sees the close and backs off, not a hang in the backlog; server/fd_reserve.py); the periodic
checkpoint writes that now fail with EMFILE are one clear ERROR line each (not one per round,
never a traceback), retried every interval, and work again once descriptors are free, when
producers go on."""

from __future__ import annotations

import os
import resource
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_wire import RawClient

from ferrokafka.protocol.messages.api_versions import ApiVersionsRequest

from .nodes import FerrokafkaNode, NodeConfig
from .test_enospc import _plain_producer
from .workloads import create_topic

TOPIC = "fds"
CHECKPOINT_INTERVAL_MS = 200
# Descriptors left to the broker above what it holds when the limit is lowered; the test's
# idle connections take them (and a few more, to see one refused).
HEADROOM_FDS = 4
# Below the listen backlog (socket.listen.backlog.size, 50): a connection the broker can
# neither accept nor refuse (its reserve taken by another thread for a moment) waits there.
CONNECTIONS_MAX = 40
CONNECT_TIMEOUT_S = 5.0
SELECT_S = 0.5
WAIT_S = 30.0
POLL_S = 0.05
CHECKPOINT_FAILED = "periodic checkpoint_recovery_points failed"
CHECKPOINT_BACK = "periodic checkpoint_recovery_points works again"


@pytest.fixture
def node(tmp_path: Path) -> Iterator[FerrokafkaNode]:
    made = FerrokafkaNode(NodeConfig(node_id=1, work_dir=tmp_path / "node", log_level="INFO"))
    made.config.overrides.update(
        {
            "log.flush.offset.checkpoint.interval.ms": str(CHECKPOINT_INTERVAL_MS),
            "log.flush.start.offset.checkpoint.interval.ms": str(CHECKPOINT_INTERVAL_MS),
        }
    )
    try:
        made.start()
        yield made
    finally:
        made.close()


def _wait(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"not within {WAIT_S} s: {what}"
        time.sleep(POLL_S)


def _send(producer: object, count: int) -> list[object]:
    reports: list[object] = []
    for i in range(count):
        producer.produce(  # type: ignore[attr-defined]
            TOPIC, f"r{i}".encode(), partition=0, on_delivery=lambda err, _m: reports.append(err)
        )
    producer.flush(WAIT_S)  # type: ignore[attr-defined]
    return reports


def _exhaust(node: FerrokafkaNode, sockets: list[socket.socket]) -> tuple[bool, bool]:
    """Open idle connections until the broker has closed one at once (out of descriptors,
    it closes the oldest waiting in its backlog, not always the newest) and a checkpoint
    failed (no descriptor is left free between two rounds); (refused, checkpoint failed)
    after at most CONNECTIONS_MAX connections."""
    host, port = node.bootstrap.rsplit(":", 1)
    refused = failed = False
    opened = 0
    while opened < CONNECTIONS_MAX and not (refused and failed):
        sockets.append(socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S))
        opened += 1
        # Long enough for a checkpoint round or two; a closed socket leaves the watch list.
        readable, _, _ = select.select(sockets, [], [], SELECT_S)
        for sock in readable:
            if sock.recv(1) == b"":
                refused = True
                sockets.remove(sock)
                sock.close()
        failed = node.stderr_count(CHECKPOINT_FAILED) > 0
    return refused, failed


def test_out_of_file_descriptors_refuses_cleanly_and_recovers(node: FerrokafkaNode) -> None:
    create_topic(node.bootstrap, TOPIC, 1)
    producer = _plain_producer(node.bootstrap)
    assert _send(producer, 10) == [None] * 10
    held = RawClient(node.bootstrap)  # opened before the limit: must stay served
    sockets: list[socket.socket] = []
    try:
        open_fds = len(os.listdir(f"/proc/{node.pid}/fd"))
        limit = open_fds + HEADROOM_FDS
        resource.prlimit(node.pid, resource.RLIMIT_NOFILE, (limit, limit))
        assert _exhaust(node, sockets) == (True, True), node.stderr_tail()
        request = ApiVersionsRequest(client_software_name="fds", client_software_version="1")
        answer = held.call(request, 3)
        assert answer.error_code == 0  # the connections it has are served on
        assert node.running, node.stderr_tail()

        for sock in sockets:
            sock.close()
        sockets.clear()
        # Every run of failed rounds ended by a round that works (descriptors were freed
        # for a moment under the test too, so there may be several runs).
        _wait(
            lambda: node.stderr_count(CHECKPOINT_BACK) == node.stderr_count(CHECKPOINT_FAILED),
            "the checkpoint working again",
        )
        fresh = _plain_producer(node.bootstrap)
        assert _send(fresh, 10) == [None] * 10
    finally:
        held.close()
        for sock in sockets:
            sock.close()
    log = node.stderr_tail(200_000)
    # One line per run of failed rounds (a round that works in between ends a run), never
    # one per round.
    failed_runs = node.stderr_count(CHECKPOINT_FAILED)
    assert 1 <= failed_runs == node.stderr_count(CHECKPOINT_BACK), log
    assert node.stderr_count("out of file descriptors or memory") >= 1, log
    assert node.stderr_count("works again (") >= 1, log
    assert "Traceback" not in log, log
