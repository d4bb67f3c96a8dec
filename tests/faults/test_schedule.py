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
