"""Each checker on small hand-made histories: it passes a clean one and catches its anomaly."""

from __future__ import annotations

from pathlib import Path

from . import checkers as c
from .history import COMMIT, COMMITTED, FAULT, HEAL, READ, SEND, Op, read_history, write_history


def sent(value: str, partition: int, offset: int, t: float = 1.0, ok: bool | None = True) -> Op:
    return Op(SEND, "p0", t, t + 0.1, ok, value, partition, offset)


def read(value: str, partition: int, offset: int, *, process: str = "c0", session: int = 1) -> Op:
    return Op(READ, process, 2.0, 2.0, True, value, partition, offset, session=session)


def final(value: str, partition: int, offset: int) -> Op:
    return read(value, partition, offset, process=c.FINAL_READER, session=0)


def commit(offset: int, invoke_s: float, complete_s: float, *, kind: str = COMMIT) -> Op:
    return Op(kind, "c0", invoke_s, complete_s, True, group="g", offsets={0: offset})


CLEAN = [
    sent("a", 0, 0),
    sent("b", 0, 1),
    sent("c", 1, 0),
    sent("maybe", 1, 1, ok=None),  # never answered: may or may not be there
    read("a", 0, 0),
    read("b", 0, 1),
    read("c", 1, 0),
    final("a", 0, 0),
    final("b", 0, 1),
    final("c", 1, 0),
    commit(2, 3.0, 3.1),
    commit(2, 4.0, 4.1, kind=COMMITTED),
]


def test_a_clean_history_has_no_anomalies() -> None:
    found = c.check(CLEAN, liveness_bound_s=10.0)
    assert set(found) == set(c.ANOMALY_KINDS)
    assert not any(found.values()), found


def test_lost_write_is_an_acknowledged_value_missing_from_the_final_read() -> None:
    history = [*CLEAN, sent("d", 1, 1)]
    assert [a.detail for a in c.lost_writes(history)] == ["d acked at 1/1 by p0"]
    # Read by a consumer during the run but gone from the final read: still lost.
    assert len(c.lost_writes([*history, read("d", 1, 1)])) == 1
    # Failed or unanswered sends are not promises.
    assert c.lost_writes([*CLEAN, sent("e", 1, 1, ok=False), sent("f", 1, 1, ok=None)]) == []


def test_acknowledged_offset_must_be_where_the_value_is_read() -> None:
    history = [*CLEAN, sent("d", 1, 1), final("d", 1, 2)]
    (anomaly,) = c.ack_offset_mismatches(history)
    assert anomaly.detail == "d acked at 1/1, read at [(1, 2)]"


def test_conflicting_acks_are_two_values_acknowledged_at_one_offset() -> None:
    # Seed 4 of the first cluster run: acked at 1/2813 by a deposed leader, then 1/2813 again.
    history = [*CLEAN, sent("e", 1, 1, t=3.0), sent("f", 1, 1, t=5.0)]
    (anomaly,) = c.conflicting_acks(history)
    assert anomaly.detail == "1/1 acked as e to p0 at 3.100s; f to p0 at 5.100s"
    # One value acknowledged twice at one offset (a retry answered with its first offset).
    assert c.conflicting_acks([*CLEAN, sent("a", 0, 0, t=4.0)]) == []
    # Unanswered and failed sends promise no offset.
    assert c.conflicting_acks([*CLEAN, sent("g", 1, 0, ok=None), sent("h", 1, 0, ok=False)]) == []


def test_duplicate_is_one_value_at_two_offsets() -> None:
    history = [*CLEAN, final("a", 0, 2)]
    (anomaly,) = c.duplicates(history)
    assert anomaly.detail == "a at [(0, 0), (0, 2)]"
    # The same offset read by many readers is not a duplicate.
    assert c.duplicates([*CLEAN, read("a", 0, 0, process="c1")]) == []


def test_inconsistent_read_is_one_offset_with_two_values() -> None:
    history = [*CLEAN, read("x", 0, 1, process="c1")]
    (anomaly,) = c.inconsistent_reads(history)
    assert anomaly.detail == "0/1 read as b by c0,final; x by c1"
    # Two consumers disagreeing before any final read (a deposed leader served one of them).
    split = [read("y", 3, 7, process="c0"), read("z", 3, 7, process="c1")]
    (anomaly,) = c.inconsistent_reads(split)
    assert anomaly.detail == "3/7 read as y by c0; z by c1"


