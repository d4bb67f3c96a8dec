"""Nodes under test: one ``ferrokafka serve`` process each, with its own data directory
(optionally on a small tmpfs the nemesis can fill, or on an ext4 loop disk that can lose
power), its own port, its stderr in a file, and faults delivered by PID only: SIGKILL,
SIGSTOP/SIGCONT, a clean restart (SIGTERM, wait), and a power loss (the disk stops writing,
SIGKILL, the disk comes back with what it had written).

Where a node runs is a :class:`Placement`: the address it listens on and the command prefix
that starts a process there. :class:`Loopback` (127.0.0.1, the host's network) is the
single-node form; a placement per network namespace (``ip netns exec NAME``, an address on a
bridge) slots in here for the multi-node form without changing :class:`FerrokafkaNode`.

Everything is bounded (``*_TIMEOUT_S``) and :meth:`FerrokafkaNode.close` leaves no process and
no mount behind whatever state the node is in.
"""

from __future__ import annotations

import errno
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .ext4_disk import Ext4Disk

REPO = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 60.0
KILL_TIMEOUT_S = 10.0
READY_POLL_S = 0.02
# What `ferrokafka serve` prints on stdout once it is listening (cli/ferrokafka_cli/serve.py).
READY_LINE = b" listening on "
MOUNT_TIMEOUT_S = 30.0
BALLAST = "ballast"
# Fill in big writes, then small ones, so the disk ends full to the last page.
BALLAST_CHUNKS = (1024 * 1024, 4096)
log = logging.getLogger(__name__)


def free_port(host: str = LOOPBACK) -> int:
    """A port that was free on ``host`` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class Placement(Protocol):
    """Where a node runs: its listening address and how to start a process there."""

    @property
    def host(self) -> str: ...
    def command_prefix(self) -> list[str]: ...
    def free_port(self) -> int: ...


class Loopback:
    """The host's own network namespace, loopback only."""

    host = LOOPBACK

    def command_prefix(self) -> list[str]:
        return []

    def free_port(self) -> int:
        return free_port(self.host)


def _run(command: list[str]) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=MOUNT_TIMEOUT_S)


