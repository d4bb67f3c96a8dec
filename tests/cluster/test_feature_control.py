"""UpdateFeatures decisions (cluster/feature_control.py) against Kafka's FeatureControlManager:
what is refused with INVALID_UPDATE_VERSION and Kafka's message, what is written, v0's
allow_downgrade, validate_only. End to end with Kafka's kafka-features tool:
test_three_plus_three.py."""

from __future__ import annotations

import uuid

import pytest

from ferrokafka.cluster.feature_control import (
    SAFE_DOWNGRADE,
    UNSAFE_DOWNGRADE,
    UPGRADE,
    update_features,
    with_upgrade_types,
)
from ferrokafka.cluster.image import BrokerRegistration, MetadataImage
from ferrokafka.cluster.records import FeatureLevelRecord
from ferrokafka.protocol.messages.update_features import UpdateFeaturesRequest

INVALID_UPDATE_VERSION = 95
Update = UpdateFeaturesRequest.FeatureUpdateKey
OURS = {"metadata.version": (7, 33), "group.version": (0, 1)}


def broker(broker_id: int, features: dict[str, tuple[int, int]]) -> BrokerRegistration:
    return BrokerRegistration(broker_id, uuid.uuid4(), 10, (), features, None, fenced=False)


def image(**brokers: dict[str, tuple[int, int]]) -> MetadataImage:
    return MetadataImage(
        offset=20,
        features={"metadata.version": 33, "group.version": 1},
        brokers={int(k[1:]): broker(int(k[1:]), v) for k, v in brokers.items()},
    )


def run(
    img: MetadataImage,
    *updates: tuple[str, int, int],
    validate_only: bool = False,
    voters: tuple[int, ...] = (1,),
    controllers: dict[int, dict[str, tuple[int, int]]] | None = None,
) -> tuple[list[FeatureLevelRecord], int, str | None]:
    request = UpdateFeaturesRequest(
        feature_updates=[
            Update(feature=f, max_version_level=lv, upgrade_type=t) for f, lv, t in updates
        ],
        validate_only=validate_only,
    )
    records, response = update_features(
        img, request, controller_id=1, voters=voters, controllers=controllers or {}
    )
    return records, response.error_code, response.error_message


def test_a_supported_change_is_written_and_answered_per_feature() -> None:
    img = image(b4=OURS, b5=OURS)
    request = UpdateFeaturesRequest(
        feature_updates=[
            Update(feature="group.version", max_version_level=0, upgrade_type=SAFE_DOWNGRADE)
        ]
    )
    records, response = update_features(img, request, controller_id=1, voters=[1], controllers={})
    assert records == [FeatureLevelRecord(name="group.version", feature_level=0)]
    assert response.error_code == 0
    assert [(r.feature, r.error_code) for r in response.results] == [("group.version", 0)]
    # validate_only: the same answer, nothing written.
    assert run(img, ("group.version", 0, SAFE_DOWNGRADE), validate_only=True)[:2] == ([], 0)
    # Setting the current level again is allowed (and written, as Kafka does).
    assert run(img, ("metadata.version", 33, UPGRADE))[:2] == (
        [FeatureLevelRecord(name="metadata.version", feature_level=33)],
        0,
    )


@pytest.mark.parametrize(
    ("update", "message"),
    [
        (("group.version", 2, UPGRADE), "Invalid update version 2 for feature group.version. "
         "Local controller 1 only supports versions 0-1"),
        (("transaction.version", 3, UPGRADE), "Invalid update version 3 for feature "
         "transaction.version. Local controller 1 only supports versions 0-2"),
        (("share.version", 3, UPGRADE), "Invalid update version 3 for feature "
         "share.version. Local controller 1 only supports versions 0-2"),
        (("streams.version", 1, UPGRADE), "Invalid update version 1 for feature "
         "streams.version. Local controller 1 does not support this feature."),
        (("group.version", -1, SAFE_DOWNGRADE), "Invalid update version -1 for feature "
         "group.version. A feature version cannot be less than 0."),
        (("group.version", 0, UPGRADE), "Invalid update version 0 for feature group.version. "
         "Can't downgrade the version of this feature without setting the upgrade type to "
         "either safe or unsafe downgrade."),
        (("group.version", 1, 7), "Invalid update version 1 for feature group.version. The "
         "controller does not support the given upgrade type."),
        (("metadata.version", 34, UPGRADE), "Invalid update version 34 for feature "
         "metadata.version. Local controller 1 only supports versions 7-33"),
        # 4.4-IV2 (33) changed the metadata format: going below it may lose metadata.
        (("metadata.version", 32, SAFE_DOWNGRADE), "Invalid metadata.version 32. Refusing to "
         "perform the requested downgrade because it might delete metadata information."),
        (("metadata.version", 31, UNSAFE_DOWNGRADE), "Invalid metadata.version 31. Unsafe "
         "metadata downgrade is not supported in this version."),
        (("foo.version", 0, UPGRADE), "Invalid update version 0 for feature foo.version. "
         "Feature foo.version not found."),
    ],
)  # fmt: skip
def test_refusals_carry_kafkas_messages(update: tuple[str, int, int], message: str) -> None:
    records, code, text = run(image(b4=OURS), update)
    assert (records, code) == ([], INVALID_UPDATE_VERSION)
    assert text == (
        "The update failed for all features since the following feature had an error: " + message
    )


