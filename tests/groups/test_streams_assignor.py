"""The streams groups' sticky task assignor (ferrokafka.groups.streams.assignor): balance,
stickiness, warm standbys preferred, standby placement on other processes."""

from __future__ import annotations

from ferrokafka.groups.streams.assignor import TaskMember, all_tasks, assign_tasks

COUNTS = {"0": 4, "1": 2}


def actives(result: dict) -> dict[str, set]:
    return {m: set(t.active) for m, t in result.items()}


def test_every_task_is_active_once_and_balanced() -> None:
    members = {f"m{n}": TaskMember(process_id=f"p{n % 2}") for n in range(4)}
    result = assign_tasks(members, COUNTS)
    owned = [t for tasks in actives(result).values() for t in tasks]
    assert sorted(owned) == sorted(all_tasks(COUNTS))
    sizes = sorted(len(t) for t in actives(result).values())
    assert sizes[-1] - sizes[0] <= 1, sizes


def test_members_keep_their_tasks_when_one_joins() -> None:
    first = assign_tasks({"a": TaskMember("p1"), "b": TaskMember("p2")}, COUNTS)
    members = {m: TaskMember(f"p{m}", active=first[m].active) for m in first}
    members["c"] = TaskMember("p3")
    second = assign_tasks(members, COUNTS)
    assert sorted(len(second[m].active) for m in second) == [2, 2, 2]
    for m in ("a", "b"):  # each gives up one task, keeps the rest
        assert second[m].active <= first[m].active


def test_tasks_of_a_departed_member_go_to_a_warm_standby() -> None:
    members = {
        "a": TaskMember("p1", active=frozenset({("0", 0), ("0", 1)})),
        "b": TaskMember("p2", active=frozenset({("0", 2)}), standby=frozenset({("0", 3)})),
        "c": TaskMember("p3", active=frozenset({("1", 0), ("1", 1)})),
    }
    # d owned ("0", 3) and left; b had it as a standby
    result = assign_tasks(members, COUNTS)
    assert ("0", 3) in result["b"].active


def test_standbys_sit_on_other_processes_than_the_active() -> None:
    members = {f"m{n}": TaskMember(process_id=f"p{n % 3}") for n in range(6)}
    result = assign_tasks(members, COUNTS, standby_replicas=2)
    for task in all_tasks(COUNTS):
        holders = [m for m, t in result.items() if task in t.active or task in t.standby]
        assert len(holders) == 3, (task, holders)
        assert len({members[m].process_id for m in holders}) == 3, (task, holders)


def test_no_standby_without_another_process() -> None:
    members = {"a": TaskMember("p1"), "b": TaskMember("p1")}
    result = assign_tasks(members, COUNTS, standby_replicas=1)
    assert all(not t.standby for t in result.values())
    assert sum(len(t.active) for t in result.values()) == 6


def test_no_members_no_assignment() -> None:
    assert assign_tasks({}, COUNTS) == {}


def test_a_subtopology_spreads_over_the_members() -> None:
    result = assign_tasks({"a": TaskMember("p1"), "b": TaskMember("p2")}, {"0": 2, "1": 2})
    assert {s for s, _p in result["a"].active} == {"0", "1"}
    assert {s for s, _p in result["b"].active} == {"0", "1"}


def test_a_member_over_its_quota_keeps_tasks_of_every_subtopology() -> None:
    everything = frozenset(all_tasks({"0": 2, "1": 2}))
    members = {"a": TaskMember("p1", active=everything), "b": TaskMember("p2")}
    result = assign_tasks(members, {"0": 2, "1": 2})
    assert result["a"].active == {("0", 0), ("1", 0)}
    assert result["b"].active == {("0", 1), ("1", 1)}
