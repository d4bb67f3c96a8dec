"""UpdateFeatures as the controller decides it (Kafka's ``FeatureControlManager.updateFeatures``
and ``QuorumController.updateFeatures``), sans-io: an image and a request in, the
FeatureLevelRecords to commit and the response out.

Every requested level is checked, in the request's order, and the first refusal refuses the
whole request (INVALID_UPDATE_VERSION, Kafka's messages): an unknown upgrade type; a level
below 0; a level this controller, a registered broker or a registered controller does not
support (each voter must have registered, or it "may not support this feature"); a downgrade
asked as an upgrade, or an upgrade asked as a downgrade; for metadata.version, a level Kafka
does not know, one below 3.3-IV3, and a downgrade across a version that changed the metadata
format (refused as a safe downgrade, and as an unsafe one: Kafka does not implement those
either); for another feature, an unknown name or a missing dependency. ``validate_only``
checks and commits nothing; otherwise the records of every update are committed as one batch.

kraft.version is the quorum's, not the image's (Kafka's ``KRaftVersionAccessor``): its current
level is the quorum's, and an upgrade is the quorum leader's (the kraft.version upgrade of a
static quorum, KIP-853: ``raft/voter_changes.py``), carried out as the update is checked, as
Kafka does; the controller then commits a NoOpRecord for it, so the answer comes after the
quorum's control batch commits. Its refusals are Kafka's (INVALID_UPDATE_VERSION with the raft
layer's message). A downgrade of it is refused.

v0 requests say ``allow_downgrade`` (a safe downgrade) instead of an upgrade type
(:func:`with_upgrade_types`, applied where the request is decoded). From v2 a successful
response carries no per-feature results (the encoder drops them), as Kafka's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Protocol

from ferrokafka.cluster.feature_levels import (
    FEATURE_LEVEL_MAX,
    KRAFT_VERSION_FEATURE,
    METADATA_VERSIONS,
    SUPPORTED_FEATURES,
)
from ferrokafka.cluster.image import METADATA_VERSION_FEATURE, MetadataImage
from ferrokafka.cluster.raft.voter_changes import KRaftUpgradeError
from ferrokafka.cluster.records import FeatureLevelRecord, NoOpRecord
from ferrokafka.protocol.error_codes import INVALID_UPDATE_VERSION, NONE
from ferrokafka.protocol.messages.update_features import (
    UpdateFeaturesRequest,
    UpdateFeaturesResponse,
)

log = logging.getLogger(__name__)

# Kafka's FeatureUpdate.UpgradeType codes.
UPGRADE = 1
SAFE_DOWNGRADE = 2
UNSAFE_DOWNGRADE = 3
_UPGRADE_TYPES = frozenset({UPGRADE, SAFE_DOWNGRADE, UNSAFE_DOWNGRADE})
# Kafka's MetadataVersion.MINIMUM_BOOTSTRAP_VERSION (3.3-IV0 is not a KRaft level it starts at;
# the oldest one a cluster can be set to is the oldest we know, 3.3-IV3).
METADATA_VERSION_MIN = METADATA_VERSIONS[0][1]
# The metadata.version levels whose records changed (Kafka 4.4's MetadataVersion
# didMetadataChange, read off its jar): a downgrade across one of them may lose metadata.
METADATA_CHANGED_LEVELS = frozenset({7, 8, 11, 13, 14, 15, 17, 23, 30, 32, 33})
# Dependencies of feature levels on other features (Kafka 4.4's Feature.dependencies, read off
# its jar): only eligible.leader.replicas.version 1 has one among the production features.
FEATURE_DEPENDENCIES: Mapping[tuple[str, int], Mapping[str, int]] = {
    ("eligible.leader.replicas.version", 1): {METADATA_VERSION_FEATURE: 23},
}
# Kafka's QuorumFeatures.DISABLED: what a node that does not name a feature supports.
_DISABLED = (0, 0)
# A request names each feature once (the field is a map key); this bounds the work of one.
FEATURE_UPDATES_MAX = 64
_FAILED_PREFIX = "The update failed for all features since the following feature had an error: "


class FeatureUpdateError(Exception):
    """Kafka's ApiError(INVALID_UPDATE_VERSION, message), or another code the quorum gave."""

    def __init__(self, message: str, error_code: int = INVALID_UPDATE_VERSION) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code


class KRaftVersionAccessor(Protocol):
    """Kafka's ``KRaftVersionAccessor``: the quorum's kraft.version and its upgrade."""

    def kraft_version(self) -> int: ...

    def upgrade_kraft_version(self, version: int, validate_only: bool) -> bool: ...


# The local controller's kraft.version range (Kafka's QuorumFeatures adds it to the others).
LOCAL_SUPPORTED_FEATURES: Mapping[str, tuple[int, int]] = {
    **SUPPORTED_FEATURES,
    KRAFT_VERSION_FEATURE: (0, FEATURE_LEVEL_MAX[KRAFT_VERSION_FEATURE]),
}


