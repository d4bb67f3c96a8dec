"""Helpers of the consumer group (KIP-848) tests: raw requests through the broker's own codec
(for the byte-level rules) and topic creation with confluent-kafka's admin client."""

from __future__ import annotations

import time
from typing import Any

from confluent_kafka.admin import AdminClient, NewTopic
from server_wire import RawClient

from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.find_coordinator import FindCoordinatorRequest

ADMIN_TIMEOUT_S = 30.0
# The coordinator loads __consumer_offsets after FindCoordinator creates it.
COORDINATOR_WAIT_S = 30.0
RETRY_SLEEP_S = 0.1


class Wire:
    """One connection speaking any request at any version."""

    def __init__(self, address: str) -> None:
        self.client = RawClient(address, client_id="cg-wire-test")

    def call(self, request: Any, version: int) -> Any:
        return self.client.call(request, version)

    def wait_coordinator(self, group_id: str) -> None:
        """FindCoordinator until the group's coordinator answers (bounded)."""
        deadline = time.monotonic() + COORDINATOR_WAIT_S
        while True:
            response = self.call(FindCoordinatorRequest(key_type=0, coordinator_keys=[group_id]), 4)
            if response.coordinators[0].error_code == ec.NONE:
                return
            assert time.monotonic() < deadline, response
            time.sleep(RETRY_SLEEP_S)

    def close(self) -> None:
        self.client.close()


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, partitions, 1)])
    futures[name].result(ADMIN_TIMEOUT_S)
