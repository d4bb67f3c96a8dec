"""TxnOffsetCommit over the wire (our codec against an in-process broker): Kafka's answers for
unknown topics and partitions, bad group ids, unknown groups, generations and members of a
classic group, oversized metadata, old versions; the KIP-890 verification with the transaction
coordinator (a stand-in verifier: which partition, add or verify-only by version, the error
mapping, no second verification within a transaction); OffsetFetch's require_stable and
DeleteGroups/OffsetDelete with pending offsets. Markers are in test_txn_offsets.py."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import trio
from server_wire import RawClient

from ferrokafka.groups.coordinator import OFFSETS_TOPIC
from ferrokafka.groups.records import GroupMetadataKey, OffsetCommitKey
from ferrokafka.groups.serde import decode_record
from ferrokafka.partition import Partition
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.delete_groups import DeleteGroupsRequest
from ferrokafka.protocol.messages.find_coordinator import FindCoordinatorRequest
from ferrokafka.protocol.messages.join_group import JoinGroupRequest
from ferrokafka.protocol.messages.offset_commit import OffsetCommitRequest
from ferrokafka.protocol.messages.offset_delete import OffsetDeleteRequest
from ferrokafka.protocol.messages.offset_fetch import OffsetFetchRequest
from ferrokafka.protocol.messages.sync_group import SyncGroupRequest
from ferrokafka.protocol.messages.txn_offset_commit import TxnOffsetCommitRequest
from ferrokafka.testing import open_broker

TEST_TIMEOUT_S = 90
OVERRIDES = {"offsets.topic.num.partitions": 2, "group.initial.rebalance.delay.ms": 0}
TOPIC = "tt"
INVALID_TXN_STATE = ec.INVALID_TXN_STATE
TRANSACTION_ABORTABLE = 121

_Codes = list[tuple[str, int, int]]


class _Verifier:
    """A stand-in transaction coordinator: records each verification, answers ``code``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int, list[tuple[str, int]], bool]] = []
        self.code = ec.NONE

    async def verify(
        self,
        transactional_id: str,
        producer_id: int,
        producer_epoch: int,
        partitions: Sequence[tuple[str, int]],
        *,
        add: bool,
    ) -> dict[tuple[str, int], int]:
        self.calls.append((transactional_id, producer_id, producer_epoch, list(partitions), add))
        return {tp: self.code for tp in partitions}


def _call(bootstrap: str, request: Any, version: int) -> Any:
    with RawClient(bootstrap, timeout_s=30) as c:
        return c.call(request, version)


def _txn_commit(bootstrap: str, group: str, pid: int, version: int = 3, **kw: Any) -> _Codes:
    partitions = kw.pop("partitions", {0: 7})
    request = TxnOffsetCommitRequest(
        transactional_id="tx",
        group_id=group,
        producer_id=pid,
        producer_epoch=kw.pop("epoch", 0),
        generation_id_or_member_epoch=kw.pop("generation", -1),
        member_id=kw.pop("member_id", ""),
        group_instance_id=kw.pop("instance", None),
        topics=[
            TxnOffsetCommitRequest.TxnOffsetCommitRequestTopic(
                name=kw.pop("topic", TOPIC),
                partitions=[
                    TxnOffsetCommitRequest.TxnOffsetCommitRequestPartition(
                        partition_index=p,
                        committed_offset=o,
                        committed_metadata=kw.get("metadata", "m"),
                    )
                    for p, o in partitions.items()
                ],
            )
        ],
    )
    response = _call(bootstrap, request, version)
    return [
        (t.name, p.partition_index, p.error_code) for t in response.topics for p in t.partitions
    ]


