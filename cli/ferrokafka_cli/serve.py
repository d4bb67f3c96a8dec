"""`ferrokafka serve`: run a broker in the foreground until SIGINT or SIGTERM.

With no arguments: node 1, broker and controller in one process, clients on
PLAINTEXT://localhost:9092 (the controller listener on localhost:9093), data in
./ferrokafka-data, formatted on first start. ``--config`` takes a Kafka ``server.properties``;
flags override it; its directories must have been formatted (``ferrokafka storage format``,
or Kafka's ``kafka-storage.sh format``). An invalid configuration is one line on stderr and
exit code 2; unformatted or mismatched directories, exit code 1.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import resource
import signal
import sys
from pathlib import Path

import click
import trio

from ferrokafka.cluster.bootstrap import BootstrapError, read_bootstrap_levels
from ferrokafka.cluster.storage_format import metadata_dir_of
from ferrokafka.config import BrokerConfig, ConfigError, load_broker_config
from ferrokafka.server import Broker
from ferrokafka.server.connection import RECEIVE_CHUNK_BYTES
from ferrokafka.server.kraft import uses_quorum
from ferrokafka.storage.checkpoints import META_PROPERTIES, CheckpointError
from ferrokafka.storage.logdirs import LOCK_FILE
from ferrokafka.storage.meta_ensemble import MetaPropertiesError, load_meta_ensemble

DEFAULT_DATA_DIR = "./ferrokafka-data"
# Without --config, listen on loopback only: a development broker should not be reachable from
# the network by default (Kafka's shipped file binds every interface; --listeners does that).
DEFAULT_LISTENERS = "PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093"
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
    "--log-level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
    default="INFO",
    show_default=True,
)
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
    log_level: str,
) -> None:
    """Run a Kafka-compatible broker (Kafka's server.properties keys are accepted)."""
    logging.basicConfig(
        level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    settings: list[str] = []
    if config_path is None:
        settings += [f"listeners={DEFAULT_LISTENERS}", f"log.dirs={DEFAULT_DATA_DIR}"]
    flags = {
        "listeners": listeners,
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
    settings += overrides
    try:
        config = load_broker_config(config_path, settings)
    except ConfigError as exc:
        _fail(f"invalid configuration: {exc}", EXIT_CONFIG)
    except OSError as exc:
        _fail(f"cannot read {config_path}: {exc.strerror}", EXIT_CONFIG)
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
    try:
        trio.run(_serve, Broker(config))
    except Exception as exc:
        # Cannot bind a port or create the data directory: one line, not a traceback. Trio
        # reports a failure inside a nursery as an exception group, hence the search.
        os_error = _find_os_error(exc)
        if os_error is None:
            raise
        _fail(f"cannot start: {os_error}", EXIT_START_FAILED)


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


def _find_os_error(exc: BaseException) -> OSError | None:
    if isinstance(exc, OSError):
        return exc
    for inner in getattr(exc, "exceptions", ()):
        found = _find_os_error(inner)
        if found is not None:
            return found
    return None


def _fail(message: str, code: int) -> None:
    click.echo(f"ferrokafka serve: {message}", err=True)
    sys.exit(code)


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


async def _serve(broker: Broker) -> None:
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
            async for signum in signals:
                if broker.server.shutting_down:
                    log.warning("second %s: stopping now", signal.Signals(signum).name)
                    nursery.cancel_scope.cancel()
                    return
                log.info("%s: shutting down", signal.Signals(signum).name)
                broker.request_shutdown()
