"""The history of a fault-injection run: every operation a workload or the nemesis performed,
with its invocation time, completion time and result, in the order it was recorded.

An :class:`Op` is one of:

- ``send``: a producer sent ``value``; ``ok`` True with the acknowledged ``partition`` and
  ``offset``, False with ``error`` (a definite failure), or None (never answered: the record
  may or may not be in the log; checkers treat it as indeterminate, as Jepsen does);
  ``group``, when set, names the copier group whose input it is, a copier that copies values
  unchanged (Kafka's ``TransactionalMessageCopier``, :mod:`.java_copier`).
- ``read``: a consumer saw ``value`` at ``partition``/``offset``; ``process`` and ``session``
  name the consumer and its assignment (a new session starts at every rebalance).
- ``commit``: a consumer committed ``offsets`` (partition -> next offset) for ``group``.
- ``committed``: the committed ``offsets`` of ``group`` as the broker answered them.
- ``txn``: a transactional copier ended transaction ``value`` (its id): ``ok`` True when
  ``commit_transaction`` returned, False when ``abort_transaction`` did, None when neither is
  known (a commit that timed out, a fenced or fatal producer); ``values`` are the records it
  produced, ``offsets`` the input offsets it sent with ``sendOffsetsToTransaction``;
  ``invoke_s`` is when the commit (or abort) was asked for (:mod:`.txn_workload`; for the
  Java copier, the status line before the transaction, :mod:`.java_copier`).
- ``fault``: the nemesis began (``invoke_s``) and ended (``complete_s``) fault ``value``;
  ``heal`` marks the moment every fault is over.

Times are seconds since the run began (``time.monotonic()`` based, one clock for all).
A :class:`History` is appended to from many threads; checkers read a plain list of Ops.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

SEND = "send"
READ = "read"
COMMIT = "commit"
COMMITTED = "committed"
FAULT = "fault"
HEAL = "heal"
TXN = "txn"
KINDS = frozenset({SEND, READ, COMMIT, COMMITTED, FAULT, TXN})
# A run records a few thousand operations per second at most; this bounds memory if a
# workload ever spins.
OPS_MAX = 2_000_000


@dataclass(frozen=True)
class Op:
    kind: str
    process: str
    invoke_s: float | None = None
    complete_s: float | None = None
    ok: bool | None = None
    value: str | None = None
    partition: int | None = None
    offset: int | None = None
    error: str | None = None
    session: int = 0
    group: str | None = None
    offsets: dict[int, int] = field(default_factory=dict)
    values: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        assert self.kind in KINDS, self.kind

    def to_json(self) -> str:
        # Absent fields are left out (the file stays short); 0 is a partition or an offset.
        fields = {
            k: v
            for k, v in asdict(self).items()
            if v is not None and k not in ("offsets", "values")
        }
        if self.values:
            fields["values"] = list(self.values)
        if self.offsets:
            fields["offsets"] = {str(p): o for p, o in self.offsets.items()}
        return json.dumps(fields, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> Op:
        fields = json.loads(line)
        if "offsets" in fields:
            fields["offsets"] = {int(p): o for p, o in fields["offsets"].items()}
        return cls(**fields)


class History:
    """A thread-safe, bounded, append-only list of Ops with one clock."""

    def __init__(self, started: float | None = None) -> None:
        self._started = time.monotonic() if started is None else started
        self._ops: list[Op] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        """Seconds since the run began."""
        return time.monotonic() - self._started

    def add(self, op: Op) -> None:
        with self._lock:
            if len(self._ops) >= OPS_MAX:
                raise RuntimeError(f"history holds {OPS_MAX} operations: a workload is spinning")
            self._ops.append(op)

    def ops(self) -> list[Op]:
        with self._lock:
            return list(self._ops)

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops())

    def __len__(self) -> int:
        with self._lock:
            return len(self._ops)

    def dump(self, path: Path) -> None:
        write_history(path, self.ops())


def write_history(path: Path, ops: Iterable[Op]) -> None:
    """One JSON object a line (``history.jsonl`` of a run's directory)."""
    with open(path, "w") as out:
        for op in ops:
            out.write(op.to_json() + "\n")


def read_history(path: Path) -> list[Op]:
    with open(path) as lines:
        return [Op.from_json(line) for line in lines if line.strip()]
