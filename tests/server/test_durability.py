"""Durability of `ferrokafka serve` as a user runs it, proved with librdkafka (confluent-kafka):

- SIGKILL mid-stream: every record the broker acknowledged (acks=all) is in the log after a
  restart on the same data directory, exactly once, at the offset its acknowledgement named;
  offsets are contiguous from 0; the restart took the recovery path (no clean-shutdown marker).
- SIGTERM: the broker writes ``.kafka_cleanshutdown`` on the way out, the next start trusts its
  logs (the LoadReport line names the directory as clean) and every record is still there.

Why "exactly once" can be asserted without idempotence (InitProducerId may not be served yet):
the producer runs with ``retries=0``, so librdkafka sends each record at most once. A record
can then reach the log only from its single send, so *no* value may appear twice in the log,
acknowledged or not. Records whose acknowledgement was lost to the kill may or may not be in
the log (the broker may have appended them before it died); the test allows both, but each
one at most once. With retries on, a record whose ack was lost could legitimately be appended
twice by a non-idempotent producer, which would say nothing about the broker.

A SIGKILL loses no page-cache data (only an OS crash or power loss would), so this proves the
broker appends before it acknowledges and that recovery keeps whole batches; it is not a
power-failure test.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import confluent_kafka as ck
import pytest
from confluent_kafka.admin import AdminClient, NewTopic

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
# The console script's entry point, run from the repo root where `cli` is importable.
COMMAND = [sys.executable, "-c", "from ferrokafka_cli.main import main; main()", "serve"]
EPHEMERAL = ["--listeners", "PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0"]
ADDRESS = re.compile(r"listening on PLAINTEXT://([0-9.]+):(\d+)")
# storage.load_report.log_report's summary line: which dirs were trusted and which recovered.
LOADED = re.compile(r"loaded (\d+) logs \(clean dirs: \[(.*?)\]; recovered dirs: \[(.*?)\][;)]")
CLEAN_SHUTDOWN_FILE = ".kafka_cleanshutdown"

TOPIC = "durable"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.05
CLIENT_TIMEOUT_S = 30.0
# The kill comes after this many acknowledgements, while the producer still has records in
# flight; RECORDS_MAX bounds the produce loop if the broker were somehow never to ack.
KILL_AFTER_ACKS = 20_000
RECORDS_MAX = 400_000
PRODUCE_PHASE_TIMEOUT_S = 120.0
# After the kill, librdkafka fails what it still holds once this expires (no retries).
MESSAGE_TIMEOUT_MS = 5_000
DRAIN_TIMEOUT_S = 30.0
CONSUME_TIMEOUT_S = 60.0
CONSUME_BATCH = 1_000
BURST = 2_000
KILL_CHECK_S = 0.001
# librdkafka reports every failed reconnect to the dead broker; the test asserts on delivery
# reports instead, so its log only gets in the way.
QUIET = logging.getLogger("ferrokafka.tests.durability.librdkafka")
QUIET.setLevel(logging.CRITICAL)


@dataclass
class Serve:
    """One `ferrokafka serve` process; stdout and stderr go to files so nothing blocks."""

    data_dir: Path
    work_dir: Path
    run: int = 0
    proc: subprocess.Popen[bytes] | None = None
    bootstrap: str = ""
    stderr_path: Path = field(default_factory=Path)

    def start(self) -> None:
        self.run += 1
        stdout_path = self.work_dir / f"serve-{self.run}.out"
        self.stderr_path = self.work_dir / f"serve-{self.run}.err"
        with open(stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(
                [*COMMAND, *EPHEMERAL, "--log-dirs", str(self.data_dir)],
                cwd=REPO,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            match = ADDRESS.search(stdout_path.read_text())
            if match:
                self.bootstrap = f"{match.group(1)}:{match.group(2)}"
                return
            assert self.proc.poll() is None, f"serve exited: {self.stderr()}"
            time.sleep(POLL_INTERVAL_S)
        raise TimeoutError(f"serve did not listen within {START_TIMEOUT_S}s: {self.stderr()}")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def load_line(self) -> tuple[int, str, str]:
        """(logs loaded, clean dirs, recovered dirs) as this run's LoadReport logged them."""
        match = LOADED.search(self.stderr())
        assert match, self.stderr()
        return int(match.group(1)), match.group(2), match.group(3)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=STOP_TIMEOUT_S)

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=STOP_TIMEOUT_S)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=STOP_TIMEOUT_S)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    broker = Serve(data_dir=tmp_path / "data", work_dir=tmp_path)
    try:
        yield broker
    finally:
        broker.close()


