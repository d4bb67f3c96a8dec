"""Workloads: real Kafka clients that write unique values and read them back, every operation
recorded in a :class:`~.history.History`.

- :class:`RdkafkaProducer`: confluent-kafka (librdkafka), ``enable.idempotence=true``,
  ``acks=all``, values ``<name>-<n>``; one send op per value, invoked at ``produce()`` and
  completed by its delivery report.
- :class:`JavaProducer`: Apache Kafka's own ``VerifiableProducer`` (jars from
  tests/kafka/fetch.sh), idempotent, ``acks=all``, values ``<prefix>.<n>``; completion times
  are when its JSON lines arrive (it does not say when it sent).
- :class:`GroupConsumer`: confluent-kafka, classic group protocol, manual synchronous
  commits after each batch, and the committed offsets asked for every
  ``COMMITTED_EVERY_S``; a new session at every assignment change.
- :func:`final_read`: every partition read from the start to its end offset (process
  ``final``), the read the lost-write checker relies on.
- :func:`probe`: after the faults, one record sent and read back (liveness);
  :func:`probe_partitions`, one to each partition.

Every loop is bounded in count and in time; threads stop on :meth:`stop` and are joined
with a timeout.
"""

from __future__ import annotations

import abc
import json
import logging
import os
import signal
import subprocess
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .history import COMMIT, COMMITTED, READ, SEND, History, Op

