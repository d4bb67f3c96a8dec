"""A controller's registration with the active controller: Kafka's
``ControllerRegistrationManager``.

Every controller of a Kafka 4 cluster registers itself (ControllerRegistration: its id, a new
incarnation id per start, its controller listeners and the features it supports) once the
metadata log has a metadata.version, so that the active controller — of either kind — writes
its RegisterControllerRecord: Kafka's controllers use those records to know which controllers
exist and what each supports (feature upgrades check them). Sent through the node's
:class:`~ferrokafka.cluster.channel.ControllerChannel` (to itself when it is the active one,
as Kafka does), again after an error, until acknowledged.
"""

from __future__ import annotations

import logging
import uuid

import trio

from ferrokafka.cluster.channel import ControllerChannel
from ferrokafka.cluster.feature_levels import KRAFT_VERSION_FEATURE, SUPPORTED_FEATURES
from ferrokafka.cluster.image import MetadataImage
from ferrokafka.cluster.metadata_feed import LogMetadataFeed
from ferrokafka.config import BrokerConfig
from ferrokafka.config.listeners import SECURITY_PROTOCOLS
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.controller_registration import ControllerRegistrationRequest

log = logging.getLogger(__name__)

# After a refused or unanswered registration, wait this long before the next (Kafka's manager
# backs off on errors too); doubled up to the maximum.
RETRY_BACKOFF_S = 0.1
RETRY_BACKOFF_MAX_S = 5.0
# kraft.version this controller supports: static voters (0) and KIP-853's dynamic quorum (1).
KRAFT_VERSIONS = (0, 1)


def registration_request(
    config: BrokerConfig, incarnation_id: uuid.UUID
) -> ControllerRegistrationRequest:
    controller_names = set(config.controller_listener_names)
    features = {**SUPPORTED_FEATURES, KRAFT_VERSION_FEATURE: KRAFT_VERSIONS}
    return ControllerRegistrationRequest(
        controller_id=config.node_id,
        incarnation_id=incarnation_id,
        zk_migration_ready=False,
        listeners=[
            ControllerRegistrationRequest.Listener(
                name=ep.name,
                host=ep.host,
                port=ep.port,
                security_protocol=SECURITY_PROTOCOLS.index(config.security_protocol_map[ep.name]),
            )
            for ep in config.listeners
            if ep.name in controller_names
        ],
        features=[
            ControllerRegistrationRequest.Feature(
                name=name, min_supported_version=low, max_supported_version=high
            )
            for name, (low, high) in sorted(features.items())
        ],
    )


class ControllerRegistrationManager:
    """Registers this controller once per start; trio thread only."""

    def __init__(
        self,
        config: BrokerConfig,
        channel: ControllerChannel,
        feed: LogMetadataFeed,
        *,
        incarnation_id: uuid.UUID | None = None,
    ) -> None:
        self.request = registration_request(
            config, incarnation_id if incarnation_id is not None else uuid.uuid4()
        )
        self.channel = channel
        self.feed = feed
        self.registered = trio.Event()
        self._metadata_version_known = trio.Event()

    async def _on_image(self, image: MetadataImage) -> None:
        if image.metadata_version:
            self._metadata_version_known.set()

    async def run(self) -> None:
        """Wait for a metadata.version, then register until acknowledged."""
        await self.feed.subscribe(self._on_image)
        try:
            await self._metadata_version_known.wait()
        finally:
            self.feed.unsubscribe(self._on_image)
        backoff_s = RETRY_BACKOFF_S
        while True:
            response = await self.channel.register_controller(self.request)
            if response.error_code == ec.NONE:
                log.info(
                    "controller %d registered (incarnation %s)",
                    self.request.controller_id,
                    self.request.incarnation_id,
                )
                self.registered.set()
                return
            log.info(
                "controller %d registration refused: %s",
                self.request.controller_id,
                ec.error_name(response.error_code),
            )
            await trio.sleep(backoff_s)
            backoff_s = min(backoff_s * 2, RETRY_BACKOFF_MAX_S)
