"""Kafka's own ``TransactionalMessageCopier`` (org.apache.kafka.tools, the copier of Kafka's
transaction system tests) as a copier of the txn workload (:mod:`.txn_workload`).

It runs as Kafka runs it: one process per input partition, manual assignment
(``--input-partition``), ``--use-group-metadata``, ``--enable-random-aborts`` (a third of its
transactions aborted), each record copied unchanged (key and value) to the same partition of
the output topic. A launch copies what its partition held when it started (its
``remaining``, at most ``LAUNCH_RECORDS_MAX``) and exits, or dies (fenced, a timeout);
:class:`JavaCopier` launches it again every ``LAUNCH_EVERY_S`` until its deadline (the end of
the faults; the launch then running finishes), so it runs through the faults the way Kafka's
tests bounce it. Its input is a topic of its own (one partition), written by an idempotent
producer whose send ops carry the copier's group (:mod:`.history`).

It prints no per-transaction event: before every poll a status line (``stage``
``ProcessLoop``; ``ShutdownComplete`` from its shutdown hook, at any exit) with
``totalProcessed``, the records of the transactions it committed. A rise of ``n`` between two
lines is one committed transaction of ``n`` records, and as it always copies from the group's
committed offset (it seeks back there after an abort), those are the next ``n`` input offsets.
Before each launch but the first (the group is the run's own, new) the group's committed
offset is read (read_committed: KIP-447's stable offsets, once a dead launch's transaction is
over): above where the reported commits reached, the launch before committed a transaction it
did not live to report (a ``txn`` op with an unknown outcome for the records between).
Aborted transactions are not seen; its copies are checked through the output topic instead
(:mod:`.txn_checkers`). Each transaction becomes a ``txn`` op once the run is over and the
input's offsets are all known (:meth:`txn_ops`).
"""

from __future__ import annotations

import json
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .history import COMMITTED, SEND, TXN, History, Op
from .workloads import (
    CLIENT_LOG,
    JAVA_OPTIONS,
    VerifiableTool,
    _client_config,
    _Worker,
)

COPIER_CLASS = "org.apache.kafka.tools.TransactionalMessageCopier"
TRANSACTION_SIZE = 20
# A launch that dies mid-transaction holds the input's offsets (the next launch waits for
# them to be stable) and the output's last stable offset until the broker aborts it.
TRANSACTION_TIMEOUT_MS = 15_000
LAUNCH_EVERY_S = 3.0
# Records a launch copies at most (``--max-messages``; it may go over by a transaction): the
# launch running at the deadline finishes them first.
LAUNCH_RECORDS_MAX = 200
LAUNCHES_MAX = 200
# Past the deadline (or on stop), the launch running has this long to finish what it saw,
# then SIGTERM and SIGKILL; within the worker's join timeout.
FINISH_TIMEOUT_S = 30.0
SIGNAL_TIMEOUT_S = 10.0
OFFSET_TIMEOUT_S = 10.0
WAIT_S = 0.2


@dataclass
class _Txn:
    """A transaction inferred from the status lines: input offsets ``start``..``end``."""

    txn: str
    start: int
    end: int
    invoke_s: float | None
    complete_s: float
    ok: bool | None
    error: str | None = None


class _Launch(VerifiableTool):
    """One copier process; its status lines go to the copier."""

    def __init__(self, copier: JavaCopier) -> None:
        self.copier = copier
        self.name = copier.name
        self.work_dir = copier.work_dir

    def _command(self) -> list[str]:
        from kafka_support.jars import java_executable, kafka_classpath

        c = self.copier
        return [
            java_executable(),
            *JAVA_OPTIONS,
            "-cp",
            kafka_classpath(),
            COPIER_CLASS,
            "--broker-list",
            c.bootstrap,
            "--input-topic",
            c.input_topic,
            "--input-partition",
            str(c.partition),
            "--output-topic",
            c.output_topic,
            "--transactional-id",
            c.transactional_id,
            "--consumer-group",
            c.group,
            "--transaction-size",
            str(TRANSACTION_SIZE),
            "--max-messages",
            str(LAUNCH_RECORDS_MAX),
            "--transaction-timeout",
            str(TRANSACTION_TIMEOUT_MS),
            "--use-group-metadata",
            "--enable-random-aborts",
        ]

    def _event(self, event: dict[str, Any]) -> None:
        with open(self.work_dir / f"{self.name}.out", "a") as out:
            out.write(json.dumps(event) + "\n")
        self.copier._status(event)

    @property
    def process(self) -> Any:
        return self._process


