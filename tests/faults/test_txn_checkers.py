"""Each transactional checker on small hand-made histories: it passes a clean one and catches
its anomaly (G1a, G1b, lost committed records, exactly-once copy, offsets vs output)."""

from __future__ import annotations

from pathlib import Path

from . import txn_checkers as t
from .checkers import FINAL_READER
from .history import COMMITTED, READ, SEND, TXN, Op, read_history, write_history

GROUP = "copiers"


def sent(value: str, partition: int, offset: int) -> Op:
    return Op(SEND, "in", 0.5, 0.6, True, value, partition, offset)


def txn(name: str, ok: bool | None, copies: list[tuple[int, int, str]], at: float = 2.0) -> Op:
    values = [t.copy_value(name, p, o, v) for p, o, v in copies]
    offsets: dict[int, int] = {}
    for p, o, _ in copies:
        offsets[p] = max(offsets.get(p, 0), o + 1)
    return Op(TXN, "copier-0", at, at + 0.1, ok, name, group=GROUP, offsets=offsets, values=values)


def read(
    value: str, partition: int, offset: int, *, process: str = "reader-0", at: float = 3.0
) -> Op:
    return Op(READ, process, at, at, True, value, partition, offset, session=1)


def final(value: str, partition: int, offset: int) -> Op:
    return Op(READ, FINAL_READER, 9.0, 9.0, True, value, partition, offset)


def committed(offsets: dict[int, int]) -> Op:
    return Op(COMMITTED, FINAL_READER, 9.0, 9.1, True, group=GROUP, offsets=offsets)


T1 = txn("c.1", True, [(0, 0, "a"), (0, 1, "b")])
T2 = txn("c.2", False, [(0, 2, "c")])  # aborted on purpose
T3 = txn("c.3", True, [(0, 2, "c")], at=4.0)  # the same input copied again
# Output offsets: c.1's two records at 0, 1, its marker at 2; c.2's record at 3, marker 4;
# c.3's record at 5.
CLEAN = [
    sent("a", 0, 0),
    sent("b", 0, 1),
    sent("c", 0, 2),
    sent("d", 0, 3),  # not copied yet: above the committed offset
    T1,
    T2,
    T3,
    read(T1.values[0], 0, 0),
    read(T1.values[1], 0, 1),
    read(T3.values[0], 0, 5, at=4.5),
    final(T1.values[0], 0, 0),
    final(T1.values[1], 0, 1),
    final(T3.values[0], 0, 5),
    committed({0: 3}),
]


def check(ops: list[Op]) -> dict[str, list[str]]:
    found = t.check_txn(ops, heal_s=None, liveness_bound_s=10.0)
    return {kind: [a.detail for a in v] for kind, v in found.items() if v}


def test_a_clean_history_has_no_anomalies() -> None:
    assert set(t.check_txn(CLEAN, heal_s=None, liveness_bound_s=1.0)) == set(t.TXN_ANOMALY_KINDS)
    assert check(CLEAN) == {}


def test_parse_copy_round_trips_and_refuses_other_values() -> None:
    assert t.parse_copy(t.copy_value("c.1", 2, 30, "x|y")) == t.Copy("c.1", 2, 30, "x|y")
    assert t.parse_copy("s1in-3") is None
    assert t.parse_copy("a|b|c") is None
    assert t.parse_copy(None) is None


def test_g1a_a_record_of_an_aborted_transaction_read() -> None:
    found = check([*CLEAN, read(T2.values[0], 0, 3, process="reader-1")])
    assert found == {
        t.ABORTED_READ: [f"{T2.values[0]} (aborted) read at 0/3 by reader-1 at 3.000s"]
    }
    # The final read_committed read is held to it too.
    assert t.ABORTED_READ in check([*CLEAN, final(T2.values[0], 0, 3)])


