"""A log dir whose disk dies under a running broker (kernel EIO: an ext4 shut down with
EXT4_IOC_SHUTDOWN, tests/faults/ext4_disk.py), as Kafka 4.4 handles it: the dir goes offline,
its partitions answer KAFKA_STORAGE_ERROR (56) to produce and fetch — an error answer, the
connection kept — while the broker keeps serving its other log dir. The topic has
``flush.messages=1``: the produce whose fsync hit the dead disk is the one that takes the dir
offline (storage/dir_failure.py)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_wire import RawClient

from ferrokafka.protocol.messages.fetch import FetchRequest

from .ext4_disk import Ext4Disk
from .nodes import FerrokafkaNode, NodeConfig
from .test_enospc import SEND_TIMEOUT_S, _plain_producer
from .workloads import create_topic

TOPIC = "eio"
KAFKA_STORAGE_ERROR = 56
FETCH_VERSION = 12  # by topic name
RECORDS_BEFORE = 20


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Ext4Disk]:
    why = Ext4Disk.available()
    if why is not None:
        pytest.skip(f"no ext4 loop disk: {why}")
    made = Ext4Disk(tmp_path / "ext4", tmp_path / "ext4.img")
    try:
        made.mount()
    except Exception as exc:  # a container without loop devices or mount rights
        made.close()
        pytest.skip(f"no ext4 loop disk: {exc}")
    yield made
    made.close()


@pytest.fixture
def node(tmp_path: Path, disk: Ext4Disk) -> Iterator[FerrokafkaNode]:
    work = tmp_path / "node"
    failing = disk.path / "data"
    config = NodeConfig(node_id=1, work_dir=work, log_level="INFO")
    made = FerrokafkaNode(config)
    made.config.overrides["log.dirs"] = f"{made.data_dir},{failing}"
    try:
        made.start()
        yield made
    finally:
        made.close()


def _send(producer: Any, value: str, partition: int) -> tuple[Any, int]:
    """One record to ``partition``, waited for: (error or None, offset)."""
    reports: list[tuple[Any, int]] = []
    producer.produce(
        TOPIC,
        value.encode(),
        partition=partition,
        on_delivery=lambda err, msg: reports.append((err, msg.offset())),
    )
    producer.flush(SEND_TIMEOUT_S)
    assert reports, f"no delivery report for {value} in {SEND_TIMEOUT_S}s"
    return reports[0]


def _fetch(client: RawClient, partition: int) -> tuple[int, int]:
    """(the partition's error code, its records' bytes) from offset 0."""
    request = FetchRequest(
        max_wait_ms=0,
        min_bytes=1,
        max_bytes=1 << 20,
        topics=[
            FetchRequest.FetchTopic(
                topic=TOPIC,
                partitions=[
                    FetchRequest.FetchPartition(
                        partition=partition, fetch_offset=0, partition_max_bytes=1 << 20
                    )
                ],
            )
        ],
    )
    answer = client.call(request, FETCH_VERSION).responses[0].partitions[0]
    return answer.error_code, len(answer.records or b"")


def test_eio_takes_the_dir_offline_and_the_broker_serves_the_other(
    node: FerrokafkaNode, disk: Ext4Disk
) -> None:
    create_topic(node.bootstrap, TOPIC, 2, config={"flush.messages": "1"})
    on_disk = {p for p in (0, 1) if (disk.path / "data" / f"{TOPIC}-{p}").is_dir()}
    assert len(on_disk) == 1, on_disk  # one partition per dir (Kafka's placement)
    dead = on_disk.pop()
    alive = 1 - dead
    producer = _plain_producer(node.bootstrap)
    for i in range(RECORDS_BEFORE):
        for p in (dead, alive):
            assert _send(producer, f"before-{p}-{i}", partition=p)[0] is None

    disk.shut_down()
    err, _ = _send(producer, "after-dead", partition=dead)
    assert err is not None and err.code() == KAFKA_STORAGE_ERROR, err
    err, offset = _send(producer, "after-alive", partition=alive)
    assert err is None and offset == RECORDS_BEFORE  # the other dir serves on
    # A retry of the failed partition is refused again (never written twice).
    err, _ = _send(producer, "after-dead-retry", partition=dead)
    assert err is not None and err.code() == KAFKA_STORAGE_ERROR, err

    with RawClient(node.bootstrap) as client:
        assert _fetch(client, dead) == (KAFKA_STORAGE_ERROR, 0)
        code, size = _fetch(client, alive)
        assert code == 0 and size > 0  # same connection: not closed by the error
    assert node.exited() is None, node.stderr_tail()
    log = node.stderr_tail(200_000)
    assert node.stderr_count("stopping serving its") == 1, log
    assert "Traceback" not in log
    assert os.path.ismount(disk.path)


HALT_TIMEOUT_S = 30.0


def test_a_broker_whose_only_log_dir_failed_halts(tmp_path: Path, disk: Ext4Disk) -> None:
    """Kafka: "Shutdown broker because all log dirs ... have failed" (Exit.halt(1)): no
    clean shutdown on a dead disk; the other replicas take over when its session expires."""
    made = FerrokafkaNode(NodeConfig(node_id=1, work_dir=tmp_path / "only", log_level="INFO"))
    made.config.overrides["log.dirs"] = str(disk.path / "data")
    try:
        made.start()
        create_topic(made.bootstrap, TOPIC, 1, config={"flush.messages": "1"})
        producer = _plain_producer(made.bootstrap)
        assert _send(producer, "before", partition=0)[0] is None
        disk.shut_down()
        err, _ = _send(producer, "after", partition=0)
        assert err is not None and err.code() == KAFKA_STORAGE_ERROR, err
        deadline = time.monotonic() + HALT_TIMEOUT_S
        while made.exited() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert made.exited() == 1, made.stderr_tail()
        assert made.stderr_count("because all log dirs in") == 1, made.stderr_tail()
    finally:
        made.close()


def test_a_single_node_whose_metadata_dir_failed_halts(tmp_path: Path, disk: Ext4Disk) -> None:
    """The first log dir holds ``__cluster_metadata`` (no metadata.log.dir): when it fails,
    the node halts even though its second dir is healthy (Kafka: "Shutdown broker because
    the metadata log dir ... has failed", Exit.halt(1))."""
    made = FerrokafkaNode(NodeConfig(node_id=1, work_dir=tmp_path / "meta", log_level="INFO"))
    made.config.overrides["log.dirs"] = f"{disk.path / 'data'},{made.data_dir}"
    try:
        made.start()
        create_topic(made.bootstrap, TOPIC, 2, config={"flush.messages": "1"})
        on_disk = [p for p in (0, 1) if (disk.path / "data" / f"{TOPIC}-{p}").is_dir()]
        assert len(on_disk) == 1, on_disk
        producer = _plain_producer(made.bootstrap)
        assert _send(producer, "before", partition=on_disk[0])[0] is None
        disk.shut_down()
        err, _ = _send(producer, "after", partition=on_disk[0])
        assert err is not None and err.code() == KAFKA_STORAGE_ERROR, err
        deadline = time.monotonic() + HALT_TIMEOUT_S
        while made.exited() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert made.exited() == 1, made.stderr_tail()
        assert made.stderr_count("because the metadata log dir") == 1, made.stderr_tail()
        assert "Traceback" not in made.stderr_tail(200_000)
    finally:
        made.close()