def with_upgrade_types(request: UpdateFeaturesRequest, version: int) -> UpdateFeaturesRequest:
    """The request as of v1, whatever ``version`` it came at: Kafka's
    UpdateFeaturesRequest.getFeature reads v0's allow_downgrade as a safe downgrade (or an
    upgrade). A broker forwards it so, since a later version has no allow_downgrade."""
    if version > 0:
        return request
    for update in request.feature_updates:
        update.upgrade_type = SAFE_DOWNGRADE if update.allow_downgrade else UPGRADE
        # Read: a later version has no such field and must not be asked to encode it.
        update.allow_downgrade = False
    return request


def update_features(
    image: MetadataImage,
    request: UpdateFeaturesRequest,
    *,
    controller_id: int,
    voters: Iterable[int],
    controllers: Mapping[int, Mapping[str, tuple[int, int]]],
    kraft: KRaftVersionAccessor | None = None,
) -> tuple[list[FeatureLevelRecord | NoOpRecord], UpdateFeaturesResponse]:
    """The records to commit (none when refused or ``validate_only``) and the answer to
    ``request`` (as :func:`with_upgrade_types` made it).
    ``controllers``: each registered controller's supported ranges (RegisterControllerRecord);
    ``voters``: the quorum's voter ids, each of which must have registered; ``kraft``: the
    quorum (None: no quorum to upgrade, kraft.version stays 0)."""
    try:
        if len(request.feature_updates) > FEATURE_UPDATES_MAX:
            raise FeatureUpdateError(
                f"At most {FEATURE_UPDATES_MAX} feature updates may be sent at once."
            )
        proposed = dict(image.features)
        proposed.update({u.feature: u.max_version_level for u in request.feature_updates})
        records = []
        for u in request.feature_updates:
            if u.feature == KRAFT_VERSION_FEATURE:
                record = _update_kraft_version(
                    image, u.max_version_level, u.upgrade_type, controller_id, voters,
                    controllers, kraft, request.validate_only,
                )  # fmt: skip
            else:
                record = _update_one(
                    image, u.feature, u.max_version_level, u.upgrade_type, proposed,
                    controller_id, voters, controllers,
                )  # fmt: skip
            if record is not None:
                records.append(record)
    except FeatureUpdateError as exc:
        log.warning("%s", exc.message)
        return [], UpdateFeaturesResponse(
            error_code=exc.error_code, error_message=_FAILED_PREFIX + exc.message
        )
    response = with_results(request, UpdateFeaturesResponse(error_code=NONE, error_message=None))
    return ([] if request.validate_only else records), response


def with_results(
    request: UpdateFeaturesRequest, response: UpdateFeaturesResponse
) -> UpdateFeaturesResponse:
    """A successful response with a result per requested feature, as Kafka answers v0-v1 (v2
    drops them on the wire). A broker puts them back when the controller answered a request it
    forwarded at v2."""
    if response.error_code == NONE and not response.results:
        response.results = [
            UpdateFeaturesResponse.UpdatableFeatureResult(
                feature=u.feature, error_code=NONE, error_message="NONE"
            )
            for u in request.feature_updates
        ]
    return response


def _check_common(
    feature: str,
    level: int,
    kind: int,
    current: int,
    reason: str | None,
) -> None:
    """The checks every feature gets first, in Kafka's order (``updateFeature``)."""
    if kind not in _UPGRADE_TYPES:
        raise _invalid(feature, level, "The controller does not support the given upgrade type.")
    if level < 0:
        raise _invalid(feature, level, "A feature version cannot be less than 0.")
    if reason is not None:
        raise _invalid(feature, level, reason)
    if level < current and kind == UPGRADE:
        raise _invalid(
            feature,
            level,
            "Can't downgrade the version of this feature without setting the upgrade type to "
            "either safe or unsafe downgrade.",
        )
    if level > current and kind != UPGRADE:
        raise _invalid(feature, level, "Can't downgrade to a newer version.")


def _update_kraft_version(
    image: MetadataImage,
    level: int,
    kind: int,
    controller_id: int,
    voters: Iterable[int],
    controllers: Mapping[int, Mapping[str, tuple[int, int]]],
    kraft: KRaftVersionAccessor | None,
    validate_only: bool,
) -> NoOpRecord | None:
    """Kafka's kraft.version branch: the quorum's level; an upgrade asked of the quorum
    leader, then a NoOpRecord; a downgrade refused."""
    feature = KRAFT_VERSION_FEATURE
    current = 0 if kraft is None else kraft.kraft_version()
    reason = _reason_not_supported(image, feature, level, controller_id, voters, controllers)
    _check_common(feature, level, kind, current, reason)
    if kind != UPGRADE:
        if level != current:
            raise _invalid(feature, level, "Can't downgrade the version of this feature.")
        return None
    if kraft is None:
        if level == current:
            return None
        raise _invalid(feature, level, "This controller runs no KRaft quorum to upgrade.")
    try:
        kraft.upgrade_kraft_version(level, validate_only)
    except KRaftUpgradeError as exc:
        raise FeatureUpdateError(exc.message, exc.error_code) from None
    return NoOpRecord()


