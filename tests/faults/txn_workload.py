"""The transactional workload: a consume-transform-produce copier in the style of Kafka's
``TransactionalMessageCopier``, with confluent-kafka's transactional producer, under faults;
its operations go to a history of their own (``txn-history.jsonl``, one clock with the run's),
checked by :mod:`.txn_checkers`.

- Input: an idempotent acks=all :class:`~.workloads.RdkafkaProducer` writes ``txn-in``.
- :class:`TxnCopier` (``COPIERS`` of them in one classic consumer group): reads ``txn-in``
  read_committed, and per batch begins a transaction, produces each record to the same
  partition of ``txn-out`` as ``<txn id>|<partition>:<offset>|<value>``, sends the input
  offsets with ``send_offsets_to_transaction`` (the group's metadata: KIP-447 fencing), and
  commits; every ``ABORT_EVERY``-th transaction it aborts on purpose, and it aborts on any
  error that asks for it. After an abort (or an unknown outcome) it rewinds its consumer to
  the group's committed offsets, as Kafka's copier does. A fatal error (fenced, or the
  coordinator lost the transaction) or an abort that fails replaces the producer (its
  ``init_transactions`` ends the old one's transaction). Each transaction is one ``txn`` op.
- :class:`~.java_copier.JavaCopier` (with ``java_copier``): Kafka's own
  ``TransactionalMessageCopier`` copying ``txn-java-in`` (one partition, its own idempotent
  producer and group) unchanged into partition 0 of ``txn-out``, beside the copies above.
- :class:`ReadCommittedReader`: a read_committed group consumer of ``txn-out``.
- :func:`final_read_committed`: every output partition read read_committed to its end.

Every loop is bounded in count and time; threads stop on ``stop()`` (joined with a timeout).
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
import uuid
from pathlib import Path
from typing import Any

from .history import READ, SEND, TXN, History, Op
from .java_copier import JavaCopier
from .txn_checkers import copy_value
from .workloads import (
    CLIENT_LOG,
    CONSUME_BATCH_MAX,
    FINAL_READ_TIMEOUT_S,
    POLL_TIMEOUT_S,
    REQUEST_TIMEOUT_MS,
    GroupConsumer,
    RdkafkaProducer,
    _client_config,
    _Worker,
    committed_offsets,
)

INPUT_TOPIC = "txn-in"
OUTPUT_TOPIC = "txn-out"
# The Java copier's input: one partition, copied to partition 0 of OUTPUT_TOPIC.
JAVA_INPUT_TOPIC = "txn-java-in"
JAVA_INPUT_RATE_PER_S = 30
COPIERS = 2
READERS = 1
INPUT_RATE_PER_S = 100
# Every ABORT_EVERY-th transaction of a copier is aborted on purpose.
ABORT_EVERY = 5
# Records per transaction at most (a batch of the consumer).
TXN_RECORDS_MAX = 100
# Below the broker's transaction.max.timeout.ms (15 min); long enough to ride out a fault.
TRANSACTION_TIMEOUT_MS = 60_000
TXN_CALL_TIMEOUT_S = 30.0
COMMIT_ATTEMPTS_MAX = 5
INIT_ATTEMPTS_MAX = 10
COPIER_POLLS_MAX = 1_000_000
CONSUMER_REPLACEMENTS_MAX = 100
# librdkafka 2.16's re-bootstrap (its default once every broker was down: the single node
# killed) can leave send_offsets_to_transaction blocked past its timeout, forever: the
# TxnOffsetCommit stays queued on a broker handle being decommissioned ("Handle is
# terminating in state INIT", every millisecond). The producer keeps its brokers instead.
METADATA_RECOVERY = "none"
# On a cluster it still hangs there when the group coordinator's broker leaves the metadata
# (killed, fenced: librdkafka issues #5456, the timeout is never checked, and #5511, a
# decommissioned coordinator is never looked up again), against Apache Kafka 4.4 too. The
# call runs in a helper thread; not back STUCK_MARGIN_S after its timeout, the copier leaves
# it blocked there and goes on with a new producer (its init_transactions fences the stuck
# one) and a new consumer.
STUCK_MARGIN_S = 10.0


class ClientStuck(Exception):
    """A librdkafka call did not return within its timeout and the margin."""


class TxnCopier(_Worker):
    """One transactional copier (see the module doc): ``txn`` ops with outcome, values and
    input offsets; ``committed``/``aborted``/``unknown`` count them."""

    def __init__(
        self,
        history: History,
        bootstrap: str,
        group: str,
        name: str,
        transactional_id: str,
        *,
        duration_s: float = 3600.0,
        abort_every: int = ABORT_EVERY,
        request_timeout_ms: int = REQUEST_TIMEOUT_MS,
    ) -> None:
        super().__init__(name, duration_s)
        self.history = history
        self.bootstrap = bootstrap
        self.group = group
        self.transactional_id = transactional_id
        self.abort_every = abort_every
        self.request_timeout_ms = request_timeout_ms
        self.count = 0
        self.committed = 0
        self.aborted = 0
        self.unknown = 0
        self.producers_replaced = 0
        self.consumers_replaced = 0
        self.stuck = 0

    # -- clients -------------------------------------------------------------------------------

    def _new_producer(self) -> Any:
        from confluent_kafka import KafkaException, Producer

        config = {
            **_client_config(self.bootstrap),
            "transactional.id": self.transactional_id,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "transaction.timeout.ms": TRANSACTION_TIMEOUT_MS,
            "message.timeout.ms": TRANSACTION_TIMEOUT_MS,
            "request.timeout.ms": self.request_timeout_ms,
            "socket.timeout.ms": self.request_timeout_ms,
            "retry.backoff.ms": 50,
            "metadata.recovery.strategy": METADATA_RECOVERY,
        }
        if os.environ.get("TXN_DEBUG"):
            config["debug"] = os.environ["TXN_DEBUG"]
            del config["logger"]
        for attempt in range(INIT_ATTEMPTS_MAX):
            producer = Producer(config)
            try:
                producer.init_transactions(TXN_CALL_TIMEOUT_S)
                return producer
            except KafkaException as exc:
                CLIENT_LOG.info("%s: init_transactions (%d): %s", self.name, attempt, exc)
                if self.stopping:
                    break
        raise RuntimeError(f"{self.name}: init_transactions failed {INIT_ATTEMPTS_MAX} times")

    def _new_consumer(self) -> Any:
        from confluent_kafka import Consumer

        consumer = Consumer(
            {
                **_client_config(self.bootstrap),
                "group.id": self.group,
                "group.protocol": "classic",
                "client.id": self.name,
                "isolation.level": "read_committed",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 10_000,
                "heartbeat.interval.ms": 1_000,
                "enable.partition.eof": False,
            }
        )
        consumer.subscribe([INPUT_TOPIC])
        return consumer

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> None:
        producer = self._new_producer()
        consumer = self._new_consumer()
        try:
            for _ in range(COPIER_POLLS_MAX):
                if self.stopping:
                    break
                messages = []
                for msg in consumer.consume(TXN_RECORDS_MAX, POLL_TIMEOUT_S):
                    if msg.error() is None:
                        messages.append(msg)
                    else:
                        CLIENT_LOG.info("%s: %s", self.name, msg.error())
                if not messages:
                    continue
                stuck = self.stuck
                outcome, producer = self._transact(producer, consumer, messages)
                if self.stuck > stuck:
                    consumer.close()  # leaves the group: its partitions are assigned again
                    consumer = self._new_consumer()
                elif outcome is not True:
                    consumer = self._rewind(consumer)
        finally:
            producer.flush(TXN_CALL_TIMEOUT_S)
            consumer.close()

    def _transact(self, producer: Any, consumer: Any, messages: list[Any]) -> tuple[Any, Any]:
        """One transaction copying ``messages``; its outcome (True committed, False aborted,
        None unknown) and the producer to go on with."""
        from confluent_kafka import KafkaException, TopicPartition

        self.count += 1
        txn = f"{self.name}.{self.count}"
        values: list[str] = []
        offsets: dict[int, int] = {}
        invoked: float | None = None
        outcome: bool | None = None
        error: str | None = None
        try:
            producer.begin_transaction()
            for msg in messages:
                value = copy_value(
                    txn, msg.partition(), msg.offset(), msg.value().decode(errors="replace")
                )
                values.append(value)
                producer.produce(OUTPUT_TOPIC, value.encode(), partition=msg.partition())
                offsets[msg.partition()] = msg.offset() + 1
                producer.poll(0)
            positions = [TopicPartition(INPUT_TOPIC, p, o) for p, o in sorted(offsets.items())]
            _bounded(
                producer.send_offsets_to_transaction,
                positions,
                consumer.consumer_group_metadata(),
                TXN_CALL_TIMEOUT_S,
            )
            invoked = self.history.now()
            if self.count % self.abort_every == 0:
                producer.abort_transaction(TXN_CALL_TIMEOUT_S)
                outcome = False
            else:
                self._commit(producer)
                outcome = True
        except (KafkaException, BufferError) as exc:
            error = str(exc)
            CLIENT_LOG.info("%s: %s: %s", self.name, txn, exc)
            if invoked is None:
                invoked = self.history.now()
            outcome, producer = self._recover(producer, exc)
        except ClientStuck as exc:
            error = str(exc)
            CLIENT_LOG.error("%s: %s: %s; a new producer and consumer", self.name, txn, exc)
            invoked = self.history.now()
            self.stuck += 1
            self.producers_replaced += 1
            producer = self._new_producer()
        finally:
            self.history.add(
                Op(
                    TXN,
                    self.name,
                    invoked,
                    self.history.now(),
                    outcome,
                    txn,
                    error=error,
                    group=self.group,
                    offsets=offsets,
                    values=values,
                )
            )
        if outcome is True:
            self.committed += 1
        elif outcome is False:
            self.aborted += 1
        else:
            self.unknown += 1
        return outcome, producer

    def _commit(self, producer: Any) -> None:
        """commit_transaction, again while its error is retriable (bounded)."""
        from confluent_kafka import KafkaException

        for attempt in range(COMMIT_ATTEMPTS_MAX):
            try:
                producer.commit_transaction(TXN_CALL_TIMEOUT_S)
                return
            except KafkaException as exc:
                if not exc.args[0].retriable() or attempt + 1 == COMMIT_ATTEMPTS_MAX:
                    raise
                CLIENT_LOG.info("%s: commit again: %s", self.name, exc)

    def _recover(self, producer: Any, exc: BaseException) -> tuple[bool | None, Any]:
        """After an error in a transaction: abort it if the producer can (False), else a new
        producer ends it (None: it may have committed)."""
        from confluent_kafka import KafkaException

        err = exc.args[0] if isinstance(exc, KafkaException) else None
        if err is None or not err.fatal():
            try:
                producer.abort_transaction(TXN_CALL_TIMEOUT_S)
                return False, producer
            except KafkaException as again:
                CLIENT_LOG.info("%s: abort failed: %s", self.name, again)
        self.producers_replaced += 1
        try:
            producer.flush(0)
        except KafkaException as again:  # a producer in a fatal state raises it again here
            CLIENT_LOG.info("%s: flush of the failed producer: %s", self.name, again)
        return None, self._new_producer()

    def _rewind(self, consumer: Any) -> Any:
        """Seek the assigned partitions to the group's committed offsets (what an aborted
        transaction read is read again); a consumer that cannot is replaced (its successor
        starts from the committed offsets when it joins)."""
        from confluent_kafka import OFFSET_BEGINNING, KafkaException, TopicPartition

        try:
            assignment = consumer.assignment()
            if not assignment:
                return consumer
            for tp in consumer.committed(assignment, timeout=TXN_CALL_TIMEOUT_S):
                offset = tp.offset if tp.offset >= 0 else OFFSET_BEGINNING
                consumer.seek(TopicPartition(INPUT_TOPIC, tp.partition, offset))
            return consumer
        except KafkaException as exc:
            if self.consumers_replaced >= CONSUMER_REPLACEMENTS_MAX:
                raise
            CLIENT_LOG.info("%s: rewind failed, a new consumer: %s", self.name, exc)
            self.consumers_replaced += 1
            consumer.close()
            return self._new_consumer()


def _bounded(call: Any, *args: Any, margin_s: float = STUCK_MARGIN_S) -> None:
    """``call(*args)`` in a helper thread (a daemon: it may never return); ClientStuck when
    it has not returned ``margin_s`` after the timeout (the last argument)."""
    done = threading.Event()
    failed: list[BaseException] = []

    def target() -> None:
        try:
            call(*args)
        except BaseException as exc:  # handed to the caller
            failed.append(exc)
        finally:
            done.set()

    threading.Thread(target=target, name=f"bounded-{call.__name__}", daemon=True).start()
    if not done.wait(args[-1] + margin_s):
        raise ClientStuck(f"{call.__name__} not back {args[-1] + margin_s}s after the call")
    if failed:
        raise failed[0]


class ReadCommittedReader(GroupConsumer):
    """A read_committed group consumer of the output topic (reads recorded, commits after
    each batch, as :class:`~.workloads.GroupConsumer`)."""

    def _config(self) -> dict[str, Any]:
        return {**super()._config(), "isolation.level": "read_committed"}


def final_read_committed(
    history: History,
    bootstrap: str,
    topic: str,
    partitions: int,
    *,
    timeout_s: float = FINAL_READ_TIMEOUT_S,
) -> dict[int, int]:
    """Read every partition read_committed from the start to its end (process ``final``):
    done when the consumer's position passed the high watermark (the transaction markers are
    not delivered, so the last offset read is not the end). Returns the partitions whose
    position stopped short (a transaction still open holds the last stable offset back)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    deadline = time.monotonic() + timeout_s
    consumer = Consumer(
        {
            **_client_config(bootstrap),
            "group.id": f"faults-final-{uuid.uuid4().hex[:8]}",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        }
    )
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        ends = {
            p: consumer.get_watermark_offsets(tp, timeout=timeout_s, cached=False)[1]
            for p, tp in enumerate(tps)
        }
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        reached = {p: 0 for p in ends}
        while time.monotonic() < deadline:
            for msg in consumer.consume(CONSUME_BATCH_MAX, POLL_TIMEOUT_S):
                if msg.error() is not None:
                    continue
                done = history.now()
                value = msg.value().decode(errors="replace") if msg.value() is not None else None
                history.add(
                    Op(READ, "final", done, done, True, value, msg.partition(), msg.offset())
                )
            for tp in consumer.position(tps):
                reached[tp.partition] = max(reached[tp.partition], tp.offset)
            if all(reached[p] >= ends[p] for p in ends):
                return {}
        return {p: reached[p] for p in ends if reached[p] < ends[p]}
    finally:
        consumer.close()


