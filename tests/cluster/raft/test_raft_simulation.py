"""The KRaft state machine under a seeded deterministic simulation (``raft_sim``): random faults
with the invariants checked after every step, a calm phase that must elect a leader and commit
(liveness), targeted failover scenarios, and proof that the simulation notices broken rules.

Environment (the defaults are the bounded CI run):

- ``FERROKAFKA_RAFT_SEEDS``: seeds per cluster size (default 100, 25 with voter changes;
  e.g. 100000 for a long run);
- ``FERROKAFKA_RAFT_EVENTS``: events per seed (default 3000);
- ``FERROKAFKA_RAFT_SEED``: run only this seed, and print its whole trace if it fails.
"""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
import raft_sim
from raft_sim import Cluster, SimConfig, SimulationFailure, run_seed

import ferrokafka.cluster.raft.leader as leader_module
import ferrokafka.cluster.raft.state as state_module
from ferrokafka.cluster.raft import PersistElection
from ferrokafka.cluster.raft.leader import LeaderState
from ferrokafka.cluster.raft.replica import RaftReplica
from ferrokafka.cluster.raft.state import ResignedState

SEEDS = int(os.environ.get("FERROKAFKA_RAFT_SEEDS", "100"))
EVENTS = int(os.environ.get("FERROKAFKA_RAFT_EVENTS", "3000"))
ONE_SEED = os.environ.get("FERROKAFKA_RAFT_SEED")
BLOCK = 25  # seeds per test item: a long run is a few thousand items, not 100000


# Voter changes cost more per event (ApiVersions probes, caught-up checks): fewer seeds.
VOTER_CHANGE_SEEDS = int(os.environ.get("FERROKAFKA_RAFT_SEEDS", "25"))


def seed_blocks(seeds: int = SEEDS) -> list[range]:
    if ONE_SEED is not None:
        return [range(int(ONE_SEED), int(ONE_SEED) + 1)]
    return [range(start, min(start + BLOCK, seeds)) for start in range(0, seeds, BLOCK)]


def sim_config(voters: int, seed: int, events: int = EVENTS) -> SimConfig:
    return SimConfig(voters=voters, observers=seed % 2, events=events)


@pytest.mark.parametrize("seeds", seed_blocks(), ids=lambda r: f"seeds{r.start}-{r.stop - 1}")
@pytest.mark.parametrize("voters", [3, 5], ids=lambda v: f"{v}_voters")
def test_random_faults(voters: int, seeds: range) -> None:
    for seed in seeds:
        run_seed(seed, sim_config(voters, seed), full_trace=ONE_SEED is not None)


def test_a_seed_replays_exactly() -> None:
    first = Cluster(11, sim_config(5, 1, events=800))
    first.run_chaos()
    second = Cluster(11, sim_config(5, 1, events=800))
    second.run_chaos()
    assert first.format_trace() == second.format_trace()
    assert [n.log.records for n in first.nodes.values()] == [
        n.log.records for n in second.nodes.values()
    ]


# --- failover scenarios, without random faults -----------------------------------------------


def quiet(voters: int, seed: int = 1, observers: int = 0) -> Cluster:
    cluster = Cluster(seed, SimConfig(voters=voters, observers=observers), faults=False)
    config = cluster.config.quorum
    cluster.run_until(cluster.stable_leader, 4 * config.election_timeout_ms, "first election")
    committed_by = cluster.stable_leader
    cluster.run_until(lambda: (committed_by().replica.high_watermark or 0) > 3, 1_000, "commits")
    return cluster


def committing_leader(cluster: Cluster, other_than: int):
    leader = cluster.stable_leader()
    if leader is None or leader.node_id == other_than or leader.replica.high_watermark is None:
        return None
    return (
        leader if leader.replica.high_watermark > leader.replica.state.epoch_start_offset else None
    )


@pytest.mark.parametrize("voters", [3, 5])
def test_a_new_leader_commits_after_the_leader_crashes(voters: int) -> None:
    cluster = quiet(voters)
    config = cluster.config.quorum
    old = cluster.stable_leader()
    cluster.stop(old, crash=True)
    # Fetch timeout, then a pre-vote and a vote (each within an election timeout).
    bound = config.fetch_timeout_ms + 4 * config.election_timeout_ms
    cluster.run_until(lambda: committing_leader(cluster, old.node_id), bound, "failover")


