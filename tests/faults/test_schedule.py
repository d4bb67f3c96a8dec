"""The nemesis schedule: reproducible from its seed, bounded, faults never overlapping."""

from __future__ import annotations

import pytest

from . import schedule as s


def test_a_seed_gives_the_same_schedule_every_time() -> None:
    first = s.generate(7, 60.0, s.FAULT_KINDS)
    assert first == s.generate(7, 60.0, s.FAULT_KINDS)
    assert first != s.generate(8, 60.0, s.FAULT_KINDS)


def test_faults_fit_the_run_one_at_a_time() -> None:
    for seed in range(50):
        events = s.generate(seed, 40.0, s.FAULT_KINDS)
        assert events, seed
        assert events[0].at_s == s.WARMUP_S
        busy_until = 0.0
        for event in events:
            assert event.kind in s.FAULT_KINDS
            assert event.at_s >= busy_until
            low, high = s.HOLD_S[event.kind]
            assert low <= event.hold_s <= high
            busy_until = event.at_s + event.hold_s
        assert busy_until <= 40.0 - s.QUIET_TAIL_S


def test_only_the_faults_asked_for() -> None:
    events = s.generate(3, 120.0, (s.PAUSE,))
    assert {e.kind for e in events} == {s.PAUSE}
    with pytest.raises(ValueError):
        s.generate(3, 120.0, ("partition",))


def test_a_run_too_short_for_a_fault_has_none() -> None:
    assert s.generate(1, s.WARMUP_S + s.QUIET_TAIL_S, s.FAULT_KINDS) == []


def test_the_description_names_the_replay_command() -> None:
    events = s.generate(11, 30.0, s.DEFAULT_FAULTS)
    text = s.describe(11, 30.0, s.DEFAULT_FAULTS, events)
    assert "python -m tests.faults --seeds 11 --duration 30 --faults kill,pause,restart" in text
    assert len(text.splitlines()) == 2 + len(events)


def test_cluster_schedules_aim_at_nodes_leaders_and_controllers() -> None:
    events = s.generate(5, 300.0, s.CLUSTER_FAULTS, nodes=3, partitions=3)
    assert events == s.generate(5, 300.0, s.CLUSTER_FAULTS, nodes=3, partitions=3)
    assert {e.kind for e in events} == set(s.CLUSTER_FAULTS)
    assert {e.target for e in events} == set(s.TARGETS)
    assert {e.node for e in events} == {0, 1, 2}
    assert {e.partition for e in events if e.target == s.LEADER} == {0, 1, 2}
    assert all(e.partition == 0 for e in events if e.target != s.LEADER)
    assert "leader of p" in "\n".join(map(str, events))


def test_network_faults_need_several_nodes() -> None:
    with pytest.raises(ValueError, match="several nodes"):
        s.generate(3, 60.0, (s.PARTITION,))
    assert s.generate(3, 60.0, (s.PARTITION,), nodes=3)


def test_single_node_schedules_are_unchanged_by_the_cluster_draws() -> None:
    # Seed 63 replays the SIGBUS of a start on a full disk (test_single_node): its schedule
    # must stay what it was when that was found.
    events = s.generate(63, 30.0, s.FAULT_KINDS)
    assert [(e.at_s, e.kind, e.hold_s) for e in events] == [
        (3.0, s.FILL, 2.33),
        (7.78, s.KILL, 1.28),
        (12.29, s.PAUSE, 1.81),
        (17.63, s.FILL_KILL, 1.18),
        (22.79, s.RESTART, 0.0),
    ]
    assert all(e.target == s.NODE and e.node == 0 for e in events)
