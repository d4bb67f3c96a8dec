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
FAULT_KINDS = (KILL, PAUSE, RESTART, FILL, FILL_KILL)
DEFAULT_FAULTS = (KILL, PAUSE, RESTART)

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

    def __str__(self) -> str:
        hold = f" for {self.hold_s:.2f}s" if self.kind != RESTART else ""
        return f"{self.at_s:7.2f}s  {self.kind:<7} node {self.node}{hold}"


def generate(
    seed: int, duration_s: float, faults: Sequence[str] = DEFAULT_FAULTS, nodes: int = 1
) -> list[Event]:
    """The schedule of ``seed`` for a run of ``duration_s`` seconds: faults drawn uniformly
    from ``faults``, each on a node drawn from ``range(nodes)``, one fault at a time."""
    unknown = set(faults) - set(FAULT_KINDS)
    if unknown or not faults:
        raise ValueError(f"faults must be some of {FAULT_KINDS}, got {list(faults)}")
    rng = random.Random(seed)
    events: list[Event] = []
    at = WARMUP_S
    end = duration_s - QUIET_TAIL_S
    while len(events) < EVENTS_MAX:
        kind = rng.choice(list(faults))
        low, high = HOLD_S[kind]
        hold = round(rng.uniform(low, high), 2)
        node = rng.randrange(nodes)
        busy = hold + (RESTART_ALLOWANCE_S if kind in (KILL, RESTART, FILL_KILL) else 0.0)
        if at + busy > end:
            break
        events.append(Event(round(at, 2), kind, hold, node))
        at += busy + rng.uniform(*GAP_S)
    return events


def describe(
    seed: int,
    duration_s: float,
    faults: Sequence[str],
    events: list[Event],
    extra_args: Sequence[str] = (),
) -> str:
    """The schedule as printed at the start of a run, with the command that replays it
    (``extra_args``: the runner's other options that shaped the run)."""
    replay = [
        "python -m tests.faults",
        f"--seeds {seed}",
        f"--duration {duration_s:g}",
        f"--faults {','.join(faults)}",
        *extra_args,
    ]
    lines = [
        f"seed {seed}: {len(events)} faults in {duration_s:g}s ({','.join(faults)})",
        f"  replay: {' '.join(replay)}",
    ]
    lines += [f"  {event}" for event in events]
    return "\n".join(lines)
