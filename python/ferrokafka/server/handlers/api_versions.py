"""ApiVersions (key 18): which APIs and versions this listener answers, and the features.

Only APIs with a registered handler are advertised, so a client never picks an API we would
close the connection for. Versions come from the protocol table (Kafka 4.4's, with Produce
advertised from v0 as Kafka does for librdkafka).

From v5 (KIP-1242) a client may name the cluster and the node it means to reach; a broker
listener that is not that node of that cluster answers REBOOTSTRAP_REQUIRED, and the client
drops the address and bootstraps again (a DNS name or load balancer that now leads to another
broker). As Kafka's KafkaApis: the request is checked in the order unsupported version, then
validity (INVALID_REQUEST: a bad software name or version from v3, and from v5 a cluster id
without a node id or the reverse), then the identity; the error answers carry no API list. The
controller listeners check validity only, as Kafka's ControllerApis.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ferrokafka.cluster.feature_levels import SUPPORTED_FEATURES
from ferrokafka.protocol import supported_api_versions
from ferrokafka.protocol.error_codes import INVALID_REQUEST, REBOOTSTRAP_REQUIRED
from ferrokafka.protocol.messages.api_versions import ApiVersionsRequest, ApiVersionsResponse
from ferrokafka.server.dispatcher import Dispatcher, RequestContext

# Kafka's ApiVersionsRequest.isValid: software name and version from v3 on must match this.
_SOFTWARE_NAME = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?")
# The first version whose request may name the cluster and node it is meant for (KIP-1242).
IDENTITY_CHECK_VERSION = 5
# A v5 request's node id when it names no node.
NO_NODE_ID = -1

# metadata.version levels: 7 (3.3-IV3) is the oldest KRaft level Kafka 4 accepts; 30 (4.3-IV0)
# is the newest whose features we have. Kafka 4.4.0 reports 33 (4.4-IV2), but 4.4-IV0 goes
# with share.version 2 (share groups), 4.4-IV1 brings CIDR ACLs and 4.4-IV2 controller
# unregistration (UnregisterController), none of which we serve, so we do not claim them (the
# protocol table is 4.4's all the same). Clients read it (the Java admin client's
# describeFeatures; version gates) and tolerate its absence, but a 4.x broker never omits it.
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
# share.version 1 (ShareVersion.SV_1, the level metadata.version 4.2-IV0 to 4.3-IV0 turns on)
# enables share groups (KIP-932); SV_2 (4.4-IV0's default, Kafka 4.4's LATEST_PRODUCTION) adds
# the share groups' dead-letter queues (KIP-1191): this node supports and finalizes 2. The
# share APIs are advertised only while the cluster's finalized share.version is at least 1,
# as Kafka's ApiVersions leaves out the APIs of a feature that is off.
SHARE_VERSION_FEATURE = "share.version"
SHARE_VERSION_LEVEL = 2
SHARE_API_KEYS = frozenset({76, 77, 78, 79, 90, 91, 92})

DEFAULT_FEATURES = Features(
    supported=MappingProxyType(
        {
            "group.version": SUPPORTED_FEATURES["group.version"],
            "metadata.version": SUPPORTED_FEATURES["metadata.version"],
            "transaction.version": SUPPORTED_FEATURES["transaction.version"],
            SHARE_VERSION_FEATURE: (0, SHARE_VERSION_LEVEL),
        }
    ),
    finalized=MappingProxyType(
        {
            "group.version": GROUP_VERSION_LEVEL,
            "metadata.version": METADATA_VERSION_LEVEL,
            SHARE_VERSION_FEATURE: SHARE_VERSION_LEVEL,
        }
    ),
    # The metadata log will set this to the offset of the record that finalized the levels;
    # until it exists, the levels are fixed at start, which is epoch 0.
    epoch=0,
)


# A controller also reports the kraft.version range it supports (Kafka's QuorumFeatures): an
# AddRaftVoter leader reads it from the new voter's ApiVersions (KIP-853).
CONTROLLER_FEATURES = Features(
    supported=MappingProxyType({**DEFAULT_FEATURES.supported, "kraft.version": (0, 1)}),
    finalized=DEFAULT_FEATURES.finalized,
    epoch=DEFAULT_FEATURES.epoch,
)


@dataclass
class ApiVersionsHandler:
    """Answers ApiVersions for one dispatcher; ``listener_kind`` is "broker" or "controller"."""

    dispatcher: Dispatcher
    listener_kind: str
    features: Features = field(default=DEFAULT_FEATURES)
    # This node's cluster id and node id, which a v5 request may name (KIP-1242): set by
    # :meth:`set_identity` once the node is open, before any listener serves. Until then (a
    # dispatcher without a node, in tests) a broker listener has nothing to check against.
    cluster_id: str | None = None
    node_id: int = NO_NODE_ID
    # The cluster's finalized levels and their epoch (the metadata image's offset, as Kafka's
    # FeaturesPublisher reports it), once the node's image is known: a cluster formatted at
    # 4.4-IV2 finalizes metadata.version 33, not the single node's 30.
    finalized: Callable[[], tuple[Mapping[str, int], int]] | None = None

    def set_identity(self, cluster_id: str, node_id: int) -> None:
        self.cluster_id = cluster_id
        self.node_id = node_id

    def set_finalized(self, finalized: Callable[[], tuple[Mapping[str, int], int]]) -> None:
        self.finalized = finalized

    def _finalized(self) -> tuple[Mapping[str, int], int]:
        if self.finalized is None:
            return self.features.finalized, self.features.epoch
        levels, epoch = self.finalized()
        if not levels:  # no metadata applied yet: the fixed levels, as before
            return self.features.finalized, self.features.epoch
        return levels, epoch

    async def __call__(
        self, ctx: RequestContext, request: ApiVersionsRequest
    ) -> ApiVersionsResponse:
        if not _valid(ctx.api_version, request):
            return ApiVersionsResponse(error_code=INVALID_REQUEST)
        if self._misrouted(ctx.api_version, request):
            return ApiVersionsResponse(error_code=REBOOTSTRAP_REQUIRED)
        registered = self.dispatcher.api_keys()
        finalized, epoch = self._finalized()
        if finalized.get(SHARE_VERSION_FEATURE, 0) < 1:
            registered = registered - SHARE_API_KEYS
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
            finalized_features_epoch=epoch,
            finalized_features=[
                ApiVersionsResponse.FinalizedFeatureKey(
                    name=name, max_version_level=level, min_version_level=level
                )
                for name, level in sorted(finalized.items())
            ],
        )

    def _misrouted(self, version: int, request: ApiVersionsRequest) -> bool:
        """Whether the request names a cluster and node this broker listener is not (Kafka's
        KafkaApis.clusterIdOrNodeIdIsInvalid); a request naming none is never misrouted."""
        return (
            self.listener_kind == "broker"
            and self.cluster_id is not None
            and version >= IDENTITY_CHECK_VERSION
            and request.cluster_id is not None
            and (request.cluster_id != self.cluster_id or request.node_id != self.node_id)
        )


def _valid(version: int, request: ApiVersionsRequest) -> bool:
    """Kafka's ApiVersionsRequest.isValid: from v5 the cluster id and node id come together or
    not at all; from v3 the software name and version match Kafka's pattern."""
    if version >= IDENTITY_CHECK_VERSION and (request.cluster_id is None) != (
        request.node_id == NO_NODE_ID
    ):
        return False
    return version < 3 or bool(
        _SOFTWARE_NAME.fullmatch(request.client_software_name)
        and _SOFTWARE_NAME.fullmatch(request.client_software_version)
    )
