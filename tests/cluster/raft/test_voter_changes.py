"""KIP-853 in the sans-io replica, one rule each, as Kafka's KafkaRaftClientReconfigTest checks
them: the voter set read from the bootstrap checkpoint and the log (and following truncation),
the leader's start-of-epoch VotersRecord, and AddRaftVoter / RemoveRaftVoter / UpdateRaftVoter
with Kafka's error codes; the records as Kafka's control batches (types 5 and 6)."""

from __future__ import annotations

import uuid
from random import Random
from unittest.mock import ANY

from ferrokafka.cluster.raft import (
    BeginQuorumEpochRequest,
    FetchRequest,
    FetchResponse,
    Inbound,
    MemoryRaftLog,
    QuorumConfig,
    Send,
)
from ferrokafka.cluster.raft.leader import LeaderState
from ferrokafka.cluster.raft.log import LeaderChange, Record
from ferrokafka.cluster.raft.records import build_batch, decode_records
from ferrokafka.cluster.raft.replica import RaftReplica
from ferrokafka.cluster.raft.state import FollowerState
from ferrokafka.cluster.raft.voter_changes import (
    AddVoterRequest,
    AddVoterResponse,
    ApiVersionsProbe,
    ApiVersionsResult,
    RemoveVoterRequest,
    RemoveVoterResponse,
    UpdateVoterRequest,
    UpdateVoterResponse,
)
from ferrokafka.cluster.raft.voters import (
    KRaftVersionChange,
    VoterEndpoint,
    VoterNode,
    VotersChange,
    VoterSet,
    VoterSetHistory,
)
from ferrokafka.protocol.error_codes import (
    DUPLICATE_VOTER,
    INCONSISTENT_CLUSTER_ID,
    INVALID_REQUEST,
    NONE,
    NOT_LEADER_OR_FOLLOWER,
    REQUEST_TIMED_OUT,
    UNSUPPORTED_VERSION,
    VOTER_NOT_FOUND,
)

CONFIG = QuorumConfig(election_timeout_ms=100, fetch_timeout_ms=200, request_timeout_ms=150)
LISTENER = "CONTROLLER"
ADMIN = -1


def directory(node_id: int) -> uuid.UUID:
    return uuid.UUID(int=node_id)


def endpoints(node_id: int, port: int | None = None) -> tuple[VoterEndpoint, ...]:
    return (VoterEndpoint(LISTENER, "localhost", port or 9000 + node_id),)


def node(node_id: int) -> VoterNode:
    return VoterNode(node_id, directory(node_id), endpoints(node_id), (0, 1))


def leader_alone(kraft_version: int = 1) -> tuple[RaftReplica, MemoryRaftLog]:
    """Node 1, the only voter of a --standalone checkpoint, leading epoch 1."""
    history = VoterSetHistory(None if kraft_version else VoterSet.of_ids({1}))
    if kraft_version:
        history.bootstrap(kraft_version, VoterSet([node(1)]))
    log = MemoryRaftLog()
    r = RaftReplica(
        node_id=1,
        voters=history,
        log=log,
        config=CONFIG,
        random=Random(1),
        now_ms=0,
        cluster_id="c",
        directory_id=directory(1),
        endpoints=endpoints(1),
        listener_name=LISTENER,
    )
    r.tick(0)
    assert isinstance(r.state, LeaderState) and r.high_watermark is not None
    return r, log


def fetch_from(r: RaftReplica, node_id: int, now_ms: int) -> list:
    """An observer fetching at the leader's log end (caught up)."""
    request = FetchRequest(
        cluster_id="c",
        replica_id=node_id,
        max_wait_ms=0,
        current_leader_epoch=r.epoch,
        fetch_offset=r.log.end_offset(),
        last_fetched_epoch=r.log.last_fetched_epoch(),
        max_bytes=1 << 20,
        replica_directory_id=directory(node_id),
    )
    return r.handle(Inbound(node_id, 1000 + now_ms, request), now_ms)


def answers(effects: list) -> list:
    return [e.message for e in effects if isinstance(e, Send) and e.destination == ADMIN]


def add_request(node_id: int, **fields) -> AddVoterRequest:
    values = {
        "cluster_id": "c",
        "timeout_ms": 1000,
        "voter_id": node_id,
        "voter_directory_id": directory(node_id),
        "endpoints": endpoints(node_id),
    }
    return AddVoterRequest(**{**values, **fields})


