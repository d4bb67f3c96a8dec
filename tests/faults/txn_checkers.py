"""Checkers of the transactional workload (:mod:`.txn_workload`): pure functions from its
history to the anomalies it shows, each naming the transaction, record and reader involved.

The history holds the input producer's ``send`` ops (the input topic), the copiers' ``txn``
ops (each transaction's id, outcome, produced values and the input offsets it committed), the
read_committed readers' ``read`` ops of the output topic, the final read_committed read of
every output partition (process ``final``) and the copier group's committed offsets after the
run (a ``committed`` op of process ``final``). An output value is
``<txn id>|<input partition>:<input offset>|<input value>`` (:func:`parse_copy`), or, from a
copier that copies values unchanged (Kafka's ``TransactionalMessageCopier``,
:mod:`.java_copier`), the input value itself: its input's send ops carry the copier's group,
and its ``txn`` ops are inferred from its status lines (committed or unknown: the aborted
ones it does not show). Input records are told apart by that group (None: the input of the
copies that name their transaction), each group's against its own committed offsets.

- :func:`aborted_reads` (G1a): a read_committed reader saw a record of a transaction whose
  abort its producer completed.
- :func:`uncommitted_reads` (G1b): a reader saw a record of a transaction that never
  committed (not committed by its producer and absent from the final read_committed read, the
  reference for transactions whose outcome the producer never learned), or saw it before its
  producer even asked to commit.
- :func:`unchanged_reads_not_committed` (G1a or G1b): a reader saw an unchanged copy at an
  output offset where the final read_committed read does not hold it (an aborted or never
  committed transaction's record; the copier's aborts are not in the history).
- :func:`lost_committed`: a record of a transaction whose commit was acknowledged is missing
  from the final read (the whole transaction or a part of it).
- :func:`copy_duplicates`: one input record copied into the final output by two
  transactions (exactly-once broken).
- :func:`copy_missing`: an acknowledged input record below the copier group's final
  committed offset with no copy in the output (its offset committed, its copy lost).
- :func:`offsets_behind_output`: a copy in the output of an input record at or above the
  group's final committed offset (the output committed, its input offsets not: the record
  would be copied again).
- :func:`unexpected_copies`: a value read from the output that no transaction produced.
- :func:`txn_liveness`: after the heal, a transaction commits and a reader sees it within a
  bound.

Reads of the output topic are also checked by :func:`.checkers.nonmonotonic_reads` and
:func:`.checkers.inconsistent_reads`. :func:`check_txn` runs them all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import NamedTuple

from . import checkers
from .checkers import FINAL_READER, Anomaly
from .history import COMMITTED, READ, SEND, TXN, Op

ABORTED_READ = "G1a-aborted-read"
UNCOMMITTED_READ = "G1b-uncommitted-read"
UNCHANGED_NOT_COMMITTED = "G1-unchanged-copy-read-not-committed"
LOST_COMMITTED = "lost-committed-txn"
COPY_DUPLICATE = "copy-duplicate"
COPY_MISSING = "copy-missing"
OFFSETS_BEHIND = "offsets-behind-output"
UNEXPECTED_COPY = "unexpected-copy"
TXN_LIVENESS = "txn-liveness"
OUTPUT_NONMONOTONIC = "txn-nonmonotonic-read"
OUTPUT_INCONSISTENT = "txn-inconsistent-read"
TXN_ANOMALY_KINDS = (
    ABORTED_READ,
    UNCOMMITTED_READ,
    UNCHANGED_NOT_COMMITTED,
    LOST_COMMITTED,
    COPY_DUPLICATE,
    COPY_MISSING,
    OFFSETS_BEHIND,
    UNEXPECTED_COPY,
    OUTPUT_NONMONOTONIC,
    OUTPUT_INCONSISTENT,
    TXN_LIVENESS,
)


class Copy(NamedTuple):
    txn: str
    partition: int
    offset: int
    value: str


def copy_value(txn: str, partition: int, offset: int, value: str) -> str:
    """The output value of input ``value`` at ``partition``/``offset`` copied by ``txn``."""
    return f"{txn}|{partition}:{offset}|{value}"


def parse_copy(value: str | None) -> Copy | None:
    """The parts of an output value; None when it is not one."""
    if value is None:
        return None
    parts = value.split("|", 2)
    if len(parts) != 3:
        return None
    partition, sep, offset = parts[1].partition(":")
    if not sep or not partition.isdigit() or not offset.isdigit():
        return None
    return Copy(parts[0], int(partition), int(offset), parts[2])


def _txns(ops: Sequence[Op]) -> dict[str, Op]:
    return {str(op.value): op for op in ops if op.kind == TXN}


def _reads(ops: Sequence[Op]) -> list[Op]:
    return [op for op in ops if op.kind == READ]


def _final_reads(ops: Sequence[Op]) -> list[Op]:
    return [op for op in _reads(ops) if op.process == FINAL_READER]


def _txn_of(op: Op) -> str | None:
    copy = parse_copy(op.value)
    return None if copy is None else copy.txn


def aborted_reads(ops: Sequence[Op]) -> list[Anomaly]:
    """G1a: records of transactions their producer aborted, read under read_committed (the
    final read included)."""
    aborted = {txn for txn, op in _txns(ops).items() if op.ok is False}
    return [
        Anomaly(
            ABORTED_READ,
            f"{op.value} (aborted) read at {op.partition}/{op.offset} by {op.process} "
            f"at {op.complete_s or 0.0:.3f}s",
        )
        for op in _reads(ops)
        if _txn_of(op) in aborted
    ]


def uncommitted_reads(ops: Sequence[Op]) -> list[Anomaly]:
    """G1b: a reader saw a record of a transaction that never committed (its producer did
    not see it commit, and the final read_committed read holds none of its records), or saw
    it before its producer asked to commit it. Aborted transactions are :func:`aborted_reads`'."""
    txns = _txns(ops)
    final = _final_reads(ops)
    committed = {op.value for op in txns.values() if op.ok} | {_txn_of(op) for op in final}
    anomalies = []
    for op in _reads(ops):
        txn = _txn_of(op)
        outcome = txns.get(str(txn))
        if txn is None or (outcome is not None and outcome.ok is False):
            continue
        at = op.complete_s or 0.0
        if final and op.process != FINAL_READER and txn not in committed:
            anomalies.append(
                Anomaly(
                    UNCOMMITTED_READ,
                    f"{op.value} read at {op.partition}/{op.offset} by {op.process} at "
                    f"{at:.3f}s: its transaction never committed",
                )
            )
        elif outcome is not None and outcome.invoke_s is not None and at < outcome.invoke_s:
            anomalies.append(
                Anomaly(
                    UNCOMMITTED_READ,
                    f"{op.value} read at {op.partition}/{op.offset} by {op.process} at "
                    f"{at:.3f}s, before its commit was asked for at {outcome.invoke_s:.3f}s",
                )
            )
    return anomalies


