"""ApiVersions (key 18): which APIs and versions this listener answers, and the features.

Only APIs with a registered handler are advertised, so a client never picks an API we would
close the connection for. Versions come from the protocol table (Kafka 4.3's, with Produce
advertised from v0 as Kafka does for librdkafka).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ferrokafka.protocol import supported_api_versions
from ferrokafka.protocol.messages.api_versions import ApiVersionsRequest, ApiVersionsResponse
from ferrokafka.server.dispatcher import Dispatcher, RequestContext

INVALID_REQUEST = 42
# Kafka's ApiVersionsRequest.isValid: software name and version from v3 on must match this.
_SOFTWARE_NAME = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?")

# metadata.version levels: 7 (3.3-IV3) is the oldest KRaft level Kafka 4 accepts; 30 is what
# Kafka 4.3.1 reports, and our protocol table is Kafka 4.3.1's. Clients read it (the Java admin
# client's describeFeatures; version gates) and tolerate its absence, but a 4.x broker never
# omits it.
METADATA_VERSION_MIN = 7
METADATA_VERSION_LEVEL = 30


@dataclass(frozen=True)
class Features:
    """Supported feature ranges and the cluster's finalized levels (``epoch`` -1: unknown)."""

    supported: Mapping[str, tuple[int, int]]
    finalized: Mapping[str, int]
    epoch: int = -1


# group.version 1 (GroupVersion.GV_1, Kafka 4.0+) enables the consumer group protocol of
# KIP-848 (ConsumerGroupHeartbeat); 1 is the highest level and what a Kafka 4.x cluster finalizes.
GROUP_VERSION_LEVEL = 1

DEFAULT_FEATURES = Features(
    supported=MappingProxyType(
        {
            "group.version": (0, GROUP_VERSION_LEVEL),
            "metadata.version": (METADATA_VERSION_MIN, METADATA_VERSION_LEVEL),
        }
    ),
    finalized=MappingProxyType(
        {"group.version": GROUP_VERSION_LEVEL, "metadata.version": METADATA_VERSION_LEVEL}
    ),
    # The metadata log will set this to the offset of the record that finalized the levels;
    # until it exists, the levels are fixed at start, which is epoch 0.
    epoch=0,
)


@dataclass
class ApiVersionsHandler:
    """Answers ApiVersions for one dispatcher; ``listener_kind`` is "broker" or "controller"."""

    dispatcher: Dispatcher
    listener_kind: str
    features: Features = field(default=DEFAULT_FEATURES)

    async def __call__(
        self, ctx: RequestContext, request: ApiVersionsRequest
    ) -> ApiVersionsResponse:
        if ctx.api_version >= 3 and not _valid_software(request):
            return ApiVersionsResponse(error_code=INVALID_REQUEST)
        registered = self.dispatcher.api_keys()
        return ApiVersionsResponse(
            error_code=0,
            api_keys=[
                ApiVersionsResponse.ApiVersion(api_key=key, min_version=lo, max_version=hi)
                for key, lo, hi in supported_api_versions(self.listener_kind)
                if key in registered
            ],
            throttle_time_ms=0,
            supported_features=[
                ApiVersionsResponse.SupportedFeatureKey(name=name, min_version=lo, max_version=hi)
                for name, (lo, hi) in sorted(self.features.supported.items())
            ],
            finalized_features_epoch=self.features.epoch,
            finalized_features=[
                ApiVersionsResponse.FinalizedFeatureKey(
                    name=name, max_version_level=level, min_version_level=level
                )
                for name, level in sorted(self.features.finalized.items())
            ],
        )


def _valid_software(request: ApiVersionsRequest) -> bool:
    return bool(
        _SOFTWARE_NAME.fullmatch(request.client_software_name)
        and _SOFTWARE_NAME.fullmatch(request.client_software_version)
    )
