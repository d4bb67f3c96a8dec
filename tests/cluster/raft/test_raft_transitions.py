"""Single transitions of the KRaft state machine, one rule each, as Kafka's KafkaRaftClientTest
and QuorumStateTest check them: votes (stale, duplicate, out of date, pre-vote), Fetch
(fencing, divergence, the high watermark), timeouts (fetch, election, check-quorum), restarts,
graceful resignation, observers, and the order of effects."""

from __future__ import annotations

from random import Random

import pytest

from ferrokafka.cluster.raft import (
    BeginQuorumEpochRequest,
    Committed,
    ElectionState,
    EndQuorumEpochRequest,
    FetchRequest,
    FetchResponse,
    FlushLog,
    Inbound,
    LeaderChange,
    MemoryRaftLog,
    NotLeaderError,
    OffsetAndEpoch,
    PersistElection,
    QuorumConfig,
    RaftReplica,
    Record,
    Send,
    VoteRequest,
    VoteResponse,
)
from ferrokafka.cluster.raft.messages import UNKNOWN_HIGH_WATERMARK
from ferrokafka.cluster.raft.state import (
    CandidateState,
    FollowerState,
    ProspectiveState,
    ResignedState,
    UnattachedState,
)
from ferrokafka.protocol.error_codes import (
    FENCED_LEADER_EPOCH,
    INVALID_REQUEST,
    NONE,
    NOT_LEADER_OR_FOLLOWER,
    UNKNOWN_LEADER_EPOCH,
)

CONFIG = QuorumConfig(election_timeout_ms=100, fetch_timeout_ms=200, request_timeout_ms=150)
VOTERS = frozenset({1, 2, 3})


def log_of(*epochs: int) -> MemoryRaftLog:
    """A log with one record per epoch given, in order (b"o<offset>" values)."""
    return MemoryRaftLog([Record(i, e, b"o%d" % i) for i, e in enumerate(epochs)])


def replica(
    node_id: int = 1,
    *,
    log: MemoryRaftLog | None = None,
    election: ElectionState | None = None,
    voters: frozenset[int] = VOTERS,
    now: int = 0,
) -> RaftReplica:
    r = RaftReplica(
        node_id=node_id,
        voters=voters,
        log=log or MemoryRaftLog(),
        config=CONFIG,
        random=Random(7),
        now_ms=now,
        election=election,
        cluster_id="c",
    )
    r.first_effects = r.tick(now)  # the initial effects (a follower's first Fetch, ...)
    return r


def sends(effects) -> list[Send]:
    return [e for e in effects if isinstance(e, Send)]


def answer(effects, correlation_id: int):
    [response] = [s.message for s in sends(effects) if s.correlation_id == correlation_id]
    return response


def vote(epoch: int, candidate: int, last_epoch: int, end: int, *, pre: bool = False, to: int = 1):
    return Inbound(candidate, 99, VoteRequest("c", to, epoch, candidate, last_epoch, end, pre))


def fetch(
    epoch: int,
    offset: int,
    last_epoch: int,
    *,
    replica_id: int = 2,
    wait: int = 0,
    high_watermark: int = UNKNOWN_HIGH_WATERMARK,
    correlation_id: int = 55,
):
    request = FetchRequest(
        "c", replica_id, wait, epoch, offset, last_epoch, 1 << 20, high_watermark=high_watermark
    )
    return Inbound(replica_id, correlation_id, request)


def leader_of(
    epoch_log: MemoryRaftLog, node_id: int = 1, epoch: int = 5, voters: frozenset[int] = VOTERS
) -> RaftReplica:
    """Node ``node_id`` as leader of ``epoch``: it was a candidate and the others granted."""
    r = replica(
        node_id, log=epoch_log, election=ElectionState(epoch, None, node_id, voters), voters=voters
    )
    assert isinstance(r.state, CandidateState)
    for request in sends(r.first_effects):
        granted = VoteResponse(NONE, -1, epoch, True)
        r.handle(Inbound(request.destination, request.correlation_id, granted), 0)
    assert r.is_leader
    return r


