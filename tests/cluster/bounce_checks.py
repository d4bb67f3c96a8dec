"""Checkers of the bounce test (test_bounce_processes.py) that tests/faults/checkers.py does
not have: pure functions from a history (and the high watermarks a consumer saw) to the
anomalies they show, each a one-line string naming the records or offsets involved.

- :func:`final_read_once_in_order`: the final read, by offset, holds every acknowledged value
  exactly once, and each producer's values in a partition in the order it sent them.
- :func:`group_missed`: an acknowledged value no member of the group ever consumed.
- :func:`rereads_behind_commits`: a member's session that starts reading a partition below
  an offset the group had already committed (a duplicate that commits do not explain).
- :func:`watermark_regressions`: a consumer saw a partition's high watermark go backwards.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from faults.checkers import FINAL_READER
from faults.history import COMMIT, READ, SEND, Op

# Values are "<producer>-<n>" (confluent-kafka) or "<prefix>.<n>" (VerifiableProducer).
VALUE = re.compile(r"^(.*)[.-](\d+)$")


def _acked(ops: Sequence[Op]) -> list[Op]:
    return [op for op in ops if op.kind == SEND and op.ok]


def final_read_once_in_order(ops: Sequence[Op]) -> list[str]:
    where: dict[str | None, list[tuple[int, int]]] = defaultdict(list)
    for op in ops:
        if op.kind == READ and op.process == FINAL_READER:
            assert op.partition is not None and op.offset is not None
            where[op.value].append((op.partition, op.offset))
    anomalies = []
    # (producer, partition) -> [(n, offset)] of what was acknowledged.
    sequences: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)
    for op in _acked(ops):
        found = where.get(op.value, [])
        if len(found) != 1:
            anomalies.append(f"{op.value} (acked {op.partition}/{op.offset}) read at {found}")
            continue
        parsed = VALUE.match(str(op.value))
        if parsed is not None:
            partition, offset = found[0]
            sequences[(parsed[1], partition)].append((int(parsed[2]), offset))
    for (producer, partition), sent in sorted(sequences.items()):
        offsets = [offset for _n, offset in sorted(sent)]
        out_of_order = [(a, b) for a, b in zip(offsets, offsets[1:], strict=False) if b <= a]
        if out_of_order:
            anomalies.append(f"{producer} in partition {partition}: offsets {out_of_order[:5]}")
    return anomalies


def group_missed(ops: Sequence[Op], members: set[str]) -> list[str]:
    consumed = {op.value for op in ops if op.kind == READ and op.process in members}
    return [
        f"{op.value} acked at {op.partition}/{op.offset}"
        for op in _acked(ops)
        if op.value not in consumed
    ]


def rereads_behind_commits(ops: Sequence[Op], group: str) -> list[str]:
    """For each (member, session, partition), its first read: no commit of ``group`` for that
    partition that completed before the read may be above it (the new owner starts where
    the group's commits say; only records after the last commit are read twice)."""
    commits: dict[int, list[tuple[float, int]]] = defaultdict(list)
    for op in ops:
        if op.kind == COMMIT and op.ok and op.group == group and op.complete_s is not None:
            for partition, offset in op.offsets.items():
                commits[partition].append((op.complete_s, offset))
    first: dict[tuple[str, int, int], Op] = {}
    for op in ops:
        if op.kind == READ and op.process != FINAL_READER and op.partition is not None:
            first.setdefault((op.process, op.session, op.partition), op)
    anomalies = []
    for (process, session, partition), op in first.items():
        assert op.offset is not None and op.invoke_s is not None
        above = [
            (at, offset)
            for at, offset in commits[partition]
            if at < op.invoke_s and offset > op.offset
        ]
        if above:
            at, offset = max(above, key=lambda c: c[1])
            anomalies.append(
                f"{process} session {session} began partition {partition} at {op.offset} "
                f"({op.invoke_s:.3f}s) after the group committed {offset} ({at:.3f}s)"
            )
    return anomalies


def watermark_regressions(seen: dict[int, list[tuple[float, int]]]) -> list[str]:
    """``seen``: partition -> (time, high watermark) in the order the consumer saw them."""
    anomalies = []
    for partition, marks in sorted(seen.items()):
        highest = -1
        for at, mark in marks:
            if mark < highest:
                anomalies.append(f"partition {partition}: {mark} at {at:.3f}s after {highest}")
            highest = max(highest, mark)
    return anomalies
