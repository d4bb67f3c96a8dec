"""Each way ``ferrokafka serve`` can fail to start is one line on stderr naming the setting,
the path or port and what to do, exit code 1 (2 for an invalid configuration), and no
traceback unless ``--debug``. Every case runs the real command in a subprocess."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from serve_process import EPHEMERAL, run_serve, serving

from ferrokafka.server.startup_errors import describe_failure

if sys.version_info < (3, 11):
    from exceptiongroup import BaseExceptionGroup, ExceptionGroup  # trio's dependency there

EXIT_START_FAILED = 1
EXIT_CONFIG = 2
PREFIX = "ferrokafka serve: cannot start: "


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a failed start (asserting there is only one)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    return lines[0]


def unprivileged() -> list[str]:
    """A command prefix under which file permissions apply: nothing for a normal user; for
    root, setpriv without the capabilities that bypass them."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permissions cannot be made to apply")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]


def test_data_dir_not_writable(tmp_path: Path) -> None:
    locked = tmp_path / "readonly"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        result = run_serve(*EPHEMERAL, "--log-dirs", str(locked), prefix=unprivileged())
    finally:
        locked.chmod(0o755)
    assert result.returncode == EXIT_START_FAILED
    line = one_line(result)
    assert line.startswith(PREFIX + f"log.dirs: {locked} is not writable"), line
    assert "chmod" in line


def test_data_dir_parent_not_writable(tmp_path: Path) -> None:
    parent = tmp_path / "readonly"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        result = run_serve(*EPHEMERAL, "--log-dirs", str(parent / "data"), prefix=unprivileged())
    finally:
        parent.chmod(0o755)
    assert result.returncode == EXIT_START_FAILED
    line = one_line(result)
    assert f"log.dirs: cannot create {parent / 'data'}: {parent} is not writable" in line, line


def test_data_dir_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.write_text("not a directory")
    result = run_serve(*EPHEMERAL, "--log-dirs", str(path))
    assert result.returncode == EXIT_START_FAILED
    line = one_line(result)
    assert line == (
        PREFIX + f"log.dirs: {path} is a file, not a directory: move it away, or set log.dirs "
        "to a directory"
    )


def test_metadata_dir_is_a_file(tmp_path: Path) -> None:
    path = tmp_path / "meta"
    path.write_text("not a directory")
    result = run_serve(
        *EPHEMERAL,
        "--log-dirs",
        str(tmp_path / "data"),
        "--override",
        f"metadata.log.dir={path}",
    )
    assert result.returncode == EXIT_START_FAILED
    line = one_line(result)
    assert line.startswith(PREFIX + f"metadata.log.dir: {path} is a file"), line


def test_data_dir_locked_by_another_broker(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with serving(*EPHEMERAL, "--log-dirs", str(data)) as first:
        result = run_serve(*EPHEMERAL, "--log-dirs", str(data))
        assert result.returncode == EXIT_START_FAILED
        line = one_line(result)
        assert line == (
            PREFIX + f"log.dirs: {data} is in use by another broker (lock file {data}/.lock "
            f"held by PID {first.proc.pid}): stop that broker, or give this one its own log.dirs"
        )


def test_port_in_use_names_host_port_and_listener(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_serve(
            "--listeners",
            f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:0",
            "--log-dirs",
            str(tmp_path / "data"),
        )
    assert result.returncode == EXIT_START_FAILED
    line = one_line(result)
    assert line.startswith(
        PREFIX + f"listeners: PLAINTEXT cannot listen on 127.0.0.1:{port}: address already in use"
    ), line
    assert "--port" in line


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    path = tmp_path / "data"
    path.write_text("not a directory")
    result = run_serve(*EPHEMERAL, "--log-dirs", str(path), "--debug")
    assert result.returncode == EXIT_START_FAILED
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1].startswith(PREFIX + "log.dirs:")


def test_unformatted_dir_with_config(tmp_path: Path) -> None:
    config = tmp_path / "server.properties"
    config.write_text(
        "process.roles=broker,controller\nnode.id=1\n"
        "controller.quorum.voters=1@127.0.0.1:9\n"
        "listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0\n"
        "controller.listener.names=CONTROLLER\n"
        f"log.dirs={tmp_path / 'data'}\n"
    )
    result = run_serve("--config", str(config))
    assert result.returncode == EXIT_START_FAILED
    line = one_line(result)
    assert "meta.properties" in line and "storage format" in line, line


def test_invalid_configuration_keeps_exit_code_2(tmp_path: Path) -> None:
    result = run_serve(*EPHEMERAL, "--log-dirs", str(tmp_path / "d"), "--override", "no.such=1")
    assert result.returncode == EXIT_CONFIG
    assert one_line(result).startswith("ferrokafka serve: invalid configuration:")


def test_failure_inside_trio_is_unwrapped(tmp_path: Path) -> None:
    """What the pre-flight checks miss (a port taken between the check and the bind) comes
    out of trio as an exception group; the line still names the listeners."""
    from ferrokafka.config import load_broker_config

    config = load_broker_config(
        None,
        [
            "listeners=PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093",
            f"log.dirs={tmp_path}",
        ],
    )
    bind = OSError(98, "Address already in use")
    group = BaseExceptionGroup("nursery", [ExceptionGroup("inner", [bind])])
    message = describe_failure(group, config)
    assert message is not None
    assert message.startswith("listeners: address already in use")
    assert "PLAINTEXT://127.0.0.1:19092" in message
    missing = FileNotFoundError(2, "No such file or directory", str(tmp_path / "t-0" / "x.log"))
    message = describe_failure(ExceptionGroup("g", [missing]), config)
    assert message is not None and message.startswith(f"log.dirs: {tmp_path / 't-0' / 'x.log'}")


def test_invalid_secret_value_is_not_printed(tmp_path: Path) -> None:
    secret = "hunter2-not-printed"
    result = run_serve(
        *EPHEMERAL,
        "--log-dirs",
        str(tmp_path / "d"),
        "--override",
        f"delegation.token.secret.key={secret}",
    )
    assert result.returncode == EXIT_CONFIG
    line = one_line(result)
    assert "delegation.token.secret.key" in line and "[hidden]" in line
    assert secret not in result.stderr


def test_metadata_dir_not_writable(tmp_path: Path) -> None:
    parent = tmp_path / "readonly"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        result = run_serve(
            *EPHEMERAL,
            "--log-dirs",
            str(tmp_path / "data"),
            "--override",
            f"metadata.log.dir={parent / 'meta'}",
            prefix=unprivileged(),
        )
    finally:
        parent.chmod(0o755)
    assert result.returncode == EXIT_START_FAILED
    line = one_line(result)
    assert f"metadata.log.dir: cannot create {parent / 'meta'}: {parent} is not writable" in line