CLIENT_LOG = logging.getLogger("tests.faults.clients")
# Long enough to ride out any fault of the schedule (a kill and a restart, a 5 s pause, a full
# disk for 4 s), so that a record is only reported failed when something is really wrong.
DELIVERY_TIMEOUT_MS = 60_000
REQUEST_TIMEOUT_MS = 10_000
RECONNECT_BACKOFF_MAX_MS = 500
PRODUCE_RATE_PER_S = 100
SENDS_MAX = 1_000_000
FLUSH_TIMEOUT_S = 30.0
JOIN_TIMEOUT_S = 60.0
POLL_TIMEOUT_S = 0.2
CONSUME_BATCH_MAX = 200
CONSUMER_POLLS_MAX = 1_000_000
COMMITTED_EVERY_S = 1.0
COMMIT_TIMEOUT_S = 10.0
ADMIN_TIMEOUT_S = 30.0
FINAL_READ_TIMEOUT_S = 60.0
PROBE_TIMEOUT_S = 60.0
JAVA_EXIT_TIMEOUT_S = 60.0
JAVA_OPTIONS = ("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
JAVA_PRODUCER_CLASS = "org.apache.kafka.tools.VerifiableProducer"


# librdkafka debug contexts for the producers, opt-in (FERROKAFKA_FAULT_PRODUCER_DEBUG=eos,msg):
# how a duplicate was produced then shows in clients.log.
PRODUCER_DEBUG_ENV = "FERROKAFKA_FAULT_PRODUCER_DEBUG"


def _client_config(bootstrap: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "reconnect.backoff.ms": 50,
        "reconnect.backoff.max.ms": RECONNECT_BACKOFF_MAX_MS,
        "socket.timeout.ms": REQUEST_TIMEOUT_MS,
        "logger": CLIENT_LOG,
    }


def producer_config(bootstrap: str, request_timeout_ms: int = REQUEST_TIMEOUT_MS) -> dict[str, Any]:
    """Idempotent, acks=all. A ``request_timeout_ms`` shorter than a pause makes the client
    give up on requests in flight and send them again: the broker's deduplication is then
    what keeps each record once."""
    config = {
        **_client_config(bootstrap),
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "message.timeout.ms": DELIVERY_TIMEOUT_MS,
        "request.timeout.ms": request_timeout_ms,
        # librdkafka times requests out on the client side by this one.
        "socket.timeout.ms": request_timeout_ms,
        "retry.backoff.ms": 50,
    }
    debug = os.environ.get(PRODUCER_DEBUG_ENV, "")
    if debug:
        config["debug"] = debug  # into clients.log: e.g. "eos,msg" to follow sequences
    return config


def create_topic(
    bootstrap: str,
    topic: str,
    partitions: int,
    *,
    replication_factor: int = 1,
    config: dict[str, str] | None = None,
) -> None:
    """Create ``topic`` and wait until every partition has a leader (and, replicated, a full
    ISR: the run starts from a healthy cluster)."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(_client_config(bootstrap))
    new = NewTopic(
        topic,
        num_partitions=partitions,
        replication_factor=replication_factor,
        config=dict(config or {}),
    )
    futures = admin.create_topics(
        [new],
        operation_timeout=ADMIN_TIMEOUT_S,
        request_timeout=ADMIN_TIMEOUT_S,
    )
    try:
        futures[topic].result(timeout=ADMIN_TIMEOUT_S)
    except KafkaException as exc:
        # A CreateTopics the broker forwarded again after the controller changed (or the
        # client retried) finds the topic it created: the check below says whether it is ours.
        if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise
    deadline = time.monotonic() + ADMIN_TIMEOUT_S
    while time.monotonic() < deadline:
        found = admin.list_topics(topic=topic, timeout=ADMIN_TIMEOUT_S).topics.get(topic)
        if found is not None and found.error is None and len(found.partitions) == partitions:
            if all(
                p.leader >= 0 and len(p.isrs) == replication_factor
                for p in found.partitions.values()
            ):
                return
        time.sleep(0.05)
    raise TimeoutError(f"topic {topic} has no leaders after {ADMIN_TIMEOUT_S}s")


class _Worker(ABC):
    """A thread with a stop flag and a deadline; :meth:`stop` joins it (bounded)."""

    def __init__(self, name: str, duration_s: float) -> None:
        self.name = name
        self.deadline = time.monotonic() + duration_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._guarded, name=name, daemon=True)
        self.failure: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set() or time.monotonic() > self.deadline

    def stop(self, timeout_s: float = JOIN_TIMEOUT_S) -> None:
        self._stop.set()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise TimeoutError(f"{self.name} did not stop within {timeout_s}s")

    def _guarded(self) -> None:
        try:
            self.run()
        except BaseException as exc:  # reported by the runner, not lost in a thread
            CLIENT_LOG.exception("%s failed", self.name)
            self.failure = exc

    @abstractmethod
    def run(self) -> None:
        """The workload's loop (each subclass's own), bounded by its deadline."""


class RdkafkaProducer(_Worker):
    """An idempotent acks=all confluent-kafka producer sending ``<name>-<n>`` at a steady
    rate; a producer that hits a fatal error is replaced by a new one (a new session).
    ``group`` tags its send ops: the input of that group's copier (see :mod:`.history`)."""

    def __init__(
        self,
        history: History,
        bootstrap: str,
        topic: str,
        name: str,
        *,
        rate_per_s: float = PRODUCE_RATE_PER_S,
        sends_max: int = SENDS_MAX,
        duration_s: float = 3600.0,
        request_timeout_ms: int = REQUEST_TIMEOUT_MS,
        group: str | None = None,
    ) -> None:
        super().__init__(name, duration_s)
        self.config = {**producer_config(bootstrap, request_timeout_ms), "error_cb": self._on_error}
        self.group = group
        self.history = history
        self.bootstrap = bootstrap
        self.topic = topic
        self.rate_per_s = rate_per_s
        self.sends_max = sends_max
        self.sent = 0
        self.fatal_errors = 0
        self._pending: dict[str, float] = {}
        self._lock = threading.Lock()
        self._fatal = threading.Event()

    def _report(self, value: str, session: int) -> Callable[[Any, Any], None]:
        def on_delivery(err: Any, msg: Any) -> None:
            done = self.history.now()
            with self._lock:
                invoked = self._pending.pop(value, None)
            ok, error = (True, None) if err is None else (False, str(err))
            where = {"partition": msg.partition(), "offset": msg.offset()} if ok else {}
            op = Op(
                SEND,
                self.name,
                invoked,
                done,
                ok,
                value,
                error=error,
                session=session,
                group=self.group,
                **where,
            )
            self.history.add(op)

        return on_delivery

    def _on_error(self, err: Any) -> None:
        if err.fatal():
            self._fatal.set()
        CLIENT_LOG.info("%s: %s", self.name, err)

    def run(self) -> None:
        from confluent_kafka import KafkaException, Producer

        session = 0
        producer = Producer(self.config)
        interval = 1.0 / self.rate_per_s
        next_at = time.monotonic()
        try:
            while not self.stopping and self.sent < self.sends_max:
                if self._fatal.is_set():
                    producer = self._replace(producer)
                    session += 1
                value = f"{self.name}-{self.sent}"
                with self._lock:
                    self._pending[value] = self.history.now()
                try:
                    producer.produce(
                        self.topic, value.encode(), on_delivery=self._report(value, session)
                    )
                    self.sent += 1
                except (BufferError, KafkaException) as exc:
                    with self._lock:
                        self._pending.pop(value, None)
                    CLIENT_LOG.info("%s: produce refused: %s", self.name, exc)
                producer.poll(0)
                next_at += interval
                time.sleep(max(0.0, next_at - time.monotonic()))
        finally:
            producer.flush(FLUSH_TIMEOUT_S)
            self._unanswered()

    def _replace(self, producer: Any) -> Any:
        """A fatal error (librdkafka gives up on idempotence): report what the old producer
        still holds, then carry on with a new one."""
        from confluent_kafka import Producer

        self.fatal_errors += 1
        CLIENT_LOG.error("%s: fatal error; a new producer takes over", self.name)
        producer.flush(FLUSH_TIMEOUT_S)
        self._fatal.clear()
        return Producer(self.config)

    def _unanswered(self) -> None:
        """Sends never answered (flush timed out): indeterminate."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for value, invoked in pending.items():
            self.history.add(
                Op(
                    SEND,
                    self.name,
                    invoked,
                    None,
                    None,
                    value,
                    error="unanswered",
                    group=self.group,
                )
            )


class VerifiableTool(abc.ABC):
    """One of Kafka's Verifiable* tools as a child process: its JSON events on stdout go, one
    by one, to :meth:`_event` (in a reader thread); it is stopped by PID. Subclasses give the
    command (:meth:`_command`) and what each event means (:meth:`_event`)."""

    name: str
    work_dir: Path
    _process: subprocess.Popen[str] | None = None
    _reader: threading.Thread | None = None

    @abc.abstractmethod
    def _command(self) -> list[str]:
        """The tool's command line."""

    @abc.abstractmethod
    def _event(self, event: dict[str, Any]) -> None:
        """One JSON event the tool printed."""

    def start(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with open(self.work_dir / f"{self.name}.err", "ab") as err:
            self._process = subprocess.Popen(
                self._command(),
                stdout=subprocess.PIPE,
                stderr=err,
                stdin=subprocess.DEVNULL,
                text=True,
            )
        self._reader = threading.Thread(target=self._read, name=self.name, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict):
                self._event(event)

    def _end(self, signals: tuple[signal.Signals | None, ...], timeout_s: float) -> bool:
        """Send ``signals`` in turn (None: only wait) until it exits, giving each
        ``timeout_s``, then read its stdout to the end; False when it never started."""
        process = self._process
        if process is None:
            return False
        for sig in signals:
            if sig is not None and process.poll() is None:
                process.send_signal(sig)
            try:
                process.wait(timeout=timeout_s)
                break
            except subprocess.TimeoutExpired:
                continue
        if self._reader is not None:
            self._reader.join(timeout_s)
        return True


class JavaProducer(VerifiableTool):
    """Kafka's VerifiableProducer: idempotent, acks=all, ``max_messages`` at ``rate_per_s``."""

    def __init__(
        self,
        history: History,
        bootstrap: str,
        topic: str,
        prefix: int,
        work_dir: Path,
        *,
        rate_per_s: int = PRODUCE_RATE_PER_S,
        max_messages: int,
        request_timeout_ms: int = REQUEST_TIMEOUT_MS,
    ) -> None:
        self.request_timeout_ms = request_timeout_ms
        self.history = history
        self.bootstrap = bootstrap
        self.topic = topic
        self.prefix = prefix
        self.name = f"java-{prefix}"
        self.work_dir = Path(work_dir)
        self.rate_per_s = rate_per_s
        self.max_messages = max_messages
        self.reported: set[str] = set()
        self.sent_reported: int | None = None

    def _command(self) -> list[str]:
        from kafka_support.jars import java_executable, kafka_classpath

        config = self.work_dir / f"{self.name}.properties"
        config.write_text(
            "enable.idempotence=true\nacks=all\nretries=2147483647\n"
            f"delivery.timeout.ms={DELIVERY_TIMEOUT_MS}\n"
            f"request.timeout.ms={self.request_timeout_ms}\n"
            f"max.block.ms={DELIVERY_TIMEOUT_MS}\nreconnect.backoff.max.ms={RECONNECT_BACKOFF_MAX_MS}\n"
            "linger.ms=5\n"
        )
        return [
            java_executable(),
            *JAVA_OPTIONS,
            "-cp",
            kafka_classpath(),
            JAVA_PRODUCER_CLASS,
            "--topic",
            self.topic,
            "--bootstrap-server",
            self.bootstrap,
            "--max-messages",
            str(self.max_messages),
            "--throughput",
            str(self.rate_per_s),
            "--value-prefix",
            str(self.prefix),
            "--command-config",
            str(config),
        ]

    def _event(self, event: dict[str, Any]) -> None:
        name = event.get("name")
        done = self.history.now()
        if name == "producer_send_success":
            value = str(event["value"])
            self.reported.add(value)
            self.history.add(
                Op(
                    SEND,
                    self.name,
                    None,
                    done,
                    True,
                    value,
                    event["partition"],
                    event["offset"],
                )
            )
        elif name == "producer_send_error":
            value = str(event.get("value"))
            self.reported.add(value)
            error = f"{event.get('exception')}: {event.get('message')}"
            self.history.add(Op(SEND, self.name, None, done, False, value, error=error))
        elif name == "tool_data":
            self.sent_reported = int(event.get("sent", 0))

    def stop(self, timeout_s: float = JAVA_EXIT_TIMEOUT_S) -> None:
        """Wait for it to finish its messages; SIGTERM (it closes the producer, which waits
        for what is in flight), then SIGKILL, by PID. Values it may have sent without saying
        become indeterminate sends."""
        if not self._end((None, signal.SIGTERM, signal.SIGKILL), timeout_s):
            return
        sent = self.sent_reported if self.sent_reported is not None else self.max_messages
        for n in range(sent):
            value = f"{self.prefix}.{n}"
            if value not in self.reported:
                self.history.add(Op(SEND, self.name, None, None, None, value, error="unanswered"))

    def terminate(self) -> None:
        """SIGTERM by PID: it stops sending, closes the producer (waiting for what is in
        flight) and prints its tool_data; :meth:`stop` then reaps it."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL by PID, for a run that is being abandoned."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(JAVA_EXIT_TIMEOUT_S)

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.returncode


class GroupConsumer(_Worker):
    """A classic-protocol group member: reads, commits synchronously after each batch, and
    asks for the committed offsets every ``COMMITTED_EVERY_S``."""

    def __init__(
        self,
        history: History,
        bootstrap: str,
        topic: str,
        group: str,
        name: str,
        *,
        duration_s: float = 3600.0,
    ) -> None:
        super().__init__(name, duration_s)
        self.history = history
        self.bootstrap = bootstrap
        self.topic = topic
        self.group = group
        self.session = 0
        self.assignment: list[int] = []

    def _config(self) -> dict[str, Any]:
        return {
            **_client_config(self.bootstrap),
            "group.id": self.group,
            "group.protocol": "classic",
            "client.id": self.name,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 10_000,
            "heartbeat.interval.ms": 1_000,
            "enable.partition.eof": False,
        }

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        self.session += 1
        self.assignment = sorted(tp.partition for tp in partitions)

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        self.session += 1
        self.assignment = []

    def run(self) -> None:
        from confluent_kafka import Consumer

        consumer = Consumer(self._config())
        consumer.subscribe(
            [self.topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_revoke,
        )
        next_committed = time.monotonic() + COMMITTED_EVERY_S
        try:
            for _ in range(CONSUMER_POLLS_MAX):
                if self.stopping:
                    break
                messages = consumer.consume(CONSUME_BATCH_MAX, POLL_TIMEOUT_S)
                last = self._record(messages)
                if last:
                    self._commit(consumer, last)
                if time.monotonic() >= next_committed:
                    self._ask_committed(consumer)
                    next_committed = time.monotonic() + COMMITTED_EVERY_S
        finally:
            consumer.close()

    def _record(self, messages: list[Any]) -> dict[int, int]:
        last: dict[int, int] = {}
        for msg in messages:
            if msg.error() is not None:
                CLIENT_LOG.info("%s: %s", self.name, msg.error())
                continue
            done = self.history.now()
            value = msg.value().decode(errors="replace") if msg.value() is not None else None
            self.history.add(
                Op(
                    READ,
                    self.name,
                    done,
                    done,
                    True,
                    value,
                    msg.partition(),
                    msg.offset(),
                    session=self.session,
                )
            )
            last[msg.partition()] = msg.offset() + 1
        return last

    def _commit(self, consumer: Any, last: dict[int, int]) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        invoked = self.history.now()
        offsets = [TopicPartition(self.topic, p, o) for p, o in sorted(last.items())]
        try:
            result = consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            self.history.add(
                Op(
                    COMMIT,
                    self.name,
                    invoked,
                    self.history.now(),
                    False,
                    error=str(exc),
                    session=self.session,
                    group=self.group,
                    offsets=dict(last),
                )
            )
            return
        done = self.history.now()
        committed = {tp.partition: tp.offset for tp in result or [] if tp.error is None}
        failed = {tp.partition: str(tp.error) for tp in result or [] if tp.error is not None}
        if committed:
            self.history.add(
                Op(
                    COMMIT,
                    self.name,
                    invoked,
                    done,
                    True,
                    session=self.session,
                    group=self.group,
                    offsets=committed,
                )
            )
        if failed:
            self.history.add(
                Op(
                    COMMIT,
                    self.name,
                    invoked,
                    done,
                    False,
                    error=str(failed),
                    session=self.session,
                    group=self.group,
                    offsets={p: last[p] for p in failed},
                )
            )

    def _ask_committed(self, consumer: Any) -> None:
        from confluent_kafka import KafkaException, TopicPartition

        if not self.assignment:
            return
        invoked = self.history.now()
        asked = [TopicPartition(self.topic, p) for p in self.assignment]
        try:
            answer = consumer.committed(asked, timeout=COMMIT_TIMEOUT_S)
        except KafkaException as exc:
            self.history.add(
                Op(
                    COMMITTED,
                    self.name,
                    invoked,
                    self.history.now(),
                    False,
                    error=str(exc),
                    group=self.group,
                )
            )
            return
        offsets = {tp.partition: tp.offset for tp in answer if tp.error is None and tp.offset >= 0}
        self.history.add(
            Op(
                COMMITTED,
                self.name,
                invoked,
                self.history.now(),
                True,
                group=self.group,
                offsets=offsets,
            )
        )


def committed_offsets(
    history: History, bootstrap: str, topic: str, group: str, partitions: int
) -> dict[int, int]:
    """The group's committed offsets as the broker answers them now (recorded as a
    ``committed`` op of process ``final``), without joining the group."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {**_client_config(bootstrap), "group.id": group, "enable.auto.commit": False}
    )
    try:
        invoked = history.now()
        answer = consumer.committed(
            [TopicPartition(topic, p) for p in range(partitions)], timeout=ADMIN_TIMEOUT_S
        )
        offsets = {tp.partition: tp.offset for tp in answer if tp.error is None and tp.offset >= 0}
        history.add(
            Op(COMMITTED, "final", invoked, history.now(), True, group=group, offsets=offsets)
        )
        return offsets
    finally:
        consumer.close()