def ask(r: RaftReplica, request, now_ms: int, correlation_id: int = 7) -> list:
    return r.handle(Inbound(ADMIN, correlation_id, request), now_ms)


def add_voter(r: RaftReplica, node_id: int, now_ms: int) -> list:
    """Add ``node_id`` (caught up first) through the whole exchange; the admin's answers."""
    fetch_from(r, node_id, now_ms)
    fetch_from(r, node_id, now_ms + 1)
    effects = ask(r, add_request(node_id), now_ms + 2)
    probes = [e for e in effects if isinstance(e.message, ApiVersionsProbe)] if effects else []
    if not probes:
        return answers(effects)
    assert probes[0].message.address == ("localhost", 9000 + node_id)
    result = Inbound(node_id, probes[0].correlation_id, ApiVersionsResult(NONE, (0, 1)))
    out = answers(r.handle(result, now_ms + 3))
    # The new voter fetches past the VotersRecord: committed, answered.
    out += answers(fetch_from(r, node_id, now_ms + 4))
    out += answers(r.tick(now_ms + 5))
    return out


def test_the_standalone_leader_writes_the_checkpoints_voters_into_the_log() -> None:
    r, log = leader_alone()
    values = [rec.value for rec in log.records]
    assert isinstance(values[0], LeaderChange)
    assert values[1:] == [KRaftVersionChange(1), VotersChange(VoterSet([node(1)]))]
    assert r.history.last_voters_offset() == 2


def test_add_voter_appends_a_voters_record_and_answers_once_committed() -> None:
    r, _ = leader_alone()
    assert add_voter(r, 2, 10) == [AddVoterResponse(NONE, None)]
    assert r.history.last_voters() == VoterSet([node(1), node(2)])
    assert r.quorum.voters == {1, 2}
    assert isinstance(r.state, LeaderState) and set(r.state.voter_states) == {1, 2}


def test_add_voter_errors_as_kafka() -> None:
    r, _ = leader_alone()
    # A voter id already in the set.
    assert answers(ask(r, add_request(1), 5)) == [AddVoterResponse(DUPLICATE_VOTER, ANY)]
    # No directory id, or no endpoint on the quorum's listener.
    no_dir = add_request(2, voter_directory_id=uuid.UUID(int=0))
    assert answers(ask(r, no_dir, 5))[0].error_code == INVALID_REQUEST
    other_listener = add_request(2, endpoints=(VoterEndpoint("OTHER", "h", 1),))
    assert answers(ask(r, other_listener, 5))[0].error_code == INVALID_REQUEST
    assert answers(ask(r, add_request(2, cluster_id="x"), 5))[0].error_code == (
        INCONSISTENT_CLUSTER_ID
    )
    # Never fetched: not a caught-up observer, REQUEST_TIMED_OUT after the ApiVersions probe.
    effects = ask(r, add_request(2), 6)
    probe = next(e for e in effects if isinstance(e.message, ApiVersionsProbe))
    # One change at a time: a second request meanwhile is told to retry.
    assert answers(ask(r, add_request(3), 6, 8))[0].error_code == REQUEST_TIMED_OUT
    late = Inbound(2, probe.correlation_id, ApiVersionsResult(NONE, (0, 1)))
    [refused] = answers(r.handle(late, 7))
    assert refused.error_code == REQUEST_TIMED_OUT and "lagging" in refused.error_message
    # A kraft.version range without 1: INVALID_REQUEST.
    fetch_from(r, 2, 8)
    fetch_from(r, 2, 9)
    effects = ask(r, add_request(2), 10)
    probe = next(e for e in effects if isinstance(e.message, ApiVersionsProbe))
    old = Inbound(2, probe.correlation_id, ApiVersionsResult(NONE, (0, 0)))
    assert answers(r.handle(old, 11))[0].error_code == INVALID_REQUEST
    assert r.quorum.voters == {1}


def test_an_unanswered_probe_times_out() -> None:
    r, _ = leader_alone()
    ask(r, add_request(2), 5)
    assert answers(r.tick(5 + CONFIG.request_timeout_ms))[0].error_code == REQUEST_TIMED_OUT


