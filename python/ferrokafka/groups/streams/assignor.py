"""The task assignor of streams groups (KIP-1071), with the semantics of Kafka's sticky task
assignor (``group.streams.assignors`` default "sticky"): a pure function from the group's
members and tasks to the target assignment.

A task is (subtopology id, partition); a subtopology has as many tasks as the most partitioned
of its source topics. Members belong to processes (a Kafka Streams instance runs one member per
stream thread, all with one process id); standby replicas of a task must sit on other
processes than its active task and than each other, since a standby exists to survive the loss
of a process.

Active tasks: each member keeps the active tasks it had while it is under its quota (an even
share: ``ceil(tasks / members)``), then every remaining task goes to a member that had it as a
standby (its state is warm there) if under quota, else to the least loaded member (fewest
tasks, then fewest of the task's subtopology, then the least loaded process, then member id:
deterministic). Standby tasks: for each
task, ``standby_replicas`` members on distinct other processes, previous owners first, else
least loaded; fewer when there are not enough processes (Kafka does the same and says so).
Warm-up tasks are not assigned (ferrokafka moves an active task at once; see the README).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

# (subtopology id, partition)
TaskId = tuple[str, int]
# subtopology id -> partitions
Tasks = dict[str, frozenset[int]]

STICKY = "sticky"
ASSIGNOR_NAMES = (STICKY,)


@dataclass(frozen=True)
class TaskMember:
    """What the assignor knows of one member: its process and its current tasks."""

    process_id: str
    active: frozenset[TaskId] = frozenset()
    standby: frozenset[TaskId] = frozenset()


@dataclass(frozen=True)
class MemberTasks:
    """One member's target assignment."""

    active: frozenset[TaskId] = frozenset()
    standby: frozenset[TaskId] = frozenset()
    warmup: frozenset[TaskId] = field(default_factory=frozenset)


def all_tasks(task_counts: Mapping[str, int]) -> list[TaskId]:
    """Every task of subtopologies with ``task_counts`` tasks each, in a stable order."""
    return [(s, p) for s in sorted(task_counts) for p in range(task_counts[s])]


def assign_tasks(
    members: Mapping[str, TaskMember],
    task_counts: Mapping[str, int],
    standby_replicas: int = 0,
) -> dict[str, MemberTasks]:
    """The target assignment of ``members`` for subtopologies with ``task_counts`` tasks."""
    if not members:
        return {}
    tasks = all_tasks(task_counts)
    order = sorted(members)
    active: dict[str, set[TaskId]] = {m: set() for m in order}
    load = dict.fromkeys(order, 0)
    process_load: dict[str, int] = {}
    for m in order:
        process_load.setdefault(members[m].process_id, 0)
    quota = math.ceil(len(tasks) / len(order)) if tasks else 0
    valid = set(tasks)

    def give(member_id: str, task: TaskId, into: dict[str, set[TaskId]]) -> None:
        into[member_id].add(task)
        load[member_id] += 1
        process_load[members[member_id].process_id] += 1

    def least_loaded(candidates: list[str], subtopology: str = "") -> str:
        # Ties go to the member with fewest tasks of the same subtopology: a subtopology's
        # tasks spread over the members (its load, and its state, are spread too).
        return min(
            candidates,
            key=lambda m: (
                load[m],
                sum(1 for s, _p in active[m] if s == subtopology),
                process_load[members[m].process_id],
                m,
            ),
        )

    unassigned: list[TaskId] = []
    owner_of = {t: m for m in order for t in members[m].active if t in valid}
    # Partition first, then subtopology: a member over its quota keeps tasks of every
    # subtopology (0_0, 1_0) rather than all of one (0_0, 0_1), so stateful work spreads.
    for task in sorted(tasks, key=lambda t: (t[1], t[0])):
        owner = owner_of.get(task)
        if owner is not None and load[owner] < quota:
            give(owner, task, active)
        else:
            unassigned.append(task)
    for task in unassigned:
        warm = [m for m in order if task in members[m].standby and load[m] < quota]
        give(least_loaded(warm or order, task[0]), task, active)

    standby: dict[str, set[TaskId]] = {m: set() for m in order}
    for task in tasks if standby_replicas > 0 else []:
        holder = next(m for m in order if task in active[m])
        used = {members[holder].process_id}
        for _ in range(standby_replicas):
            eligible = [m for m in order if members[m].process_id not in used]
            if not eligible:
                break
            previous = [
                m for m in eligible if task in members[m].standby or task in members[m].active
            ]
            chosen = least_loaded(previous or eligible)
            give(chosen, task, standby)
            used.add(members[chosen].process_id)
    return {m: MemberTasks(frozenset(active[m]), frozenset(standby[m])) for m in order}
