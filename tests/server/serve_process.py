"""``ferrokafka serve`` as a subprocess, for the tests of its logs, start-up errors and
``--port``: the command, a free port pair, and a running broker whose stderr is collected."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Run the CLI the way the console script does, from the repo root.
COMMAND = [sys.executable, "-c", "from ferrokafka_cli.main import main; main()", "serve"]
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
EXIT_TIMEOUT_S = 60.0
ADDRESS = re.compile(r"listening on PLAINTEXT://([0-9.]+):(\d+)")
EPHEMERAL = ["--listeners", "PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0"]
# Port pairs tried when looking for two free neighbours.
PORT_ATTEMPTS_MAX = 50


def env() -> dict[str, str]:
    """This test process's environment, unbuffered: ``ferrokafka`` and ``ferrokafka_cli`` are
    imported as this process imports them (the installed wheel in CI; a developer's
    PYTHONPATH=python otherwise). Never REPO/python first: a clone has no native module there."""
    return {**os.environ, "PYTHONUNBUFFERED": "1"}


def run_serve(*args: str, prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    """A serve that is expected to exit on its own (a start-up failure)."""
    return subprocess.run(
        [*(prefix or []), *COMMAND, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=EXIT_TIMEOUT_S,
        env=env(),
    )


def free_port_pair() -> int:
    """A port N with N and N+1 both free on 127.0.0.1 (as --port takes N+1 too)."""
    for _ in range(PORT_ATTEMPTS_MAX):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            if port + 1 > 65535:
                continue
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise AssertionError("no two neighbouring free ports")


class Serve:
    """A running ``ferrokafka serve``: its address and its stderr so far."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.stderr_lines: list[str] = []
        self.stdout_lines: list[str] = []
        self._lock = threading.Lock()
        self._readers = [
            threading.Thread(target=self._pump, args=(proc.stderr, self.stderr_lines), daemon=True),
            threading.Thread(target=self._pump, args=(proc.stdout, self.stdout_lines), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        self.bootstrap = self._wait_address()

    def _pump(self, stream: object, lines: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self._lock:
                lines.append(line.rstrip("\n"))

    def _wait_address(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            with self._lock:
                for line in self.stdout_lines:
                    match = ADDRESS.search(line)
                    if match:
                        return f"{match.group(1)}:{match.group(2)}"
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"serve did not start: {self.stderr()}")

    def stderr(self) -> str:
        with self._lock:
            return "\n".join(self.stderr_lines)

    def wait_stderr(self, pattern: str, timeout_s: float = 30.0) -> str:
        """The first stderr line matching ``pattern`` (regex), waiting for it (bounded)."""
        compiled = re.compile(pattern)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                for line in self.stderr_lines:
                    if compiled.search(line):
                        return line
            time.sleep(0.05)
        raise AssertionError(f"no stderr line matches {pattern!r}:\n{self.stderr()}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            code = self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(STOP_TIMEOUT_S)
        for reader in self._readers:
            reader.join(STOP_TIMEOUT_S)
        return code


@contextmanager
def serving(*args: str) -> Iterator[Serve]:
    proc = subprocess.Popen(
        [*COMMAND, *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env(),
    )
    try:
        serve = Serve(proc)
    except BaseException:
        proc.kill()
        proc.wait(STOP_TIMEOUT_S)
        raise
    try:
        yield serve
    finally:
        serve.stop()
