"""SCRAM credentials in the metadata image, without a JVM: records replayed into the image,
removed, written back into a snapshot's records, and the lookup over a node or an image."""

from __future__ import annotations

from dataclasses import dataclass

from ferrokafka.cluster.delta import MetadataDelta
from ferrokafka.cluster.image import EMPTY_IMAGE, MetadataImage
from ferrokafka.cluster.image_records import image_from_records, image_records
from ferrokafka.cluster.records import (
    FeatureLevelRecord,
    RemoveUserScramCredentialRecord,
    UserScramCredentialRecord,
)
from ferrokafka.cluster.scram_credentials import SCRAM_SHA_256, SCRAM_SHA_512
from ferrokafka.cluster.scram_ops import java_hash_order
from ferrokafka.cluster.scram_store import credential_from_password, credential_record, scram_lookup


def replay(image: MetadataImage, *records: object) -> MetadataImage:
    delta = MetadataDelta(image)
    delta.replay_all(records, image.offset + len(records))  # type: ignore[arg-type]
    return delta.apply()


ALICE_256 = credential_from_password(SCRAM_SHA_256, "alice-secret", b"salt-1", 4096)
ALICE_512 = credential_from_password(SCRAM_SHA_512, "alice-secret", b"salt-2", 8192)
BOB_256 = credential_from_password(SCRAM_SHA_256, "bob-secret", b"salt-3", 5000)


def test_records_build_the_image_and_removal_removes() -> None:
    image = replay(
        EMPTY_IMAGE,
        FeatureLevelRecord(name="metadata.version", feature_level=30),
        credential_record("alice", ALICE_256),
        credential_record("alice", ALICE_512),
        credential_record("bob", BOB_256),
        UserScramCredentialRecord(name="eve", mechanism=7, salt=b"s", iterations=4096),
    )
    assert dict(image.scram) == {
        ("alice", "SCRAM-SHA-256"): ALICE_256,
        ("alice", "SCRAM-SHA-512"): ALICE_512,
        ("bob", "SCRAM-SHA-256"): BOB_256,
    }
    after = replay(image, RemoveUserScramCredentialRecord(name="alice", mechanism=1))
    assert set(after.scram) == {("alice", "SCRAM-SHA-512"), ("bob", "SCRAM-SHA-256")}
    assert ("alice", "SCRAM-SHA-256") in image.scram  # the old image is untouched


def test_snapshot_records_give_the_image_back() -> None:
    image = replay(
        EMPTY_IMAGE,
        FeatureLevelRecord(name="metadata.version", feature_level=30),
        credential_record("bob", BOB_256),
        credential_record("alice", ALICE_512),
        credential_record("alice", ALICE_256),
    )
    records = image_records(image)
    scram = [r for r in records if isinstance(r, UserScramCredentialRecord)]
    # By mechanism, then user.
    assert [(r.name, r.mechanism) for r in scram] == [("alice", 1), ("bob", 1), ("alice", 2)]
    rebuilt, _ = image_from_records(records, image.offset)
    assert rebuilt.scram == image.scram


@dataclass
class FakeNode:
    image: MetadataImage


def test_lookup_of_a_node_follows_its_newest_image() -> None:
    node = FakeNode(EMPTY_IMAGE)
    lookup = scram_lookup(node)
    assert lookup("alice", "SCRAM-SHA-256") is None
    node.image = replay(EMPTY_IMAGE, credential_record("alice", ALICE_256))
    assert lookup("alice", "SCRAM-SHA-256") == ALICE_256
    assert lookup("alice", "SCRAM-SHA-512") is None
    fixed = scram_lookup(EMPTY_IMAGE)
    assert fixed("alice", "SCRAM-SHA-256") is None
    late = scram_lookup(lambda: node.image)
    assert late("alice", "SCRAM-SHA-256") == ALICE_256
    node.image = EMPTY_IMAGE
    assert late("alice", "SCRAM-SHA-256") is None and lookup("alice", "SCRAM-SHA-256") is None


def test_java_hash_order_of_small_and_growing_maps() -> None:
    # "Aa" and "BB" share String.hashCode 2112: one bucket, insertion order kept.
    assert java_hash_order(["BB", "Aa"]) == ["BB", "Aa"]
    assert java_hash_order(["Aa", "BB"]) == ["Aa", "BB"]
    # "a" (97) is bucket 1, "b" (98) bucket 2 of 16, whatever the insertion order.
    assert java_hash_order(["b", "a"]) == ["a", "b"]


def test_alter_before_metadata_version_3_5_iv2_is_unsupported_version() -> None:
    from ferrokafka.cluster.scram_ops import alter_credentials
    from ferrokafka.protocol.messages.alter_user_scram_credentials import (
        AlterUserScramCredentialsRequest as Alter,
    )

    request = Alter(
        upsertions=[
            Alter.ScramCredentialUpsertion(
                name="a", mechanism=1, iterations=4096, salt=b"s", salted_password=b"p"
            )
        ],
        deletions=[Alter.ScramCredentialDeletion(name="b", mechanism=1)],
    )
    for level, code in ((10, 35), (11, 0)):
        image = replay(
            EMPTY_IMAGE, FeatureLevelRecord(name="metadata.version", feature_level=level)
        )
        records, response = alter_credentials(image, request)
        by_user = {r.user: r.error_code for r in response.results}
        # At 3.5-IV2 the upsertion is fine and the deletion finds nothing.
        assert by_user == {"a": code, "b": 35 if code else 91}
        assert len(records) == (0 if code else 1)
