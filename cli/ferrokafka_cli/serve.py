"""`ferrokafka serve`: run a broker in the foreground until SIGINT or SIGTERM.

With no arguments: node 1, broker and controller in one process, clients on
PLAINTEXT://localhost:9092 (the controller listener on localhost:9093), data in
./ferrokafka-data, formatted on first start. ``--config`` takes a Kafka ``server.properties``;
flags override it; its directories must have been formatted (``ferrokafka storage format``,
or Kafka's ``kafka-storage.sh format``). ``--port N`` is the short way to move the client
listener: without ``--config`` clients get localhost:N and the controller localhost:N+1;
with ``--config`` (or ``--listeners``) the first non-controller listener's port becomes N.

An invalid configuration is one line on stderr and exit code 2. Anything else that stops the
start — a data directory that is a file, not writable or locked by another broker, a port in
use, unformatted or mismatched directories — is one line naming the setting, the path or port
and what to do, and exit code 1 (:mod:`ferrokafka.server.startup_errors`); ``--debug`` adds the
traceback. ``--log-format json`` writes one JSON object per log line
(:mod:`ferrokafka.server.log_setup`). The broker logs one INFO line when it has started
(version, cluster id, node id, roles, listeners, data dirs, config source) and one when it
stops (and why).
"""

from __future__ import annotations

import ctypes
import gc
import logging
import resource
import signal
import sys
import traceback
from pathlib import Path
from typing import NoReturn

import click
import trio

from ferrokafka.cluster.bootstrap import BootstrapError, read_bootstrap_levels
from ferrokafka.cluster.storage_format import metadata_dir_of
from ferrokafka.config import BrokerConfig, ConfigError, Endpoint, load_broker_config
from ferrokafka.config.redact import redacted_message
from ferrokafka.server import Broker
from ferrokafka.server.connection import RECEIVE_CHUNK_BYTES
from ferrokafka.server.kraft import uses_quorum
from ferrokafka.server.log_setup import LOG_FORMATS, LogFormat, configure_logging
from ferrokafka.server.startup_errors import StartupError, describe_failure, preflight
from ferrokafka.storage.checkpoints import META_PROPERTIES, CheckpointError
from ferrokafka.storage.logdirs import LOCK_FILE
from ferrokafka.storage.meta_ensemble import MetaPropertiesError, load_meta_ensemble

DEFAULT_DATA_DIR = "./ferrokafka-data"
# Without --config, listen on loopback only: a development broker should not be reachable from
# the network by default (Kafka's shipped file binds every interface; --listeners does that).
DEFAULT_LISTENERS = "PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093"
DEFAULT_CONTROLLER_NAME = "CONTROLLER"
DEFAULT_CONTROLLER_LISTENER = "CONTROLLER://localhost:9093"
PORT_MAX = 65535
EXIT_CONFIG = 2
EXIT_START_FAILED = 1
log = logging.getLogger("ferrokafka.serve")