def test_one_refusal_refuses_every_update() -> None:
    records, code, _ = run(
        image(), ("group.version", 0, SAFE_DOWNGRADE), ("group.version", 5, UPGRADE)
    )
    assert (records, code) == ([], INVALID_UPDATE_VERSION)


def test_a_safe_downgrade_within_versions_that_kept_the_format() -> None:
    img = MetadataImage(offset=3, features={"metadata.version": 29})
    # 4.2-IV1 (29) -> 4.1-IV0 (26): none of 27..29 changed the metadata format.
    assert run(img, ("metadata.version", 26, SAFE_DOWNGRADE))[:2] == (
        [FeatureLevelRecord(name="metadata.version", feature_level=26)],
        0,
    )
    assert run(img, ("metadata.version", 30, SAFE_DOWNGRADE))[2].endswith(
        "Can't downgrade to a newer version."
    )


def test_every_broker_and_controller_must_support_the_level() -> None:
    old_broker = {"metadata.version": (7, 33)}  # no group.version
    assert run(image(b4=OURS, b5=old_broker), ("group.version", 1, UPGRADE))[2].endswith(
        "Broker 5 does not support this feature."
    )
    assert run(
        image(),
        ("group.version", 1, UPGRADE),
        voters=(1, 2),
        controllers={2: {"group.version": (0, 0)}},
    )[2].endswith("Controller 2 does not support this feature.")
    assert run(image(), ("group.version", 1, UPGRADE), voters=(1, 2, 3), controllers={2: OURS})[
        2
    ].endswith("controller 3 has not registered, and may not support this feature")


def test_v0_allow_downgrade_is_a_safe_downgrade() -> None:
    request = UpdateFeaturesRequest(
        feature_updates=[
            Update(feature="group.version", max_version_level=0, allow_downgrade=True),
            Update(feature="metadata.version", max_version_level=33, allow_downgrade=False),
        ]
    )
    made = with_upgrade_types(request, 0)
    assert [u.upgrade_type for u in made.feature_updates] == [SAFE_DOWNGRADE, UPGRADE]
    assert not any(u.allow_downgrade for u in made.feature_updates)  # encodable at v1+
    later = UpdateFeaturesRequest(
        feature_updates=[Update(feature="group.version", max_version_level=0, upgrade_type=3)]
    )
    assert with_upgrade_types(later, 1).feature_updates[0].upgrade_type == UNSAFE_DOWNGRADE


class FakeQuorum:
    """The quorum's side of kraft.version (Kafka's KRaftVersionAccessor)."""

    def __init__(self, level: int = 0, refusal=None) -> None:
        self.level = level
        self.refusal = refusal
        self.asked: list[tuple[int, bool]] = []

    def kraft_version(self) -> int:
        return self.level

    def upgrade_kraft_version(self, version: int, validate_only: bool) -> bool:
        self.asked.append((version, validate_only))
        if self.refusal is not None:
            raise self.refusal
        if not validate_only:
            self.level = version
        return not validate_only


def kraft_run(quorum: FakeQuorum | None, level: int, kind: int = UPGRADE, **kwargs):
    from ferrokafka.cluster.feature_control import KRAFT_VERSION_FEATURE

    request = UpdateFeaturesRequest(
        feature_updates=[
            Update(feature=KRAFT_VERSION_FEATURE, max_version_level=level, upgrade_type=kind)
        ],
        **kwargs,
    )
    kraft = {"kraft.version": (0, 1)}
    records, response = update_features(
        image(b4={**OURS, **kraft}),
        request,
        controller_id=1,
        voters=[1, 2],
        controllers={2: kraft},
        kraft=quorum,
    )
    return records, response.error_code, response.error_message


def test_kraft_version_is_upgraded_by_the_quorum_with_a_noop_record() -> None:
    from ferrokafka.cluster.records import NoOpRecord

    quorum = FakeQuorum()
    assert kraft_run(quorum, 1, validate_only=True)[:2] == ([], 0)
    assert quorum.asked == [(1, True)] and quorum.level == 0
    records, error, _ = kraft_run(quorum, 1)
    assert (records, error) == ([NoOpRecord()], 0) and quorum.level == 1
    # Downgrades are refused; the current level again is a no-op.
    _, error, message = kraft_run(quorum, 0, SAFE_DOWNGRADE)
    assert error == INVALID_UPDATE_VERSION
    assert message.endswith(
        "Invalid update version 0 for feature kraft.version. Can't downgrade the version of "
        "this feature."
    )
    assert kraft_run(quorum, 1, SAFE_DOWNGRADE)[:2] == ([], 0)


def test_a_kraft_version_refusal_is_the_quorums_message() -> None:
    from ferrokafka.cluster.raft.voter_changes import KRaftUpgradeError

    reason = "Invalid upgrade of kraft.version to 1 because not all of the voters support it"
    quorum = FakeQuorum(refusal=KRaftUpgradeError(INVALID_UPDATE_VERSION, reason))
    records, error, message = kraft_run(quorum, 1)
    assert (records, error) == ([], INVALID_UPDATE_VERSION)
    assert message == (
        "The update failed for all features since the following feature had an error: " + reason
    )
    # Level 2: no node supports it (Kafka's reasonNotSupported, before asking the quorum).
    _, error, message = kraft_run(FakeQuorum(), 2)
    assert error == INVALID_UPDATE_VERSION and "only supports versions 0-1" in message
