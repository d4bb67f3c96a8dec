"""A seeded, deterministic simulation of a KRaft quorum: N ``RaftReplica`` s in one process, a
simulated clock and network, and faults — all driven by one ``random.Random(seed)``, so a seed
replays exactly (Kafka's ``RaftEventSimulationTest``, TigerBeetle's VOPR).

- Network: each message is delayed (1..``delay_ms_max``, a few far longer), so messages
  reorder, within and across epochs; some are lost or duplicated; partitions (one node cut
  off, or the nodes split in two) come and go. A message to or from a node that restarted
  since it was sent is dropped (its connection died).
- Disk: a node persists only through its effects — ``PersistElection`` writes its
  quorum-state, ``FlushLog`` makes its log durable. A crash keeps exactly that (and maybe some
  unflushed appends, as page-cache writeback may); a crash can even strike halfway through a
  list of effects, which is what checks that the state machine orders them right.
- Faults: hard crashes (restart later), graceful shutdowns (the leader resigns with
  EndQuorumEpoch first), partitions and heals.
- Clients: records are appended to whichever node leads now and then.
- Snapshots: now and then a running node snapshots its log at its committed (and flushed)
  offset and, mostly, deletes the log prefix below its latest snapshot, so followers that
  lag or restart empty-handed catch up through FetchSnapshot (in small chunks).

After every event the touched node is checked (``raft_invariants``). A run ends with a calm
phase — faults healed, every node up, no loss — in which a leader must be elected and a new
record committed within ``liveness_bound_ms``.
"""

from __future__ import annotations

import heapq
import uuid
from dataclasses import dataclass, field, replace
from random import Random

from raft_invariants import PAIRWISE_EVERY, Checker, InvariantViolation

from ferrokafka.cluster.raft import (
    Committed,
    ElectionState,
    FlushLog,
    Inbound,
    MemoryRaftLog,
    PersistElection,
    QuorumConfig,
    RaftReplica,
    Send,
)
from ferrokafka.cluster.raft.leader import LeaderState
from ferrokafka.cluster.raft.voter_changes import (
    AddVoterRequest,
    ApiVersionsProbe,
    ApiVersionsResult,
    RemoveVoterRequest,
)
from ferrokafka.cluster.raft.voters import (
    KRaftVersionChange,
    VoterEndpoint,
    VoterNode,
    VotersChange,
    VoterSet,
    VoterSetHistory,
)
from ferrokafka.protocol.error_codes import NONE, REQUEST_TIMED_OUT

# Timeouts scaled down 10x from Kafka's defaults so a few thousand events span many elections.
SIM_QUORUM = QuorumConfig(
    election_timeout_ms=100,
    fetch_timeout_ms=200,
    election_backoff_max_ms=100,
    request_timeout_ms=150,
    retry_backoff_ms=5,
    fetch_max_wait_ms=50,
    fetch_max_bytes=4,  # records are a few bytes: a fetch carries a handful, often one
    fetch_snapshot_max_bytes=64,  # a snapshot comes in several chunks
)
SAME_INSTANT_EVENTS_MAX = 2_000  # more events without the clock moving is a livelock
LISTENER = "CONTROLLER"
ADMIN = -1  # the source of AddRaftVoter / RemoveRaftVoter requests (an admin client)


def directory_of(node_id: int) -> uuid.UUID:
    return uuid.UUID(int=node_id)


def endpoints_of(node_id: int) -> tuple[VoterEndpoint, ...]:
    return (VoterEndpoint(LISTENER, f"n{node_id}", 9000 + node_id),)


def voter_node(node_id: int) -> VoterNode:
    return VoterNode(node_id, directory_of(node_id), endpoints_of(node_id), (0, 1))


