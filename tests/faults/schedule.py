"""The nemesis schedule: timed fault events drawn from a seed, so that every run can be
replayed from its seed alone (``python -m tests.faults --seeds SEED --duration D --faults F``
gives the same schedule as the run that printed it).

A schedule is a list of :class:`Event`: at ``at_s`` seconds into the run, fault ``kind`` on
node ``node`` for ``hold_s`` seconds. Faults on one node never overlap (one process can be
killed or paused once at a time); a quiet gap separates them so that clients make progress
between faults, and the last one ends ``QUIET_TAIL_S`` before the run does.

Kinds:

- ``kill``: SIGKILL, down for ``hold_s``, then started again on the same data.
- ``pause``: SIGSTOP for ``hold_s`` (a long GC-like pause), then SIGCONT.
- ``restart``: SIGTERM and wait for the clean shutdown, then start again (``hold_s`` unused).
- ``fill``: fill the node's log dir to ENOSPC with a ballast file for ``hold_s``, then free it.
- ``fill-kill``: fill the log dir, SIGKILL, start again on the full disk (it may refuse to
  start: then it is started once space returns), free it after ``hold_s``.
- ``power-loss``: the node's disk (an ext4 loop disk of its own) stops writing, SIGKILL, the
  disk is mounted again with what it had written (not what was only in the page cache:
  :mod:`.ext4_disk`), down for ``hold_s``, then started again. Several nodes only (one node
  that acknowledged records it had not synced loses them, in Kafka too); opt-in, so that the
  default schedules of every seed stay what they were.

Network faults (several nodes, each in its own network namespace; :mod:`.netns`), healed
after ``hold_s``; clients keep reaching every node except through ``link-down``:

- ``partition``: the node cut off from the other nodes both ways (a minority of one against
  the majority), by a blackhole route on each side.
- ``one-way``: the node's packets to the other nodes dropped, theirs to it delivered (TCP then
  hangs on their side and fails at once on its side).
- ``bridge``: the node still talks to every other node, but those no longer talk to each
  other (a non-transitive partition: the node is the only bridge between the halves).
- ``link-down``: the node's network link down: cut off from the nodes and the clients.

With several nodes each event also has a target, drawn from the seed: ``node`` (node
``node``), ``leader`` (whichever node leads topic partition ``partition`` when the fault
begins) or ``controller`` (the active controller then). Schedules show node ids (``node``
+ 1). The run resolves it and records the
node in the history, so the schedule is the seed's alone and the history says what it hit.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

KILL = "kill"
PAUSE = "pause"
RESTART = "restart"
FILL = "fill"
FILL_KILL = "fill-kill"
PARTITION = "partition"
ONE_WAY = "one-way"
BRIDGE = "bridge"
LINK_DOWN = "link-down"
POWER_LOSS = "power-loss"
NETWORK_FAULTS = (PARTITION, ONE_WAY, BRIDGE, LINK_DOWN)
# The faults of one node (the single-node runs' "every fault"; seeds replay with this order).
FAULT_KINDS = (KILL, PAUSE, RESTART, FILL, FILL_KILL)
ALL_FAULT_KINDS = (*FAULT_KINDS, *NETWORK_FAULTS, POWER_LOSS)
# Faults that need several nodes.
CLUSTER_ONLY_FAULTS = (*NETWORK_FAULTS, POWER_LOSS)
DEFAULT_FAULTS = (KILL, PAUSE, RESTART)
CLUSTER_FAULTS = (KILL, PAUSE, RESTART, *NETWORK_FAULTS)
NODE = "node"
LEADER = "leader"
CONTROLLER = "controller"
TARGETS = (NODE, LEADER, CONTROLLER)

# Clients connect and the topic fills a little before the first fault.
WARMUP_S = 3.0
# The last fault ends this long before the run does: recovery happens under the workload.
QUIET_TAIL_S = 4.0
GAP_S = (1.0, 4.0)
HOLD_S = {
    KILL: (0.2, 3.0),
    PAUSE: (0.5, 5.0),
    RESTART: (0.0, 0.0),
    FILL: (1.0, 4.0),
    FILL_KILL: (1.0, 4.0),
    POWER_LOSS: (0.2, 3.0),
    # Past the broker session timeout of the cluster runs (3 s) some of the time, so that
    # some cut-off brokers are fenced and some are not.
    PARTITION: (1.0, 8.0),
    ONE_WAY: (1.0, 8.0),
    BRIDGE: (1.0, 8.0),
    LINK_DOWN: (1.0, 8.0),
}
# A restart (clean stop, then start) takes a broker about this long; kept out of the gaps.
RESTART_ALLOWANCE_S = 2.0
EVENTS_MAX = 1000


@dataclass(frozen=True)
class Event:
    at_s: float
    kind: str
    hold_s: float
    node: int = 0
    target: str = NODE
    # The topic partition whose leader a ``leader`` target means.
    partition: int = 0

    @property
    def aimed_at(self) -> str:
        if self.target == LEADER:
            return f"leader of p{self.partition}"
        if self.target == CONTROLLER:
            return "controller"
        return f"node {self.node + 1}"  # node ids count from 1

    def __str__(self) -> str:
        hold = f" for {self.hold_s:.2f}s" if self.kind != RESTART else ""
        return f"{self.at_s:7.2f}s  {self.kind:<9} {self.aimed_at}{hold}"


def generate(
    seed: int,
    duration_s: float,
    faults: Sequence[str] = DEFAULT_FAULTS,
    nodes: int = 1,
    partitions: int = 1,
) -> list[Event]:
    """The schedule of ``seed`` for a run of ``duration_s`` seconds: faults drawn uniformly
    from ``faults``, each on a node drawn from ``range(nodes)``, one fault at a time. With
    several nodes, a target too (one of :data:`TARGETS`; ``leader`` of a partition drawn from
    ``range(partitions)``). A single node's schedules draw exactly what they always did."""
    unknown = set(faults) - set(ALL_FAULT_KINDS)
    if unknown or not faults:
        raise ValueError(f"faults must be some of {ALL_FAULT_KINDS}, got {list(faults)}")
    if nodes < 2 and set(faults) & set(CLUSTER_ONLY_FAULTS):
        raise ValueError(f"{', '.join(CLUSTER_ONLY_FAULTS)} need several nodes")
    rng = random.Random(seed)
    events: list[Event] = []
    at = WARMUP_S
    end = duration_s - QUIET_TAIL_S
    while len(events) < EVENTS_MAX:
        kind = rng.choice(list(faults))
        low, high = HOLD_S[kind]
        hold = round(rng.uniform(low, high), 2)
        node = rng.randrange(nodes)
        target, partition = NODE, 0
        if nodes > 1:
            target = rng.choice(TARGETS)
            partition = rng.randrange(partitions) if target == LEADER else 0
        restarts = (KILL, RESTART, FILL_KILL, POWER_LOSS)
        busy = hold + (RESTART_ALLOWANCE_S if kind in restarts else 0.0)
        if at + busy > end:
            break
        events.append(Event(round(at, 2), kind, hold, node, target, partition))
        at += busy + rng.uniform(*GAP_S)
    return events


def describe(
    seed: int,
    duration_s: float,
    faults: Sequence[str],
    events: list[Event],
    extra_args: Sequence[str] = (),
    nodes: int = 1,
) -> str:
    """The schedule as printed at the start of a run, with the command that replays it
    (``extra_args``: the runner's other options that shaped the run)."""
    replay = [
        "python -m tests.faults",
        *([f"--nodes {nodes}"] if nodes > 1 else []),
        f"--seeds {seed}",
        f"--duration {duration_s:g}",
        f"--faults {','.join(faults)}",
        *extra_args,
    ]
    lines = [
        f"seed {seed}: {len(events)} faults in {duration_s:g}s on {nodes} node"
        f"{'s' if nodes > 1 else ''} ({','.join(faults)})",
        f"  replay: {' '.join(replay)}",
    ]
    lines += [f"  {event}" for event in events]
    return "\n".join(lines)
