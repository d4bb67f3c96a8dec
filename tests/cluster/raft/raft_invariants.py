"""The Raft invariants the simulation checks after every step (``raft_sim``).

Safety, per Kafka's ``RaftEventSimulationTest`` (SingleLeader, MonotonicEpoch,
MonotonicHighWatermark, MajorityReachedHighWatermark, ConsistentCommittedData) and the Raft
paper's properties:

- election safety: at most one leader per epoch, from every node's state and quorum-state file;
- epochs never go back: the quorum-state file's epoch is monotonic per node, across restarts,
  and a running node's epoch equals its file's once its effects are done;
- committed entries are never lost or changed: every record below any node's high watermark is
  recorded once, globally, and every later report (any node, any epoch) must agree with it; a
  node never cuts its log below a high watermark it reported;
- leader completeness: a leader of epoch e holds every entry committed by a leader of an earlier
  epoch (checked when it becomes leader and whenever the committed prefix grows);
- record identity: one (offset, epoch) names one record in every log, forever (Kafka's reason to
  restart a leader as Resigned);
- log matching: two logs agree up to the smaller of their high watermarks (follows from the
  committed check; also checked pairwise every ``PAIRWISE_EVERY`` steps and at the end);
- the leader's high watermark never goes back within its epoch, a new leader's first one is at
  least every earlier leader's, and a majority of voters hold it durably;
- snapshots: every snapshot a node holds (made by itself or downloaded with FetchSnapshot) is
  exactly the committed prefix below its end offset, with the epoch of its last record, and a
  log's start offset is always the end offset of a snapshot it holds (or 0). Records below a
  log's start are read from its snapshot for the checks above;
- voter history (KIP-853, with voter changes): the voter set and kraft.version a running node
  uses are exactly those its own log says — the last VotersRecord in the log, else the one in
  the header of the snapshot the log starts at, else the bootstrap checkpoint's — however the
  log got there (appends, truncation, a snapshot installed, a restart after prefix deletion);
  a snapshot's header holds the voter set committed at its end; a leader counts the voters of
  its history.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ferrokafka.cluster.raft.leader import LeaderState
from ferrokafka.cluster.raft.log import OffsetAndEpoch
from ferrokafka.cluster.raft.voters import KRaftVersionChange, VotersChange

if TYPE_CHECKING:
    from raft_sim import Cluster, SimNode

PAIRWISE_EVERY = 256


class InvariantViolation(AssertionError):
    pass


class Checker:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.leaders: dict[int, int] = {}  # epoch -> leader id
        # committed[o] = (epoch, value, epoch of the node that first reported it committed)
        self.committed: list[tuple[int, object, int]] = []
        self.identity: dict[tuple[int, int], object] = {}
        self.persisted_epoch: dict[int, int] = {}
        self.hw_checked: dict[int, int] = {}  # node -> prefix verified against `committed`
        self.leader_hw: dict[tuple[int, int], int] = {}  # (node, epoch) -> high watermark
        self.max_leader_hw_by_epoch: dict[int, int] = {}
        self.leaders_verified: set[tuple[int, int]] = set()
        self.snapshots_verified: set[tuple[int, object]] = set()
        self.snapshots_installed = 0
        self.voter_history_checks = 0
        self.prefixes_deleted = 0
        self.checks = 0

    def fail(self, message: str) -> None:
        raise InvariantViolation(message)

    # --- hooks -------------------------------------------------------------------------------

    def on_durable(self, node_id: int, records) -> None:
        """Every record that reaches any node's disk: one (offset, epoch) is one record,
        forever. (A record lost unflushed in a crash was never seen by anyone; its leader may
        write another at that offset and epoch after restarting, as Kafka's would.)"""
        identity = self.identity
        for record in records:
            key = (record.offset, record.epoch)
            known = identity.setdefault(key, record.value)
            if known is not record.value and known != record.value:
                self.fail(
                    f"node {node_id}: record ({record.offset}, epoch {record.epoch}) is "
                    f"{record.value!r}, elsewhere {known!r}"
                )
        self.checks += 1

    def on_restart(self, node: SimNode) -> None:
        self.hw_checked[node.node_id] = 0  # a restarted node knows no high watermark
        before = self.persisted_epoch.get(node.node_id, 0)
        if node.replica is not None and node.replica.epoch < before:
            self.fail(f"node {node.node_id} restarted in epoch {node.replica.epoch} < {before}")

    # --- after every step ----------------------------------------------------------------------

    def check_node(self, node: SimNode) -> None:
        self.checks += 1
        nid = node.node_id
        disk = node.disk_election
        if disk is not None:
            if disk.epoch < self.persisted_epoch.get(nid, 0):
                self.fail(f"node {nid}: persisted epoch went back to {disk.epoch}")
            self.persisted_epoch[nid] = disk.epoch
            if disk.leader_id is not None:
                self._one_leader(disk.epoch, disk.leader_id, f"node {nid}'s quorum-state")
        replica = node.replica
        if replica is None:
            return
        state = replica.state
        if disk is None or replica.epoch != disk.epoch:
            self.fail(f"node {nid}: running in epoch {replica.epoch}, persisted {disk}")
        if state.leader_id is not None:
            self._one_leader(state.epoch, state.leader_id, f"node {nid}'s {state!r}")
        log = node.log
        self._check_snapshots(node)
        if self.cluster.config.voter_changes:
            self._check_voter_history(node)
        checked = self.hw_checked.get(nid, 0)
        if log.end_offset() < checked:
            self.fail(f"node {nid}: log end {log.end_offset()} below its high watermark {checked}")
        hw = replica.high_watermark
        if isinstance(state, LeaderState):
            self._check_leader(node, state)
        if hw is not None and hw > checked:
            self._check_committed_prefix(node, checked, hw)

    def _check_snapshots(self, node: SimNode) -> None:
        log = node.log
        start = log.start_offset()
        if start > 0 and not any(s.offset == start for s in log.snapshots):
            self.fail(f"node {node.node_id}: log starts at {start} without a snapshot there")
        for snapshot_id in log.snapshots:
            key = (node.node_id, snapshot_id)
            if key in self.snapshots_verified:
                continue
            records = log.snapshot_records(snapshot_id)
            if len(self.committed) < snapshot_id.offset:
                self.fail(
                    f"node {node.node_id}: snapshot {snapshot_id} beyond the committed "
                    f"prefix {len(self.committed)}"
                )
            for record in records:
                epoch, value, _ = self.committed[record.offset]
                if epoch != record.epoch or value != record.value:
                    self.fail(
                        f"node {node.node_id}: snapshot {snapshot_id} has offset {record.offset} "
                        f"as ({record.epoch}, {record.value!r}), committed ({epoch}, {value!r})"
                    )
            if self.cluster.config.voter_changes:
                self._check_snapshot_voters(node, snapshot_id, records)
            self.snapshots_verified.add(key)

    def _check_voter_history(self, node: SimNode) -> None:
        """The node's voter history is its log's (see the module doc)."""
        replica, log = node.replica, node.log
        voters = kraft = None
        for record in reversed(log.records):
            if voters is None and isinstance(record.value, VotersChange):
                voters = record.value.voters
            if kraft is None and isinstance(record.value, KRaftVersionChange):
                kraft = record.value.version
            if voters is not None and kraft is not None:
                break
        if voters is None or kraft is None:
            start = log.start_offset()
            control: tuple = ()
            if start > 0:
                at_start = [s for s in log.snapshots if s.offset == start]
                control = log.snapshot_control_values(max(at_start))
            else:
                control = self.cluster.bootstrap_control_values()
            for value in control:
                if voters is None and isinstance(value, VotersChange):
                    voters = value.voters
                if kraft is None and isinstance(value, KRaftVersionChange):
                    kraft = value.version
        history = replica.history
        if history.last_voters() != voters or history.kraft_version() != kraft:
            self.fail(
                f"node {node.node_id}: voter history says {history.last_voters()} (kraft.version "
                f"{history.kraft_version()}), its log {voters} (kraft.version {kraft})"
            )
        state = replica.state
        if isinstance(state, LeaderState) and state.voters != voters.ids:
            self.fail(f"leader {node.node_id} counts voters {sorted(state.voters)}, not {voters}")
        self.voter_history_checks += 1

    def _check_snapshot_voters(self, node: SimNode, snapshot_id: OffsetAndEpoch, records) -> None:
        """A snapshot's header holds the voter set of its committed prefix."""
        voters = kraft = None
        for value in self.cluster.bootstrap_control_values():
            voters = value.voters if isinstance(value, VotersChange) else voters
            kraft = value.version if isinstance(value, KRaftVersionChange) else kraft
        for record in records:
            voters = record.value.voters if isinstance(record.value, VotersChange) else voters
            if isinstance(record.value, KRaftVersionChange):
                kraft = record.value.version
        expected = (KRaftVersionChange(kraft), VotersChange(voters))
        if node.log.snapshot_control_values(snapshot_id) != expected:
            self.fail(
                f"node {node.node_id}: snapshot {snapshot_id} header "
                f"{node.log.snapshot_control_values(snapshot_id)}, its records say {expected}"
            )

    def _one_leader(self, epoch: int, leader: int, where: str) -> None:
        known = self.leaders.setdefault(epoch, leader)
        if known != leader:
            self.fail(f"two leaders in epoch {epoch}: {known} and {leader} ({where})")

    def _check_committed_prefix(self, node: SimNode, start: int, hw: int) -> None:
        log = node.log
        if hw > log.end_offset():
            self.fail(
                f"node {node.node_id}: high watermark {hw} beyond its log end {log.end_offset()}"
            )
        committed = self.committed
        grown_from = len(committed)
        report_epoch = node.replica.epoch
        for offset in range(start, hw):
            record = log.record_at(offset)
            if record is None:
                self.fail(f"node {node.node_id}: no record at committed offset {offset}")
            if offset < len(committed):
                epoch, value, _ = committed[offset]
                if epoch != record.epoch or value != record.value:
                    self.fail(
                        f"node {node.node_id}: committed offset {offset} is "
                        f"({record.epoch}, {record.value!r}), was ({epoch}, {value!r})"
                    )
            else:
                committed.append((record.epoch, record.value, report_epoch))
        self.hw_checked[node.node_id] = hw
        if len(committed) > grown_from:
            self._leaders_hold(grown_from)

    def _leaders_hold(self, start: int) -> None:
        """Leader completeness for entries just committed: every running leader of a later
        epoch than the one that committed them must have them."""
        for other in self.cluster.nodes.values():
            replica = other.replica
            if replica is None or not isinstance(replica.state, LeaderState):
                continue
            self._leader_has(other, replica.state.epoch, start)

    def _leader_has(self, node: SimNode, epoch: int, start: int) -> None:
        log = node.log
        for offset in range(start, len(self.committed)):
            entry_epoch, value, commit_epoch = self.committed[offset]
            if commit_epoch >= epoch:
                continue
            record = log.record_at(offset)
            if record is None or record.epoch != entry_epoch or record.value != value:
                self.fail(
                    f"leader {node.node_id} of epoch {epoch} lacks committed offset {offset} "
                    f"(epoch {entry_epoch}, committed in epoch {commit_epoch})"
                )

    def _check_leader(self, node: SimNode, state: LeaderState) -> None:
        key = (node.node_id, state.epoch)
        if key not in self.leaders_verified:
            self.leaders_verified.add(key)
            self._leader_has(node, state.epoch, 0)
            # Elected under the voter set it then had (KIP-853: the latest in its log): one of
            # them, by a majority of them. One-change-at-a-time keeps any two consecutive sets'
            # majorities overlapping, so with "one leader per epoch" this is election safety.
            elected_by = state.granting_voters & state.voters
            if node.node_id not in state.voters or len(elected_by) <= len(state.voters) // 2:
                self.fail(
                    f"leader {node.node_id} epoch {state.epoch}: granted by "
                    f"{sorted(state.granting_voters)}, voters {sorted(state.voters)}"
                )
        hw = state.high_watermark
        if hw is None:
            return
        previous = self.leader_hw.get(key)
        if previous == hw:
            return
        if previous is not None and hw < previous:
            self.fail(f"leader {node.node_id} epoch {state.epoch}: hw {previous} -> {hw}")
        if previous is None:
            for epoch, earlier in self.max_leader_hw_by_epoch.items():
                if epoch < state.epoch and earlier > hw:
                    self.fail(
                        f"leader {node.node_id} epoch {state.epoch} starts at hw {hw} below "
                        f"{earlier} of epoch {epoch}"
                    )
        self.leader_hw[key] = hw
        self.max_leader_hw_by_epoch[state.epoch] = max(
            hw, self.max_leader_hw_by_epoch.get(state.epoch, 0)
        )
        # The voter set the leader counts now (KIP-853: the latest in its log).
        voters = state.voters
        durable = sum(
            1
            for v in voters
            if self.cluster.nodes[v].log.durable_end_offset() >= hw
            or (v == node.node_id and node.log.end_offset() >= hw)
        )
        if durable < len(voters) // 2 + 1:
            self.fail(f"leader {node.node_id}: hw {hw} is durable on only {durable} voters")

    # --- now and then ------------------------------------------------------------------------

    def check_pairwise(self) -> None:
        """Logs agree up to the smaller of their (known) high watermarks."""
        self.checks += 1
        running = [n for n in self.cluster.nodes.values() if n.replica is not None]
        for i, a in enumerate(running):
            for b in running[i + 1 :]:
                upto = min(a.replica.high_watermark or 0, b.replica.high_watermark or 0)
                if a.log.records_below(upto) != b.log.records_below(upto):
                    self.fail(f"nodes {a.node_id} and {b.node_id} differ below offset {upto}")