def test_truncated_read_is_a_record_read_that_the_final_log_lost() -> None:
    # c1 read "u" (never acknowledged) at 1/1, past what the final log ends at (1/0).
    history = [*CLEAN, sent("u", 1, 1, ok=None), read("u", 1, 1, process="c1")]
    (anomaly,) = c.truncated_reads(history)
    assert anomaly.detail == (
        "u read at 1/1 by c1 at 2.000s, not in the final log (past the final end 1)"
    )
    # Read below the final end, replaced there by another record: truncated too.
    replaced = [*CLEAN, sent("v", 0, 1, ok=None), read("v", 0, 1, process="c1")]
    (anomaly,) = c.truncated_reads(replaced)
    assert anomaly.detail.endswith("not in the final log")
    # Read, and still in the final log at another offset: not a truncation.
    assert c.truncated_reads([*CLEAN, read("a", 0, 0, process="c1")]) == []
    # No final read (an abandoned run): nothing to judge.
    assert c.truncated_reads([read("u", 1, 1)]) == []


def test_nonmonotonic_read_within_a_consumer_session() -> None:
    history = [*CLEAN, read("a", 0, 0)]  # c0 session 1 read 0/0 again after 0/1
    (anomaly,) = c.nonmonotonic_reads(history)
    assert anomaly.detail == "c0 session 1 read 0/0 after 0/1"
    # A new session (a rebalance) may read from the committed offset again.
    assert c.nonmonotonic_reads([*CLEAN, read("a", 0, 0, session=2)]) == []
    # Partitions are independent.
    assert c.nonmonotonic_reads([*CLEAN, read("d", 2, 0)]) == []


def test_commit_regression_against_an_earlier_acknowledged_commit() -> None:
    # The broker answered 1 after a commit of 2 had been acknowledged: a lost commit.
    history = [*CLEAN, commit(1, 5.0, 5.1, kind=COMMITTED)]
    (anomaly,) = c.commit_regressions(history)
    assert "committed 1" in anomaly.detail and "after 2" in anomaly.detail
    # A commit of a lower offset after a higher one was acknowledged.
    assert len(c.commit_regressions([*CLEAN, commit(1, 5.0, 5.1)])) == 1


def test_concurrent_commits_are_not_ordered() -> None:
    # Invoked before the commit of 5 completed: may see the older offset.
    history = [commit(2, 1.0, 1.1), commit(5, 2.0, 3.0), commit(2, 2.5, 2.6, kind=COMMITTED)]
    assert c.commit_regressions(history) == []
    # Failed commits promise nothing.
    failed = Op(COMMIT, "c0", 3.0, 3.1, False, group="g", offsets={0: 9})
    assert c.commit_regressions([*history, failed, commit(5, 4.0, 4.1, kind=COMMITTED)]) == []
    # Groups are independent.
    other = Op(COMMITTED, "c0", 5.0, 5.1, True, group="h", offsets={0: 0})
    assert c.commit_regressions([*history, other]) == []


def test_unexpected_value_was_never_sent() -> None:
    (anomaly,) = c.unexpected_values([*CLEAN, final("zzz", 2, 0)])
    assert anomaly.detail == "zzz"
    # An unanswered send explains a value.
    assert c.unexpected_values([*CLEAN, final("maybe", 1, 1)]) == []


def heal(at: float) -> Op:
    return Op(FAULT, "nemesis", at, at, True, HEAL)


def test_liveness_needs_a_record_sent_after_the_heal_and_read_within_the_bound() -> None:
    healed = [*CLEAN, Op(FAULT, "nemesis", 5.0, 6.0, True, "kill"), heal(10.0)]
    # Nothing sent after the heal.
    (anomaly,) = c.liveness(healed, bound_s=5.0)
    assert "no record sent after the heal" in anomaly.detail
    probe_sent = Op(SEND, "probe", 10.5, 11.0, True, "p", 0, 2)
    probe_read = Op(READ, "probe", 12.0, 12.0, True, "p", 0, 2)
    assert c.liveness([*healed, probe_sent, probe_read], bound_s=5.0) == []
    assert c.recovery_after_heal([*healed, probe_sent, probe_read]) == 2.0
    late = Op(READ, "probe", 20.0, 20.0, True, "p", 0, 2)
    (anomaly,) = c.liveness([*healed, probe_sent, late], bound_s=5.0)
    assert "took 10.000s > 5.0s" in anomaly.detail
    # Without faults there is nothing to recover from.
    assert c.liveness(CLEAN, bound_s=5.0) == []


