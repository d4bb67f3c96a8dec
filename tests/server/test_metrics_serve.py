"""`ferrokafka serve --metrics-port N`: the endpoint of a real broker process comes up, is
ready once the broker printed its ready line, and stops with the process."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

from metrics_support import free_port, http_get, scrape, value
from serve_process import COMMAND, REPO, env

START_WAIT_S = 60.0
POLL_INTERVAL_S = 0.2
STOP_TIMEOUT_S = 30.0


def _wait_ready(port: int, process: subprocess.Popen[bytes]) -> list[int]:
    """Poll /readyz until 200; the statuses seen (connection refused is skipped)."""
    seen: list[int] = []
    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, "serve exited"
        try:
            status, _ = http_get(port, "/readyz")
        except OSError:
            status = 0
        if status:
            seen.append(status)
        if status == 200:
            return seen
        time.sleep(POLL_INTERVAL_S)
    raise AssertionError(f"/readyz not 200 within {START_WAIT_S} s: {seen[-5:]}")


def test_serve_with_metrics_port(tmp_path: Path) -> None:
    port = free_port()
    out = (tmp_path / "out").open("wb")
    err = (tmp_path / "err").open("wb")
    process = subprocess.Popen(
        [
            *COMMAND,
            "--listeners",
            "PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0",
            "--log-dirs",
            str(tmp_path / "data"),
            "--metrics-port",
            str(port),
        ],
        cwd=REPO,
        env=env(),
        stdout=out,
        stderr=err,
    )
    try:
        seen = _wait_ready(port, process)
        assert set(seen) <= {200, 503}, seen
        assert http_get(port, "/healthz") == (200, b"ok\n")
        samples = scrape(port)
        assert value(samples, "kafka_controller_kafkacontroller_activecontrollercount") == 1
        assert value(samples, "kafka_server_replicamanager_partitioncount") == 0
        process.send_signal(signal.SIGTERM)
        assert process.wait(STOP_TIMEOUT_S) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(STOP_TIMEOUT_S)
        out.close()
        err.close()
    assert "listening on" in (tmp_path / "out").read_text()
    try:
        http_get(port, "/healthz")
    except OSError:
        pass  # stopped with the process
    else:
        raise AssertionError("the metrics port still answers after the broker stopped")


def test_metrics_port_in_use_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                *COMMAND,
                "--listeners",
                "PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0",
                "--log-dirs",
                str(tmp_path / "data"),
                "--metrics-port",
                str(port),
            ],
            cwd=REPO,
            env=env(),
            capture_output=True,
            text=True,
            timeout=START_WAIT_S,
        )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"127.0.0.1:{port} (ferrokafka.metrics.port / --metrics-port)" in result.stderr