def create_topic(bootstrap: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap, "logger": QUIET})
    futures = admin.create_topics(
        [NewTopic(TOPIC, num_partitions=1, replication_factor=1)],
        operation_timeout=CLIENT_TIMEOUT_S,
        request_timeout=CLIENT_TIMEOUT_S,
    )
    futures[TOPIC].result(timeout=CLIENT_TIMEOUT_S)


def value_of(n: int) -> bytes:
    return b"record-%08d" % n


def consume_all(bootstrap: str) -> list[tuple[int, bytes]]:
    """(offset, value) of every record up to the high watermark, read with assign (no group)."""
    consumer = ck.Consumer(
        {
            "bootstrap.servers": bootstrap,
            # assign() needs no coordinator; librdkafka insists on a group id all the same
            "group.id": "unused",
            "enable.auto.commit": False,
            "logger": QUIET,
        }
    )
    try:
        _, high = consumer.get_watermark_offsets(
            ck.TopicPartition(TOPIC, 0), timeout=CLIENT_TIMEOUT_S
        )
        consumer.assign([ck.TopicPartition(TOPIC, 0, ck.OFFSET_BEGINNING)])
        got: list[tuple[int, bytes]] = []
        deadline = time.monotonic() + CONSUME_TIMEOUT_S
        while (not got or got[-1][0] < high - 1) and time.monotonic() < deadline:
            for message in consumer.consume(CONSUME_BATCH, timeout=1.0):
                assert message.error() is None, message.error()
                got.append((message.offset(), message.value()))
        assert len(got) == high, f"read {len(got)} of {high} records in {CONSUME_TIMEOUT_S}s"
        return got
    finally:
        consumer.close()


def produce_until_killed(serve: Serve) -> tuple[dict[int, int], set[int], int]:
    """Produce numbered records; SIGKILL the broker after KILL_AFTER_ACKS acknowledgements
    while more are in flight. Returns (acked number -> offset, failed numbers, sent count)."""
    acked: dict[int, int] = {}
    failed: set[int] = set()

    def on_delivery(err: ck.KafkaError | None, message: ck.Message) -> None:
        number = int(message.value()[len(b"record-") :])
        if err is None:
            acked[number] = message.offset()
        else:
            failed.add(number)

    producer = ck.Producer(
        {
            "bootstrap.servers": serve.bootstrap,
            "acks": "all",
            "enable.idempotence": False,
            # At most one send per record: see the module docstring.
            "retries": 0,
            "message.timeout.ms": MESSAGE_TIMEOUT_MS,
            "linger.ms": 1,
            "batch.num.messages": 500,
            "logger": QUIET,
        }
    )
    sent = 0

    def produce_burst() -> None:
        # A burst without polling in between: librdkafka's threads send while we enqueue, so
        # by the end of a burst many records are on the wire and unacknowledged.
        nonlocal sent
        for _ in range(BURST):
            if sent >= RECORDS_MAX:
                return
            try:
                producer.produce(TOPIC, value=value_of(sent), on_delivery=on_delivery)
                sent += 1
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.05)

    # The kill comes from another thread so that it lands while this one is enqueueing and
    # the broker is busy appending, not in a lull after a burst was fully acknowledged.
    killed = threading.Event()
    in_flight_at_kill: list[int] = []

    def killer() -> None:
        deadline = time.monotonic() + PRODUCE_PHASE_TIMEOUT_S
        while len(acked) < KILL_AFTER_ACKS and time.monotonic() < deadline:
            time.sleep(KILL_CHECK_S)
        in_flight_at_kill.append(len(producer))
        serve.kill()
        killed.set()

    thread = threading.Thread(target=killer, name="killer", daemon=True)
    thread.start()
    deadline = time.monotonic() + PRODUCE_PHASE_TIMEOUT_S + STOP_TIMEOUT_S
    while not killed.is_set() and time.monotonic() < deadline:
        produce_burst()
        producer.poll(0)
    thread.join(STOP_TIMEOUT_S)
    assert killed.is_set(), "the broker was not killed"
    assert len(acked) >= KILL_AFTER_ACKS, f"only {len(acked)} acks in {PRODUCE_PHASE_TIMEOUT_S}s"
    # Every record still held gets a delivery report: success if its ack had already arrived,
    # an error after message.timeout.ms otherwise.
    remaining = producer.flush(DRAIN_TIMEOUT_S)
    assert remaining == 0, f"{remaining} records without a delivery report"
    assert in_flight_at_kill[0] > 0, "the kill came after everything was acknowledged"
    assert len(acked) + len(failed) == sent
    return acked, failed, sent