def lost_committed(ops: Sequence[Op]) -> list[Anomaly]:
    """Records of transactions whose commit was acknowledged, missing from the final read."""
    final = {op.value for op in _final_reads(ops)}
    if not final:
        return []  # no final read (the run was abandoned): nothing to compare with
    anomalies = []
    for txn, op in _txns(ops).items():
        if not op.ok:
            continue
        missing = [v for v in op.values if v not in final]
        if missing:
            anomalies.append(
                Anomaly(
                    LOST_COMMITTED,
                    f"{txn} committed at {op.complete_s or 0.0:.3f}s by {op.process}: "
                    f"{len(missing)} of {len(op.values)} records missing, first {missing[0]}",
                )
            )
    return anomalies


# An input record: the group whose input it is (None: the copies that name their transaction),
# its partition and offset.
Input = tuple[str | None, int, int]


def _unchanged_inputs(ops: Sequence[Op]) -> dict[str, Op]:
    """Value -> the send op of an input record of a copier that copies values unchanged."""
    return {str(op.value): op for op in ops if op.kind == SEND and op.group is not None}


def _final_copies(ops: Sequence[Op]) -> dict[Input, list[str]]:
    """Input record -> the transactions of its copies in the final read (``?`` for an
    unchanged copy no transaction op lists), one entry per copy."""
    unchanged = _unchanged_inputs(ops)
    txn_of_value = {v: op.value for op in ops if op.kind == TXN for v in op.values}
    copies: dict[Input, list[str]] = defaultdict(list)
    for op in _final_reads(ops):
        copy = parse_copy(op.value)
        if copy is not None:
            copies[(None, copy.partition, copy.offset)].append(copy.txn)
            continue
        sent = unchanged.get(str(op.value))
        if sent is not None and sent.partition is not None and sent.offset is not None:
            txn = txn_of_value.get(str(op.value)) or "?"
            copies[(sent.group, sent.partition, sent.offset)].append(txn)
    return copies


