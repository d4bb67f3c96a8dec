"""Prometheus itself (the Debian package) scrapes the broker every second, and one metric is
read back through its HTTP API. Skipped, saying why, when the binary is not installed
(tests/run.sh installs it with kcat)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import confluent_kafka
import pytest
from metrics_support import free_port

from ferrokafka.testing import run_broker

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
TOPIC = "scraped"
MESSAGES = 5
# Prometheus starts, reads its config and scrapes within a few seconds on a quiet machine;
# the bound is for a loaded one.
SCRAPE_WAIT_S = 60.0
POLL_INTERVAL_S = 0.5
STOP_TIMEOUT_S = 15.0
CLIENT_TIMEOUT_S = 30.0

pytestmark = pytest.mark.skipif(
    not Path(PROMETHEUS).is_file(),
    reason="prometheus is not installed (apt-get install prometheus; tests/run.sh does)",
)


def _query(web_port: int, expression: str) -> list[dict]:
    url = f"http://127.0.0.1:{web_port}/api/v1/query?" + urllib.parse.urlencode(
        {"query": expression}
    )
    with urllib.request.urlopen(url, timeout=10) as response:
        answer = json.load(response)
    assert answer["status"] == "success", answer
    return list(answer["data"]["result"])


def _wait_for_series(web_port: int, expression: str, process: subprocess.Popen[bytes]) -> list:
    deadline = time.monotonic() + SCRAPE_WAIT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, "prometheus exited"
        try:
            result = _query(web_port, expression)
        except OSError:  # not listening yet
            result = []
        if result:
            return result
        time.sleep(POLL_INTERVAL_S)
    raise AssertionError(f"prometheus had no {expression} after {SCRAPE_WAIT_S} s")


def test_prometheus_scrapes_the_broker(tmp_path: Path) -> None:
    metrics_port, web_port = free_port(), free_port()
    with run_broker(tmp_path / "broker", {"ferrokafka.metrics.port": metrics_port}) as broker:
        producer = confluent_kafka.Producer({"bootstrap.servers": broker.bootstrap_servers})
        for _ in range(MESSAGES):
            producer.produce(TOPIC, b"v")
        assert producer.flush(CLIENT_TIMEOUT_S) == 0
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: ferrokafka\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{metrics_port}']\n"
        )
        log = (tmp_path / "prometheus.log").open("wb")
        process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{web_port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            expression = f'kafka_server_brokertopicmetrics_messagesin_total{{topic="{TOPIC}"}}'
            result = _wait_for_series(web_port, expression, process)
            assert float(result[0]["value"][1]) == MESSAGES
            assert result[0]["metric"]["job"] == "ferrokafka"
            up = _query(web_port, 'up{job="ferrokafka"}')
            assert up and up[0]["value"][1] == "1"
        finally:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT_S)
            log.close()