@dataclass(frozen=True)
class SimConfig:
    voters: int = 3
    observers: int = 0
    events: int = 2_000
    quorum: QuorumConfig = SIM_QUORUM
    delay_ms_max: int = 12
    slow: float = 0.02  # a message stuck in a queue: arrives up to slow_delay_ms_max late
    slow_delay_ms_max: int = 400
    loss: float = 0.03
    duplication: float = 0.03
    fault_every_ms: tuple[int, int] = (40, 400)
    append_every_ms: tuple[int, int] = (5, 40)
    down_ms: tuple[int, int] = (30, 1_500)
    partition_ms: tuple[int, int] = (50, 1_500)
    # Chance that a crash strikes halfway through a list of effects; each seed picks one.
    crash_mid_effects: tuple[float, ...] = (0.01, 0.05, 0.2)
    liveness_bound_ms: int = 4_000
    # A node snapshots (and maybe deletes its log prefix) every so often; None: never.
    snapshot_every_ms: tuple[int, int] | None = (50, 300)
    prefix_deletion: float = 0.7  # chance a new snapshot also lets the log prefix go
    # KIP-853: kraft.version 1, the first ``voters`` in the bootstrap checkpoint, and an admin
    # adding observers as voters and removing voters (one change at a time) every so often.
    voter_changes: bool = False
    change_every_ms: tuple[int, int] = (50, 500)


class SimLog(MemoryRaftLog):
    """The in-memory log, telling the checker what becomes durable."""

    def __init__(self, node_id: int, checker: Checker) -> None:
        super().__init__()
        self.node_id = node_id
        self.checker = checker

    def flush(self) -> None:
        self.checker.on_durable(self.node_id, self.unflushed_records())
        super().flush()

    def install_snapshot(self, snapshot_id, data: bytes) -> bool:
        truncated = super().install_snapshot(snapshot_id, data)
        self.checker.snapshots_installed += 1
        return truncated

    def crash(self, random=None):
        survivors = super().crash(random)
        self.checker.on_durable(self.node_id, survivors)
        return survivors


@dataclass
class SimNode:
    node_id: int
    log: SimLog
    replica: RaftReplica | None = None
    disk_election: ElectionState | None = None
    incarnation: int = 0
    next_tick_at: float = float("inf")
    shutting_down: bool = False


@dataclass(order=True)
class Event:
    time: int
    seq: int
    kind: str = field(compare=False)
    data: tuple = field(compare=False)