def test_static_voters_refuse_add_and_remove_with_unsupported_version() -> None:
    r, _ = leader_alone(kraft_version=0)
    assert answers(ask(r, add_request(2), 5))[0].error_code == UNSUPPORTED_VERSION
    remove = RemoveVoterRequest("c", 1, directory(1))
    assert answers(ask(r, remove, 5))[0].error_code == UNSUPPORTED_VERSION
    # UpdateRaftVoter, which Kafka 4.4 voters send even to a static quorum: NONE, nothing
    # written (Kafka 4.4 keeps the endpoints in memory); an unknown id is VOTER_NOT_FOUND.
    end = r.log.end_offset()
    update = UpdateVoterRequest("c", r.epoch, 1, directory(1), endpoints(1, 5555), (0, 1))
    assert answers(ask(r, update, 6))[0].error_code == NONE
    assert r.log.end_offset() == end and r.reported_static_voters[1].endpoints == endpoints(1, 5555)
    unknown = UpdateVoterRequest("c", r.epoch, 9, directory(9), endpoints(9), (0, 1))
    assert answers(ask(r, unknown, 6))[0].error_code == VOTER_NOT_FOUND


def test_remove_voter_needs_the_exact_key_and_commits_with_the_new_majority() -> None:
    r, _ = leader_alone()
    add_voter(r, 2, 10)
    wrong = RemoveVoterRequest("c", 2, directory(3))
    assert answers(ask(r, wrong, 20))[0] == RemoveVoterResponse(VOTER_NOT_FOUND, ANY)
    assert answers(ask(r, RemoveVoterRequest("c", 3, directory(3)), 20))[0].error_code == (
        VOTER_NOT_FOUND
    )
    # The leader removes itself: committed by node 2 alone, then it resigns.
    effects = ask(r, RemoveVoterRequest("c", 1, directory(1)), 21)
    assert answers(effects) == []
    assert r.quorum.voters == {2} and not r.quorum.is_voter
    assert answers(fetch_from(r, 2, 22)) == [RemoveVoterResponse(NONE, None)]
    r.tick(24)
    assert not r.is_leader


def test_the_last_voter_cannot_be_removed() -> None:
    r, _ = leader_alone()
    remove = RemoveVoterRequest("c", 1, directory(1))
    assert answers(ask(r, remove, 5))[0].error_code == VOTER_NOT_FOUND


def test_update_voter_appends_at_once() -> None:
    r, _ = leader_alone()
    add_voter(r, 2, 10)
    moved = UpdateVoterRequest("c", r.epoch, 2, directory(2), endpoints(2, 7777), (0, 1))
    [answer] = answers(ask(r, moved, 20))
    assert answer == UpdateVoterResponse(NONE, 1, r.epoch)
    assert r.history.last_voters().address(2, LISTENER) == ("localhost", 7777)
    # While that record is not committed, another change waits.
    again = UpdateVoterRequest("c", r.epoch, 2, directory(2), endpoints(2, 7778), (0, 1))
    assert answers(ask(r, again, 21))[0].error_code == REQUEST_TIMED_OUT
    stale = UpdateVoterRequest("c", r.epoch - 1, 2, directory(2), endpoints(2), (0, 1))
    assert answers(ask(r, stale, 21))[0].error_code != NONE
    bad_range = UpdateVoterRequest("c", r.epoch, 2, directory(2), endpoints(2), (1, 0))
    assert answers(ask(r, bad_range, 21))[0].error_code == INVALID_REQUEST


def test_a_follower_answers_not_leader() -> None:
    history = VoterSetHistory()
    history.bootstrap(1, VoterSet([node(1), node(2)]))
    r = RaftReplica(
        node_id=2,
        voters=history,
        log=MemoryRaftLog(),
        config=CONFIG,
        random=Random(2),
        now_ms=0,
        cluster_id="c",
        directory_id=directory(2),
        endpoints=endpoints(2),
    )
    assert answers(ask(r, add_request(3), 1))[0].error_code == NOT_LEADER_OR_FOLLOWER


def test_the_voter_set_follows_log_truncation() -> None:
    history = VoterSetHistory()
    history.bootstrap(1, VoterSet([node(1)]))
    history.apply(3, VotersChange(VoterSet([node(1), node(2)])))
    history.apply(7, VotersChange(VoterSet([node(2)])))
    assert history.voters_at(5).ids == {1, 2} and history.last_voters().ids == {2}
    assert history.truncate_new_entries(7)
    assert history.last_voters().ids == {1, 2}
    assert history.truncate_new_entries(0)
    assert history.last_voters().ids == {1}  # the checkpoint's entry never goes
    assert not history.truncate_new_entries(0)