# --- Vote -------------------------------------------------------------------------------------


def test_a_vote_with_a_stale_epoch_is_refused() -> None:
    r = replica(election=ElectionState(5, voters=VOTERS))
    response = answer(r.handle(vote(4, 2, 3, 10), 1), 99)
    assert response.error_code == FENCED_LEADER_EPOCH and not response.vote_granted
    assert response.leader_epoch == 5 and r.epoch == 5


def test_a_vote_is_granted_and_persisted_before_the_answer_leaves() -> None:
    r = replica(log=log_of(1, 1, 2), election=ElectionState(2, voters=VOTERS))
    effects = r.handle(vote(3, 2, 2, 3), 1)
    assert answer(effects, 99).vote_granted
    assert isinstance(effects[0], PersistElection)
    assert effects[0].election == ElectionState(3, None, 2, VOTERS)
    assert effects.index(effects[0]) < effects.index(sends(effects)[0])


def test_a_candidate_with_an_older_log_is_refused_but_its_epoch_is_learned() -> None:
    r = replica(log=log_of(1, 2, 2), election=ElectionState(2, voters=VOTERS))
    # Same last epoch, shorter log; then a longer log of an older epoch.
    assert not answer(r.handle(vote(3, 2, 2, 2), 1), 99).vote_granted
    assert r.epoch == 3 and isinstance(r.state, UnattachedState) and r.state.voted_id is None
    assert not answer(r.handle(vote(3, 3, 1, 9), 1), 99).vote_granted


def test_one_vote_per_epoch() -> None:
    r = replica(election=ElectionState(2, voters=VOTERS))
    assert answer(r.handle(vote(3, 2, 0, 0), 1), 99).vote_granted
    assert not answer(r.handle(vote(3, 3, 0, 0), 2), 99).vote_granted
    assert answer(r.handle(vote(3, 2, 0, 0), 3), 99).vote_granted  # the same candidate again


def test_a_prospective_records_the_vote_it_grants() -> None:
    # Unattached in epoch 3 without a vote, then Prospective in it (election timeout). A real
    # vote it grants there must be persisted like any other (Kafka's prospectiveAddVotedState;
    # an intermediate KIP-996 version granted without recording, a double vote).
    r = replica(election=ElectionState(3, voters=VOTERS))
    r.tick(2 * CONFIG.election_timeout_ms)
    assert isinstance(r.state, ProspectiveState) and r.state.voted_id is None
    effects = r.handle(vote(3, 2, 0, 0), 201)
    assert answer(effects, 99).vote_granted
    assert effects[0] == PersistElection(ElectionState(3, None, 2, VOTERS))
    assert isinstance(r.state, ProspectiveState) and r.state.voted_id == 2
    assert not answer(r.handle(vote(3, 3, 0, 0), 202), 99).vote_granted


def test_a_vote_whose_log_epoch_is_not_below_its_epoch_is_invalid() -> None:
    r = replica(election=ElectionState(2, voters=VOTERS))
    assert answer(r.handle(vote(3, 2, 3, 5), 1), 99).error_code == INVALID_REQUEST
    # ... but a pre-vote does not bump its epoch, so equal is fine there.
    assert answer(r.handle(vote(3, 2, 3, 5, pre=True), 1), 99).error_code == NONE


def test_a_pre_vote_changes_nothing_on_disk() -> None:
    r = replica(election=ElectionState(2, voters=VOTERS))
    effects = r.handle(vote(2, 2, 0, 0, pre=True), 1)
    assert answer(effects, 99).vote_granted
    assert not any(isinstance(e, PersistElection) for e in effects)
    assert r.state.voted_id is None  # still free to vote for anyone