class Cluster:
    def __init__(self, seed: int, config: SimConfig, *, faults: bool = True) -> None:
        self.seed = seed
        self.random = Random(seed)
        # Some seeds fetch one record at a time (replication lags, leaders change with entries
        # half-copied), others catch up in big batches.
        fetch_bytes = self.random.choice((3, 8, 64))
        config = replace(config, quorum=replace(config.quorum, fetch_max_bytes=fetch_bytes))
        self.crash_mid_effects = self.random.choice(config.crash_mid_effects)
        self.config = config
        self.now = 0
        self.voters = frozenset(range(1, config.voters + 1))
        ids = list(range(1, config.voters + config.observers + 1))
        self.checker = Checker(self)
        self.nodes = {i: SimNode(i, SimLog(i, self.checker)) for i in ids}
        self.queue: list[Event] = []
        self.seq = 0
        self.trace: list[tuple] = []
        self.steps = 0
        self.partition: tuple[frozenset[int], ...] = ()
        self.faults_on = faults  # crashes, shutdowns, partitions, loss, duplication
        self.clients_on = True  # appends to the leader
        self.appended = 0
        self._same_instant = 0
        self.changes = {"asked": 0, "done": 0, "refused": 0}
        self._admin_ids = iter(range(1 << 40, 1 << 41))
        for node in self.nodes.values():
            self.start(node)
        self.schedule(self.random.randint(*config.fault_every_ms), "fault", ())
        if config.voter_changes:
            self.schedule(self.random.randint(*config.change_every_ms), "change", ())
        self.schedule(self.random.randint(*config.append_every_ms), "append", ())
        if config.snapshot_every_ms is not None:
            self.schedule(self.random.randint(*config.snapshot_every_ms), "snapshot", ())

    # --- plumbing -------------------------------------------------------------------------------

    def schedule(self, at: float, kind: str, data: tuple) -> None:
        self.seq += 1
        heapq.heappush(self.queue, Event(int(at), self.seq, kind, data))

    def note(self, *what) -> None:
        self.trace.append((self.now, *what))

    def format_trace(self, last: int | None = None) -> str:
        lines = self.trace if last is None else self.trace[-last:]
        return "\n".join(" ".join(str(x) for x in line) for line in lines)

    def bootstrap_control_values(self) -> tuple:
        """The bootstrap checkpoint's KRaftVersionRecord and VotersRecord (voter changes)."""
        if not self.config.voter_changes:
            return ()
        return (
            KRaftVersionChange(1),
            VotersChange(VoterSet(voter_node(v) for v in sorted(self.voters))),
        )

    def start(self, node: SimNode) -> None:
        node.incarnation += 1
        node.shutting_down = False
        dynamic: dict = {}
        if self.config.voter_changes:
            # Each start reads the bootstrap checkpoint again, then its log.
            history = VoterSetHistory()
            history.load_snapshot(-1, self.bootstrap_control_values())
            dynamic = {
                "voters": history,
                "directory_id": directory_of(node.node_id),
                "endpoints": endpoints_of(node.node_id),
                "listener_name": LISTENER,
                "bootstrap_servers": tuple(sorted(set(self.nodes) - {node.node_id})),
            }
        node.replica = RaftReplica(
            node_id=node.node_id,
            **{"voters": self.voters, **dynamic},
            log=node.log,
            config=self.config.quorum,
            random=Random(self.random.getrandbits(64)),
            now_ms=self.now,
            election=node.disk_election,
            cluster_id="sim",
        )
        self.note(node.node_id, "start", node.incarnation, node.replica.state)
        self.checker.on_restart(node)
        self.execute(node, node.replica.tick(self.now))

    def stop(self, node: SimNode, crash: bool) -> None:
        node.replica = None
        node.incarnation += 1
        node.next_tick_at = float("inf")
        node.shutting_down = False
        if crash:
            node.log.crash(self.random)
        self.note(node.node_id, "crash" if crash else "stopped", node.log.end_offset())
        down_ms = self.random.randint(*self.config.down_ms) if self.faults_on else 1
        self.schedule(self.now + down_ms, "restart", (node,))

    def execute(self, node: SimNode, effects: list) -> None:
        """Carry out a replica's effects in order; rarely, crash halfway through."""
        crash_at = None
        if self.faults_on and len(effects) > 1 and self.random.random() < self.crash_mid_effects:
            crash_at = self.random.randrange(1, len(effects))
        for i, effect in enumerate(effects):
            if i == crash_at:
                self.note(node.node_id, "crash-mid-effects", i, len(effects))
                self.stop(node, crash=True)
                return
            if isinstance(effect, Send):
                self.send(node, effect)
            elif isinstance(effect, PersistElection):
                node.disk_election = effect.election
            elif isinstance(effect, FlushLog):
                node.log.flush()
            elif isinstance(effect, Committed):
                pass  # the checker reads high watermarks itself, after the step
        self.check(node)
        replica = node.replica
        if replica is None:
            return
        if node.shutting_down and replica.shutdown_complete:
            self.stop(node, crash=False)
            return
        if replica.next_deadline_ms == float("inf"):
            return
        if replica.next_deadline_ms < node.next_tick_at or node.next_tick_at < self.now:
            node.next_tick_at = max(replica.next_deadline_ms, self.now)
            self.schedule(node.next_tick_at, "tick", (node, node.incarnation))

    def check(self, node: SimNode) -> None:
        self.steps += 1
        self.checker.check_node(node)
        if self.steps % PAIRWISE_EVERY == 0:
            self.checker.check_pairwise()

    def connected(self, a: int, b: int) -> bool:
        return not self.partition or any(a in side and b in side for side in self.partition)

    def send(self, node: SimNode, effect: Send) -> None:
        if effect.destination == ADMIN:
            done = effect.message.error_code == NONE
            self.changes["done" if done else "refused"] += 1
            self.note(node.node_id, "admin <-", effect.message)
            return
        if isinstance(effect.message, ApiVersionsProbe):
            # The driver's ApiVersions call to the new voter: answered if it is up and reachable.
            target = self.nodes[effect.destination]
            up = target.replica is not None and self.connected(node.node_id, target.node_id)
            result = (
                ApiVersionsResult(NONE, (0, 1))
                if up
                else ApiVersionsResult(REQUEST_TIMED_OUT, None)
            )
            answer = Send(node.node_id, effect.correlation_id, result)
            at = self.now + self.random.randint(1, self.config.delay_ms_max)
            wire = (target.node_id, target.incarnation, node.node_id, node.incarnation, answer)
            self.schedule(at, "deliver", wire)
            return
        dst = self.nodes[effect.destination]
        if not self.connected(node.node_id, dst.node_id):
            return
        if self.faults_on and self.random.random() < self.config.loss:
            self.note(node.node_id, "lost", effect.destination, type(effect.message).__name__)
            return
        copies = 2 if self.faults_on and self.random.random() < self.config.duplication else 1
        config = self.config
        for _ in range(copies):
            if self.faults_on and self.random.random() < config.slow:
                at = self.now + self.random.randint(config.delay_ms_max, config.slow_delay_ms_max)
            else:
                at = self.now + self.random.randint(1, config.delay_ms_max)
            wire = (node.node_id, node.incarnation, dst.node_id, dst.incarnation, effect)
            self.schedule(at, "deliver", wire)

    # --- the event loop --------------------------------------------------------------------------

    def step(self) -> None:
        event = heapq.heappop(self.queue)
        if event.time == self.now:
            self._same_instant += 1
            if self._same_instant > SAME_INSTANT_EVENTS_MAX:
                raise InvariantViolation(f"livelock: no progress of the clock at {self.now}")
        else:
            self._same_instant = 0
        self.now = event.time
        getattr(self, "_on_" + event.kind)(*event.data)

    def _on_deliver(self, src: int, src_inc: int, dst: int, dst_inc: int, effect: Send) -> None:
        node, sender = self.nodes[dst], self.nodes[src]
        if node.replica is None or node.incarnation != dst_inc or sender.incarnation != src_inc:
            return
        if not self.connected(src, dst):
            return
        self.note(dst, "<-", src, effect.correlation_id, effect.message)
        inbound = Inbound(src, effect.correlation_id, effect.message)
        self.execute(node, node.replica.handle(inbound, self.now))

    def _on_tick(self, node: SimNode, incarnation: int) -> None:
        if node.replica is None or node.incarnation != incarnation or node.next_tick_at != self.now:
            return
        node.next_tick_at = float("inf")
        before = node.replica.state
        effects = node.replica.tick(self.now)
        if node.replica.state is not before:
            self.note(node.node_id, "tick", node.replica.state)
        self.execute(node, effects)

    def _on_change(self) -> None:
        """An admin asks the leader to add an observer or remove a voter (Kafka's tool)."""
        if not self.faults_on:
            return  # calm: the voter set stays as it is
        self.schedule(self.now + self.random.randint(*self.config.change_every_ms), "change", ())
        leaders = [n for n in self.nodes.values() if n.replica is not None and n.replica.is_leader]
        if not leaders:
            return
        node = self.random.choice(leaders)
        voters = node.replica.history.last_voters()
        outside = sorted(set(self.nodes) - voters.ids)
        if outside and (len(voters) <= 2 or self.random.random() < 0.5):
            new = self.random.choice(outside)
            request: object = AddVoterRequest(
                "sim", 1000, new, directory_of(new), endpoints_of(new)
            )
        else:
            gone = self.random.choice(sorted(voters.ids))
            request = RemoveVoterRequest("sim", gone, directory_of(gone))
        self.changes["asked"] += 1
        self.note(node.node_id, "admin ->", request)
        inbound = Inbound(ADMIN, next(self._admin_ids), request)
        self.execute(node, node.replica.handle(inbound, self.now))

    def _on_restart(self, node: SimNode) -> None:
        if node.replica is None:
            self.start(node)

    def _on_append(self) -> None:
        if not self.clients_on:
            return  # calm: only the liveness check's own record
        self.schedule(self.now + self.random.randint(*self.config.append_every_ms), "append", ())
        leaders = [
            n
            for n in self.nodes.values()
            if n.replica is not None
            and isinstance(n.replica.state, LeaderState)
            and not n.replica.state.resign_requested
            and not n.shutting_down
        ]
        if not leaders:
            return
        node = self.random.choice(leaders)
        self.appended += 1
        value = b"%d" % self.appended
        offset = node.replica.append([value], self.now)
        self.note(node.node_id, "append", offset, value)
        self.execute(node, node.replica.tick(self.now))

    def _on_snapshot(self) -> None:
        """A running node snapshots at its high watermark (bounded by what it flushed, as a
        state machine only snapshots what it applied), then maybe deletes its log prefix."""
        self.schedule(
            self.now + self.random.randint(*self.config.snapshot_every_ms), "snapshot", ()
        )
        running = [n for n in self.nodes.values() if n.replica is not None]
        if not running:
            return
        node = self.random.choice(running)
        log = node.log
        hw = node.replica.high_watermark
        end = min(hw or 0, log.durable_end_offset())
        if end <= log.start_offset():
            return
        # The header Kafka's snapshot writer gives it: the kraft.version and voters at its end.
        snapshot_id = log.create_snapshot(end, node.replica.history.control_values_at(end - 1))
        deleted = False
        if self.random.random() < self.config.prefix_deletion:
            deleted = log.delete_before_snapshot(snapshot_id)
            self.checker.prefixes_deleted += deleted
        self.note(node.node_id, "snapshot", snapshot_id, "prefix deleted" if deleted else "")
        self.check(node)

    def _on_fault(self) -> None:
        if not self.faults_on:
            return
        self.schedule(self.now + self.random.randint(*self.config.fault_every_ms), "fault", ())
        running = [n for n in self.nodes.values() if n.replica is not None and not n.shutting_down]
        down = len(self.nodes) - len(running)
        tolerated = (len(self.voters) - 1) // 2
        roll = self.random.random()
        if roll < 0.35 and running and (down < tolerated or self.random.random() < 0.15):
            node = self.random.choice(running)
            self.stop(node, crash=True)
        elif roll < 0.5 and running and (down < tolerated or self.random.random() < 0.15):
            leaders = [n for n in running if n.replica.is_leader]
            node = self.random.choice(leaders or running)
            node.shutting_down = True
            node.replica.shutdown(self.now, timeout_ms=5 * self.config.quorum.election_timeout_ms)
            self.note(node.node_id, "shutdown")
            self.execute(node, node.replica.tick(self.now))
        elif roll < 0.8 and not self.partition:
            ids = sorted(self.nodes)
            if self.random.random() < 0.5:
                alone = self.random.choice(ids)
                sides = (frozenset({alone}), frozenset(ids) - {alone})
            else:
                self.random.shuffle(ids)
                cut = self.random.randint(1, len(ids) - 1)
                sides = (frozenset(ids[:cut]), frozenset(ids[cut:]))
            self.partition = sides
            self.note("*", "partition", [sorted(s) for s in sides])
            self.schedule(self.now + self.random.randint(*self.config.partition_ms), "heal", ())
        elif self.partition:
            self._on_heal()

    def _on_heal(self) -> None:
        if self.partition:
            self.partition = ()
            self.note("*", "heal")

    # --- runs ------------------------------------------------------------------------------------

    def run_chaos(self) -> None:
        while self.steps < self.config.events and self.queue:
            self.step()

    def run_calm(self) -> None:
        """Heal everything, start every node, stop losing messages. Then, within
        ``liveness_bound_ms``, a leader every node follows must be elected and commit a new
        record of its epoch; and every node must then catch up to it, allowing for the records
        it lags by (a fetch may carry one record)."""
        self.faults_on = self.clients_on = False
        self._on_heal()
        for node in self.nodes.values():
            if node.replica is None:
                self.start(node)
        calm_at = self.now
        # The new leader's first commit needs a majority to hold its epoch's first record: a
        # voter far behind catches up at a few records per round trip (fetch_max_bytes).
        ends = [n.log.end_offset() for n in self.nodes.values()]
        deadline = (
            self.now + self.config.liveness_bound_ms + self.catch_up_ms(max(ends) - min(ends))
        )
        target = None
        target_epoch = None
        leader = None
        while self.now <= deadline and self.queue:
            self.step()
            leader = self.stable_leader()
            if leader is None:
                continue
            if target_epoch != leader.replica.epoch:
                # A record of this leader's epoch (one appended under an earlier leader of the
                # calm phase may have been lost with its epoch).
                target = leader.replica.append([b"calm"], self.now)
                target_epoch = leader.replica.epoch
                self.note(leader.node_id, "append", target, b"calm")
                self.execute(leader, leader.replica.tick(self.now))
            elif (leader.replica.high_watermark or 0) > target:
                break
        else:
            raise InvariantViolation(
                f"liveness: no leader committing within {self.config.liveness_bound_ms} ms of "
                f"calm (target {target}; states {self.states()})"
            )
        self.note("*", "elected", leader.node_id, "after", self.now - calm_at, "ms")
        lag = max(target + 1 - n.log.end_offset() for n in self.nodes.values())
        deadline = self.now + self.config.liveness_bound_ms + self.catch_up_ms(lag)
        while self.now <= deadline and self.queue:
            self.step()
            if all((n.replica.high_watermark or 0) > target for n in self.nodes.values()):
                self.checker.check_pairwise()
                return
        raise InvariantViolation(f"liveness: nodes did not catch up to {target}: {self.states()}")

    def run_until(self, predicate, within_ms: int, what: str) -> int:
        """Step until ``predicate()`` holds; the simulated ms it took. Fails past the bound."""
        start = self.now
        while not predicate():
            if self.now - start > within_ms or not self.queue:
                raise InvariantViolation(f"{what}: not within {within_ms} ms ({self.states()})")
            self.step()
        return self.now - start

    def run_until_value(self, found, within_ms: int, what: str):
        """Step until ``found()`` returns something true; return it."""
        value = found()
        start = self.now
        while not value:
            if self.now - start > within_ms or not self.queue:
                raise InvariantViolation(f"{what}: not within {within_ms} ms ({self.states()})")
            self.step()
            value = found()
        return value

    def catch_up_ms(self, records: int) -> int:
        """A generous bound on fetching ``records`` (a round trip each, for the smallest
        fetch size)."""
        return records * 4 * self.config.delay_ms_max

    def states(self) -> list:
        return [n.replica and n.replica.state for n in self.nodes.values()]

    def stable_leader(self) -> SimNode | None:
        """The leader every running node follows, if there is one."""
        leaders = [n for n in self.nodes.values() if n.replica is not None and n.replica.is_leader]
        if len(leaders) != 1 or leaders[0].replica.state.resign_requested:
            return None
        leader = leaders[0]
        epoch = leader.replica.epoch
        for n in self.nodes.values():
            if n.replica is None or n.replica.epoch != epoch:
                return None
            if n.replica.leader_id != leader.node_id:
                return None
        return leader