def _fetch(bootstrap: str, group: str, require_stable: bool, version: int = 8) -> dict:
    """OffsetFetch of partitions 0 and 1: partition -> (offset, error)."""
    if version >= 8:
        wanted = OffsetFetchRequest.OffsetFetchRequestGroup(
            group_id=group,
            topics=[
                OffsetFetchRequest.OffsetFetchRequestTopics(name=TOPIC, partition_indexes=[0, 1])
            ],
        )
        request = OffsetFetchRequest(groups=[wanted], require_stable=require_stable)
        topics = _call(bootstrap, request, version).groups[0].topics
    else:
        request = OffsetFetchRequest(
            group_id=group,
            topics=[
                OffsetFetchRequest.OffsetFetchRequestTopic(name=TOPIC, partition_indexes=[0, 1])
            ],
            require_stable=require_stable,
        )
        topics = _call(bootstrap, request, version).topics
    return {
        p.partition_index: (p.committed_offset, p.error_code) for t in topics for p in t.partitions
    }


def _fetch_all(bootstrap: str, group: str, require_stable: bool) -> dict:
    """OffsetFetch v8 of every partition the group has an offset of."""
    wanted = OffsetFetchRequest.OffsetFetchRequestGroup(group_id=group, topics=None)
    request = OffsetFetchRequest(groups=[wanted], require_stable=require_stable)
    topics = _call(bootstrap, request, 8).groups[0].topics
    return {
        p.partition_index: (p.committed_offset, p.error_code) for t in topics for p in t.partitions
    }


def _commit(bootstrap: str, group: str, offsets: dict[int, int]) -> int:
    """A regular OffsetCommit v8 from outside any group; the first partition's error."""
    request = OffsetCommitRequest(
        group_id=group,
        generation_id_or_member_epoch=-1,
        topics=[
            OffsetCommitRequest.OffsetCommitRequestTopic(
                name=TOPIC,
                partitions=[
                    OffsetCommitRequest.OffsetCommitRequestPartition(
                        partition_index=p, committed_offset=o
                    )
                    for p, o in offsets.items()
                ],
            )
        ],
    )
    return _call(bootstrap, request, 8).topics[0].partitions[0].error_code


def _stable_group(bootstrap: str, group: str) -> tuple[str, int]:
    """A classic group with one member, Stable: (member id, generation)."""

    def join(member_id: str) -> Any:
        request = JoinGroupRequest(
            group_id=group,
            session_timeout_ms=30_000,
            rebalance_timeout_ms=30_000,
            member_id=member_id,
            protocol_type="consumer",
            protocols=[JoinGroupRequest.JoinGroupRequestProtocol(name="range", metadata=b"m")],
        )
        return _call(bootstrap, request, 7)

    first = join("")
    assert first.error_code == ec.MEMBER_ID_REQUIRED
    joined = join(first.member_id)
    assert joined.error_code == 0
    synced = _call(
        bootstrap,
        SyncGroupRequest(
            group_id=group,
            generation_id=joined.generation_id,
            member_id=joined.member_id,
            protocol_type="consumer",
            protocol_name="range",
            assignments=[
                SyncGroupRequest.SyncGroupRequestAssignment(
                    member_id=joined.member_id, assignment=b""
                )
            ],
        ),
        5,
    )
    assert synced.error_code == 0
    return joined.member_id, joined.generation_id


def _setup(bootstrap: str) -> None:
    topic = CreateTopicsRequest.CreatableTopic(name=TOPIC, num_partitions=2, replication_factor=1)
    created = _call(bootstrap, CreateTopicsRequest(topics=[topic], timeout_ms=10_000), 5)
    assert created.topics[0].error_code == 0
    found = _call(bootstrap, FindCoordinatorRequest(key="any", key_type=0), 3)
    assert found.error_code == 0


def test_txn_offset_commit_over_the_wire(tmp_path: Path) -> None:
    trio.run(_over_the_wire, tmp_path)