def test_sigkill_mid_stream_keeps_every_acknowledged_record_exactly_once(serve: Serve) -> None:
    serve.start()
    create_topic(serve.bootstrap)
    acked, failed, sent = produce_until_killed(serve)
    assert not (serve.data_dir / CLEAN_SHUTDOWN_FILE).exists()

    serve.start()
    logs, clean, recovered = serve.load_line()
    assert logs >= 1 and str(serve.data_dir) in recovered and clean == "", serve.stderr()
    records = consume_all(serve.bootstrap)

    offsets = [offset for offset, _ in records]
    assert offsets == list(range(len(records))), "offsets are not contiguous from 0"
    numbers = [int(value[len(b"record-") :]) for _, value in records]
    assert len(set(numbers)) == len(numbers), "a record is in the log twice"
    assert set(numbers) <= set(range(sent)), "the log holds a record nobody sent"
    by_number = dict(zip(numbers, offsets, strict=True))
    lost = [n for n in acked if n not in by_number]
    assert not lost, f"{len(lost)} acknowledged records lost, first {sorted(lost)[:5]}"
    moved = {n: (offset, by_number[n]) for n, offset in acked.items() if by_number[n] != offset}
    assert not moved, f"acknowledged offsets changed: {list(moved.items())[:5]}"
    # Unacknowledged records that made it are allowed; say how many, for the record.
    survivors = len(set(numbers) & failed)
    print(
        f"sent {sent}, acknowledged {len(acked)}, unacknowledged {len(failed)} "
        f"(of which {survivors} were appended before the kill); log holds {len(records)}"
    )


def test_sigterm_writes_the_marker_and_the_next_start_trusts_the_logs(serve: Serve) -> None:
    serve.start()
    create_topic(serve.bootstrap)
    producer = ck.Producer(
        {
            "bootstrap.servers": serve.bootstrap,
            "acks": "all",
            "enable.idempotence": False,
            "logger": QUIET,
        }
    )
    count = 5_000
    for n in range(count):
        while True:
            try:
                producer.produce(TOPIC, value=value_of(n))
                break
            except BufferError:  # bounded: the queue drains as the broker acks
                producer.poll(0.05)
    assert producer.flush(CLIENT_TIMEOUT_S) == 0

    assert serve.terminate() == 0, serve.stderr()
    assert (serve.data_dir / CLEAN_SHUTDOWN_FILE).is_file()

    serve.start()
    logs, clean, recovered = serve.load_line()
    assert logs >= 1 and str(serve.data_dir) in clean and recovered == "", serve.stderr()
    # The marker is consumed at start, as Kafka's LogLoader does: a crash from here on must
    # not be mistaken for a clean shutdown.
    assert not (serve.data_dir / CLEAN_SHUTDOWN_FILE).exists()
    records = consume_all(serve.bootstrap)
    assert records == [(n, value_of(n)) for n in range(count)]
