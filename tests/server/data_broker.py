"""A broker in a background thread whose trio loop tests can call into, so data-path tests
can create topics through the node's controller without depending on the admin APIs."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio
from server_wire import RawClient

from ferrokafka.partition import Partition
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.delete_topics import DeleteTopicsRequest
from ferrokafka.testing import RunningBroker, open_broker
from ferrokafka.testing.broker import START_TIMEOUT_S, STOP_TIMEOUT_S


@dataclass
class DataBroker:
    running: RunningBroker
    token: trio.lowlevel.TrioToken

    @property
    def bootstrap_servers(self) -> str:
        return self.running.bootstrap_servers

    @property
    def node(self) -> Any:
        return self.running.broker.node

    def partition(self, topic: str, index: int) -> Partition | None:
        """The hosted partition (ferrokafka.testing's inspection API)."""
        return self.running.partition(topic, index)

    def create_topic(
        self, name: str, partitions: int = 1, configs: dict[str, str] | None = None
    ) -> None:
        node = self.node
        request = CreateTopicsRequest(
            topics=[
                CreateTopicsRequest.CreatableTopic(
                    name=name,
                    num_partitions=partitions,
                    replication_factor=1,
                    configs=[
                        CreateTopicsRequest.CreatableTopicConfig(name=k, value=v)
                        for k, v in (configs or {}).items()
                    ],
                )
            ],
            timeout_ms=10_000,
        )
        response = trio.from_thread.run(
            node.controller_channel.create_topics, request, trio_token=self.token
        )
        assert response.topics[0].error_code == 0, response

    def delete_topic(self, name: str) -> None:
        node = self.node
        request = DeleteTopicsRequest(topic_names=[name], timeout_ms=10_000)
        trio.from_thread.run(node.controller_channel.delete_topics, request, trio_token=self.token)


@contextlib.contextmanager
def data_broker(
    data_dir: Path, overrides: Mapping[str, object] | None = None
) -> Iterator[DataBroker]:
    started: queue.Queue[DataBroker | BaseException] = queue.Queue(maxsize=1)
    stop: list[trio.Event] = []

    async def main() -> None:
        try:
            async with open_broker(data_dir, overrides) as running:
                stop.append(trio.Event())
                started.put(DataBroker(running, trio.lowlevel.current_trio_token()))
                await stop[0].wait()
        except BaseException as exc:
            if started.empty():
                started.put(exc)
            raise

    def thread_main() -> None:
        with contextlib.suppress(BaseException):  # start failures go through ``started``
            trio.run(main)

    thread = threading.Thread(target=thread_main, name="data-broker", daemon=True)
    thread.start()
    outcome = started.get(timeout=START_TIMEOUT_S)
    if isinstance(outcome, BaseException):
        raise RuntimeError(f"broker failed to start: {outcome!r}") from outcome
    try:
        yield outcome
    finally:
        trio.from_thread.run_sync(stop[0].set, trio_token=outcome.token)
        thread.join(STOP_TIMEOUT_S)
        assert not thread.is_alive(), "broker did not stop"


# The data tests' name for the raw client (its typed ``call`` lives in server_wire).
Client = RawClient