def test_partition_liveness_needs_every_partition_to_serve_after_the_heal() -> None:
    healed = [*CLEAN, heal(10.0)]  # CLEAN acknowledged records in partitions 0 and 1
    p0_sent = Op(SEND, "probe", 10.5, 11.0, True, "q0", 0, 2)
    p0_read = Op(READ, "probe", 11.5, 11.5, True, "q0", 0, 2)
    (anomaly,) = c.partition_liveness([*healed, p0_sent, p0_read], bound_s=5.0)
    assert anomaly.detail == "partition 1: nothing sent after the heal was read"
    p1_sent = Op(SEND, "probe", 10.5, 19.0, True, "q1", 1, 1)
    p1_read = Op(READ, "probe", 19.5, 19.5, True, "q1", 1, 1)
    history = [*healed, p0_sent, p0_read, p1_sent, p1_read]
    assert c.partition_recovery_after_heal(history) == {0: 1.5, 1: 9.5}
    (anomaly,) = c.partition_liveness(history, bound_s=5.0)
    assert anomaly.detail == "partition 1: first read after the heal took 9.500s > 5.0s"
    assert c.partition_liveness(history, bound_s=10.0) == []
    # Without a heal there is nothing to recover from.
    assert c.partition_liveness(CLEAN, bound_s=5.0) == []


def test_crash_is_a_node_found_dead() -> None:
    crash = Op(FAULT, "nemesis", 7.0, 8.0, True, c.CRASH, error="exit code -7")
    (anomaly,) = c.crashes([*CLEAN, crash])
    assert anomaly.detail == "exit code -7 (found at 7.000s)"


def test_recovery_times_from_each_fault_to_the_next_ack() -> None:
    history = [
        Op(FAULT, "nemesis", 1.0, 2.0, True, "kill"),
        sent("a", 0, 0, t=1.5),  # acked at 1.6, during the fault
        sent("b", 0, 1, t=2.0),  # acked at 2.1
        Op(FAULT, "nemesis", 3.0, 4.0, True, "pause"),
        heal(5.0),
    ]
    times = c.recovery_times(history)
    assert [kind for kind, _ in times] == ["kill", "pause"]
    assert abs(times[0][1] - 0.1) < 1e-9 and times[1][1] is None
    # Several partitions: until the slowest one acknowledges again.
    partitioned = [*history[:3], sent("c", 1, 0, t=0.5), sent("d", 1, 1, t=3.0)]
    assert [round(t or 0.0, 6) for _, t in c.recovery_times(partitioned)] == [1.1]


def test_history_round_trips_through_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    history = [*CLEAN, Op(FAULT, "nemesis", 1.0, 2.0, True, "fill", error="node 0")]
    write_history(path, history)
    assert read_history(path) == history


def test_a_slow_commit_replayed_late_is_kafka_behaviour_not_a_regression() -> None:
    # A commit of 2 took 8 s (its client sent it twice); after a commit of 7, the group starts
    # again from 2 (the first copy applied late) and commits 4, then 6.
    slow = commit(2, 1.0, 9.0)
    history = [slow, commit(7, 9.5, 9.6), commit(4, 20.0, 20.1), commit(6, 21.0, 21.1)]
    assert c.commit_regressions(history) == []
    # Once started again, the group is judged from there: 3 after 6 is a regression.
    (anomaly,) = c.commit_regressions([*history, commit(3, 22.0, 22.1)])
    assert "commit 3" in anomaly.detail and "after 6" in anomaly.detail
    # A fast commit of 2 explains nothing: falling back to it is a lost commit.
    fast = [commit(2, 1.0, 1.1), commit(7, 9.5, 9.6), commit(4, 20.0, 20.1)]
    (anomaly,) = c.commit_regressions(fast)
    assert "commit 4" in anomaly.detail and "after 7" in anomaly.detail
    # Nor does a slow commit above the regressed offset.
    assert len(c.commit_regressions([commit(5, 1.0, 9.0), *fast[1:]])) == 1
