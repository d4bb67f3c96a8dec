"""Which configurations run the KRaft quorum over the network (``uses_quorum``), and a
``process.roles=controller`` node as ``ferrokafka serve`` runs it: the quorum and its
controller on the controller listener, no broker listener; one line and exit 1 when its
bootstrap snapshot finalizes a metadata.version it cannot run."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import trio

from ferrokafka.cluster.metadata_log import METADATA_PARTITION_DIR
from ferrokafka.cluster.records import FeatureLevelRecord
from ferrokafka.cluster.snapshot_file import BOOTSTRAP_SNAPSHOT_ID, write_snapshot
from ferrokafka.config import load_broker_config
from ferrokafka.server.kraft import KRaftNode, is_controller_only, uses_quorum
from ferrokafka.storage import LogClosedError

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from ferrokafka_cli.main import main; main()"]
TIMEOUT_S = 30.0
EXIT_START_FAILED = 1


def _config(roles: str, voters: str, listeners: str) -> dict[str, str]:
    advertised = ",".join(ep for ep in listeners.split(",") if not ep.startswith("CONTROLLER"))
    return {
        "process.roles": roles,
        "node.id": "1",
        "controller.quorum.voters": voters,
        "listeners": listeners,
        "advertised.listeners": advertised or listeners,
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    }


@pytest.mark.parametrize(
    ("roles", "voters", "listeners", "quorum"),
    [
        # The single node (also what `ferrokafka serve` with no arguments is): no network quorum.
        ("broker,controller", "1@127.0.0.1:9093", "PLAINTEXT://:9092,CONTROLLER://:9093", False),
        (
            "broker,controller",
            "1@127.0.0.1:9093,2@127.0.0.1:9095",
            "PLAINTEXT://:9092,CONTROLLER://:9093",
            True,
        ),
        ("controller", "1@127.0.0.1:9093", "CONTROLLER://:9093", True),
        ("broker", "2@127.0.0.1:9093", "PLAINTEXT://:9092", True),
    ],
)
def test_uses_quorum(roles: str, voters: str, listeners: str, quorum: bool) -> None:
    settings = _config(roles, voters, listeners)
    if roles == "broker":
        settings["node.id"] = "3"
    config = load_broker_config(None, settings)
    assert uses_quorum(config) is quorum
    assert is_controller_only(config) is (roles == "controller")


def test_serve_defaults_use_no_quorum() -> None:
    assert not uses_quorum(load_broker_config(None, []))


def test_a_dynamic_quorum_is_a_quorum_once_formatted_for_it(tmp_path: Path) -> None:
    """controller.quorum.bootstrap.servers (KIP-853): a node with one role is always a quorum
    node; a combined one when its bootstrap checkpoint says kraft.version 1 (formatted
    --standalone, --initial-controllers or --no-initial-controllers), else the single node."""
    settings = _config("broker,controller", "", "PLAINTEXT://:9092,CONTROLLER://:9093")
    del settings["controller.quorum.voters"]
    settings["controller.quorum.bootstrap.servers"] = "127.0.0.1:9093"
    settings["log.dirs"] = str(tmp_path / "logs")
    config = load_broker_config(None, settings)
    assert not uses_quorum(config)  # not formatted yet
    properties = tmp_path / "server.properties"
    properties.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    formatted = subprocess.run(
        [*CLI, "storage", "format", "-t", "MkU3OEVBNTcwNTJENDM2Qg", "-c", str(properties),
         "--standalone"],
        cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
    )  # fmt: skip
    assert formatted.returncode == 0, formatted.stderr
    assert uses_quorum(config)
    controller_only = {**settings, "process.roles": "controller", "listeners": "CONTROLLER://:9093"}
    controller_only["advertised.listeners"] = "CONTROLLER://:9093"
    controller_only["log.dirs"] = str(tmp_path / "other")
    assert uses_quorum(load_broker_config(None, controller_only))


def _controller_node(tmp_path: Path, port: int) -> Path:
    properties = tmp_path / "server.properties"
    settings = _config("controller", f"1@127.0.0.1:{port}", f"CONTROLLER://127.0.0.1:{port}")
    settings["log.dirs"] = str(tmp_path / "logs")
    properties.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
    formatted = subprocess.run(
        [*CLI, "storage", "format", "-t", "MkU3OEVBNTcwNTJENDM2Qk", "-c", str(properties)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert formatted.returncode == 0, formatted.stderr
    return properties


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(properties: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [*CLI, "serve", "--config", str(properties), "--log-level", "INFO"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    # Every read below is bounded: a hung node is killed, which ends its pipes.
    watchdog = threading.Timer(TIMEOUT_S, proc.kill)
    watchdog.daemon = True
    watchdog.start()
    return proc


def _stop(proc: subprocess.Popen[str], seen: str = "") -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=TIMEOUT_S)
    return seen + err


def test_controller_only_node_serves_the_controller_listener_alone(tmp_path: Path) -> None:
    proc = _start(_controller_node(tmp_path, _free_port()))
    seen = ""
    try:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()  # the ready line
        assert "listening on CONTROLLER://" in first and "PLAINTEXT" not in first, first
        while "is the active controller" not in seen and (line := proc.stderr.readline()):
            seen += line
    finally:
        err = _stop(proc, seen)
    assert proc.returncode == 0, err
    assert "node 1 is the active controller" in err, err
    assert "Traceback" not in err, err
    # No broker side: no registration, no partition directories but the metadata log's.
    # (It registers as a controller, which may be logged before it stops: not a broker.)
    assert "broker 1 registered" not in err
    assert [p.name for p in (tmp_path / "logs").iterdir() if p.is_dir()] == [METADATA_PARTITION_DIR]
    # The formatted features it lacks are named once; transaction.version 2 and
    # share.version 2 it supports.
    assert "share.version" not in err, err
    assert err.count("finalizes streams.version 1, which is not supported") == 1, err
    assert "transaction.version" not in err, err


def test_sigterm_during_activation_is_a_clean_stop(tmp_path: Path) -> None:
    """A stop right after start usually hands the lead over while the activation's bootstrap
    records are in flight: the activation is abandoned (NotActiveControllerError), not a
    crash; either way the node exits 0 without a traceback."""
    proc = _start(_controller_node(tmp_path, _free_port()))
    assert proc.stdout is not None
    assert "listening on CONTROLLER://" in proc.stdout.readline()
    err = _stop(proc)
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err


def test_unsupported_bootstrap_metadata_version_is_one_line(tmp_path: Path) -> None:
    properties = _controller_node(tmp_path, _free_port())
    write_snapshot(
        tmp_path / "logs" / METADATA_PARTITION_DIR,
        [FeatureLevelRecord(name="metadata.version", feature_level=34)],
        snapshot_id=BOOTSTRAP_SNAPSHOT_ID,
        last_contained_log_timestamp_ms=int(time.time() * 1000),
        replace=True,
    )
    proc = subprocess.run(
        [*CLI, "serve", "--config", str(properties)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert proc.returncode == EXIT_START_FAILED, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ferrokafka serve: cannot start: "), lines
    assert "metadata.version 34; this controller supports 7 to 33" in lines[0]


def test_a_metadata_log_closed_under_a_catch_up_ends_the_apply_loop() -> None:
    """A clean stop closes the metadata log once the raft driver stopped, and a catch-up
    already running in a worker thread (which the stop's cancellation cannot interrupt) then
    meets the closed log: the apply loop ends instead of failing the node (a SIGTERM of a
    bounced broker exited 1 with LogClosedError in CI)."""

    class ClosedLogFeed:
        async def committed(self) -> None:
            raise LogClosedError("log is closed")

    async def main() -> None:
        node = object.__new__(KRaftNode)  # only what _apply_commits uses
        node.feed = ClosedLogFeed()  # type: ignore[assignment]
        node.controller_channel = None
        node._active = False
        node._committed = trio.Event()
        node._committed.set()
        with trio.fail_after(5):
            await node._apply_commits()

    trio.run(main)