def _input_name(group: str | None, partition: int, offset: int) -> str:
    return f"{partition}/{offset}" if group is None else f"{group} {partition}/{offset}"


def copy_duplicates(ops: Sequence[Op]) -> list[Anomaly]:
    """Input records copied into the committed output more than once."""
    return [
        Anomaly(COPY_DUPLICATE, f"input {_input_name(*key)} copied by {', '.join(sorted(txns))}")
        for key, txns in sorted(_final_copies(ops).items(), key=_sort_key)
        if len(txns) > 1
    ]


def _sort_key(item: tuple[Input, list[str]]) -> tuple[str, int, int]:
    (group, partition, offset), _ = item
    return (group or "", partition, offset)


def _final_committed(ops: Sequence[Op]) -> dict[str | None, dict[int, int]]:
    """Each copier group's committed offsets read after the run (None: the group of the
    copies that name their transaction); a group absent was not read."""
    unchanged = {op.group for op in _unchanged_inputs(ops).values()}
    named = {op.group for op in ops if op.kind == TXN and op.group} - unchanged
    found: dict[str | None, dict[int, int]] = {}
    for op in ops:
        if op.kind == COMMITTED and op.process == FINAL_READER and op.ok:
            if op.group in named:
                found[None] = op.offsets
            elif op.group in unchanged:
                found[op.group] = op.offsets
    return found


def copy_missing(ops: Sequence[Op]) -> list[Anomaly]:
    """Acknowledged input records below their group's final committed offset of their
    partition that the final output holds no copy of."""
    committed = _final_committed(ops)
    if not _final_reads(ops):
        return []
    copies = _final_copies(ops)
    anomalies = []
    for op in ops:
        if op.kind != SEND or not op.ok or op.partition is None or op.offset is None:
            continue
        offsets = committed.get(op.group)
        if offsets is None:
            continue
        key = (op.group, op.partition, op.offset)
        if op.offset < offsets.get(op.partition, 0) and key not in copies:
            anomalies.append(
                Anomaly(
                    COPY_MISSING,
                    f"input {op.value} at {_input_name(*key)}: below the committed offset "
                    f"{offsets[op.partition]}, not in the output",
                )
            )
    return anomalies


def offsets_behind_output(ops: Sequence[Op]) -> list[Anomaly]:
    """Copies in the final output of input records at or above their group's final
    committed offset: the output was committed without the offsets that go with it."""
    committed = _final_committed(ops)
    anomalies = []
    for key, txns in sorted(_final_copies(ops).items(), key=_sort_key):
        group, partition, offset = key
        offsets = committed.get(group)
        if offsets is not None and offset >= offsets.get(partition, 0):
            anomalies.append(
                Anomaly(
                    OFFSETS_BEHIND,
                    f"input {_input_name(*key)} copied by {', '.join(sorted(txns))}, committed "
                    f"offset {offsets.get(partition, 0)}",
                )
            )
    return anomalies