def test_g1b_a_record_of_a_transaction_that_never_committed() -> None:
    # Its producer never learned the outcome, and the final read holds none of its records.
    t4 = txn("c.4", None, [(0, 3, "d")], at=5.0)
    found = check([*CLEAN, t4, read(t4.values[0], 0, 6, at=5.5)])
    assert found == {
        t.UNCOMMITTED_READ: [
            f"{t4.values[0]} read at 0/6 by reader-0 at 5.500s: its transaction never committed"
        ]
    }
    # The same unknown outcome, but the final read holds it: it committed, the read is fine.
    assert check([*CLEAN, t4, read(t4.values[0], 0, 6, at=5.5), final(t4.values[0], 0, 6)]) == {
        t.OFFSETS_BEHIND: ["input 0/3 copied by c.4, committed offset 3"]
    }
    # A record no transaction op announces at all (the copier died mid-transaction).
    orphan = t.copy_value("c.9", 0, 3, "d")
    assert t.UNCOMMITTED_READ in check([*CLEAN, read(orphan, 0, 6)])


def test_g1b_a_record_read_before_its_commit_was_asked_for() -> None:
    early = read(T3.values[0], 0, 5, process="reader-1", at=3.5)  # c.3 asked at 4.0
    found = check([*CLEAN, early])
    assert found == {
        t.UNCOMMITTED_READ: [
            f"{T3.values[0]} read at 0/5 by reader-1 at 3.500s, before its commit was asked "
            "for at 4.000s"
        ]
    }


def test_lost_committed_a_committed_transaction_missing_from_the_final_read() -> None:
    history = [op for op in CLEAN if not (op.process == FINAL_READER and op.value == T1.values[1])]
    found = check(history)
    assert found[t.LOST_COMMITTED] == [
        f"c.1 committed at 2.100s by copier-0: 1 of 2 records missing, first {T1.values[1]}"
    ]
    # ... which is also an input record below the committed offset without a copy.
    assert found[t.COPY_MISSING] == [
        "input b at 0/1: below the committed offset 3, not in the output"
    ]


def test_copy_duplicate_an_input_record_copied_by_two_committed_transactions() -> None:
    again = txn("c.4", True, [(0, 1, "b")], at=5.0)
    found = check(
        [*CLEAN, again, read(again.values[0], 0, 6, at=5.5), final(again.values[0], 0, 6)]
    )
    assert found == {t.COPY_DUPLICATE: ["input 0/1 copied by c.1, c.4"]}


def test_offsets_behind_output_a_copy_above_the_committed_offset() -> None:
    history = [op for op in CLEAN if op.kind != COMMITTED] + [committed({0: 2})]
    found = check(history)
    assert found == {t.OFFSETS_BEHIND: ["input 0/2 copied by c.3, committed offset 2"]}


def test_copy_missing_an_input_record_below_the_committed_offset_never_copied() -> None:
    history = [op for op in CLEAN if op.kind != COMMITTED] + [committed({0: 4})]
    assert check(history) == {
        t.COPY_MISSING: ["input d at 0/3: below the committed offset 4, not in the output"]
    }


def test_unexpected_copy_and_output_read_anomalies() -> None:
    stranger = read("not-a-copy", 0, 7)
    found = check([*CLEAN, stranger])
    assert found[t.UNEXPECTED_COPY] == ["not-a-copy read"]
    backwards = read(T1.values[0], 0, 0, at=5.0)  # after 0/5 in the same session
    assert t.OUTPUT_NONMONOTONIC in check([*CLEAN, backwards])
    assert t.OUTPUT_INCONSISTENT in check([*CLEAN, read(T3.values[0], 0, 1, process="r2")])


def test_txn_liveness_after_the_heal() -> None:
    assert t.txn_liveness(CLEAN, 3.9, 1.0) == []  # c.3 asked at 4.0, read at 4.5
    (late,) = t.txn_liveness(CLEAN, 3.9, 0.1)
    assert late.detail == "first transaction read after the heal took 0.600s > 0.1s"
    (none,) = t.txn_liveness(CLEAN, 4.1, 1.0)
    assert none.detail == "no transaction committed after the heal at 4.100s was read"