class Disk:
    """A log dir on its own tmpfs of ``size_bytes``: ENOSPC on demand, with a ballast file.

    :meth:`unmount` is safe to call at any time and more than once; a busy mount is detached
    lazily so that a test never leaves a tmpfs behind."""

    def __init__(self, path: Path, size_bytes: int) -> None:
        self.path = Path(path)
        self.size_bytes = size_bytes
        self.mounted = False

    def mount(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        _run(
            [
                "mount",
                "-t",
                "tmpfs",
                "-o",
                f"size={self.size_bytes},mode=0755",
                "tmpfs",
                str(self.path),
            ]
        )
        self.mounted = True

    def unmount(self) -> None:
        if not self.mounted:
            return
        try:
            _run(["umount", str(self.path)])
        except subprocess.CalledProcessError:
            _run(["umount", "-l", str(self.path)])
        self.mounted = False

    @property
    def ballast(self) -> Path:
        return self.path / BALLAST

    def fill(self) -> int:
        """Write the ballast until the filesystem refuses (ENOSPC); returns its bytes."""
        written = 0
        limit = self.size_bytes + BALLAST_CHUNKS[0]
        fd = os.open(self.ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            for chunk in BALLAST_CHUNKS:
                zeros = bytes(chunk)
                while written < limit:
                    try:
                        written += os.write(fd, zeros)
                    except OSError as exc:
                        if exc.errno != errno.ENOSPC:
                            raise
                        break
        finally:
            os.close(fd)
        return written

    def free(self) -> None:
        self.ballast.unlink(missing_ok=True)

    def free_bytes(self) -> int:
        stat = os.statvfs(self.path)
        return stat.f_bavail * stat.f_frsize


@dataclass
class NodeConfig:
    node_id: int
    work_dir: Path
    # A tmpfs of this size for the log dir (needs root); None: a plain directory.
    disk_bytes: int | None = None
    # An ext4 loop disk of this size for the data dir, which can lose power (needs root).
    power_disk_bytes: int | None = None
    log_level: str = "WARNING"
    overrides: dict[str, str] = field(default_factory=dict)


class NodeError(RuntimeError):
    pass


def _source_tree_env() -> dict[str, str]:
    """The environment that runs ``ferrokafka serve`` from this checkout (``cli`` lives at the
    repository's top) with the ``ferrokafka`` this process would import: the source tree's
    python/ when it is on the path with a native module, else the installed package."""
    env = dict(os.environ)
    paths = [str(REPO)]
    spec = importlib.util.find_spec("ferrokafka")
    if spec is not None and spec.origin is not None:
        paths.append(str(Path(spec.origin).parent.parent))
    inherited = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = os.pathsep.join(p for p in [*paths, inherited] if p)
    return env


class FerrokafkaNode:
    """One ``ferrokafka serve`` process, started again on the same data dir and ports."""

    # The exit codes of a clean stop (SIGTERM).
    CLEAN_EXIT_CODES: tuple[int, ...] = (0,)

    def __init__(self, config: NodeConfig, placement: Placement | None = None) -> None:
        self.config = config
        self.placement = placement or Loopback()
        self.work_dir = Path(config.work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        # On a tmpfs, the log dir is a directory inside the mount, next to the ballast file.
        disk_path = self.work_dir / "disk"
        on_disk = config.disk_bytes or config.power_disk_bytes
        self.data_dir = (disk_path if on_disk else self.work_dir) / "data"
        self.stderr_path = self.work_dir / "serve.err"
        self.stdout_path = self.work_dir / "serve.out"
        self.port = self.placement.free_port()
        self.controller_port = self.placement.free_port()
        self.disk = Disk(disk_path, config.disk_bytes) if config.disk_bytes else None
        self.power_disk = (
            Ext4Disk(disk_path, self.work_dir / "disk.img", config.power_disk_bytes)
            if config.power_disk_bytes
            else None
        )
        self._process: subprocess.Popen[bytes] | None = None
        self.paused = False
        self.starts = 0
        self.closed = False

    # -- addresses -----------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self.placement.host

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        if self._process is None:
            raise NodeError(f"node {self.config.node_id} is not running")
        return self._process.pid

    @property
    def running(self) -> bool:
        """A process exists (it may be paused)."""
        return self._process is not None and self._process.poll() is None

    # -- life cycle ----------------------------------------------------------------------------

    def _command(self) -> list[str]:
        h = self.host
        overrides = [
            arg for k, v in self.config.overrides.items() for arg in ("--override", f"{k}={v}")
        ]
        return [
            *self.placement.command_prefix(),
            sys.executable,
            "-c",
            "from ferrokafka_cli.main import main; main()",
            "serve",
            "--node-id",
            str(self.config.node_id),
            "--listeners",
            f"PLAINTEXT://{h}:{self.port},CONTROLLER://{h}:{self.controller_port}",
            "--log-dirs",
            str(self.data_dir),
            "--log-level",
            self.config.log_level,
            *overrides,
        ]

    def _ready_lines(self) -> int:
        try:
            return self.stdout_path.read_bytes().count(READY_LINE)
        except FileNotFoundError:
            return 0

    def start(self, timeout_s: float = START_TIMEOUT_S) -> float:
        """Start the process and wait until it says it is listening; returns the seconds."""
        began = time.monotonic()
        ready_before = self.launch()
        self.wait_ready(ready_before, began + timeout_s)
        return time.monotonic() - began

    def launch(self) -> int:
        """Start the process without waiting (the nodes of a cluster are ready only once a
        quorum runs); returns the ready lines before it, for :meth:`wait_ready`."""
        if self.running:
            raise NodeError(f"node {self.config.node_id} is already running")
        if self.closed:
            raise NodeError(f"node {self.config.node_id} is closed")
        self.mount_disk()
        ready_before = self._ready_lines()
        with open(self.stdout_path, "ab") as out, open(self.stderr_path, "ab") as err:
            err.write(f"--- start {self.starts + 1} at {time.time():.3f}\n".encode())
            err.flush()
            self._process = subprocess.Popen(
                self._command(),
                cwd=REPO,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=_source_tree_env(),
            )
        self.starts += 1
        self.paused = False
        return ready_before

    def wait_ready(self, ready_before: int, deadline: float) -> None:
        """Until the process printed one more ready line than ``ready_before`` (killed and
        :class:`NodeError` past the ``time.monotonic()`` ``deadline`` or if it exits)."""
        while self._ready_lines() <= ready_before:
            if self._process is None or self._process.poll() is not None:
                code = None if self._process is None else self._process.returncode
                raise NodeError(
                    f"node {self.config.node_id} exited with {code} "
                    f"during start-up\n{self.stderr_tail()}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise NodeError(f"node {self.config.node_id} not ready by its deadline")
            time.sleep(READY_POLL_S)

    def kill(self) -> None:
        """SIGKILL by PID and reap (a paused process dies too)."""
        process, self._process = self._process, None
        self.paused = False
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=KILL_TIMEOUT_S)

    def pause(self) -> None:
        """SIGSTOP: the process stays, its sockets stay open, nothing answers."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGSTOP)
            self.paused = True

    def resume(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGCONT)
        self.paused = False

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> int | None:
        """Clean stop: SIGTERM and wait for the exit (SIGKILL past ``timeout_s``, then raise).
        Returns the exit code (None if it was not running)."""
        process = self._process
        if process is None:
            return None
        if self.paused:
            self.resume()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
                raise NodeError(
                    f"node {self.config.node_id} did not stop within {timeout_s}s"
                ) from None
        self._process = None
        return process.returncode

    def restart(self) -> float:
        """Clean stop, then start on the same data; returns the start's seconds."""
        code = self.stop()
        if code is not None and code not in self.CLEAN_EXIT_CODES:
            raise NodeError(f"node {self.config.node_id} stopped with exit code {code}")
        return self.start()

    def exited(self) -> int | None:
        """The exit code if the process died on its own (not stopped or killed by us)."""
        if self._process is None:
            return None
        return self._process.poll()

    def close(self) -> None:
        """Kill whatever runs, unmount whatever is mounted; never raises for a second call."""
        self.closed = True
        try:
            self.kill()
        finally:
            if self.disk is not None:
                self.disk.unmount()
            if self.power_disk is not None:
                self.power_disk.close()

    # -- disk ------------------------------------------------------------------------------------

    def mount_disk(self) -> None:
        """Mount the node's own disk, if it has one (before formatting and each start)."""
        if self.disk is not None and not self.disk.mounted:
            self.disk.mount()
        if self.power_disk is not None and not self.power_disk.mounted:
            self.power_disk.mount()

    def lose_power(self) -> None:
        """A power loss: the disk stops writing (EXT4_IOC_SHUTDOWN without a journal flush:
        what was only in the page cache is gone), the process is killed, and the disk is
        mounted again holding what it had written (journal replayed). Not started again."""
        if self.power_disk is None:
            raise NodeError(f"node {self.config.node_id} has no disk that can lose power")
        self.power_disk.shut_down()
        self.kill()
        self.power_disk.remount()

    def fill_disk(self) -> int:
        if self.disk is None:
            raise NodeError(f"node {self.config.node_id} has no tmpfs log dir to fill")
        return self.disk.fill()

    def free_disk(self) -> None:
        if self.disk is not None:
            self.disk.free()

    # -- logs ------------------------------------------------------------------------------------

    def stderr_tail(self, chars: int = 4000) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def stderr_count(self, needle: str) -> int:
        try:
            return self.stderr_path.read_text(errors="replace").count(needle)
        except FileNotFoundError:
            return 0


def stop_cleanly(nodes: list[FerrokafkaNode]) -> list[str]:
    """Stop each node cleanly (SIGTERM), in order; what went wrong, one line each (an exit
    code other than 0, or no exit in time: then it was killed)."""
    problems = []
    for node in nodes:
        try:
            code = node.stop()
        except NodeError as exc:
            problems.append(str(exc))
            continue
        if code is not None and code not in node.CLEAN_EXIT_CODES:
            problems.append(f"node {node.config.node_id}: clean stop exited with code {code}")
    return problems