def test_a_follower_that_hears_its_leader_refuses_pre_votes() -> None:
    r = replica(2, election=ElectionState(4, 1, None, VOTERS))
    assert isinstance(r.state, FollowerState)
    # Before any successful fetch from the leader a pre-vote is granted (KIP-996) ...
    assert answer(r.handle(vote(4, 3, 0, 0, pre=True, to=2), 1), 99).vote_granted
    [request] = sends(r.first_effects)
    ok = FetchResponse(NONE, 0, 1, 4)
    r.handle(Inbound(1, request.correlation_id, ok), 3)
    # ... after one, it is refused; a real vote in its epoch always is.
    assert not answer(r.handle(vote(4, 3, 0, 0, pre=True, to=2), 4), 99).vote_granted
    assert not answer(r.handle(vote(4, 3, 0, 0, to=2), 5), 99).vote_granted


def test_a_vote_meant_for_another_node_is_refused() -> None:
    r = replica(election=ElectionState(2, voters=VOTERS))
    response = answer(r.handle(vote(3, 2, 0, 0, to=3), 1), 99)
    assert response.error_code == 125 and not response.vote_granted


# --- elections ----------------------------------------------------------------------------------


def test_fetch_timeout_makes_a_follower_prospective_in_the_same_epoch() -> None:
    r = replica(2, election=ElectionState(4, 1, None, VOTERS))
    effects = r.tick(CONFIG.fetch_timeout_ms)
    assert isinstance(r.state, ProspectiveState) and r.epoch == 4
    votes = [s.message for s in sends(effects) if isinstance(s.message, VoteRequest)]
    assert {v.voter_id for v in votes} == {1, 3} and all(v.pre_vote for v in votes)
    assert all(v.replica_epoch == 4 for v in votes)


def test_a_majority_of_pre_votes_makes_a_candidate_then_a_leader() -> None:
    r = replica(2, log=log_of(1, 4), election=ElectionState(4, 1, None, VOTERS))
    [pre1, _] = sends(r.tick(CONFIG.fetch_timeout_ms))
    effects = r.handle(
        Inbound(pre1.destination, pre1.correlation_id, VoteResponse(NONE, 1, 4, True)), 201
    )
    assert isinstance(r.state, CandidateState) and r.epoch == 5
    assert effects[0] == PersistElection(ElectionState(5, None, 2, VOTERS))
    real = [s for s in sends(effects) if isinstance(s.message, VoteRequest)]
    assert real and not any(s.message.pre_vote for s in real)
    first = real[0]
    r.handle(Inbound(first.destination, first.correlation_id, VoteResponse(NONE, -1, 5, True)), 202)
    assert r.is_leader and r.epoch == 5
    # The new epoch starts with a LeaderChange record (Kafka's LeaderChangeMessage).
    granting = tuple(sorted((2, first.destination)))
    assert r.log.records[-1] == Record(2, 5, LeaderChange(2, (1, 2, 3), granting))


def test_a_lost_pre_vote_returns_to_the_known_leader() -> None:
    r = replica(2, election=ElectionState(4, 1, None, VOTERS))
    requests = sends(r.tick(CONFIG.fetch_timeout_ms))
    for s in requests:
        r.handle(Inbound(s.destination, s.correlation_id, VoteResponse(NONE, 1, 4, False)), 201)
    r.tick(201)
    assert isinstance(r.state, FollowerState) and r.state.leader_id == 1 and r.epoch == 4


def test_an_unattached_voter_becomes_prospective_after_its_election_timeout() -> None:
    r = replica(election=ElectionState(3, voters=VOTERS))
    r.tick(2 * CONFIG.election_timeout_ms)  # the timeout is in [T, 2T)
    assert isinstance(r.state, ProspectiveState)


def test_begin_quorum_epoch_makes_a_follower() -> None:
    r = replica(2, election=ElectionState(3, voters=VOTERS))
    request = BeginQuorumEpochRequest("c", 2, 3, 4)
    effects = r.handle(Inbound(3, 8, request), 1)
    assert isinstance(r.state, FollowerState) and (r.epoch, r.leader_id) == (4, 3)
    assert effects[0] == PersistElection(ElectionState(4, 3, None, VOTERS))


