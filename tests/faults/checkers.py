"""Checkers: pure functions from a history (a list of :class:`~.history.Op`) to the anomalies
it shows. Each looks for one kind of anomaly and says where, so that a failing run points at
the records, offsets or commits involved.

- :func:`lost_writes`: an acknowledged record the final full read does not hold.
- :func:`ack_offset_mismatches`: an acknowledged record read at another offset than the one
  its producer was told.
- :func:`conflicting_acks`: two records acknowledged at one partition/offset (one of them was
  truncated after its acknowledgement: a lost write even without the final read).
- :func:`duplicates`: one value at two offsets (a retry written twice).
- :func:`inconsistent_reads`: one offset read with two different values (two consumers, or a
  consumer and the final read, disagree about the log), naming who saw which.
- :func:`truncated_reads`: a consumer read a record the log no longer holds at the end: it
  was served past a high watermark that later moved back (or from a replica that was later
  truncated), whether or not its producer was told it was written.
- :func:`nonmonotonic_reads`: a consumer session whose offsets in a partition do not increase.
- :func:`commit_regressions`: a group's committed offset lower than one already acknowledged.
- :func:`unexpected_values`: a value read that no producer sent (corruption).
- :func:`liveness`: after the last fault, a new record is acknowledged and read within a bound.
- :func:`partition_liveness`: the same for every partition (a cluster recovers only when
  each partition has a leader again and its high watermark moves).
- :func:`crashes`: the node died when no fault asked it to (the nemesis records a ``crash``).

:func:`check` runs them all. :func:`recovery_times` is a figure, not a checker: the time from
the end of each fault until every partition acknowledged a record again.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .history import COMMIT, COMMITTED, FAULT, HEAL, READ, SEND, Op

LOST = "lost"
ACK_OFFSET = "ack-offset-mismatch"
CONFLICTING_ACKS = "conflicting-acks"
DUPLICATE = "duplicate"
INCONSISTENT_READ = "inconsistent-read"
TRUNCATED_READ = "truncated-read"
PARTITION_LIVENESS = "partition-liveness"
NONMONOTONIC = "nonmonotonic-read"
COMMIT_REGRESSION = "commit-regression"
UNEXPECTED = "unexpected-value"
LIVENESS = "liveness"
CRASH = "crash"
ANOMALY_KINDS = (
    LOST,
    ACK_OFFSET,
    CONFLICTING_ACKS,
    DUPLICATE,
    INCONSISTENT_READ,
    TRUNCATED_READ,
    NONMONOTONIC,
    COMMIT_REGRESSION,
    UNEXPECTED,
    LIVENESS,
    PARTITION_LIVENESS,
    CRASH,
)
# The reader whose reads are the final full read of every partition.
FINAL_READER = "final"
# Anomalies listed per kind; past this many the rest are only counted.
DETAILS_MAX = 20


@dataclass(frozen=True)
class Anomaly:
    kind: str
    detail: str


def _acked(ops: Iterable[Op]) -> list[Op]:
    return [op for op in ops if op.kind == SEND and op.ok]


def _reads(ops: Iterable[Op]) -> list[Op]:
    return [op for op in ops if op.kind == READ]


def lost_writes(ops: Sequence[Op]) -> list[Anomaly]:
    """Acknowledged values that the final full read (process ``final``) did not see."""
    final = {op.value for op in _reads(ops) if op.process == FINAL_READER}
    return [
        Anomaly(LOST, f"{op.value} acked at {op.partition}/{op.offset} by {op.process}")
        for op in _acked(ops)
        if op.value not in final
    ]


def ack_offset_mismatches(ops: Sequence[Op]) -> list[Anomaly]:
    """Acknowledged values read at a partition/offset other than the acknowledged one (the
    broker answered a retried batch with the wrong original offset, or moved records)."""
    where: dict[str | None, set[tuple[int | None, int | None]]] = defaultdict(set)
    for op in _reads(ops):
        where[op.value].add((op.partition, op.offset))
    anomalies = []
    for op in _acked(ops):
        if op.offset is None or op.offset < 0:
            continue  # acks=0-style answers carry no offset
        seen = where.get(op.value, set()) - {(op.partition, op.offset)}
        if seen:
            anomalies.append(
                Anomaly(
                    ACK_OFFSET,
                    f"{op.value} acked at {op.partition}/{op.offset}, read at {sorted(seen)}",
                )
            )
    return anomalies


def conflicting_acks(ops: Sequence[Op]) -> list[Anomaly]:
    """Partition/offsets acknowledged to two different values: the log was truncated below
    an acknowledged record (the acknowledgement came from a leader whose write did not
    survive), whatever the final read shows."""
    acked: dict[tuple[int | None, int], dict[str, tuple[str, float]]] = defaultdict(dict)
    for op in _acked(ops):
        if op.offset is None or op.offset < 0:
            continue
        acked[(op.partition, op.offset)][str(op.value)] = (op.process, op.complete_s or 0.0)
    return [
        Anomaly(
            CONFLICTING_ACKS,
            f"{p}/{o} acked as "
            + "; ".join(f"{v} to {who} at {at:.3f}s" for v, (who, at) in sorted(values.items())),
        )
        for (p, o), values in acked.items()
        if len(values) > 1
    ]


def duplicates(ops: Sequence[Op]) -> list[Anomaly]:
    """Values read at more than one partition/offset."""
    where: dict[str | None, set[tuple[int | None, int | None]]] = defaultdict(set)
    for op in _reads(ops):
        where[op.value].add((op.partition, op.offset))
    return [
        Anomaly(DUPLICATE, f"{value} at {sorted(places)}")
        for value, places in where.items()
        if len(places) > 1
    ]


def inconsistent_reads(ops: Sequence[Op]) -> list[Anomaly]:
    """Offsets that two reads (by any consumers, the final read included) saw with different
    values; the detail names the readers of each value."""
    readers: dict[tuple[int | None, int | None], dict[str, set[str]]] = defaultdict(
        lambda: defaultdict(set)
    )
    for op in _reads(ops):
        readers[(op.partition, op.offset)][str(op.value)].add(op.process)
    return [
        Anomaly(
            INCONSISTENT_READ,
            f"{p}/{o} read as "
            + "; ".join(f"{v} by {','.join(sorted(who))}" for v, who in sorted(by_value.items())),
        )
        for (p, o), by_value in readers.items()
        if len(by_value) > 1
    ]


def truncated_reads(ops: Sequence[Op]) -> list[Anomaly]:
    """Records a consumer read that the final full read does not hold at all: the consumer
    was given data above what became the partition's high watermark (a leader that lost its
    leadership served it, or the high watermark shrank). Kafka never exposes a record above
    the high watermark, and with acks=all and min.insync.replicas 2 a record under it
    survives any single fault: so acknowledged or not, a read record must stay."""
    reads = _reads(ops)
    final = {op.value for op in reads if op.process == FINAL_READER}
    if not final:
        return []  # no final read (the run was abandoned): nothing to compare with
    end: dict[int | None, int] = defaultdict(lambda: -1)
    for op in reads:
        if op.process == FINAL_READER and op.offset is not None:
            end[op.partition] = max(end[op.partition], op.offset + 1)
    missing: dict[str | None, Op] = {}
    for op in reads:
        if op.process != FINAL_READER and op.value not in final:
            missing.setdefault(op.value, op)
    anomalies = []
    for value, op in missing.items():
        beyond = (
            f" (past the final end {end[op.partition]})"
            if op.offset is not None and op.offset >= end[op.partition]
            else ""
        )
        anomalies.append(
            Anomaly(
                TRUNCATED_READ,
                f"{value} read at {op.partition}/{op.offset} by {op.process} at "
                f"{op.complete_s or 0.0:.3f}s, not in the final log{beyond}",
            )
        )
    return anomalies


def nonmonotonic_reads(ops: Sequence[Op]) -> list[Anomaly]:
    """Within one consumer session (one assignment of one consumer), offsets read from a
    partition must strictly increase, in the order the consumer saw them."""
    last: dict[tuple[str, int, int | None], int] = {}
    anomalies = []
    for op in _reads(ops):
        if op.offset is None:
            continue
        key = (op.process, op.session, op.partition)
        previous = last.get(key)
        if previous is not None and op.offset <= previous:
            anomalies.append(
                Anomaly(
                    NONMONOTONIC,
                    f"{op.process} session {op.session} read {op.partition}/{op.offset} "
                    f"after {op.partition}/{previous}",
                )
            )
        last[key] = op.offset if previous is None else max(previous, op.offset)
    return anomalies


# A commit that took longer than this was sent more than once by its client (librdkafka sends a
# commit again on a new connection when the one it was on goes down or times out), and the
# first copy can still be in the network: TCP delivers it when the link comes back, seconds
# after the client's answer, and the coordinator applies it then. Apache Kafka does the same
# (its socket server processes a request read from a connection the client has since closed,
# and the member's generation is still current), so a group's committed offset can fall back
# to such a commit's offset. A healthy commit takes milliseconds.
SLOW_COMMIT_S = 2.0


def commit_regressions(ops: Sequence[Op], slow_commit_s: float = SLOW_COMMIT_S) -> list[Anomaly]:
    """A group's committed offset for a partition, as committed or as the broker reports it,
    must never be below one that was acknowledged (or reported) before it was asked for, in
    real time: an operation invoked after another completed sees at least its offset.

    One fallback is Kafka's behaviour, not an anomaly: to the offset of an earlier commit of
    the partition that was slow (see :data:`SLOW_COMMIT_S`), re-applied late. An operation at
    or above such an offset and below the floor is taken as the group starting again from it
    (once per such commit): later operations are judged only against what completed after it."""
    # (group, partition) -> the operations with an offset, in the order they were invoked.
    entries: dict[tuple[str | None, int], list[tuple[Op, int]]] = defaultdict(list)
    for op in ops:
        if op.kind not in (COMMIT, COMMITTED) or not op.ok:
            continue
        for partition, offset in op.offsets.items():
            if offset >= 0:  # negative: nothing committed yet
                entries[(op.group, partition)].append((op, offset))
    anomalies = []
    for (group, partition), found in entries.items():
        completed = sorted(
            (op.complete_s, offset) for op, offset in found if op.complete_s is not None
        )
        replayable = [
            (op.complete_s, offset)
            for op, offset in found
            if op.kind == COMMIT
            and op.invoke_s is not None
            and op.complete_s is not None
            and op.complete_s - op.invoke_s > slow_commit_s
        ]
        since = float("-inf")  # when the group last started again from a replayed commit
        judged = sorted(
            ((op, offset) for op, offset in found if op.invoke_s is not None),
            key=lambda entry: entry[0].invoke_s or 0.0,
        )
        for op, offset in judged:
            assert op.invoke_s is not None
            floor, floor_at = max(
                ((o, at) for at, o in completed if since <= at < op.invoke_s),
                default=(-1, 0.0),
            )
            if offset >= floor:
                continue
            replayed = [r for r in replayable if r[1] <= offset and r[0] < op.invoke_s]
            if replayed:  # each late copy is applied once: it explains one start
                replayable.remove(max(replayed, key=lambda r: r[1]))
                since = op.invoke_s
                continue
            anomalies.append(
                Anomaly(
                    COMMIT_REGRESSION,
                    f"group {group} partition {partition}: {op.kind} {offset} by "
                    f"{op.process} at {op.invoke_s:.3f}s after {floor} at {floor_at:.3f}s",
                )
            )
    return anomalies


def unexpected_values(ops: Sequence[Op]) -> list[Anomaly]:
    """Values read that no producer ever sent (not even without an answer)."""
    sent = {op.value for op in ops if op.kind == SEND}
    unexpected = sorted({str(op.value) for op in _reads(ops) if op.value not in sent})
    return [Anomaly(UNEXPECTED, value) for value in unexpected]


def heal_time(ops: Sequence[Op]) -> float | None:
    """When the nemesis declared every fault over (the last ``heal``), if it did."""
    heals = [op.complete_s for op in ops if op.kind == FAULT and op.value == HEAL]
    return max((t for t in heals if t is not None), default=None)


def recovery_after_heal(ops: Sequence[Op]) -> float | None:
    """Seconds from the heal to the first read of a record sent after it; None if none."""
    healed = heal_time(ops)
    if healed is None:
        return None
    fresh = {
        op.value
        for op in _acked(ops)
        if op.invoke_s is not None and op.invoke_s >= healed and op.complete_s is not None
    }
    read_at = [
        op.complete_s for op in _reads(ops) if op.value in fresh and op.complete_s is not None
    ]
    return min(read_at) - healed if read_at else None


def liveness(ops: Sequence[Op], bound_s: float) -> list[Anomaly]:
    """After the heal, a record sent after it is acknowledged and read within ``bound_s``."""
    healed = heal_time(ops)
    if healed is None:
        return []
    took = recovery_after_heal(ops)
    if took is None:
        return [Anomaly(LIVENESS, f"no record sent after the heal at {healed:.3f}s was read")]
    if took > bound_s:
        return [Anomaly(LIVENESS, f"first read after the heal took {took:.3f}s > {bound_s}s")]
    return []


def partition_recovery_after_heal(ops: Sequence[Op]) -> dict[int, float | None]:
    """Per partition that ever acknowledged a record: seconds from the heal to the first
    read of a record sent to it after the heal (None if none was read)."""
    healed = heal_time(ops)
    if healed is None:
        return {}
    partitions = {op.partition for op in _acked(ops) if op.partition is not None}
    fresh = {
        op.value: op.partition
        for op in _acked(ops)
        if op.invoke_s is not None and op.invoke_s >= healed and op.partition is not None
    }
    first: dict[int, float] = {}
    for op in _reads(ops):
        partition = fresh.get(op.value)
        if partition is None or op.complete_s is None:
            continue
        first[partition] = min(first.get(partition, op.complete_s), op.complete_s)
    return {p: (first[p] - healed if p in first else None) for p in sorted(partitions)}


def partition_liveness(ops: Sequence[Op], bound_s: float) -> list[Anomaly]:
    """After the heal, every partition takes a record and serves it within ``bound_s``."""
    anomalies = []
    for partition, took in partition_recovery_after_heal(ops).items():
        if took is None:
            anomalies.append(
                Anomaly(
                    PARTITION_LIVENESS,
                    f"partition {partition}: nothing sent after the heal was read",
                )
            )
        elif took > bound_s:
            anomalies.append(
                Anomaly(
                    PARTITION_LIVENESS,
                    f"partition {partition}: first read after the heal took {took:.3f}s "
                    f"> {bound_s}s",
                )
            )
    return anomalies


def recovery_times(ops: Sequence[Op]) -> list[tuple[str, float | None]]:
    """For each fault (not the heal), in order: seconds from its end until every partition
    (of those that ever acknowledged a record) acknowledged one again; None if one never
    did. On one node that is the first acknowledgement after it; on a cluster, the slowest
    partition's new leader or ISR sets the time."""
    acks: dict[int | None, list[float]] = defaultdict(list)
    for op in _acked(ops):
        if op.complete_s is not None:
            acks[op.partition].append(op.complete_s)
    for times in acks.values():
        times.sort()
    recovered = []
    for op in ops:
        if op.kind != FAULT or op.value in (HEAL, CRASH) or op.complete_s is None:
            continue
        took: float | None = 0.0 if acks else None
        for times in acks.values():
            at = bisect.bisect_right(times, op.complete_s)
            if at == len(times):
                took = None
                break
            took = max(took or 0.0, times[at] - op.complete_s)
        recovered.append((str(op.value), took))
    return recovered


def crashes(ops: Sequence[Op]) -> list[Anomaly]:
    """Every time the nemesis found the node dead without having killed it."""
    return [
        Anomaly(CRASH, f"{op.error or 'exited'} (found at {op.invoke_s or 0.0:.3f}s)")
        for op in ops
        if op.kind == FAULT and op.value == CRASH
    ]


def check(ops: Sequence[Op], *, liveness_bound_s: float) -> dict[str, list[Anomaly]]:
    """Every checker; anomalies by kind (every kind present, empty when clean)."""
    return {
        LOST: lost_writes(ops),
        ACK_OFFSET: ack_offset_mismatches(ops),
        CONFLICTING_ACKS: conflicting_acks(ops),
        DUPLICATE: duplicates(ops),
        INCONSISTENT_READ: inconsistent_reads(ops),
        TRUNCATED_READ: truncated_reads(ops),
        NONMONOTONIC: nonmonotonic_reads(ops),
        COMMIT_REGRESSION: commit_regressions(ops),
        UNEXPECTED: unexpected_values(ops),
        LIVENESS: liveness(ops, liveness_bound_s),
        PARTITION_LIVENESS: partition_liveness(ops, liveness_bound_s),
        CRASH: crashes(ops),
    }