def _update_one(
    image: MetadataImage,
    feature: str,
    level: int,
    kind: int,
    proposed: Mapping[str, int],
    controller_id: int,
    voters: Iterable[int],
    controllers: Mapping[int, Mapping[str, tuple[int, int]]],
) -> FeatureLevelRecord:
    if kind not in _UPGRADE_TYPES:
        raise _invalid(feature, level, "The controller does not support the given upgrade type.")
    current = image.features.get(feature, 0)
    if level < 0:
        raise _invalid(feature, level, "A feature version cannot be less than 0.")
    reason = _reason_not_supported(image, feature, level, controller_id, voters, controllers)
    if reason is not None:
        raise _invalid(feature, level, reason)
    if level < current and kind == UPGRADE:
        raise _invalid(
            feature,
            level,
            "Can't downgrade the version of this feature without setting the upgrade type to "
            "either safe or unsafe downgrade.",
        )
    if level > current and kind != UPGRADE:
        raise _invalid(feature, level, "Can't downgrade to a newer version.")
    if feature == METADATA_VERSION_FEATURE:
        _check_metadata_version(current, level, kind)
    else:
        if feature not in FEATURE_LEVEL_MAX:
            raise _invalid(feature, level, f"Feature {feature} not found.")
        for needed, needed_level in FEATURE_DEPENDENCIES.get((feature, level), {}).items():
            if proposed.get(needed, 0) < needed_level:
                raise _invalid(
                    feature,
                    level,
                    f"{feature} could not be set to {level} because it depends on {needed} "
                    f"level {needed_level}",
                )
    return FeatureLevelRecord(name=feature, feature_level=level)


def _reason_not_supported(
    image: MetadataImage,
    feature: str,
    level: int,
    controller_id: int,
    voters: Iterable[int],
    controllers: Mapping[int, Mapping[str, tuple[int, int]]],
) -> str | None:
    """Kafka's FeatureControlManager.reasonNotSupported: this controller, then every
    registered broker, then every other registered controller; every voter registered."""
    local = LOCAL_SUPPORTED_FEATURES.get(feature)
    reason = _outside(level, f"Local controller {controller_id}", local)
    if reason is not None:
        return reason
    for broker_id, broker in sorted(image.brokers.items()):
        reason = _outside(level, f"Broker {broker_id}", broker.features.get(feature))
        if reason is not None:
            return reason
    for node_id, supported in sorted(controllers.items()):
        if node_id == controller_id:
            continue
        reason = _outside(level, f"Controller {node_id}", supported.get(feature))
        if reason is not None:
            return reason
    for voter in sorted(voters):
        if voter != controller_id and voter not in controllers:
            return f"controller {voter} has not registered, and may not support this feature"
    return None


def _outside(level: int, who: str, supported: tuple[int, int] | None) -> str | None:
    low, high = supported if supported is not None else _DISABLED
    if low <= level <= high:
        return None
    if high == 0:
        return f"{who} does not support this feature."
    return f"{who} only supports versions {low}-{high}"


def _check_metadata_version(current: int, level: int, kind: int) -> None:
    """Kafka's FeatureControlManager.updateMetadataVersion."""
    known = {mv_level for _, mv_level, _ in METADATA_VERSIONS}
    if level not in known:
        raise _invalid_metadata_version(level, "Unknown metadata.version.")
    if level < METADATA_VERSION_MIN:
        raise _invalid_metadata_version(
            level, f"Unable to set a metadata.version less than {METADATA_VERSIONS[0][0]}"
        )
    if level < current:
        if any(current >= changed > level for changed in METADATA_CHANGED_LEVELS):
            if kind == UNSAFE_DOWNGRADE:
                raise _invalid_metadata_version(
                    level, "Unsafe metadata downgrade is not supported in this version."
                )
            raise _invalid_metadata_version(
                level,
                "Refusing to perform the requested downgrade because it might delete metadata "
                "information.",
            )
        log.warning("Downgrading metadata.version from %d to %d.", current, level)
    elif level > current:
        log.warning("Upgrading metadata.version from %d to %d.", current, level)


def _invalid(feature: str, level: int, message: str) -> FeatureUpdateError:
    return FeatureUpdateError(f"Invalid update version {level} for feature {feature}. {message}")


def _invalid_metadata_version(level: int, message: str) -> FeatureUpdateError:
    return FeatureUpdateError(f"Invalid metadata.version {level}. {message}")
