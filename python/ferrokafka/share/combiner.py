"""How stored state batches and a write's batches combine (Kafka 4.4's
``PersisterStateBatchCombiner``), sans-io.

Batches below the start offset are dropped and one straddling it is cut at it; then every
offset takes the batch covering it with the highest priority — the higher delivery count,
then the higher delivery state (ARCHIVED 4 > ACKNOWLEDGED 2 > AVAILABLE 0) — wherever it came
from (stored or new); adjacent runs with the same state and count are coalesced. A single
batch (after pruning) is returned as it is.
"""

from __future__ import annotations

from collections.abc import Iterable

from ferrokafka.share.persister import NOT_INITIALIZED, StateBatch


def _prune(batches: Iterable[StateBatch], start_offset: int) -> list[StateBatch]:
    kept: list[StateBatch] = []
    for b in batches:
        if start_offset != NOT_INITIALIZED and b.last_offset < start_offset:
            continue
        if start_offset == NOT_INITIALIZED or b.first_offset >= start_offset:
            kept.append(b)
        else:
            kept.append(StateBatch(start_offset, b.last_offset, b.delivery_state, b.delivery_count))
    return kept


def combine_state_batches(
    so_far: Iterable[StateBatch], new: Iterable[StateBatch], start_offset: int
) -> list[StateBatch]:
    """``so_far`` and ``new`` combined above ``start_offset`` (-1: no pruning)."""
    batches = _prune(so_far, start_offset) + _prune(new, start_offset)
    if len(batches) < 2:
        return batches
    # A sweep over begin/end events: at each boundary the highest-priority open batch rules.
    # Ends sort before begins at the same offset (end events sit at last_offset + 1).
    events = sorted(
        [(b.first_offset, 1, (b.delivery_count, b.delivery_state)) for b in batches]
        + [(b.last_offset + 1, 0, (b.delivery_count, b.delivery_state)) for b in batches]
    )
    open_counts: dict[tuple[int, int], int] = {}
    result: list[StateBatch] = []
    current: tuple[int, int] | None = None
    previous = -1
    i = 0
    while i < len(events):
        position = events[i][0]
        if current is not None and position > previous:
            _append_coalesced(result, previous, position - 1, current)
        while i < len(events) and events[i][0] == position:
            _, begin, priority = events[i]
            if begin:
                open_counts[priority] = open_counts.get(priority, 0) + 1
            elif open_counts[priority] == 1:
                del open_counts[priority]
            else:
                open_counts[priority] -= 1
            i += 1
        current = max(open_counts) if open_counts else None
        previous = position
    return result


def _append_coalesced(
    result: list[StateBatch], first: int, last: int, priority: tuple[int, int]
) -> None:
    count, state = priority
    if result:
        tail = result[-1]
        if (
            tail.last_offset + 1 == first
            and tail.delivery_state == state
            and tail.delivery_count == count
        ):
            result[-1] = StateBatch(tail.first_offset, last, state, count)
            return
    result.append(StateBatch(first, last, state, count))