def test_a_single_voter_elects_itself_and_commits_alone() -> None:
    r = replica(voters=frozenset({1}))
    assert r.is_leader and r.epoch == 1
    offset = r.append([b"x"], 1)
    assert offset == 1
    assert r.tick(1) == [FlushLog(2), Committed(2)]


# --- Fetch --------------------------------------------------------------------------------------


def test_fetch_with_a_diverging_epoch_answers_the_divergence() -> None:
    # Leader of epoch 5 with epochs 1,1,3,3 then its LeaderChange at 4.
    r = leader_of(log_of(1, 1, 3, 3))
    # A follower that wrote epoch 2 at offsets 2..3 (from a leader that lost them).
    response = answer(r.handle(fetch(5, 4, 2), 1), 55)
    assert response.error_code == NONE and response.records == ()
    assert response.diverging_epoch == OffsetAndEpoch(2, 1)
    # The follower cuts its log where the leader says and fetches again from there.
    follower = replica(2, log=log_of(1, 1, 2, 2), election=ElectionState(5, 1, None, VOTERS))
    [request] = sends(follower.first_effects)
    effects = follower.handle(Inbound(1, request.correlation_id, response), 2)
    assert follower.log.end_offset() == 2
    assert isinstance(effects[0], FlushLog)
    [again] = sends(effects)
    assert (again.message.fetch_offset, again.message.last_fetched_epoch) == (2, 1)


def test_fetch_beyond_the_leaders_log_in_its_last_epoch_diverges_at_its_end() -> None:
    r = leader_of(log_of(1, 1))
    response = answer(r.handle(fetch(5, 9, 5), 1), 55)
    assert response.diverging_epoch == OffsetAndEpoch(3, 5)


@pytest.mark.parametrize(("epoch", "error"), [(4, FENCED_LEADER_EPOCH), (6, UNKNOWN_LEADER_EPOCH)])
def test_fetch_in_another_epoch_is_refused(epoch: int, error: int) -> None:
    r = leader_of(log_of(1))
    response = answer(r.handle(fetch(epoch, 1, 1), 1), 55)
    assert response.error_code == error and (response.leader_id, response.leader_epoch) == (1, 5)


def test_fetch_at_a_non_leader_of_the_epoch_is_refused() -> None:
    r = replica(2, election=ElectionState(5, 1, None, VOTERS))
    response = answer(r.handle(fetch(5, 0, 0, replica_id=3), 1), 55)
    assert response.error_code == NOT_LEADER_OR_FOLLOWER and response.leader_id == 1


def test_the_high_watermark_waits_for_a_record_of_the_leaders_own_epoch() -> None:
    # The new leader (epoch 5) holds uncommitted records of epoch 2 at offsets 0..2; its
    # LeaderChange is offset 3.
    r = leader_of(log_of(2, 2, 2))
    assert r.state.epoch_start_offset == 3
    # A follower holding everything up to the old records: a majority has offsets 0..2, yet
    # nothing is committed: they are not of this epoch.
    r.handle(fetch(5, 3, 2), 1)
    assert r.high_watermark is None
    # Once the follower has the LeaderChange too, all four commit at once.
    effects = r.handle(fetch(5, 4, 5), 2)
    assert r.high_watermark == 4 and effects[-1] == Committed(4)


def test_a_fetch_with_nothing_to_return_waits_for_data() -> None:
    r = leader_of(MemoryRaftLog())
    r.handle(fetch(5, 1, 5, wait=50), 1)  # caught up: parked
    assert not sends(r.tick(2))
    r.append([b"new"], 3)
    response = answer(r.tick(3), 55)
    assert [rec.value for rec in response.records] == [b"new"]