def test_voter_set_changes_are_kafkas() -> None:
    two = VoterSet([node(1), node(2)])
    assert two.add_voter(node(2)) is None
    assert two.remove_voter(2, directory(3)) is None
    assert VoterSet([node(1)]).remove_voter(1, directory(1)) is None
    assert two.has_overlapping_majority(two.add_voter(node(3)))
    assert not two.has_overlapping_majority(VoterSet([node(3), node(4)]))
    moved = VoterNode(2, directory(2), endpoints(2, 1), (0, 1))
    assert two.voter_node_needs_update(moved) and not two.voter_node_needs_update(node(2))
    static = VoterSet.static({1: ("h", 1)}, LISTENER)
    assert static.is_voter(1, directory(9))  # no directory id: any directory is that voter


def test_voters_and_kraft_version_records_are_control_batches_kafka_reads() -> None:
    voters = VoterSet([node(1), node(2)])
    data = build_batch(
        [LeaderChange(1, (1,), (1,)), KRaftVersionChange(1), VotersChange(voters)], 0, 3, 0
    )
    records = decode_records(data)
    assert [r.value for r in records] == [
        LeaderChange(1, (1,), (1,)),
        KRaftVersionChange(1),
        VotersChange(voters),
    ]
    assert all(isinstance(r, Record) and r.is_control and r.epoch == 3 for r in records)
    # The same VotersRecord bytes as the storage tool's bootstrap checkpoint writes.
    assert VoterSet.from_record(voters.to_record()) == voters


def test_a_follower_listed_with_other_endpoints_sends_update_raft_voter() -> None:
    """Kafka's pollFollowerAsVoter: every 3 fetch timeouts, if the log lists this voter with
    other endpoints (or kraft.version range), UpdateRaftVoter to the leader in place of a
    Fetch; not before the first 3 fetch timeouts of following."""
    history = VoterSetHistory()
    history.bootstrap(1, VoterSet([node(1), VoterNode(2, directory(2), endpoints(2, 1234))]))
    r = RaftReplica(
        node_id=2,
        voters=history,
        log=MemoryRaftLog(),
        config=CONFIG,
        random=Random(3),
        now_ms=0,
        cluster_id="c",
        directory_id=directory(2),
        endpoints=endpoints(2),
        listener_name=LISTENER,
    )
    begin = BeginQuorumEpochRequest("c", 2, 1, 1, directory(2))
    effects = r.handle(Inbound(1, 1, begin), 0)
    sent: list = []
    now = 0
    while now < 4 * CONFIG.fetch_timeout_ms:
        replies = []
        for e in effects:
            if isinstance(e, Send) and isinstance(e.message, FetchRequest):
                replies.append(Inbound(1, e.correlation_id, FetchResponse(NONE, 0, 1, 1)))
            elif isinstance(e, Send) and isinstance(e.message, UpdateVoterRequest):
                sent.append((now, e.message))
                replies.append(Inbound(1, e.correlation_id, UpdateVoterResponse(NONE, 1, 1)))
        now += 10
        effects = [out for reply in replies for out in r.handle(reply, now)]
        effects += r.tick(now)
    [(at, update)] = sent
    assert at >= 3 * CONFIG.fetch_timeout_ms
    assert update == UpdateVoterRequest("c", 1, 2, directory(2), endpoints(2), (0, 1))
    assert isinstance(r.state, FollowerState)


def test_add_voter_v1_without_ack_when_committed_answers_once_appended() -> None:
    """AddRaftVoter v1 (``ack_when_committed`` false): answered when the VotersRecord is
    written, before it commits."""
    r, _ = leader_alone()
    fetch_from(r, 2, 10)
    fetch_from(r, 2, 11)
    effects = ask(r, add_request(2, ack_when_committed=False), 12)
    probe = next(e for e in effects if isinstance(e.message, ApiVersionsProbe))
    result = Inbound(2, probe.correlation_id, ApiVersionsResult(NONE, (0, 1)))
    assert answers(r.handle(result, 13)) == [AddVoterResponse(NONE, None)]
    assert r.history.last_voters_offset() >= r.high_watermark  # not committed yet