def test_txn_ops_survive_the_history_file(tmp_path: Path) -> None:
    path = tmp_path / "txn-history.jsonl"
    write_history(path, CLEAN)
    assert read_history(path) == CLEAN


# Kafka's TransactionalMessageCopier copies values unchanged: its input's sends carry its group,
# its transactions come from its status lines (no aborted ones), its copies are checked
# against the output and its group's own committed offsets.
JAVA = "copiers-java"


def java_sent(value: str, offset: int) -> Op:
    return Op(SEND, "jin", 0.5, 0.6, True, value, 0, offset, group=JAVA)


def java_txn(name: str, ok: bool | None, values: list[str], end: int, at: float = 2.0) -> Op:
    return Op(TXN, "java", at, at + 0.1, ok, name, group=JAVA, offsets={0: end}, values=values)


def java_committed(offset: int) -> Op:
    return Op(COMMITTED, FINAL_READER, 9.0, 9.1, True, group=JAVA, offsets={0: offset})


# Input offsets 0-2 copied by j.1 (0, 1) and j.2 (2) at output 0/6.., an aborted try of x2
# at 0/8 in between (its marker 0/9); x3 is not copied yet.
J1 = java_txn("j.1", True, ["x0", "x1"], 2)
J2 = java_txn("j.2", True, ["x2"], 3, at=4.0)
WITH_JAVA = [
    *CLEAN,
    *(java_sent(f"x{n}", n) for n in range(4)),
    J1,
    J2,
    read("x0", 0, 6, process="reader-0", at=3.1),
    read("x1", 0, 7, process="reader-0", at=3.2),
    read("x2", 0, 10, process="reader-0", at=4.5),
    final("x0", 0, 6),
    final("x1", 0, 7),
    final("x2", 0, 10),
    java_committed(3),
]


def test_unchanged_copies_of_a_clean_history_have_no_anomalies() -> None:
    assert check(WITH_JAVA) == {}
    # The liveness checker counts its transactions too: j.2 asked at 4.0, read at 4.5.
    assert t.txn_liveness([op for op in WITH_JAVA if op.process != "copier-0"], 3.9, 1.0) == []


def test_an_unchanged_copy_read_that_the_committed_output_does_not_hold() -> None:
    aborted = read("x2", 0, 8, process="reader-1", at=3.9)
    assert check([*WITH_JAVA, aborted]) == {
        t.UNCHANGED_NOT_COMMITTED: [
            "x2 read at 0/8 by reader-1 at 3.900s: not in the committed output"
        ]
    }


def test_unchanged_copies_are_checked_against_their_own_group() -> None:
    # Copied twice into the committed output.
    twice = check([*WITH_JAVA, final("x1", 0, 11)])
    assert twice == {t.COPY_DUPLICATE: [f"input {JAVA} 0/1 copied by j.1, j.1"]}
    # Its group's offset behind its output, or ahead of it; the other group's unchanged.
    behind = [op for op in WITH_JAVA if op.group != JAVA or op.kind != COMMITTED]
    assert check([*behind, java_committed(2)]) == {
        t.OFFSETS_BEHIND: [f"input {JAVA} 0/2 copied by j.2, committed offset 2"]
    }
    assert check([*behind, java_committed(4)]) == {
        t.COPY_MISSING: [f"input x3 at {JAVA} 0/3: below the committed offset 4, not in the output"]
    }
    # A committed transaction's record missing from the final read.
    lost = [op for op in WITH_JAVA if not (op.process == FINAL_READER and op.value == "x1")]
    found = check(lost)
    assert found[t.LOST_COMMITTED] == [
        "j.1 committed at 2.100s by java: 1 of 2 records missing, first x1"
    ]
    assert found[t.COPY_MISSING] == [
        f"input x1 at {JAVA} 0/1: below the committed offset 3, not in the output"
    ]


def test_an_unchanged_value_that_is_no_input_record_is_unexpected() -> None:
    assert check([*WITH_JAVA, read("x9", 0, 12)])[t.UNEXPECTED_COPY] == ["x9 read"]