@click.command("serve")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="A Kafka server.properties file.",
)
@click.option("--listeners", help="listeners, e.g. PLAINTEXT://:9092,CONTROLLER://:9093")
@click.option("--advertised-listeners", help="advertised.listeners")
@click.option("--log-dirs", help=f"log.dirs (default without --config: {DEFAULT_DATA_DIR})")
@click.option("--node-id", type=int, help="node.id")
@click.option("--num-partitions", type=int, help="num.partitions of auto-created topics")
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    help="Serve Prometheus /metrics, /healthz and /readyz on this port (ferrokafka.metrics.port).",
)
@click.option(
    "--metrics-host",
    help="Address of the metrics port (ferrokafka.metrics.host; default 127.0.0.1).",
)
@click.option(
    "--override",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Any broker config key; repeatable; wins over everything else.",
)
@click.option(
    "--port",
    type=click.IntRange(0, PORT_MAX),
    help="The client (PLAINTEXT) listener's port; without --config the controller listener "
    "takes the next one. With --config or --listeners: the first non-controller listener's port.",
)
@click.option(
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
    default="INFO",
    show_default=True,
)
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default="text",
    show_default=True,
    help="json: one object per line (ts, level, logger, message, fields), for log shippers.",
)
@click.option("--debug", is_flag=True, help="DEBUG level, and the traceback of a start-up failure.")
def serve(
    config_path: str | None,
    listeners: str | None,
    advertised_listeners: str | None,
    log_dirs: str | None,
    node_id: int | None,
    num_partitions: int | None,
    metrics_port: int | None,
    metrics_host: str | None,
    overrides: tuple[str, ...],
    port: int | None,
    log_level: str,
    log_format: LogFormat,
    debug: bool,
) -> None:
    """Run a Kafka-compatible broker (Kafka's server.properties keys are accepted)."""
    configure_logging(log_level, log_format, debug=debug)
    settings: list[str] = []
    if config_path is None:
        settings += [f"listeners={DEFAULT_LISTENERS}", f"log.dirs={DEFAULT_DATA_DIR}"]
    flags = {
        "listeners": with_controller_listener(listeners) if config_path is None else listeners,
        "advertised.listeners": advertised_listeners,
        "log.dirs": log_dirs,
        "node.id": node_id,
        "num.partitions": num_partitions,
        "ferrokafka.metrics.port": metrics_port,
        "ferrokafka.metrics.host": metrics_host,
    }
    settings += [f"{key}={value}" for key, value in flags.items() if value is not None]
    if config_path is None and listeners is not None and advertised_listeners is None:
        # The built-in default advertises localhost:9092; advertise what was asked for instead
        # (port 0 and an empty host are filled in once bound).
        settings.append(f"advertised.listeners={listeners}")
    config = _load(config_path, [*settings, *overrides])
    if port is not None:
        # After the flags, before --override (which wins over everything).
        default_listeners = config_path is None and listeners is None
        config = _load(
            config_path, [*settings, *port_settings(config, port, default_listeners), *overrides]
        )
    try:
        preflight(config)
    except StartupError as exc:
        _fail(f"cannot start: {exc}", EXIT_START_FAILED, debug=debug)
    if config_path is not None or uses_quorum(config):
        # A configured node (and any node of a KRaft cluster: they must share a cluster id)
        # starts only on formatted directories, as Kafka's server does; the built-in single
        # node formats its directory itself on first start.
        _check_formatted(config)
    else:
        _check_not_orphaned(config)
    if not settle_allocator():
        log.debug("not glibc: malloc's thresholds left as they are")
    files, _ = settle_file_limit()
    if files < FILE_LIMIT_LOW:
        log.warning(
            "the open-file limit is %d (ulimit -n): connections and log segments each take one; "
            "raise it (Kafka's guides ask for 100,000 or more)",
            files,
        )
    source = config_path if config_path is not None else "defaults (no --config)"
    run = RunState()
    try:
        reason = trio.run(_serve, Broker(config), source, run)
    except Exception as exc:
        if run.started:
            # Not a start-up failure: a crash of a running broker is a bug, traceback and all.
            log.exception("ferrokafka node %d stopped: it failed", config.node_id)
            sys.exit(EXIT_START_FAILED)
        # One line, not a traceback. Trio reports a failure inside a nursery as an exception
        # group: describe_failure looks inside.
        message = describe_failure(exc, config) or f"{type(exc).__name__}: {exc}"
        _fail(f"cannot start: {message}", EXIT_START_FAILED, debug=debug)
    log.info(
        "ferrokafka node %d stopped (%s)",
        config.node_id,
        reason,
        extra={"fields": {"event": "broker_stopped", "node_id": config.node_id, "reason": reason}},
    )


def with_controller_listener(listeners: str | None) -> str | None:
    """The built-in node is its own controller: ``--listeners PLAINTEXT://0.0.0.0:9092``
    alone keeps the default controller listener (loopback) rather than being refused."""
    if listeners is None:
        return None
    names = {item.split("://", 1)[0].strip().upper() for item in listeners.split(",")}
    if DEFAULT_CONTROLLER_NAME in names:
        return listeners
    return f"{listeners},{DEFAULT_CONTROLLER_LISTENER}"


def _load(config_path: str | None, settings: list[str]) -> BrokerConfig:
    try:
        return load_broker_config(config_path, settings)
    except ConfigError as exc:
        message = redacted_message(exc.key, exc.value, str(exc))
        _fail(f"invalid configuration: {message}", EXIT_CONFIG)
    except OSError as exc:
        _fail(f"cannot read {config_path}: {exc.strerror}", EXIT_CONFIG)


