"""Several ferrokafka brokers in one process, sharing one controller: a cluster for tests.

:func:`run_cluster` starts ``size`` brokers (node ids 1..size), each with its own loopback
port and data directory, in one background trio thread. They share one in-process
:class:`~ferrokafka.cluster.Controller` through a
:class:`~ferrokafka.cluster.channel.InProcessControllerChannel`: every broker registers with
it, every admin request goes to it, and every new metadata image is published to every broker
before the request that made it is answered. Clients see a real multi-broker cluster: the
Metadata response lists every broker and each partition's leader, and a request for a
partition sent to a broker that does not lead it gets NOT_LEADER_OR_FOLLOWER.

Brokers register with the controller and heartbeat (Kafka's BrokerLifecycleManager), and
the controller fences a broker whose heartbeats stop (:meth:`RunningCluster.pause_heartbeats`
makes one stop): clients then see its partitions move or become leaderless.

Partitions with a replication factor above 1 replicate: followers fetch from their leaders,
leaders shrink and expand the ISR through the controller (``set_fetching`` stops a broker's
fetches, so it falls out of the ISR). The controller is not a quorum here (``ferrokafka serve``
processes form one: tests/cluster/kraft_processes.py).

::

    with run_cluster(3) as cluster:
        producer = Producer({"bootstrap.servers": cluster.bootstrap_servers})
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import trio

from ferrokafka.cluster import Controller, SingleVoterLog
from ferrokafka.cluster.channel import InProcessControllerChannel
from ferrokafka.config import BrokerConfig
from ferrokafka.server import Broker
from ferrokafka.storage import checkpoints as ckpt
from ferrokafka.testing.broker import (
    START_TIMEOUT_S,
    STOP_TIMEOUT_S,
    TEST_SHUTDOWN_GRACE_S,
    RunningBroker,
    _data_dir,
    _running,
    testing_config,
)

logger = logging.getLogger(__name__)

# A handful of brokers is what cluster tests need; each is a few MB and some sockets.
CLUSTER_SIZE_MAX = 16
# How often wait_for looks again, and for how long by default.
WAIT_POLL_S = 0.05
WAIT_TIMEOUT_S = 30.0


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = WAIT_TIMEOUT_S) -> None:
    """Poll ``condition`` (from the test's thread, not the cluster's) until it holds; an
    AssertionError naming ``what`` once ``timeout_s`` passed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(WAIT_POLL_S)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass(frozen=True)
class RunningCluster:
    """Started brokers (in node id order) and the controller they share."""

    brokers: list[RunningBroker]
    controller: Controller
    cluster_id: str
    trio_token: trio.lowlevel.TrioToken

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(b.bootstrap_servers for b in self.brokers)

    def broker(self, node_id: int) -> RunningBroker:
        return next(b for b in self.brokers if b.config.node_id == node_id)

    def pause_heartbeats(self, node_id: int) -> None:
        """Broker ``node_id`` stops heartbeating: the controller fences it once its
        broker.session.timeout.ms passes (it keeps serving, as a partitioned broker would)."""
        lifecycle = self.broker(node_id).broker.lifecycle
        assert lifecycle is not None
        trio.from_thread.run_sync(lifecycle.pause_heartbeats, trio_token=self.trio_token)

    def set_fetching(self, node_id: int, fetching: bool) -> None:
        """Broker ``node_id`` stops (False) or resumes (True) fetching as a follower: its
        replicas fall behind and leave the ISRs after replica.lag.time.max.ms."""
        node = self.broker(node_id).broker.node
        assert node is not None and node.replicas.fetchers is not None
        trio.from_thread.run_sync(
            node.replicas.fetchers.set_paused, not fetching, trio_token=self.trio_token
        )

    def resume_heartbeats(self, node_id: int) -> None:
        """Broker ``node_id`` heartbeats again at once (and is unfenced by that heartbeat)."""
        lifecycle = self.broker(node_id).broker.lifecycle
        assert lifecycle is not None
        trio.from_thread.run_sync(lifecycle.resume_heartbeats, trio_token=self.trio_token)


def cluster_config(
    data_dir: Path, node_id: int, overrides: Mapping[str, object] | None = None
) -> BrokerConfig:
    """Broker ``node_id`` of an in-process cluster: its own ports and directories."""
    return testing_config(data_dir / f"broker-{node_id}", {"node.id": node_id, **(overrides or {})})