@pytest.mark.parametrize("voters", [3, 5])
def test_graceful_shutdown_hands_over_before_the_fetch_timeout(voters: int) -> None:
    cluster = quiet(voters)
    config = cluster.config.quorum
    old = cluster.stable_leader()
    old.shutting_down = True
    old.replica.shutdown(cluster.now, timeout_ms=10_000)
    cluster.execute(old, old.replica.tick(cluster.now))

    def elected() -> bool:
        return any(
            n.replica is not None and n.replica.is_leader and n.node_id != old.node_id
            for n in cluster.nodes.values()
        )

    took = cluster.run_until(elected, 4 * config.election_timeout_ms, "handover")
    # EndQuorumEpoch lets the preferred successor start at once (3 voters); with 5, the next
    # in line follow within election.backoff.max.ms.
    assert took < config.fetch_timeout_ms + config.election_backoff_max_ms
    cluster.run_until(lambda: old.replica is None, 1_000, "shutdown completes")


def test_a_partitioned_leader_resigns_by_check_quorum() -> None:
    cluster = quiet(3)
    config = cluster.config.quorum
    old = cluster.stable_leader()
    cluster.partition = (frozenset({old.node_id}), frozenset(cluster.nodes) - {old.node_id})

    def resigned() -> bool:
        return isinstance(old.replica.state, ResignedState)

    took = cluster.run_until(resigned, 2 * config.fetch_timeout_ms, "check-quorum")
    assert took >= config.fetch_timeout_ms  # 1.5 x fetch timeout without a majority fetching

    def majority_side_commits() -> bool:
        return any(
            n.replica.is_leader
            and (n.replica.high_watermark or 0) > n.replica.state.epoch_start_offset
            for n in cluster.nodes.values()
            if n is not old
        )

    cluster.run_until(
        majority_side_commits,
        config.fetch_timeout_ms + 6 * config.election_timeout_ms,
        "a new leader on the majority side",
    )
    cluster.partition = ()
    cluster.run_until(
        lambda: old.replica.leader_id not in (None, old.node_id), 2_000, "old leader follows"
    )


def test_a_majority_restarted_after_every_node_crashed_recovers() -> None:
    cluster = quiet(5)
    committed = cluster.stable_leader().replica.high_watermark
    for node in cluster.nodes.values():
        cluster.stop(node, crash=True)
    cluster.queue = [e for e in cluster.queue if e.kind != "restart"]
    for node_id in (1, 2, 3):
        cluster.start(cluster.nodes[node_id])
    cluster.run_until(
        lambda: any(
            n.replica is not None
            and n.replica.is_leader
            and (n.replica.high_watermark or 0) > committed
            for n in cluster.nodes.values()
        ),
        3_000,
        "recovery with 3 of 5",
    )


def test_an_observer_replicates_without_voting() -> None:
    cluster = quiet(3, observers=1)
    observer = cluster.nodes[4]
    cluster.run_until(
        lambda: (observer.replica.high_watermark or 0) > 3, 1_000, "observer catches up"
    )
    assert all(
        e.voted_id is None or e.voted_id != 4
        for e in [n.disk_election for n in cluster.nodes.values()]
    )
    assert not isinstance(observer.replica.state, LeaderState)


# --- the simulation has teeth: a broken rule is caught within a few seeds -----------------------


def first_failing_seed(
    voters: int, seeds: int = 50, crash_mid_effects: float | None = None
) -> SimulationFailure | None:
    counted = dict(raft_sim.STATS)  # runs of a broken replica do not count as coverage
    try:
        for seed in range(seeds):
            config = sim_config(voters, seed, events=2_000)
            if crash_mid_effects is not None:
                config = replace(config, crash_mid_effects=(crash_mid_effects,))
            try:
                run_seed(seed, config)
            except SimulationFailure as failure:
                return failure
        return None
    finally:
        raft_sim.STATS.update(counted)