STATS = {"seeds": 0, "steps": 0, "checks": 0, "simulated_ms": 0}


def run_seed(seed: int, config: SimConfig, *, full_trace: bool = False) -> Cluster:
    cluster = Cluster(seed, config)
    try:
        cluster.run_chaos()
        cluster.run_calm()
    except Exception as exc:  # an invariant, or an assertion inside the replica
        raise SimulationFailure(seed, config, cluster, exc, full_trace) from exc
    STATS["seeds"] += 1
    STATS["steps"] += cluster.steps
    STATS["checks"] += cluster.checker.checks
    STATS["simulated_ms"] += cluster.now
    return cluster


class SimulationFailure(AssertionError):
    def __init__(
        self, seed: int, config: SimConfig, cluster: Cluster, cause: Exception, full: bool
    ) -> None:
        self.seed = seed
        self.cluster = cluster
        trace = cluster.format_trace(last=None if full else 200)
        super().__init__(
            f"seed {seed} ({config.voters} voters, {config.observers} observers, "
            f"{config.events} events) failed after {cluster.steps} steps at t={cluster.now} ms: "
            f"{type(cause).__name__}: {cause}\n"
            f"replay with the whole trace: FERROKAFKA_RAFT_SEED={seed} "
            f"FERROKAFKA_RAFT_EVENTS={config.events} python -m pytest tests/cluster/raft "
            f"-k 'random_faults and {config.voters}_voters'\n"
            f"--- {'all' if full else 'the last 200'} events (time node what ...) ---\n{trace}"
        )