def test_a_parked_fetch_is_answered_at_its_max_wait() -> None:
    r = leader_of(MemoryRaftLog())
    r.handle(fetch(5, 1, 5, wait=50), 1)
    assert r.next_deadline_ms <= 51
    response = answer(r.tick(51), 55)
    assert response.error_code == NONE and response.records == ()


def test_a_fetcher_behind_the_leaders_high_watermark_is_answered_at_once() -> None:
    # Kafka 4.4 (KIP-1166): Fetch v18 carries the fetcher's high watermark.
    r = leader_of(MemoryRaftLog(), voters=frozenset({1, 2, 3, 4, 5}))
    # Node 2 is caught up (the LeaderChange at 0) and knows no high watermark: nothing to
    # return and none known yet either, so it waits.
    assert not sends(r.handle(fetch(5, 1, 5, wait=50, high_watermark=-1), 1))
    # Node 3's fetch makes a majority (1, 2, 3) at offset 1: committed. Node 3 is answered at
    # once (its -1 is behind), and so is node 2's parked fetch, long before its max wait.
    node_3 = fetch(5, 1, 5, replica_id=3, wait=50, high_watermark=-1, correlation_id=56)
    effects = r.handle(node_3, 2)
    assert r.high_watermark == 1
    assert answer(effects, 56).high_watermark == 1
    assert answer(effects, 55).high_watermark == 1 and answer(effects, 55).records == ()
    # A fetcher that has the leader's high watermark waits again.
    assert not sends(r.handle(fetch(5, 1, 5, wait=50, high_watermark=1), 3))
    # One that sends none (older versions: the default) waits as before.
    assert not sends(r.handle(fetch(5, 1, 5, replica_id=4, wait=50), 4))


def test_a_follower_sends_its_high_watermark() -> None:
    r = replica(2, election=ElectionState(5, 1, None, VOTERS))
    [request] = [s.message for s in sends(r.first_effects)]
    assert isinstance(request, FetchRequest) and request.high_watermark == -1


def test_a_follower_appends_and_takes_the_leaders_high_watermark_bounded_by_its_log() -> None:
    f = replica(2, election=ElectionState(5, 1, None, VOTERS))
    [request] = sends(f.first_effects)
    records = (Record(0, 5, LeaderChange(1, (1, 2, 3), (1, 2))), Record(1, 5, b"a"))
    effects = f.handle(Inbound(1, request.correlation_id, FetchResponse(NONE, 9, 1, 5, records)), 2)
    assert f.log.end_offset() == 2 and f.high_watermark == 2
    kinds = [type(e) for e in effects]
    assert kinds == [FlushLog, Send, Committed]


def test_truncation_below_the_high_watermark_is_refused() -> None:
    f = replica(2, log=log_of(5, 5, 5), election=ElectionState(5, 1, None, VOTERS))
    [request] = sends(f.first_effects)
    effects = f.handle(Inbound(1, request.correlation_id, FetchResponse(NONE, 3, 1, 5)), 2)
    assert f.high_watermark == 3
    [request] = sends(effects)  # the next Fetch goes out at once
    bad = FetchResponse(NONE, 3, 1, 5, diverging_epoch=OffsetAndEpoch(1, 5))
    with pytest.raises(AssertionError, match="below the high watermark"):
        f.handle(Inbound(1, request.correlation_id, bad), 4)


# --- leadership ends ------------------------------------------------------------------------------


def test_check_quorum_resigns_a_leader_no_majority_fetches_from() -> None:
    r = leader_of(MemoryRaftLog())
    r.tick(100)
    r.handle(fetch(5, 1, 5, replica_id=2), 150)  # one follower is enough in 3 voters ...
    r.tick(300)
    assert r.is_leader
    effects = r.tick(150 + int(1.5 * CONFIG.fetch_timeout_ms))  # ... but not forever
    assert isinstance(r.state, ResignedState) and r.epoch == 5
    ends = [s.message for s in sends(effects) if isinstance(s.message, EndQuorumEpochRequest)]
    assert {e.leader_epoch for e in ends} == {5} and len(ends) == 2
    assert ends[0].preferred_candidates == (2, 3)  # the one that fetched furthest first