async def _over_the_wire(tmp_path: Path) -> None:
    run = trio.to_thread.run_sync
    with trio.fail_after(TEST_TIMEOUT_S):
        async with open_broker(tmp_path, OVERRIDES) as running:
            b = running.bootstrap_servers
            node = running.broker.node
            coordinator = node.group_coordinator
            # Raw transactional commits of producers no transaction coordinator knows: no
            # verification until the stand-in verifier below.
            node.txn_verifier = None
            await run(_setup, b)

            # Unknown topic / partition; the rest of the request is still committed.
            assert await run(lambda: _txn_commit(b, "g1", 1, topic="nope")) == [
                ("nope", 0, ec.UNKNOWN_TOPIC_OR_PARTITION)
            ]
            assert await run(lambda: _txn_commit(b, "g1", 1, partitions={0: 5, 9: 5})) == [
                (TOPIC, 0, 0),
                (TOPIC, 9, ec.UNKNOWN_TOPIC_OR_PARTITION),
            ]
            assert coordinator.offsets.has_pending("g1", TOPIC, 0)
            assert coordinator.get_group("g1") is not None  # a simple group, as in Kafka
            # Pending offsets: unstable with require_stable (v7 and v8), nothing without.
            unstable = (-1, ec.UNSTABLE_OFFSET_COMMIT)
            for version in (7, 8):
                got = await run(_fetch, b, "g1", True, version)
                assert got == {0: unstable, 1: (-1, 0)}
                assert await run(_fetch, b, "g1", False, version) == {0: (-1, 0), 1: (-1, 0)}

            # A regular commit of the same partition: the committed value is answered without
            # require_stable, UNSTABLE_OFFSET_COMMIT with it, also when asking for all.
            assert await run(_commit, b, "g1", {0: 3}) == 0
            assert await run(_fetch, b, "g1", False) == {0: (3, 0), 1: (-1, 0)}
            assert await run(_fetch, b, "g1", True) == {0: unstable, 1: (-1, 0)}
            assert await run(_fetch_all, b, "g1", False) == {0: (3, 0)}
            assert await run(_fetch_all, b, "g1", True) == {0: unstable}

            # Bad group ids and unknown groups.
            assert await run(lambda: _txn_commit(b, "", 2)) == [(TOPIC, 0, ec.INVALID_GROUP_ID)]
            got = await run(lambda: _txn_commit(b, "g-unknown", 2, generation=3))
            assert got == [(TOPIC, 0, ec.ILLEGAL_GENERATION)]
            assert coordinator.get_group("g-unknown") is None
            # Oversized metadata, per partition.
            got = await run(lambda: _txn_commit(b, "g1", 3, metadata="x" * 5000))
            assert got == [(TOPIC, 0, ec.OFFSET_METADATA_TOO_LARGE)]
            # v0 carries neither member nor generation.
            assert await run(lambda: _txn_commit(b, "g0", 4, version=0)) == [(TOPIC, 0, 0)]

            # A classic group with a member: its generation and member id are checked (v3+),
            # an anonymous transactional commit is accepted (Kafka's rule for older clients).
            member, generation = await run(_stable_group, b, "gc")
            got = await run(
                lambda: _txn_commit(b, "gc", 10, generation=generation + 1, member_id=member)
            )
            assert got == [(TOPIC, 0, ec.ILLEGAL_GENERATION)]
            got = await run(
                lambda: _txn_commit(b, "gc", 10, generation=generation, member_id="who")
            )
            assert got == [(TOPIC, 0, ec.UNKNOWN_MEMBER_ID)]
            got = await run(
                lambda: _txn_commit(
                    b, "gc", 10, generation=generation, member_id=member, instance="i-1"
                )
            )
            assert got == [(TOPIC, 0, ec.UNKNOWN_MEMBER_ID)]
            got = await run(
                lambda: _txn_commit(b, "gc", 10, generation=generation, member_id=member)
            )
            assert got == [(TOPIC, 0, 0)]
            assert await run(lambda: _txn_commit(b, "gc", 11)) == [(TOPIC, 0, 0)]

            # OffsetDelete and DeleteGroups drop pending offsets (tombstones).
            request = OffsetDeleteRequest(
                group_id="g1",
                topics=[
                    OffsetDeleteRequest.OffsetDeleteRequestTopic(
                        name=TOPIC,
                        partitions=[
                            OffsetDeleteRequest.OffsetDeleteRequestPartition(partition_index=0)
                        ],
                    )
                ],
            )
            assert (await run(_call, b, request, 0)).error_code == 0
            assert not coordinator.offsets.has_pending("g1", TOPIC, 0)
            assert await run(_fetch, b, "g1", True) == {0: (-1, 0), 1: (-1, 0)}
            assert await run(lambda: _txn_commit(b, "g0", 5, partitions={1: 3})) == [(TOPIC, 1, 0)]
            deleted = await run(_call, b, DeleteGroupsRequest(groups_names=["g0"]), 2)
            assert deleted.results[0].error_code == 0
            assert coordinator.offsets.pending.partitions_of("g0") == set()
            index = coordinator.partition_for("g0")
            batches = running.partition(OFFSETS_TOPIC, index).log.read_batches(0)
            tombstones = [
                decode_record(r.key, None).key
                for bt in batches
                for r in bt.records()
                if r.value is None and r.key is not None
            ]
            # The two pending offsets, and the group's metadata.
            assert [k for k in tombstones if k.group == "g0"] == [
                OffsetCommitKey(group="g0", topic=TOPIC, partition=0),
                OffsetCommitKey(group="g0", topic=TOPIC, partition=1),
                GroupMetadataKey(group="g0"),
            ]