class JavaCopier(_Worker):
    """Launches of TransactionalMessageCopier copying ``partition`` of ``input_topic`` (see
    the module doc); ``committed`` counts the transactions it reported committed."""

    def __init__(
        self,
        history: History,
        bootstrap: str,
        group: str,
        name: str,
        transactional_id: str,
        work_dir: Path,
        *,
        input_topic: str,
        output_topic: str,
        partition: int = 0,
        duration_s: float = 3600.0,
        launch_every_s: float = LAUNCH_EVERY_S,
    ) -> None:
        super().__init__(name, duration_s)
        self.history = history
        self.bootstrap = bootstrap
        self.group = group
        self.transactional_id = transactional_id
        self.work_dir = Path(work_dir)
        self.input_topic = input_topic
        self.output_topic = output_topic
        self.partition = partition
        self.launch_every_s = launch_every_s
        self.launches = 0
        self.failed_launches = 0
        self.committed = 0
        self.unreported = 0
        self.offsets_regressed = 0
        self._lock = threading.Lock()
        self._txns: list[_Txn] = []
        self._position = 0  # the input offset the reported commits reached
        self._reported = 0  # totalProcessed of the current launch
        self._last_status_s: float | None = None
        self._exit: str | None = None

    def run(self) -> None:
        next_at = time.monotonic()
        for _ in range(LAUNCHES_MAX):
            if self._stop.wait(max(0.0, next_at - time.monotonic())) or self.stopping:
                break
            next_at = time.monotonic() + self.launch_every_s
            # The group is the run's own: the first launch starts from the beginning.
            start = self._committed_offset() if self.launches else 0
            if start is None:
                continue
            self._launching(start)
            launch = _Launch(self)
            self.launches += 1
            launch.start()
            code = self._wait(launch)
            if code != 0:
                self.failed_launches += 1
                CLIENT_LOG.info("%s: launch %d exited %s", self.name, self.launches, code)
            self._exit = f"launch {self.launches} exited {code}"

    def _wait(self, launch: _Launch) -> int | None:
        """Until the launch exits; once stopping, ``FINISH_TIMEOUT_S`` more, then SIGTERM
        and SIGKILL, by PID. Its exit code."""
        process = launch.process
        while process.poll() is None and not self.stopping:
            time.sleep(WAIT_S)
        launch._end((None,), FINISH_TIMEOUT_S)
        launch._end((signal.SIGTERM, signal.SIGKILL), SIGNAL_TIMEOUT_S)
        return process.returncode

    def _launching(self, start: int) -> None:
        """A launch is about to start from the group's committed offset ``start``."""
        self.settle(start)
        with self._lock:
            self._reported = 0
            self._last_status_s = None

    def _status(self, event: dict[str, Any]) -> None:
        """A status line: a rise of ``totalProcessed`` is a committed transaction."""
        total = event.get("totalProcessed")
        if not isinstance(total, int):
            return
        now = self.history.now()
        with self._lock:
            if total > self._reported:
                records = total - self._reported
                self._add(self._position, self._position + records, self._last_status_s, now, True)
                self._position += records
                self._reported = total
                self.committed += 1
            self._last_status_s = now

    def _add(
        self,
        start: int,
        end: int,
        invoke_s: float | None,
        complete_s: float,
        ok: bool | None,
        error: str | None = None,
    ) -> None:
        txn = f"{self.name}.{len(self._txns) + 1}"
        self._txns.append(_Txn(txn, start, end, invoke_s, complete_s, ok, error))

    def settle(self, committed: int) -> None:
        """The group's committed offset read now (before a launch, after the run): above the
        reported commits, the last launch committed a transaction it did not report."""
        with self._lock:
            if committed > self._position:
                self.unreported += 1
                error = f"{self._exit}: not reported, the group's offset moved on"
                now = self.history.now()
                self._add(self._position, committed, self._last_status_s, now, None, error)
            elif committed < self._position:
                self.offsets_regressed += 1
                CLIENT_LOG.error(
                    "%s: committed offset %d below the reported commits' %d",
                    self.name,
                    committed,
                    self._position,
                )
            self._position = committed

    def _committed_offset(self) -> int | None:
        """The group's stable committed offset of the input partition (0 when none); a
        ``committed`` op of this process. None when the broker did not answer."""
        from confluent_kafka import Consumer, KafkaException, TopicPartition

        consumer = Consumer(
            {
                **_client_config(self.bootstrap),
                "group.id": self.group,
                "enable.auto.commit": False,
                "isolation.level": "read_committed",  # require_stable
            }
        )
        try:
            invoked = self.history.now()
            (tp,) = consumer.committed(
                [TopicPartition(self.input_topic, self.partition)], timeout=OFFSET_TIMEOUT_S
            )
            if tp.error is not None:
                raise KafkaException(tp.error)
            offset = max(tp.offset, 0)
            self.history.add(
                Op(
                    COMMITTED,
                    self.name,
                    invoked,
                    self.history.now(),
                    True,
                    group=self.group,
                    offsets={self.partition: offset},
                )
            )
            return offset
        except KafkaException as exc:
            CLIENT_LOG.info("%s: committed offset: %s", self.name, exc)
            return None
        finally:
            consumer.close()

    def txn_ops(self) -> list[Op]:
        """Its transactions as ``txn`` ops, each with the input records of its offsets (those
        whose send was acknowledged) as its values; after :meth:`settle` with the final
        committed offset."""
        inputs = {
            op.offset: str(op.value)
            for op in self.history.ops()
            if op.kind == SEND
            and op.ok
            and op.group == self.group
            and op.partition == self.partition
        }
        with self._lock:
            txns = list(self._txns)
        return [
            Op(
                TXN,
                self.name,
                t.invoke_s,
                t.complete_s,
                t.ok,
                t.txn,
                error=t.error,
                group=self.group,
                offsets={self.partition: t.end},
                values=[inputs[o] for o in range(t.start, t.end) if o in inputs],
            )
            for t in txns
        ]