def test_graceful_shutdown_hands_over_to_the_preferred_successor() -> None:
    r = leader_of(MemoryRaftLog())
    r.handle(fetch(5, 1, 5, replica_id=3), 1)
    r.shutdown(2, timeout_ms=1000)
    [end, _] = [s.message for s in sends(r.tick(2)) if isinstance(s.message, EndQuorumEpochRequest)]
    assert end.preferred_candidates == (3, 2)
    assert not r.shutdown_complete
    follower = replica(3, election=ElectionState(5, 1, None, VOTERS))
    follower.handle(Inbound(1, 4, end), 3)
    follower.tick(3)  # first in line: no wait for the fetch timeout
    assert isinstance(follower.state, ProspectiveState)
    # Once another leader is known, the old one's shutdown is complete.
    r.handle(Inbound(3, 9, BeginQuorumEpochRequest("c", 1, 3, 6)), 10)
    assert r.shutdown_complete and r.leader_id == 3


def test_append_on_a_non_leader_raises() -> None:
    r = replica(2, election=ElectionState(5, 1, None, VOTERS))
    with pytest.raises(NotLeaderError):
        r.append([b"x"], 1)


# --- restarts -------------------------------------------------------------------------------------


def test_a_leader_restarts_resigned_and_never_votes_in_its_epoch() -> None:
    r = replica(election=ElectionState(5, 1, 1, VOTERS), log=log_of(5))
    assert isinstance(r.state, ResignedState)
    response = answer(r.handle(vote(5, 2, 5, 9), 1), 99)
    assert not response.vote_granted
    # Its election timeout moves it to the next epoch, from where it may run again.
    r.tick(2 * CONFIG.election_timeout_ms)
    assert r.epoch == 6 and isinstance(r.state, ProspectiveState)


def test_a_voter_restarts_with_its_vote() -> None:
    r = replica(election=ElectionState(5, None, 3, VOTERS))
    assert not answer(r.handle(vote(5, 2, 0, 0), 1), 99).vote_granted
    assert answer(r.handle(vote(5, 3, 0, 0), 1), 99).vote_granted


def test_a_candidate_that_lost_to_a_leader_of_its_epoch_restarts_following_it() -> None:
    # Node 1 stood in epoch 5, node 2 won; node 1 followed it (keeping its own vote) and
    # fetched records of epoch 5. As a Candidate again it could only send invalid Vote
    # requests (its log's epoch equal to the one it stands in).
    r = replica(election=ElectionState(5, 2, 1, VOTERS), log=log_of(4, 5))
    assert isinstance(r.state, FollowerState) and r.leader_id == 2 and r.state.voted_id == 1
    assert not answer(r.handle(vote(5, 3, 5, 9), 1), 99).vote_granted


def test_a_log_with_a_newer_epoch_than_the_quorum_state_wins() -> None:
    r = replica(election=ElectionState(3, 2, None, VOTERS), log=log_of(3, 4))
    assert isinstance(r.state, UnattachedState) and r.epoch == 4


# --- observers ------------------------------------------------------------------------------------


def test_an_observer_discovers_the_leader_by_fetching_any_voter() -> None:
    o = replica(9)
    [request] = sends(o.first_effects)
    assert isinstance(request.message, FetchRequest) and request.destination in VOTERS
    not_leader = FetchResponse(NOT_LEADER_OR_FOLLOWER, -1, 2, 7)
    effects = o.handle(Inbound(request.destination, request.correlation_id, not_leader), 2)
    assert isinstance(o.state, FollowerState) and (o.epoch, o.leader_id) == (7, 2)
    [again] = sends(effects)
    assert again.destination == 2
    o.tick(10_000)  # an observer never stands for election
    assert isinstance(o.state, FollowerState)