def unchanged_reads_not_committed(ops: Sequence[Op]) -> list[Anomaly]:
    """Reads (not the final one) of unchanged copies that the final read_committed read does
    not hold at that output offset: a record of an aborted or never committed transaction."""
    final = {(op.partition, op.offset, op.value) for op in _final_reads(ops)}
    if not final:
        return []  # no final read (the run was abandoned): nothing to compare with
    unchanged = _unchanged_inputs(ops)
    return [
        Anomaly(
            UNCHANGED_NOT_COMMITTED,
            f"{op.value} read at {op.partition}/{op.offset} by {op.process} at "
            f"{op.complete_s or 0.0:.3f}s: not in the committed output",
        )
        for op in _reads(ops)
        if op.process != FINAL_READER
        and str(op.value) in unchanged
        and (op.partition, op.offset, op.value) not in final
    ]


def unexpected_copies(ops: Sequence[Op]) -> list[Anomaly]:
    """Values read from the output that no transaction produced and that are no input
    record of a copier that copies values unchanged."""
    produced = {value for op in ops if op.kind == TXN for value in op.values}
    produced |= set(_unchanged_inputs(ops))
    return [
        Anomaly(UNEXPECTED_COPY, f"{value} read")
        for value in sorted({str(op.value) for op in _reads(ops) if op.value not in produced})
    ]


def txn_liveness(ops: Sequence[Op], heal_s: float | None, bound_s: float) -> list[Anomaly]:
    """After the heal, a transaction whose commit was asked for after it is read (by a
    reader, not the final read) within ``bound_s`` of the heal."""
    if heal_s is None:
        return []
    fresh = {
        value
        for op in _txns(ops).values()
        if op.ok and op.invoke_s is not None and op.invoke_s >= heal_s
        for value in op.values
    }
    seen = [
        op.complete_s
        for op in _reads(ops)
        if op.process != FINAL_READER and op.complete_s is not None and op.value in fresh
    ]
    if not seen:
        detail = f"no transaction committed after the heal at {heal_s:.3f}s was read"
        return [Anomaly(TXN_LIVENESS, detail)]
    took = min(seen) - heal_s
    if took > bound_s:
        detail = f"first transaction read after the heal took {took:.3f}s > {bound_s}s"
        return [Anomaly(TXN_LIVENESS, detail)]
    return []


def _renamed(found: list[Anomaly], kind: str) -> list[Anomaly]:
    return [Anomaly(kind, a.detail) for a in found]


def check_txn(
    ops: Sequence[Op], *, heal_s: float | None, liveness_bound_s: float
) -> dict[str, list[Anomaly]]:
    """Every transactional checker; anomalies by kind (every kind present)."""
    reads = _reads(ops)
    return {
        ABORTED_READ: aborted_reads(ops),
        UNCOMMITTED_READ: uncommitted_reads(ops),
        UNCHANGED_NOT_COMMITTED: unchanged_reads_not_committed(ops),
        LOST_COMMITTED: lost_committed(ops),
        COPY_DUPLICATE: copy_duplicates(ops),
        COPY_MISSING: copy_missing(ops),
        OFFSETS_BEHIND: offsets_behind_output(ops),
        UNEXPECTED_COPY: unexpected_copies(ops),
        OUTPUT_NONMONOTONIC: _renamed(checkers.nonmonotonic_reads(reads), OUTPUT_NONMONOTONIC),
        OUTPUT_INCONSISTENT: _renamed(checkers.inconsistent_reads(reads), OUTPUT_INCONSISTENT),
        TXN_LIVENESS: txn_liveness(ops, heal_s, liveness_bound_s),
    }
