"""`ferrokafka serve` as a user runs it: a subprocess that prints where it listens, answers
ApiVersions, and exits 0 on SIGTERM or SIGINT; a bad config is one line and exit code 2."""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_wire import RawClient

REPO = Path(__file__).resolve().parents[2]
# The CLI ships as `ferrokafka_cli`; run it the way the console script does, from the repo
# root (importable from there in a checkout and from site-packages once installed).
COMMAND = [sys.executable, "-c", "from ferrokafka_cli.main import main; main()", "serve"]
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
ADDRESS = re.compile(r"listening on PLAINTEXT://([0-9.]+):(\d+)")
EPHEMERAL = ["--listeners", "PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0"]


def first_line(proc: subprocess.Popen[str]) -> str:
    """The first stdout line, read in a thread so the wait is bounded."""
    assert proc.stdout is not None
    line: list[str] = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(START_TIMEOUT_S)
    assert line, "serve printed nothing"
    return line[0]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [*COMMAND, *EPHEMERAL, "--log-dirs", str(tmp_path / "data")],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=STOP_TIMEOUT_S)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_answers_and_stops_on_signal(
    serve: subprocess.Popen[str], tmp_path: Path, signum: int
) -> None:
    line = first_line(serve)
    match = ADDRESS.search(line)
    assert match, line
    assert "data in" in line and str(tmp_path / "data") in line
    assert (tmp_path / "data").is_dir()
    with RawClient(f"{match.group(1)}:{match.group(2)}") as client:
        assert client.call_api_versions(1, 4).error_code == 0
        serve.send_signal(signum)
        assert client.is_closed_by_peer()
    _, stderr = serve.communicate(timeout=STOP_TIMEOUT_S)
    assert serve.returncode == 0, stderr
    assert "shutting down" in stderr


def run_serve(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--override", "num.partitions=abc"], "num.partitions"),
        (["--override", "no.such.key=1"], "no.such.key"),
        (["--override", "listeners=PLAINTEXT://127.0.0.1:0"], "controller"),
        (["--override", "notkeyvalue"], "key=value"),
        (["--config", "/nonexistent/server.properties"], "/nonexistent/server.properties"),
    ],
)
def test_invalid_config_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    proc = run_serve(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ferrokafka serve: "), proc.stderr
    assert message in lines[0]
    assert "Traceback" not in proc.stderr


def test_config_file_with_kafka_keys(tmp_path: Path) -> None:
    properties = tmp_path / "server.properties"
    properties.write_text(
        "process.roles=broker,controller\n"
        "node.id=3\n"
        "controller.quorum.voters=3@127.0.0.1:9093\n"
        "listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0\n"
        "controller.listener.names=CONTROLLER\n"
        f"log.dirs={tmp_path / 'logs'}\n"
        "num.partitions=3\n"
    )
    # A configured node starts only on formatted directories (as Kafka's server does).
    formatted = subprocess.run(
        [*COMMAND[:-1], "storage", "format", "-t", "MkU3OEVBNTcwNTJENDM2Qk", "-c", str(properties)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        check=False,
    )
    assert formatted.returncode == 0, formatted.stderr
    proc = subprocess.Popen(
        [*COMMAND, "--config", str(properties)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = first_line(proc)
        assert line.startswith("ferrokafka node 3 listening on PLAINTEXT://127.0.0.1:"), line
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=STOP_TIMEOUT_S)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=STOP_TIMEOUT_S)


def test_port_in_use_is_one_line_and_exit_1(ferrokafka_broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    taken = ferrokafka_broker.bootstrap_servers
    proc = run_serve(
        "--listeners",
        f"PLAINTEXT://{taken},CONTROLLER://127.0.0.1:0",
        "--log-dirs",
        str(tmp_path / "data"),
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith("ferrokafka serve: cannot start:")
    assert "Traceback" not in proc.stderr


def test_default_data_dir_is_under_the_current_directory(tmp_path: Path) -> None:
    """No arguments would take port 9092, which a test cannot count on being free; check the
    documented default data directory with only the ports changed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}
    proc = subprocess.Popen(
        [*COMMAND, *EPHEMERAL],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        started = time.monotonic()
        line = first_line(proc)
        ready_s = time.monotonic() - started
        assert "data in ./ferrokafka-data" in line, line
        assert (tmp_path / "ferrokafka-data").is_dir()
        print(f"serve ready in {ready_s:.3f} s (interpreter start included)")
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=STOP_TIMEOUT_S)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=STOP_TIMEOUT_S)


def test_data_without_meta_properties_is_refused(tmp_path: Path) -> None:
    """The built-in node formats its directory on first start only: started, stopped, its
    meta.properties deleted, it refuses to start (one line, exit 1) instead of starting a new
    cluster over the old data, as Kafka refuses."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}
    proc = subprocess.Popen(
        [*COMMAND, *EPHEMERAL],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert "listening on" in first_line(proc)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=STOP_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=STOP_TIMEOUT_S)
    meta = tmp_path / "ferrokafka-data" / "meta.properties"
    assert meta.is_file()
    meta.unlink()
    refused = subprocess.run(
        [*COMMAND, *EPHEMERAL],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
        env=env,
        check=False,
    )
    assert refused.returncode == 1, refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "no meta.properties" in lines[0], refused.stderr


@pytest.mark.parametrize(("soft", "hard"), [(1024, 4096), (1024, 1024)])
def test_open_file_limit_is_raised_or_reported(tmp_path: Path, soft: int, hard: int) -> None:
    """serve raises its soft open-file limit to the hard one (a broker at 1,024 kept serving
    while its checkpoint writes failed with EMFILE); one it cannot raise far enough is named
    in a warning at start."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}

    def limit_to(soft: int = soft, hard: int = hard) -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    proc = subprocess.Popen(
        [*COMMAND, *EPHEMERAL, "--log-dirs", str(tmp_path / "data")],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        preexec_fn=limit_to,
    )
    try:
        assert "listening on" in first_line(proc)
        limits = Path(f"/proc/{proc.pid}/limits").read_text()
        row = next(line for line in limits.splitlines() if line.startswith("Max open files"))
        assert row.split()[3:5] == [str(hard), str(hard)], row
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=STOP_TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=STOP_TIMEOUT_S)
    assert ("open-file limit is 4096" in err) == (hard == 4096), err
    assert ("open-file limit is 1024" in err) == (hard == 1024), err