def port_settings(config: BrokerConfig, port: int, default_listeners: bool) -> list[str]:
    """``listeners`` (and ``advertised.listeners``, when set) with the first non-controller
    listener on ``port``; with the built-in listeners, the controller's on ``port + 1``."""
    controllers = set(config.controller_listener_names)
    clients = [ep.name for ep in config.listeners if ep.name not in controllers]
    if not clients:
        _fail("invalid configuration: --port: no non-controller listener to move", EXIT_CONFIG)
    moved = {clients[0]: port}
    if default_listeners:
        if port + 1 > PORT_MAX and port != 0:
            _fail(
                f"invalid configuration: --port {port}: the controller listener takes "
                f"--port + 1, above {PORT_MAX}",
                EXIT_CONFIG,
            )
        moved.update({name: port + 1 if port else 0 for name in controllers})

    def on_ports(endpoints: list[Endpoint]) -> str:
        return ",".join(
            str(Endpoint(ep.name, ep.host, moved.get(ep.name, ep.port))) for ep in endpoints
        )

    out = [f"listeners={on_ports(config.listeners)}"]
    if config.originals.get("advertised.listeners") is not None:
        out.append(f"advertised.listeners={on_ports(config.advertised_listeners)}")
    return out


def _check_formatted(config: BrokerConfig) -> None:
    metadata_dir = metadata_dir_of(config)
    try:
        ensemble = load_meta_ensemble(config.log_dirs, metadata_dir)
        ensemble.verify(node_id=config.node_id)
        ensemble.require_formatted()
    except (MetaPropertiesError, CheckpointError) as exc:
        _fail(f"cannot start: {exc}", EXIT_START_FAILED)
    if "controller" in config.process_roles and uses_quorum(config):
        try:
            # What its first activation will write (the controller names what it leaves out).
            read_bootstrap_levels(metadata_dir, warn=False)
        except BootstrapError as exc:
            _fail(f"cannot start: {exc}", EXIT_START_FAILED)


def _check_not_orphaned(config: BrokerConfig) -> None:
    """The built-in node formats its directories on first start, and only then: a directory
    that holds data but no meta.properties (deleted?) would otherwise start as a new cluster
    over the old data. Kafka refuses to start there too."""
    try:
        ensemble = load_meta_ensemble(config.log_dirs, metadata_dir_of(config))
    except (MetaPropertiesError, CheckpointError) as exc:
        _fail(f"cannot start: {exc}", EXIT_START_FAILED)
    for log_dir in ensemble.empty:
        path = Path(log_dir)
        if path.is_dir() and any(p.name != LOCK_FILE for p in path.iterdir()):
            _fail(
                f"cannot start: {log_dir} holds data but no {META_PROPERTIES} (deleted?), so "
                "its cluster id is unknown: restore the file, or empty the directory to start "
                "a new cluster",
                EXIT_START_FAILED,
            )


def _fail(message: str, code: int, *, debug: bool = False) -> NoReturn:
    """Print ``message`` as the one line on stderr and exit with ``code``; with ``debug``
    the exception being handled (if any) is printed first, traceback and all."""
    if debug and sys.exc_info()[1] is not None:
        traceback.print_exc()
    click.echo(f"ferrokafka serve: {message}", err=True)
    sys.exit(code)


def package_version() -> str:
    """The installed package's version (in a checkout without one: the native module's)."""
    import importlib.metadata  # here: start-up time is measured, and this runs after it

    try:
        return importlib.metadata.version("ferrokafka")
    except importlib.metadata.PackageNotFoundError:
        from ferrokafka import __version__

        return __version__


def settle_gc() -> int:
    """Move every object alive once the broker started into the GC's permanent generation;
    returns how many.

    What is alive then (modules, the generated protocol classes, config and metadata) lives
    as long as the process, yet each full collection walked all of it: some 30,000 objects, a
    pause of 5-20 ms on the trio thread that serves every connection, so about once every
    15 s of a latency test one request arrived that much late. Frozen objects are never walked
    again: later full collections only look at what the broker allocated since (1-2 ms).

    No collection first: start-up leaves almost no cyclic garbage (15 objects when measured)
    to keep forever, and collecting would cost the same 5-20 ms while the first clients wait.
    This is the process's choice (``serve`` owns it), not the library's: the broker of
    ``ferrokafka.testing`` runs inside a user's process and leaves its GC alone."""
    gc.freeze()
    return gc.get_freeze_count()


# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# Allocations below this come from the heap, never from a fresh mmap: four socket reads.
MMAP_THRESHOLD_BYTES = 4 * RECEIVE_CHUNK_BYTES
# Free memory at the top of the heap up to this much is kept for reuse, not returned.
TRIM_THRESHOLD_BYTES = 8 * 1024 * 1024


def settle_allocator() -> bool:
    """Fix glibc malloc's mmap and trim thresholds (True when set; False off glibc).

    Each socket read allocates its 256 KiB buffer (``os.read``) before it is cut to what
    arrived. With glibc's dynamic thresholds, whether that buffer comes from a fresh mmap
    (every page written faults: 1.7 minor faults per 15 KiB Produce, ~5% of the broker's CPU
    per request when measured) or from reused heap depends on what the process happened to
    allocate and free before, so the same code ran 5% slower or faster from one build to the
    next. Fixed thresholds make it the reused heap, always, at the cost of at most
    :data:`TRIM_THRESHOLD_BYTES` kept per arena. Like :func:`settle_gc`, the process's choice."""
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
        and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )


# Below this many open files, a broker with a few thousand connections or partitions runs out
# (each connection is a descriptor, each segment's .log file another).
FILE_LIMIT_LOW = 16_384


def settle_file_limit() -> tuple[int, int]:
    """Raise the soft open-file limit to the hard one (as the Go runtime and many daemons do);
    returns (soft, hard) after. A broker at a 1,024 soft limit kept serving while its
    checkpoint writes failed with EMFILE; the hard limit is usually far higher. Like
    :func:`settle_gc`, the process's choice."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft, hard


class RunState:
    """What :func:`_serve` reports back besides its result: whether the broker had started
    (a failure after that is a crash, not a start-up error)."""

    started = False


async def _serve(
    broker: Broker, config_source: str = "defaults", run: RunState | None = None
) -> str:
    """Run ``broker`` until a signal or its own shutdown; returns why it stopped."""
    reason = "shut down"
    async with trio.open_nursery() as nursery:

        async def run_until_shut_down(task_status: trio.TaskStatus[None]) -> None:
            await broker.run(task_status=task_status)
            nursery.cancel_scope.cancel()  # stops the signal watcher

        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            await nursery.start(run_until_shut_down)
            frozen = settle_gc()
            log.debug("start-up done: %d objects moved out of the cyclic GC's reach", frozen)
            advertised = ", ".join(map(str, broker.advertised_listeners()))
            listening = ", ".join(map(str, broker.bound_addresses))
            click.echo(
                f"ferrokafka node {broker.config.node_id} listening on {listening} "
                f"(advertised {advertised}); data in {', '.join(broker.config.log_dirs)}"
            )
            sys.stdout.flush()
            log_started(broker, config_source)
            if run is not None:
                run.started = True
            async for signum in signals:
                name = signal.Signals(signum).name
                if broker.server.shutting_down:
                    log.warning("second %s: stopping now", name)
                    nursery.cancel_scope.cancel()
                    return f"{name} twice: stopped without waiting"
                log.info("%s: shutting down", name)
                reason = f"{name}, graceful shutdown"
                broker.request_shutdown()
    return reason


def log_started(broker: Broker, config_source: str) -> None:
    """The start-up INFO line: what runs, as what, where."""
    config = broker.config
    # A controller-only node has no Node: the cluster id it was started with.
    cluster_id = broker.node.cluster_id if broker.node is not None else broker._cluster_id
    listening = [str(a) for a in broker.bound_addresses]
    version = package_version()
    log.info(
        "ferrokafka %s started: cluster id %s, node %d, roles %s, listeners %s, data dirs %s, "
        "config %s",
        version,
        cluster_id,
        config.node_id,
        "+".join(config.process_roles),
        ", ".join(listening),
        ", ".join(config.log_dirs),
        config_source,
        extra={
            "fields": {
                "event": "broker_started",
                "version": version,
                "cluster_id": cluster_id,
                "node_id": config.node_id,
                "roles": list(config.process_roles),
                "listeners": listening,
                "data_dirs": list(config.log_dirs),
                "config_source": config_source,
            }
        },
    )
