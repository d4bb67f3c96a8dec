"""Why a broker cannot start, in one line that names the setting, the path or port, and what
to do: ``ferrokafka serve`` prints it instead of a traceback (exit code 1).

:func:`preflight` checks what can be checked before anything is opened — each directory of
``log.dirs`` and ``metadata.log.dir`` (a file where a directory should be, not writable, locked
by another broker) and each listener's port (already in use, not an address of this host) — so
the common mistakes are named precisely. What still fails later (a race, or a failure the
checks do not foresee) reaches :func:`describe_failure`, which looks through trio's exception
groups for the error that matters and names the setting it can tie it to.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from collections.abc import Iterator
from pathlib import Path

from ferrokafka.config import BrokerConfig, Endpoint
from ferrokafka.config.listeners import TLS_PROTOCOLS
from ferrokafka.storage.checkpoints import CheckpointError
from ferrokafka.storage.dir_failure import probe_log_dir
from ferrokafka.storage.logdirs import LOCK_FILE, LogDirError
from ferrokafka.storage.meta_ensemble import MetaPropertiesError

# Where Linux lists the file locks held (flock and POSIX) with the PID holding each.
PROC_LOCKS = Path("/proc/locks")
# Lines of /proc/locks read at most (one per lock held on the machine).
PROC_LOCKS_LINES_MAX = 100_000
# Exception groups are unwrapped this deep at most.
GROUP_DEPTH_MAX = 16


class StartupError(Exception):
    """A reason not to start, already phrased as the one line to print."""


def data_dirs(config: BrokerConfig) -> list[tuple[str, str]]:
    """(setting, path) of every directory the node writes: each of ``log.dirs``, and
    ``metadata.log.dir`` when it is set apart."""
    setting = "log.dirs" if config.originals.get("log.dirs") is not None else "log.dir"
    found = [(setting, path) for path in config.log_dirs]
    metadata_dir = config["metadata.log.dir"]
    if metadata_dir and str(metadata_dir) not in config.log_dirs:
        found.append(("metadata.log.dir", str(metadata_dir)))
    return found


def preflight(config: BrokerConfig) -> None:
    """Raise :class:`StartupError` for the first directory or listener that cannot work. A
    dir whose disk fails is left to the meta.properties checks (a failed metadata log dir
    refuses the start, as Kafka's) and the LogManager (a failed log dir is offline from the
    start, as Kafka's errorLogDirs)."""
    for setting, path in data_dirs(config):
        if probe_log_dir(Path(path).absolute()) is None:
            check_dir(setting, path)
    for endpoint in config.listeners:
        check_port(endpoint)
    check_tls_listeners(config)


def check_tls_listeners(config: BrokerConfig) -> None:
    """Each SSL or SASL_SSL listener's keystore, truststore and settings make a context
    (TlsConfigError, a StartupError, names the listener and what is wrong)."""
    from ferrokafka.server.tls.context import build_listener_tls, listener_values  # a cycle

    for endpoint in config.listeners:
        if config.security_protocol_map.get(endpoint.name) in TLS_PROTOCOLS:
            build_listener_tls(listener_values(config, endpoint.name), endpoint.name)
    # The client side of the controller and inter-broker listeners (cluster/connector), whose
    # stores a broker-only node does not serve itself.
    from ferrokafka.cluster.connector import node_connectors
    from ferrokafka.config import ConfigError

    try:
        node_connectors(config)
    except ConfigError as exc:
        raise StartupError(str(exc)) from None


def check_dir(setting: str, raw: str) -> None:
    path = Path(raw).absolute()
    if path.exists() and not path.is_dir():
        raise StartupError(
            f"{setting}: {path} is a file, not a directory: move it away, or set {setting} "
            "to a directory"
        )
    existing = path
    while not existing.exists():
        existing = existing.parent
    if existing != path:
        if not existing.is_dir():
            raise StartupError(
                f"{setting}: cannot create {path}: {existing} is a file, not a directory: "
                f"move it away, or set {setting} to another path"
            )
        if not os.access(existing, os.W_OK | os.X_OK):
            raise StartupError(
                f"{setting}: cannot create {path}: {existing} is not writable by this user "
                f"(uid {os.geteuid()}): create the directory and give this user write access, "
                f"or set {setting} to a writable path"
            )
        return
    if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
        raise StartupError(
            f"{setting}: {path} is not writable by this user (uid {os.geteuid()}): fix its "
            f"owner or permissions (chown/chmod), or set {setting} to a writable directory"
        )
    check_lock(setting, path)


def check_lock(setting: str, path: Path) -> None:
    """Refuse a directory whose lock file another broker holds (the lock is taken and let go
    at once: the broker takes it for good when it opens the directory)."""
    lock = path / LOCK_FILE
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return  # no lock file (yet): nobody holds it; the broker creates it
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                return
            raise StartupError(locked_message(setting, path)) from None
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def locked_message(setting: str, path: Path) -> str:
    lock = path / LOCK_FILE
    pid = lock_holder(lock)
    holder = f"held by PID {pid}" if pid is not None else "held by another process"
    return (
        f"{setting}: {path} is in use by another broker (lock file {lock} {holder}): stop "
        f"that broker, or give this one its own {setting}"
    )


def lock_holder(lock: Path) -> int | None:
    """The PID holding a lock on ``lock``, from /proc/locks (None if not found there)."""
    try:
        inode = os.stat(lock).st_ino
        with PROC_LOCKS.open() as lines:
            for count, line in enumerate(lines):
                if count >= PROC_LOCKS_LINES_MAX:
                    break
                # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"
                fields = line.split()
                if "->" in fields:
                    continue  # a waiter, not the holder
                if len(fields) >= 6 and fields[5].rsplit(":", 1)[-1] == str(inode):
                    return int(fields[4])
    except (OSError, ValueError):
        return None
    return None


def check_port(endpoint: Endpoint) -> None:
    """Refuse a listener whose port is taken, or whose host is not an address here."""
    if endpoint.port == 0:
        return
    where = f"{endpoint.host or '*'}:{endpoint.port}"
    try:
        infos = socket.getaddrinfo(
            endpoint.host or None,
            endpoint.port,
            type=socket.SOCK_STREAM,
            flags=socket.AI_PASSIVE,
        )
    except socket.gaierror as exc:
        raise StartupError(
            f"listeners: {endpoint.name} host {endpoint.host!r} does not resolve "
            f"({exc.strerror}): fix listeners, or use 0.0.0.0 / an empty host for every "
            "interface"
        ) from None
    for family, kind, proto, _, address in infos:
        try:
            sock = socket.socket(family, kind, proto)
        except OSError as exc:
            if exc.errno == errno.EAFNOSUPPORT:
                continue  # an IPv6 address on an IPv4-only host: trio skips it too
            raise StartupError(bind_message(endpoint, where, exc)) from None
        try:
            # As trio's listeners: a port in TIME_WAIT can be bound again at once.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
        except OSError as exc:
            raise StartupError(bind_message(endpoint, where, exc)) from None
        finally:
            sock.close()


def bind_message(endpoint: Endpoint, where: str, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"listeners: {endpoint.name} cannot listen on {where}: address already in use "
            "(another broker running?): stop what holds the port, or pick another one "
            "(--port, --listeners, or listeners= in the config)"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return (
            f"listeners: {endpoint.name} cannot listen on {where}: {endpoint.host} is not an "
            "address of this machine: use one of its addresses, or 0.0.0.0 for every interface"
        )
    if exc.errno == errno.EACCES:
        return (
            f"listeners: {endpoint.name} cannot listen on {where}: permission denied (ports "
            "below 1024 need privileges): pick a port from 1024 up"
        )
    return f"listeners: {endpoint.name} cannot listen on {where}: {exc.strerror or exc}"


def leaf_errors(exc: BaseException, depth: int = 0) -> Iterator[BaseException]:
    """``exc`` itself, or the errors inside its (nested) exception groups."""
    inner = getattr(exc, "exceptions", None)
    if inner is None or depth >= GROUP_DEPTH_MAX:
        yield exc
        return
    for each in inner:
        yield from leaf_errors(each, depth + 1)


def describe_failure(exc: BaseException, config: BrokerConfig) -> str | None:
    """The one line for a start-up failure, or None for one this cannot name (a bug: the
    caller shows it with its type and message)."""
    for leaf in leaf_errors(exc):
        if isinstance(leaf, StartupError):
            return str(leaf)
        if isinstance(leaf, (MetaPropertiesError, CheckpointError)):
            return str(leaf)
        if isinstance(leaf, LogDirError):
            return _log_dir_message(leaf, config)
        if isinstance(leaf, OSError):
            return _os_error_message(leaf, config)
    return None


def _setting_of(path: str | None, config: BrokerConfig) -> tuple[str, str] | None:
    if not path:
        return None
    target = Path(path).absolute()
    for setting, raw in data_dirs(config):
        root = Path(raw).absolute()
        if target == root or root in target.parents:
            return setting, str(root)
    return None


def _log_dir_message(exc: LogDirError, config: BrokerConfig) -> str:
    text = str(exc)
    for setting, raw in data_dirs(config):
        root = Path(raw).absolute()
        if str(root) in text:
            if "failed to acquire lock" in text:
                return locked_message(setting, root)
            return f"{setting}: {text}"
    return f"log.dirs: {text}"


def _os_error_message(exc: OSError, config: BrokerConfig) -> str:
    if exc.errno == errno.EADDRINUSE:
        ports = ", ".join(str(ep) for ep in config.listeners if ep.port)
        return (
            f"listeners: address already in use (one of {ports or 'the listeners'}): stop what "
            "holds the port, or pick another one (--port, --listeners, or listeners=)"
        )
    found = _setting_of(exc.filename, config)
    reason = exc.strerror or str(exc)
    if found is not None:
        setting, root = found
        return (
            f"{setting}: {exc.filename}: {reason}: check {root} (it must be a directory this "
            f"user can write), or set {setting} elsewhere"
        )
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{reason}"
