"""BrokerClients: one :class:`~ferrokafka.cluster.node_client.NodeClient` per other broker, at
the address the newest metadata image gives for a listener (the inter-broker one) — what a
broker's own requests to its peers go through (the transaction coordinator's markers, a
leader's KIP-890 verification). A broker that moved gets a new client; the old one is closed.
"""

from __future__ import annotations

from collections.abc import Callable

from ferrokafka.cluster.connector import PLAINTEXT, Connector
from ferrokafka.cluster.image import MetadataImage
from ferrokafka.cluster.node_client import NodeClient, NodeUnavailableError


class BrokerClients:
    def __init__(
        self,
        image: Callable[[], MetadataImage],
        listener: str | None,
        *,
        client_id: str,
        timeout_s: float,
        connector: Connector = PLAINTEXT,
    ) -> None:
        self._image = image
        self.connector = connector  # the inter-broker listener's TLS and SASL
        self.listener = listener
        self._client_id = client_id
        self._timeout_s = timeout_s
        self._clients: dict[int, NodeClient] = {}

    async def client(self, broker_id: int) -> NodeClient:
        """The client of ``broker_id``; NodeUnavailableError when the image has no endpoint
        of the listener for it."""
        registration = self._image().broker(broker_id)
        endpoint = (
            registration.endpoint(self.listener)
            if registration is not None and self.listener is not None
            else None
        )
        if endpoint is None:
            raise NodeUnavailableError(f"broker {broker_id} has no {self.listener} endpoint")
        address = (endpoint.host, endpoint.port)
        client = self._clients.get(broker_id)
        if client is None or client.address != address:
            if client is not None:
                await client.aclose()
            client = NodeClient(
                address,
                client_id=self._client_id,
                timeout_s=self._timeout_s,
                connector=self.connector,
            )
            self._clients[broker_id] = client
        return client

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()