@contextlib.contextmanager
def run_cluster(
    size: int = 3,
    data_dir: str | Path | None = None,
    overrides: Mapping[str, object] | None = None,
    node_overrides: Mapping[int, Mapping[str, object]] | None = None,
) -> Iterator[RunningCluster]:
    """Run ``size`` brokers sharing one controller, in a background thread, for the body of
    the ``with``; ``overrides`` are config keys for every broker (and the controller),
    ``node_overrides`` keys for one broker (by node id; e.g. its ``broker.rack``)."""
    if not 1 <= size <= CLUSTER_SIZE_MAX:
        raise ValueError(f"a cluster of 1 to {CLUSTER_SIZE_MAX} brokers, not {size}")
    with _data_dir(data_dir) as path:
        per_node = node_overrides or {}
        configs = [
            cluster_config(path, i, {**(overrides or {}), **per_node.get(i, {})})
            for i in range(1, size + 1)
        ]
        cluster_id = ckpt.random_directory_id()
        started: queue.Queue[tuple[RunningCluster, trio.lowlevel.TrioToken] | BaseException] = (
            queue.Queue(maxsize=1)
        )
        stop_requested: list[trio.Event] = []

        async def main() -> None:
            # The controller's defaults (num.partitions, replication factors) are node 1's.
            metadata_log = await trio.to_thread.run_sync(SingleVoterLog, str(path / "controller"))
            controller = Controller(configs[0], metadata_log, cluster_id=cluster_id)
            await trio.to_thread.run_sync(controller.start)
            channel = InProcessControllerChannel(controller)
            brokers = [
                Broker(
                    config,
                    shutdown_grace_s=TEST_SHUTDOWN_GRACE_S,
                    controller_channel=channel,
                    cluster_id=cluster_id,
                )
                for config in configs
            ]
            stop = trio.Event()
            stop_requested.append(stop)
            try:
                async with trio.open_nursery() as nursery:
                    # Broker sessions: stale ones are fenced, until every broker stopped.
                    timers = trio.CancelScope()

                    async def run_timers(
                        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
                    ) -> None:
                        with timers:
                            await channel.run_timers(task_status=task_status)

                    await nursery.start(run_timers)
                    async with trio.open_nursery() as broker_nursery:
                        running = []
                        for broker, config in zip(brokers, configs, strict=True):
                            with trio.fail_after(START_TIMEOUT_S):
                                addresses = await broker_nursery.start(broker.run)
                            running.append(_running(broker, addresses, Path(config.log_dirs[0])))
                        token = trio.lowlevel.current_trio_token()
                        started.put((RunningCluster(running, controller, cluster_id, token), token))
                        await stop.wait()
                        for broker in brokers:
                            broker.request_shutdown()
                    timers.cancel()
            finally:
                await trio.to_thread.run_sync(metadata_log.close)

        failure: list[BaseException] = []

        def thread_main() -> None:
            try:
                trio.run(main)
            except BaseException as exc:
                if started.empty():
                    started.put(exc)
                else:
                    # Every broker stopped with it: say so now, not only when the test ends.
                    logger.error("the in-process cluster stopped: a broker task failed: %r", exc)
                    failure.append(exc)

        thread = threading.Thread(target=thread_main, name="ferrokafka-cluster", daemon=True)
        thread.start()
        try:
            outcome = started.get(timeout=START_TIMEOUT_S * size)
        except queue.Empty:
            raise RuntimeError(f"the cluster did not start in {START_TIMEOUT_S * size} s") from None
        if isinstance(outcome, BaseException):
            thread.join(STOP_TIMEOUT_S)
            raise RuntimeError(f"the cluster failed to start: {outcome!r}") from outcome
        running, token = outcome
        try:
            yield running
        finally:
            trio.from_thread.run_sync(stop_requested[0].set, trio_token=token)
            thread.join(STOP_TIMEOUT_S)
            if thread.is_alive():
                raise RuntimeError(f"the cluster did not stop in {STOP_TIMEOUT_S} s")
            if failure:
                raise RuntimeError(f"the cluster failed: {failure[0]!r}") from failure[0]