def final_read(
    history: History,
    bootstrap: str,
    topic: str,
    partitions: int,
    *,
    timeout_s: float = FINAL_READ_TIMEOUT_S,
) -> dict[int, int]:
    """Read every partition from its start to its end offset as of now (process ``final``).
    Returns the partitions not read to their end in time, with the offset reached (empty when
    the read is complete)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    deadline = time.monotonic() + timeout_s
    consumer = Consumer(
        {
            **_client_config(bootstrap),
            "group.id": f"faults-final-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
        }
    )
    try:
        ends = {}
        for p in range(partitions):
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, p), timeout=timeout_s, cached=False
            )
            ends[p] = high
        position = {p: -1 for p in range(partitions)}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
        while time.monotonic() < deadline and any(position[p] + 1 < ends[p] for p in ends):
            for msg in consumer.consume(CONSUME_BATCH_MAX, POLL_TIMEOUT_S):
                if msg.error() is not None:
                    continue
                done = history.now()
                value = msg.value().decode(errors="replace") if msg.value() is not None else None
                history.add(
                    Op(READ, "final", done, done, True, value, msg.partition(), msg.offset())
                )
                position[msg.partition()] = msg.offset()
        return {p: position[p] + 1 for p in ends if position[p] + 1 < ends[p]}
    finally:
        consumer.close()


def probe_partitions(
    history: History, bootstrap: str, topic: str, value: str, partitions: int
) -> float | None:
    """:func:`probe` each partition (``<value>-p<n>``); the longest, None if one failed."""
    took = [probe(history, bootstrap, topic, f"{value}-p{p}", p) for p in range(partitions)]
    return None if None in took else max(t for t in took if t is not None)


def probe(
    history: History, bootstrap: str, topic: str, value: str, partition: int | None = None
) -> float | None:
    """Send ``value`` (to ``partition``, or where the partitioner puts it; retrying until
    acknowledged, bounded) and read it back at its offset; returns the seconds it took, None
    if it could not be done within ``PROBE_TIMEOUT_S``."""
    from confluent_kafka import Consumer, Producer, TopicPartition

    began = time.monotonic()
    deadline = began + PROBE_TIMEOUT_S
    acked: list[Any] = []
    producer = Producer(producer_config(bootstrap))
    invoked = history.now()

    def on_delivery(err: Any, msg: Any) -> None:
        done = history.now()
        if err is None:
            acked.append(msg)
            history.add(
                Op(SEND, "probe", invoked, done, True, value, msg.partition(), msg.offset())
            )
        else:
            history.add(Op(SEND, "probe", invoked, done, False, value, error=str(err)))

    where = {} if partition is None else {"partition": partition}
    producer.produce(topic, value.encode(), on_delivery=on_delivery, **where)
    producer.flush(PROBE_TIMEOUT_S)
    if not acked:
        return None
    msg = acked[0]
    consumer = Consumer(
        {**_client_config(bootstrap), "group.id": f"faults-probe-{uuid.uuid4().hex[:8]}"}
    )
    try:
        consumer.assign([TopicPartition(topic, msg.partition(), msg.offset())])
        while time.monotonic() < deadline:
            for got in consumer.consume(1, POLL_TIMEOUT_S):
                if got.error() is None and got.offset() == msg.offset():
                    done = history.now()
                    history.add(
                        Op(
                            READ,
                            "probe",
                            done,
                            done,
                            True,
                            got.value().decode(errors="replace"),
                            got.partition(),
                            got.offset(),
                        )
                    )
                    return time.monotonic() - began
    finally:
        consumer.close()
    return None


def java_available() -> str | None:
    """None when Kafka's jars and java are there; else why not."""
    try:
        from kafka_support.jars import KafkaNotFetchedError, java_executable, kafka_classpath
    except ImportError as exc:
        return f"kafka_support not importable: {exc}"
    try:
        java_executable()
        kafka_classpath()
    except KafkaNotFetchedError as exc:
        return str(exc)
    return None
