"""The harness's measuring tools on their own: the raw Metadata readiness probe against a real
broker (ferrokafka in-process), /proc sampling, and the two limit loops on tiny sizes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from bench.compare import limits, probe

from ferrokafka.testing import run_broker

SMALL_BYTES = 8 << 20
LIMIT_TIMEOUT_S = 10.0


def test_metadata_probe_counts_the_brokers_of_a_real_broker(tmp_path: Path) -> None:
    with run_broker(tmp_path / "data") as broker:
        host, port = broker.bootstrap_servers.rsplit(":", 1)
        assert probe.metadata_brokers(host, int(port), correlation_id=7) == 1
        ready = probe.wait_ready(host, int(port), time.monotonic() + 10.0, lambda: None)
        assert ready <= time.monotonic()


def test_wait_ready_gives_up_at_the_deadline_and_stops_when_the_process_died() -> None:
    from kafka_support.broker import free_loopback_port

    port = free_loopback_port()  # nothing listens there
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        probe.wait_ready("127.0.0.1", port, started + 0.3, lambda: None)
    assert time.monotonic() - started < 5.0

    def dead() -> None:
        raise RuntimeError("exited")

    with pytest.raises(RuntimeError, match="exited"):
        probe.wait_ready("127.0.0.1", port, time.monotonic() + 30.0, dead)


def test_proc_sample_of_this_process() -> None:
    before = probe.sample(os.getpid())
    deadline = time.monotonic() + 0.2
    while time.monotonic() < deadline:  # burn a little CPU, bounded by time
        sum(range(1000))
    after = probe.sample(os.getpid())
    assert after.cpu_s > before.cpu_s
    assert 0 < after.rss_bytes <= after.hwm_bytes


def test_limit_loops_move_the_bytes_asked_for(tmp_path: Path) -> None:
    loopback = limits.loopback_tcp(SMALL_BYTES, LIMIT_TIMEOUT_S)
    assert loopback["bytes"] == SMALL_BYTES and loopback["mb_per_s"] > 0
    disk = limits.sequential_write(tmp_path, SMALL_BYTES, LIMIT_TIMEOUT_S)
    assert disk["bytes"] == SMALL_BYTES and disk["mb_per_s"] > 0
    assert list(tmp_path.iterdir()) == []  # the scratch file is removed


def test_cpu_under_one_clock_tick_is_not_a_measurement() -> None:
    tick = 1 / probe.CLOCK_TICKS_PER_S
    assert probe.measured_cpu_s(2.0, 2.0) is None  # no tick went by: zero, unmeasured
    assert probe.measured_cpu_s(0.0, tick) == tick
