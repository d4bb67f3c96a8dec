"""Connections from a share-partition leader to the other brokers (the DLQ's Produce, the
latest-offset ListOffsets): made on first use, on the inter-broker listener, and closed with
the share coordinator."""

from __future__ import annotations

from ferrokafka.cluster.broker_clients import BrokerClients
from ferrokafka.cluster.connector import node_connectors
from ferrokafka.server.node import Node


class ShareBrokerClients:
    def __init__(self, node: Node, purpose: str, timeout_s: float) -> None:
        self.node = node
        self.purpose = purpose
        self.timeout_s = timeout_s
        self._clients: BrokerClients | None = None

    def get(self) -> BrokerClients:
        if self._clients is None:
            config = self.node.config
            self._clients = BrokerClients(
                lambda: self.node.image,
                config.inter_broker_listener_name,
                client_id=f"{self.purpose}-{config.node_id}",
                timeout_s=self.timeout_s,
                connector=node_connectors(config).inter_broker,
            )
            coordinator = self.node.share_coordinator
            if coordinator is not None:
                coordinator.on_stop.append(self.aclose)
        return self._clients

    async def aclose(self) -> None:
        if self._clients is not None:
            await self._clients.aclose()
            self._clients = None
