"""The transactional workload's pieces that need no broker: a client call that never returns
(librdkafka's send_offsets_to_transaction) is left behind, where a stuck worker is, and the
Java copier's transactions as its status lines tell them."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from .history import SEND, TXN, History, Op
from .java_copier import JavaCopier
from .txn_workload import ClientStuck, _bounded, _where
from .workloads import _Worker

BLOCK_TIMEOUT_S = 30.0


class _Blocked(_Worker):
    def __init__(self) -> None:
        super().__init__("blocked", 60.0)
        self.release = threading.Event()
        self.entered = threading.Event()

    def run(self) -> None:
        self.entered.set()
        self.release.wait(BLOCK_TIMEOUT_S)


def test_a_stuck_worker_is_reported_with_the_call_it_is_blocked_in() -> None:
    worker = _Blocked()
    worker.start()
    try:
        assert worker.entered.wait(BLOCK_TIMEOUT_S)
        where = _where(worker)
        assert where.startswith("threading.py:") and "wait" in where, where
    finally:
        worker.release.set()
        worker.stop()


def test_a_call_that_hangs_past_its_timeout_is_left_behind() -> None:
    release = threading.Event()

    def hangs(timeout_s: float) -> None:
        release.wait(BLOCK_TIMEOUT_S)

    try:
        with pytest.raises(ClientStuck, match="hangs not back 0.2s after the call"):
            _bounded(hangs, 0.1, margin_s=0.1)
    finally:
        release.set()


def test_a_bounded_call_returns_or_raises_as_the_call() -> None:
    seen: list[float] = []
    _bounded(seen.append, 5.0)
    assert seen == [5.0]

    def fails(timeout_s: float) -> None:
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        _bounded(fails, 5.0)


def test_the_java_copiers_transactions_come_from_its_status_lines(tmp_path: Path) -> None:
    history = History()
    for n in range(8):
        history.add(Op(SEND, "jin", 0.1, 0.2, True, f"x{n}", 0, n, group="g"))
    history.add(Op(SEND, "jin", 0.1, None, None, "x?", group="g"))  # never answered
    copier = JavaCopier(
        history, "127.0.0.1:1", "g", "java", "tid", tmp_path, input_topic="in", output_topic="out"
    )

    def status(total: int) -> None:
        copier._status({"stage": "ProcessLoop", "totalProcessed": total, "remaining": 9})

    copier._launching(0)
    for total in (0, 0, 2, 2, 3):  # a rise is a commit; none, an empty poll or an abort
        status(total)
    copier._launching(5)  # the launch committed offsets 3-4 and died before saying so
    status(0)
    status(2)
    copier._status({"stage": "ShutdownComplete", "totalProcessed": 3, "remaining": 0})
    copier.settle(8)  # the final committed offset: nothing unreported
    ops = copier.txn_ops()
    assert [(op.value, op.ok, op.values, op.offsets) for op in ops] == [
        ("java.1", True, ["x0", "x1"], {0: 2}),
        ("java.2", True, ["x2"], {0: 3}),
        ("java.3", None, ["x3", "x4"], {0: 5}),
        ("java.4", True, ["x5", "x6"], {0: 7}),
        ("java.5", True, ["x7"], {0: 8}),
    ]
    assert all(op.kind == TXN and op.group == "g" for op in ops)
    assert all(op.invoke_s is not None and op.invoke_s <= op.complete_s for op in ops)
    assert copier.committed == 4 and copier.unreported == 1 and copier.offsets_regressed == 0
    copier.settle(6)  # offsets gone backwards
    assert copier.offsets_regressed == 1


class _FatalProducer:
    """A producer in librdkafka's fatal state: every call raises the fatal error again."""

    def __init__(self, error: object) -> None:
        self.error = error

    def abort_transaction(self, timeout_s: float) -> None:
        raise _kafka_exception(self.error)

    def flush(self, timeout_s: float) -> int:
        raise _kafka_exception(self.error)


def _kafka_exception(error: object) -> BaseException:
    from confluent_kafka import KafkaException

    return KafkaException(error)


def test_a_copier_replaces_a_producer_that_failed_fatally() -> None:
    """Seed 5 (records,txn, 60 s): TxnOffsetCommit answered INVALID_TXN_STATE (fatal for
    librdkafka) by a group coordinator that did not know yet it had been deposed; the
    failed producer's flush raised the error again, the copier died and its transaction
    stayed open until its timeout, holding back the output's last stable offset (the final
    read then missed every later committed transaction). Now the copier goes on with a new
    producer, whose init_transactions aborts the open transaction."""
    from confluent_kafka import KafkaError

    from .history import History
    from .txn_workload import TxnCopier

    fatal = KafkaError(KafkaError.INVALID_TXN_STATE, "invalid state", fatal=True)
    copier = TxnCopier(History(), "127.0.0.1:1", "group", "copier-0", "txn-0")
    replacement = object()
    copier._new_producer = lambda: replacement  # type: ignore[method-assign]
    outcome, producer = copier._recover(_FatalProducer(fatal), _kafka_exception(fatal))
    assert outcome is None and producer is replacement
    assert copier.producers_replaced == 1