def test_it_catches_committing_entries_of_an_earlier_epoch(monkeypatch) -> None:
    """Break Kafka's rule that the high watermark only moves past the leader's epoch start."""

    def any_majority_offset(self) -> bool:
        offsets = sorted(
            (-1 if s.end_offset is None else s.end_offset for s in self.voter_states.values()),
            reverse=True,
        )
        candidate = offsets[len(offsets) // 2]
        if candidate > 0 and (self.high_watermark is None or candidate > self.high_watermark):
            self.high_watermark = candidate
            return True
        return False

    monkeypatch.setattr(
        leader_module.LeaderState, "_maybe_update_high_watermark", any_majority_offset
    )
    assert first_failing_seed(3) is not None


def test_it_catches_votes_for_out_of_date_logs(monkeypatch) -> None:
    granting = state_module.unattached_or_prospective_can_grant_vote

    def ignore_logs(leader_id, voted_id, candidate_id, up_to_date, pre_vote) -> bool:
        return granting(leader_id, voted_id, candidate_id, True, pre_vote)

    monkeypatch.setattr(state_module, "unattached_or_prospective_can_grant_vote", ignore_logs)
    assert first_failing_seed(3) is not None


def test_it_catches_sending_before_persisting(monkeypatch) -> None:
    drain = RaftReplica._drain

    def persist_last(self):
        effects = drain(self)
        persist = [e for e in effects if isinstance(e, PersistElection)]
        return [e for e in effects if not isinstance(e, PersistElection)] + persist

    monkeypatch.setattr(RaftReplica, "_drain", persist_last)
    # Crashes halfway through a list of effects, often: one between a new leader's first
    # record reaching the disk and its quorum-state write leaves a log ahead of the persisted
    # election (a Candidate whose log has its own epoch: Kafka's Vote validation refuses it).
    assert first_failing_seed(3, crash_mid_effects=0.2) is not None


# --- snapshots: FetchSnapshot and prefix deletion ------------------------------------------


def test_random_faults_install_snapshots_and_delete_prefixes() -> None:
    """The random runs above snapshot and delete log prefixes; over a few seeds, followers
    must really have downloaded and installed snapshots (else the runs prove nothing)."""
    installed = deleted = 0
    for seed in range(10):
        cluster = run_seed(seed, sim_config(3, seed, events=2000))
        installed += cluster.checker.snapshots_installed
        deleted += cluster.checker.prefixes_deleted
    assert installed > 0 and deleted > 0, (installed, deleted)


def test_a_node_behind_the_leaders_log_start_catches_up_by_snapshot() -> None:
    cluster = quiet(3)
    leader = cluster.stable_leader()
    lagging = next(n for n in cluster.nodes.values() if n is not leader)
    others = frozenset(cluster.nodes) - {lagging.node_id}
    cluster.partition = (frozenset({lagging.node_id}), others)  # cut off: it falls behind
    for i in range(20):
        leader.replica.append([b"x%d" % i], cluster.now)
        cluster.execute(leader, leader.replica.tick(cluster.now))
    target = leader.log.end_offset()
    cluster.run_until(lambda: (leader.replica.high_watermark or 0) >= target, 2_000, "commit")
    snapshot_id = leader.log.create_snapshot(target)
    assert leader.log.delete_before_snapshot(snapshot_id)
    assert leader.log.start_offset() == target > lagging.log.end_offset()
    cluster.partition = ()
    cluster.run_until(
        lambda: lagging.log.start_offset() == snapshot_id.offset, 5_000, "snapshot install"
    )
    leader = cluster.stable_leader() or leader
    leader.replica.append([b"after"], cluster.now)
    cluster.execute(leader, leader.replica.tick(cluster.now))
    cluster.run_until(
        lambda: (lagging.replica.high_watermark or 0) > target, 5_000, "catch up after it"
    )
    assert snapshot_id in lagging.log.snapshots
    assert cluster.checker.snapshots_installed == 1
    cluster.checker.check_pairwise()


def test_it_catches_a_snapshot_that_is_not_the_committed_prefix(monkeypatch) -> None:
    import ferrokafka.cluster.raft.memory as memory_module

    encode = memory_module.encode_snapshot

    def one_record_changed(records, control=()):
        records = list(records)
        last = records[-1]
        if isinstance(last.value, bytes):
            records[-1] = last._replace(value=last.value + b"!")
        return encode(records, control)

    monkeypatch.setattr(memory_module, "encode_snapshot", one_record_changed)
    assert first_failing_seed(3) is not None


# --- KIP-853: the voter set changes under faults ------------------------------------------------


def voter_change_config(voters: int, seed: int, events: int = EVENTS) -> SimConfig:
    # With snapshots and prefix deletion (odd seeds snapshot more often): a snapshot's header
    # carries the kraft.version and voters at its end, as a native snapshot's does, and a node
    # that installs one or restarts from one takes its voter set from it.
    every = (50, 300) if seed % 2 == 0 else (20, 120)
    return SimConfig(
        voters=voters, observers=2, events=events, voter_changes=True, snapshot_every_ms=every
    )


@pytest.mark.parametrize(
    "seeds", seed_blocks(VOTER_CHANGE_SEEDS), ids=lambda r: f"seeds{r.start}-{r.stop - 1}"
)
@pytest.mark.parametrize("voters", [1, 3], ids=lambda v: f"{v}_voters")
def test_random_faults_with_voter_changes(voters: int, seeds: range) -> None:
    """Adds and removes (one at a time, through the leader) among crashes, partitions and
    loss: every invariant holds under the voter set of the moment, and the calm phase still
    elects a leader that commits."""
    done = 0
    for seed in seeds:
        cluster = run_seed(seed, voter_change_config(voters, seed), full_trace=ONE_SEED is not None)
        done += cluster.changes["done"]
    # Not a vacuous run: voter sets did change (under faults most changes time out).
    assert done >= 1


def test_voter_changes_meet_snapshot_installs_and_prefix_deletion() -> None:
    """The voter-change runs above really install snapshots and delete prefixes while voter
    sets change, and check the voter history every step (else they prove nothing of it)."""
    installed = deleted = done = history_checks = 0
    for seed in range(6):
        cluster = run_seed(seed, voter_change_config(3, seed, events=2_000))
        installed += cluster.checker.snapshots_installed
        deleted += cluster.checker.prefixes_deleted
        done += cluster.changes["done"]
        history_checks += cluster.checker.voter_history_checks
    assert installed > 0 and deleted > 0 and done > 0, (installed, deleted, done)
    assert history_checks > 1_000, history_checks


def first_failing_voter_change_seed(seeds: int = 30) -> SimulationFailure | None:
    counted = dict(raft_sim.STATS)
    try:
        for seed in range(seeds):
            try:
                run_seed(seed, voter_change_config(3, seed, events=2_000))
            except SimulationFailure as failure:
                return failure
        return None
    finally:
        raft_sim.STATS.update(counted)


def test_it_catches_a_follower_keeping_its_voters_over_an_installed_snapshot(monkeypatch) -> None:
    """The bug KIP-853's snapshot loading prevents: a follower that installs a snapshot and
    keeps the voter history of the log it threw away."""
    monkeypatch.setattr(RaftReplica, "_note_snapshot_installed", lambda self, sid, now: None)
    failure = first_failing_voter_change_seed()
    assert failure is not None and "voter history" in str(failure), failure


def test_it_catches_a_restart_that_ignores_the_snapshot_voters(monkeypatch) -> None:
    """A node restarted on a log that starts at a snapshot must take the snapshot's voters,
    not the bootstrap checkpoint's."""

    def from_the_log_start_only(self) -> None:  # the start-up before the fix
        offset, end = self.log.start_offset(), self.log.end_offset()
        while offset < end:
            records = self.log.read(offset, 1 << 20)
            for record in records:
                self.history.apply(record.offset, record.value)
            offset = records[-1].offset + 1

    monkeypatch.setattr(RaftReplica, "_load_voter_history", from_the_log_start_only)
    failure = first_failing_voter_change_seed()
    assert failure is not None and "voter history" in str(failure), failure


def test_voters_added_and_removed_in_calm_reach_every_node() -> None:
    """Without faults: node 1 alone, then 2 and 3 added, then 1 removed (the leader, which
    resigns once the change commits); every node ends with the log's voter set {2, 3}."""
    cluster = Cluster(5, voter_change_config(1, 5), faults=False)
    cluster.clients_on = False

    def leader():
        found = cluster.stable_leader()
        return found and found.replica.high_watermark and found

    def ask(request) -> None:
        node = cluster.run_until_value(leader, 5_000, "a leader")
        before = cluster.changes["done"]
        cluster.execute(
            node,
            node.replica.handle(raft_sim.Inbound(raft_sim.ADMIN, 7, request), cluster.now),
        )
        cluster.run_until(lambda: cluster.changes["done"] > before, 5_000, f"{request}")

    ids = {n: raft_sim.directory_of(n) for n in (1, 2, 3)}
    for new in (2, 3):
        # The observer must have fetched up to the leader's end (caught up) to be added.
        def caught_up(new: int = new) -> bool:
            found = cluster.stable_leader()
            state = None if found is None else found.replica.state
            return isinstance(state, LeaderState) and state.is_replica_caught_up(
                new, ids[new], cluster.now
            )

        cluster.run_until(caught_up, 5_000, f"node {new} caught up")
        ask(raft_sim.AddVoterRequest("sim", 1000, new, ids[new], raft_sim.endpoints_of(new)))
    ask(raft_sim.RemoveVoterRequest("sim", 1, ids[1]))
    cluster.run_until(
        lambda: (found := cluster.stable_leader()) is not None and found.node_id in (2, 3),
        5_000,
        "a leader among 2 and 3",
    )
    cluster.run_calm()
    for node in cluster.nodes.values():
        assert node.replica.history.last_voters().ids == {2, 3}, node.node_id
    assert not cluster.nodes[1].replica.quorum.is_voter