def test_verification_with_the_transaction_coordinator(tmp_path: Path) -> None:
    trio.run(_verification, tmp_path)


async def _verification(tmp_path: Path) -> None:
    run = trio.to_thread.run_sync
    with trio.fail_after(TEST_TIMEOUT_S):
        async with open_broker(tmp_path, OVERRIDES) as running:
            b = running.bootstrap_servers
            node = running.broker.node
            coordinator = node.group_coordinator
            await run(_setup, b)
            verifier = _Verifier()
            node.txn_verifier = verifier
            partition = (OFFSETS_TOPIC, coordinator.partition_for("gv"))

            # Refused: nothing is written, and the error is mapped by version.
            verifier.code = INVALID_TXN_STATE
            assert await run(lambda: _txn_commit(b, "gv", 1, version=4)) == [
                (TOPIC, 0, INVALID_TXN_STATE)
            ]
            assert verifier.calls == [("tx", 1, 0, [partition], False)]
            assert not coordinator.offsets.has_pending("gv", TOPIC, 0)
            verifier.code = TRANSACTION_ABORTABLE
            assert await run(lambda: _txn_commit(b, "gv", 1, version=3)) == [
                (TOPIC, 0, INVALID_TXN_STATE)
            ]
            assert await run(lambda: _txn_commit(b, "gv", 1, version=4)) == [
                (TOPIC, 0, TRANSACTION_ABORTABLE)
            ]
            verifier.code = ec.NETWORK_EXCEPTION
            assert await run(lambda: _txn_commit(b, "gv", 1, version=4)) == [
                (TOPIC, 0, ec.COORDINATOR_LOAD_IN_PROGRESS)
            ]

            # Accepted: v5 adds the partition to the transaction (transaction version 2).
            verifier.code = ec.NONE
            verifier.calls.clear()
            assert await run(lambda: _txn_commit(b, "gv", 2, version=5)) == [(TOPIC, 0, 0)]
            assert verifier.calls == [("tx", 2, 0, [partition], True)]
            if hasattr(Partition, "append_txn_marker"):
                # (A second batch of the producer's epoch needs the data side's producer
                # state, branch h-txnpart: a coordinator's batches skip the sequence checks.)
                # The transaction holds the partition now: no second verification.
                got = await run(lambda: _txn_commit(b, "gv", 2, version=5, partitions={1: 9}))
                assert got == [(TOPIC, 1, 0)]
                assert len(verifier.calls) == 1
                assert coordinator.offsets.has_pending("gv", TOPIC, 1)
