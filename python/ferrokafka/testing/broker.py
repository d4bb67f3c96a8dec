"""Start a real ferrokafka broker inside the current process, on an ephemeral loopback port.

:func:`run_broker` (a plain context manager) runs the broker's trio loop in a background
thread, so synchronous tests and blocking clients (confluent-kafka, kafka-python, the Java
tools) can talk to it; :func:`open_broker` (an async context manager) runs it in the caller's
own trio loop. Both stop it gracefully on exit and remove a data directory they created.
"""

from __future__ import annotations

import contextlib
import queue
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import trio

from ferrokafka.cluster import MetadataImage
from ferrokafka.config import BrokerConfig, load_broker_config
from ferrokafka.coordinator.clock import SYSTEM_WALL_CLOCK, WallClock
from ferrokafka.partition import Partition
from ferrokafka.server import BoundAddress, Broker

LOOPBACK = "127.0.0.1"
# Binding loopback sockets and building the dispatchers takes milliseconds; the bound is for a
# machine loaded by a parallel test run.
START_TIMEOUT_S = 30.0
# Graceful stop: the server's own grace period plus the shutdown hooks, with room to spare.
STOP_TIMEOUT_S = 90.0
# In tests, in-flight requests get a short grace: a test that left a long-poll open should
# not make teardown wait the production grace period.
TEST_SHUTDOWN_GRACE_S = 2.0


@dataclass(frozen=True)
class RunningBroker:
    """A started broker: where to connect and how it was configured."""

    bootstrap_servers: str  # "127.0.0.1:PORT" of the client listener
    addresses: list[BoundAddress]
    config: BrokerConfig
    data_dir: Path
    broker: Broker
    # The trio loop the broker runs in: a test thread calls into it with trio.from_thread.
    trio_token: trio.lowlevel.TrioToken | None = None

    # -- inspection: what a test may look at, without reaching into the broker's internals.
    # Read only, and from the broker's own trio thread or while it is quiet.

    def partition(self, topic: str, index: int) -> Partition | None:
        """The hosted partition (its log, high watermark, producer state, epochs), or None."""
        node = self.broker.node
        return node.replicas.partition(topic, index) if node is not None else None

    @property
    def image(self) -> MetadataImage:
        """The newest metadata image this broker has."""
        assert self.broker.node is not None, "the broker is not started"
        return self.broker.node.image

    @property
    def cluster_id(self) -> str:
        assert self.broker.node is not None, "the broker is not started"
        return self.broker.node.cluster_id


def testing_config(data_dir: Path, overrides: Mapping[str, object] | None = None) -> BrokerConfig:
    """A single-node config on ephemeral loopback ports with its data under ``data_dir``."""
    return load_broker_config(
        None,
        {
            "listeners": f"PLAINTEXT://{LOOPBACK}:0,CONTROLLER://{LOOPBACK}:0",
            "advertised.listeners": f"PLAINTEXT://{LOOPBACK}:0",
            "log.dirs": str(data_dir / "logs"),
            "metadata.log.dir": str(data_dir / "metadata"),
            **(overrides or {}),
        },
    )


def _running(broker: Broker, addresses: list[BoundAddress], data_dir: Path) -> RunningBroker:
    client = next(
        ep
        for ep in broker.advertised_listeners()
        if ep.name == broker.config.inter_broker_listener_name
    )
    return RunningBroker(
        f"{client.host}:{client.port}",
        addresses,
        broker.config,
        data_dir,
        broker,
        trio.lowlevel.current_trio_token(),
    )


@contextlib.contextmanager
def _data_dir(data_dir: str | Path | None) -> Iterator[Path]:
    if data_dir is not None:
        yield Path(data_dir)
        return
    path = Path(tempfile.mkdtemp(prefix="ferrokafka-test-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.asynccontextmanager
async def open_broker(
    data_dir: str | Path | None = None,
    overrides: Mapping[str, object] | None = None,
    *,
    shutdown_grace_s: float = TEST_SHUTDOWN_GRACE_S,
    wall_clock: WallClock = SYSTEM_WALL_CLOCK,
) -> AsyncIterator[RunningBroker]:
    """Run a broker in the current trio loop for the body of the ``async with``."""
    with _data_dir(data_dir) as path:
        broker = Broker(
            testing_config(path, overrides),
            shutdown_grace_s=shutdown_grace_s,
            wall_clock=wall_clock,
        )
        async with trio.open_nursery() as nursery:
            with trio.fail_after(START_TIMEOUT_S):
                addresses = await nursery.start(broker.run)
            try:
                yield _running(broker, addresses, path)
            finally:
                broker.request_shutdown()


@contextlib.contextmanager
def run_broker(
    data_dir: str | Path | None = None,
    overrides: Mapping[str, object] | None = None,
    *,
    shutdown_grace_s: float = TEST_SHUTDOWN_GRACE_S,
    wall_clock: WallClock = SYSTEM_WALL_CLOCK,
) -> Iterator[RunningBroker]:
    """Run a broker in a background thread for the body of the ``with``; ``wall_clock``
    (e.g. a :class:`~ferrokafka.coordinator.ManualWallClock`) is what its coordinators read."""
    with _data_dir(data_dir) as path:
        broker = Broker(
            testing_config(path, overrides),
            shutdown_grace_s=shutdown_grace_s,
            wall_clock=wall_clock,
        )
        # One item: the RunningBroker with the trio token, or the exception start raised.
        started: queue.Queue[tuple[RunningBroker, trio.lowlevel.TrioToken] | BaseException] = (
            queue.Queue(maxsize=1)
        )
        failure: list[BaseException] = []

        async def main() -> None:
            try:
                async with trio.open_nursery() as nursery:
                    addresses = await nursery.start(broker.run)
                    started.put(
                        (_running(broker, addresses, path), trio.lowlevel.current_trio_token())
                    )
            except BaseException as exc:
                if started.empty():
                    started.put(exc)
                else:
                    failure.append(exc)
                raise

        def thread_main() -> None:
            with contextlib.suppress(BaseException):  # reported through started / failure
                trio.run(main)

        thread = threading.Thread(target=thread_main, name="ferrokafka-broker", daemon=True)
        thread.start()
        try:
            outcome = started.get(timeout=START_TIMEOUT_S)
        except queue.Empty:
            raise RuntimeError(f"the broker did not start in {START_TIMEOUT_S} s") from None
        if isinstance(outcome, BaseException):
            thread.join(STOP_TIMEOUT_S)
            raise RuntimeError(f"the broker failed to start: {outcome!r}") from outcome
        running, token = outcome
        try:
            yield running
        finally:
            trio.from_thread.run_sync(broker.request_shutdown, trio_token=token)
            thread.join(STOP_TIMEOUT_S)
            if thread.is_alive():
                raise RuntimeError(f"the broker did not stop in {STOP_TIMEOUT_S} s")
            if failure:
                raise RuntimeError(f"the broker failed: {failure[0]!r}") from failure[0]