def _where(worker: _Worker) -> str:
    """The innermost frame of a stuck worker's thread (the client call it is blocked in)."""
    frame = sys._current_frames().get(worker._thread.ident or -1)
    if frame is None:
        return "?"
    stack = traceback.extract_stack(frame)
    CLIENT_LOG.error("%s stuck:\n%s", worker.name, "".join(traceback.format_list(stack)))
    return f"{stack[-1].filename.rsplit('/', 1)[-1]}:{stack[-1].lineno} {stack[-1].line}"


class TxnWorkload:
    """The input producer, the copiers and the readers of one run, on their own history."""

    def __init__(
        self,
        history: History,
        bootstrap: str,
        seed: int,
        partitions: int,
        *,
        duration_s: float,
        request_timeout_ms: int = REQUEST_TIMEOUT_MS,
        rate_per_s: int = INPUT_RATE_PER_S,
        java_work_dir: Path | None = None,
    ) -> None:
        """With ``java_work_dir`` (its logs go there), the Java copier and its input too."""
        self.history = history
        self.bootstrap = bootstrap
        self.partitions = partitions
        # A run's own tag in every transactional id and transaction: a client thread stuck in
        # an earlier run of this process (it cannot be killed) must not pass for this one's.
        tag = uuid.uuid4().hex[:6]
        self.group = f"txn-copier-{seed}-{tag}"
        self.input = RdkafkaProducer(
            history,
            bootstrap,
            INPUT_TOPIC,
            f"s{seed}in",
            rate_per_s=rate_per_s,
            duration_s=duration_s + 120.0,
            request_timeout_ms=request_timeout_ms,
        )
        self.copiers = [
            TxnCopier(
                history,
                bootstrap,
                self.group,
                f"copier-{i}-{tag}",
                f"txn-fault-{seed}-{tag}-{i}",
                request_timeout_ms=request_timeout_ms,
            )
            for i in range(COPIERS)
        ]
        self.readers = [
            ReadCommittedReader(history, bootstrap, OUTPUT_TOPIC, f"txn-read-{seed}", f"reader-{i}")
            for i in range(READERS)
        ]
        self.java_inputs: list[RdkafkaProducer] = []
        self.java: list[JavaCopier] = []
        if java_work_dir is not None:
            java_group = f"{self.group}-java"
            self.java_inputs.append(
                RdkafkaProducer(
                    history,
                    bootstrap,
                    JAVA_INPUT_TOPIC,
                    f"s{seed}jin",
                    rate_per_s=JAVA_INPUT_RATE_PER_S,
                    duration_s=duration_s + 120.0,
                    request_timeout_ms=request_timeout_ms,
                    group=java_group,
                )
            )
            self.java.append(
                JavaCopier(
                    history,
                    bootstrap,
                    java_group,
                    f"java-copier-{tag}",
                    f"txn-fault-{seed}-{tag}-java",
                    java_work_dir,
                    input_topic=JAVA_INPUT_TOPIC,
                    output_topic=OUTPUT_TOPIC,
                    # No launch after the faults: the last one is done by the time the
                    # workload stops, instead of adding its JVM's start to the run.
                    duration_s=duration_s,
                )
            )

    @property
    def workers(self) -> list[_Worker]:
        return [self.input, *self.java_inputs, *self.copiers, *self.java, *self.readers]

    def start(self) -> None:
        for worker in self.workers:
            worker.start()

    def stop(self, settle_s: float) -> list[str]:
        """Stop input, then copiers (each finishes its transaction), then readers; the
        workers that did not stop in time."""
        stuck = []
        for group in (
            [self.input, *self.java_inputs],
            [*self.copiers, *self.java],
            self.readers,
        ):
            for worker in group:
                try:
                    worker.stop()
                except TimeoutError as exc:
                    stuck.append(f"{exc} (in {_where(worker)})")
            time.sleep(settle_s)
        return stuck

    def finish(self) -> dict[int, int]:
        """The copier groups' committed offsets (the Java copier's transactions recorded
        then) and the final read of the output; the output partitions the final read could
        not finish."""
        committed_offsets(self.history, self.bootstrap, INPUT_TOPIC, self.group, self.partitions)
        for java in self.java:
            final = committed_offsets(self.history, self.bootstrap, JAVA_INPUT_TOPIC, java.group, 1)
            java.settle(final.get(java.partition, 0))
            for op in java.txn_ops():
                self.history.add(op)
        return final_read_committed(self.history, self.bootstrap, OUTPUT_TOPIC, self.partitions)

    def failures(self) -> list[str]:
        return [f"{w.name}: {w.failure!r}" for w in self.workers if w.failure is not None]

    def counts(self) -> dict[str, int]:
        return {
            "committed": sum(c.committed for c in self.copiers),
            "aborted": sum(c.aborted for c in self.copiers),
            "unknown": sum(c.unknown for c in self.copiers),
            "producers-replaced": sum(c.producers_replaced for c in self.copiers),
            "client-stuck": sum(c.stuck for c in self.copiers),
            "input-acked": sum(1 for op in self.history.ops() if op.kind == SEND and op.ok),
            # Kafka's copier: the transactions it reported committed, those a launch committed
            # without reporting, its launches and those that did not exit 0.
            "java-committed": sum(j.committed for j in self.java),
            "java-unreported": sum(j.unreported for j in self.java),
            "java-launches": sum(j.launches for j in self.java),
            "java-failed-launches": sum(j.failed_launches for j in self.java),
            "java-offsets-regressed": sum(j.offsets_regressed for j in self.java),
        }