def test_the_history_keeps_the_entry_in_force_at_the_log_start() -> None:
    """Kafka's truncateOldEntries: entries before the one in force at the new log start go."""
    from ferrokafka.cluster.raft.voters import VotersChange, VoterSet, VoterSetHistory

    history = VoterSetHistory()
    history.bootstrap(1, VoterSet.of_ids({1}))
    for offset, ids in ((5, {1, 2}), (9, {1, 2, 3}), (20, {2, 3})):
        history.apply(offset, VotersChange(VoterSet.of_ids(ids)))
    history.truncate_old_entries(12)
    assert history.voters_at(12) == VoterSet.of_ids({1, 2, 3})
    assert history.last_voters() == VoterSet.of_ids({2, 3})
    assert history.voters_at(5) == VoterSet()  # the older entries are gone
    assert history.kraft_version() == 1
    # An entry at the start offset itself may still be truncated away (not committed yet):
    # the one in force below the start stays.
    history.apply(21, VotersChange(VoterSet.of_ids({3})))
    history.truncate_old_entries(21)
    assert history.truncate_new_entries(21)
    assert history.last_voters() == VoterSet.of_ids({2, 3}) and history.kraft_version() == 1


# --- the kraft.version upgrade of a static quorum (Kafka 4.4) ---------------------------------


def static_leader_of_three() -> RaftReplica:
    """Node 1 leading epoch 5 of the static voters 1, 2, 3, with a high watermark."""
    from ferrokafka.cluster.raft import ElectionState, VoteResponse

    static = VoterSet.static({v: ("localhost", 9000 + v) for v in (1, 2, 3)}, LISTENER)
    r = RaftReplica(
        node_id=1,
        voters=VoterSetHistory(static),
        log=MemoryRaftLog(),
        config=CONFIG,
        random=Random(3),
        now_ms=0,
        election=ElectionState(5, None, 1, frozenset({1, 2, 3})),
        cluster_id="c",
        directory_id=directory(1),
        endpoints=endpoints(1),
        listener_name=LISTENER,
    )
    for send in [e for e in r.tick(0) if isinstance(e, Send)]:
        r.handle(Inbound(send.destination, send.correlation_id, VoteResponse(NONE, -1, 5, True)), 0)
    assert r.is_leader
    fetch_from(r, 2, 1)
    fetch_from(r, 2, 2)
    assert r.high_watermark is not None
    return r


def test_a_static_quorum_upgrades_kraft_version_once_every_voter_reported() -> None:
    from ferrokafka.cluster.raft.voter_changes import KRaftUpgradeError
    from ferrokafka.protocol.error_codes import INVALID_UPDATE_VERSION

    r = static_leader_of_three()
    end = r.log.end_offset()
    try:
        r.upgrade_kraft_version(r.epoch, 1, False, 3)
        raise AssertionError("upgraded before the voters reported")
    except KRaftUpgradeError as exc:
        assert exc.error_code == INVALID_UPDATE_VERSION
        assert (
            exc.message
            == "Invalid upgrade of kraft.version to 1 because not all of the voters support it"
        )
    for v in (2, 3):  # what Kafka 4.4 voters send a static leader
        update = UpdateVoterRequest("c", r.epoch, v, directory(v), endpoints(v), (0, 1))
        assert r.handle(Inbound(v, 40 + v, update), 4)[-1].message.error_code == NONE
    assert not r.upgrade_kraft_version(r.epoch, 1, True, 5)  # validate_only: nothing written
    assert r.log.end_offset() == end and r.history.kraft_version() == 0
    assert r.upgrade_kraft_version(r.epoch, 1, False, 5)
    appended = r.log.records[-2:]
    assert [rec.value for rec in appended] == [
        KRaftVersionChange(1),
        VotersChange(VoterSet([node(1), node(2), node(3)])),
    ]
    assert r.history.kraft_version() == 1 and r.history.last_voters_offset() == end + 1
    assert not r.upgrade_kraft_version(r.epoch, 1, False, 6)  # already there: nothing to do
    # Once it commits, the voter set changes like a dynamic quorum's.
    fetch_from(r, 2, 7)
    fetch_from(r, 2, 8)
    assert r.high_watermark == r.log.end_offset()
    effects = ask(r, RemoveVoterRequest("c", 3, directory(3)), 9)
    assert not answers(effects) and r.quorum.voters == {1, 2}
