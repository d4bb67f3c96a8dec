"""LogManager: directory locks, loading (trusted after a clean shutdown, recovered after a crash),
delete via a -delete rename, periodic work under trio, and Apache Kafka's own log directories
(read, opened, written back, and opened by Kafka again)."""

import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import trio

from ferrokafka.storage import BatchBuilder, LogClosedError, LogConfig
from ferrokafka.storage import checkpoints as ckpt
from ferrokafka.storage.checkpoints import MetaProperties, TopicPartition
from ferrokafka.storage.logdirs import LogDirError
from ferrokafka.storage.manager import LogManager, LogManagerSettings

TS = 1_700_000_000_000
SUBPROCESS_TIMEOUT_S = 60
PERIODIC_WAIT_S = 10  # bound on waiting for the background loops (they run every 20 ms)


def batch(i: int, *, size: int = 50, ts: int = TS) -> bytes:
    b = BatchBuilder()
    b.append(b"value-%d-" % i + b"x" * size, key=b"k%d" % i, timestamp=ts + i)
    return b.build()


def settings(*dirs: Path, **kwargs: int) -> LogManagerSettings:
    return LogManagerSettings(tuple(str(d) for d in dirs), **kwargs)


def values(log) -> list[tuple[int, bytes]]:
    """Every record from the log start on (a batch holding the start offset is returned whole;
    records below the start are skipped, as consumers do)."""
    start = log.log_start_offset
    return [
        (r.offset, r.value)
        for b in log.read_batches(start, 1 << 24)
        for r in b.records()
        if r.offset >= start
    ]


def test_create_get_and_spread_over_dirs(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "nested" / "b"  # created if missing
    m = LogManager(settings(a, b), LogConfig())
    logs = [m.get_or_create_log("orders.eu-west-1", p) for p in range(4)]
    assert m.get_or_create_log("orders.eu-west-1", 2) is logs[2]
    assert m.get_log("orders.eu-west-1", 3) is logs[3] and m.get_log("nope", 0) is None
    assert sorted(m.all_logs()) == [TopicPartition("orders.eu-west-1", p) for p in range(4)]
    assert sorted(str(m.log_dir_of("orders.eu-west-1", p)) for p in range(4)) == sorted(
        [str(a), str(a), str(b), str(b)]
    )
    assert (a / "orders.eu-west-1-0").is_dir()
    for bad in ("", "a b", "x" * 250, ".."):
        with pytest.raises(ValueError):
            m.get_or_create_log(bad, 0)
    m.shutdown()
    with pytest.raises(LogClosedError):
        m.get_or_create_log("t", 0)


def test_clean_shutdown_writes_checkpoints_then_marker_and_next_start_trusts(
    tmp_path: Path,
) -> None:
    m = LogManager(settings(tmp_path), LogConfig(segment_bytes=1024))
    log = m.get_or_create_log("t.a-b", 0)
    for i in range(40):
        log.append(batch(i))
    log.advance_log_start_offset(5)
    m.shutdown(broker_epoch=42)
    assert ckpt.read_clean_shutdown_marker(tmp_path) == 42
    end = log.log_end_offset
    assert ckpt.read_offset_checkpoint(tmp_path / ckpt.RECOVERY_POINT_CHECKPOINT) == {
        ("t.a-b", 0): end
    }
    assert ckpt.read_offset_checkpoint(tmp_path / ckpt.LOG_START_OFFSET_CHECKPOINT) == {
        ("t.a-b", 0): 5
    }

    m = LogManager(settings(tmp_path), LogConfig(segment_bytes=1024))
    (info,) = m.load_report.logs
    assert m.load_report.clean_dirs == (str(tmp_path),)
    assert m.load_report.broker_epochs == {str(tmp_path): 42}
    assert m.load_report.previous_broker_epoch == 42  # what BrokerRegistration will say
    assert info.clean_shutdown and info.truncated_bytes == 0
    assert info.checkpointed_recovery_point == info.recovery_point == info.log_end_offset == end
    assert not (tmp_path / ckpt.CLEAN_SHUTDOWN_FILE).exists()  # a crash now means recovery
    reopened = m.get_log("t.a-b", 0)
    assert reopened.log_start_offset == 5
    assert values(reopened)[0][0] == 5
    m.shutdown()


def test_clean_start_trusts_the_log_and_a_crash_start_recovers_it(tmp_path: Path) -> None:
    """The observable difference between the two paths: with the checkpoint deliberately
    behind and a batch damaged below the log end, a clean start must not touch the damage
    (Kafka trusts a cleanly closed log to its end); without the marker it is cut."""
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    m = LogManager(settings(clean), LogConfig(segment_bytes=1024))
    log = m.get_or_create_log("t", 0)
    for i in range(40):
        log.append(batch(i))
    end, size = log.log_end_offset, log.size_in_bytes
    first_segment = Path(log.segments()[0].path)
    m.shutdown()
    ckpt.write_offset_checkpoint(clean / ckpt.RECOVERY_POINT_CHECKPOINT, {("t", 0): 0})
    with open(first_segment, "r+b") as f:  # flip a byte in the first segment's last record
        f.seek(first_segment.stat().st_size - 3)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    shutil.copytree(clean, crashed)
    (crashed / ckpt.CLEAN_SHUTDOWN_FILE).unlink()

    trusted = LogManager(settings(clean), LogConfig(segment_bytes=1024))
    (info,) = trusted.load_report.logs
    assert info.clean_shutdown and info.truncated_bytes == 0
    assert info.recovery_point == info.log_end_offset == end
    assert trusted.get_log("t", 0).size_in_bytes == size
    trusted.shutdown()

    recovered = LogManager(settings(crashed), LogConfig(segment_bytes=1024))
    (info,) = recovered.load_report.logs
    assert recovered.load_report.unclean_dirs == (str(crashed),)
    assert recovered.load_report.previous_broker_epoch == -1  # a crash: an unclean shutdown
    assert not info.clean_shutdown and info.checkpointed_recovery_point == 0
    assert info.truncated_bytes > 0 and info.log_end_offset < end
    assert recovered.load_report.truncated == [info]
    recovered.shutdown()


KILLED_CHILD = """
import os, signal, sys
from ferrokafka.storage import BatchBuilder, LogConfig
from ferrokafka.storage.manager import LogManager, LogManagerSettings

m = LogManager(LogManagerSettings((sys.argv[1],)), LogConfig(segment_bytes=2048))
log = m.get_or_create_log("orders.eu-west", 0)

def batch(i):
    b = BatchBuilder()
    b.append(b"value-%d" % i + b"x" * 60, key=b"k%d" % i)
    return b.build()

for i in range(120):
    info = log.append(batch(i))
    log.flush()  # acknowledged only once on disk
    print(info.first_offset, flush=True)
    if i == 10:
        m.checkpoint_recovery_points()  # the checkpoint then falls behind
for i in range(120, 130):
    log.append(batch(i))  # never acknowledged
os.kill(os.getpid(), signal.SIGKILL)
"""


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}


def test_kill_9_then_recovery_keeps_every_acknowledged_record(tmp_path: Path) -> None:
    child = subprocess.run(
        [sys.executable, "-c", KILLED_CHILD, str(tmp_path)],
        capture_output=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        env=child_env(),
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    acked = [int(line) for line in child.stdout.split()]
    assert acked == list(range(120))
    assert not (tmp_path / ckpt.CLEAN_SHUTDOWN_FILE).exists()
    part = tmp_path / "orders.eu-west-0"
    active = max(part.glob("*.log"))
    with open(active, "ab") as f:  # a torn write: half a batch at the tail
        f.write(batch(999)[:30])

    m = LogManager(settings(tmp_path), LogConfig(segment_bytes=2048))
    (info,) = m.load_report.logs
    assert not info.clean_shutdown and info.checkpointed_recovery_point == 11
    assert info.truncated_bytes == 30
    got = values(m.get_log("orders.eu-west", 0))
    offsets = [offset for offset, _ in got]
    assert offsets == list(range(len(got)))  # contiguous, each once
    by_offset = dict(got)
    for offset in acked:
        assert by_offset[offset].startswith(b"value-%d" % offset)
    m.shutdown()


def test_dir_lock_keeps_a_second_manager_out(tmp_path: Path) -> None:
    m = LogManager(settings(tmp_path), LogConfig())
    with pytest.raises(LogDirError, match="another broker"):
        LogManager(settings(tmp_path), LogConfig())
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from ferrokafka.storage import LogConfig\n"
            "from ferrokafka.storage.manager import LogManager, LogManagerSettings\n"
            "LogManager(LogManagerSettings((sys.argv[1],)), LogConfig())",
            str(tmp_path),
        ],
        capture_output=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        env=child_env(),
    )
    assert other.returncode != 0 and b"failed to acquire lock" in other.stderr
    m.shutdown()
    LogManager(settings(tmp_path), LogConfig()).shutdown()


def test_delete_log_renames_then_deletes(tmp_path: Path) -> None:
    m = LogManager(settings(tmp_path, file_delete_delay_ms=0), LogConfig())
    m.get_or_create_log("gone.topic-x", 0).append(batch(0))
    m.get_or_create_log("kept", 0)
    m.checkpoint_recovery_points()
    assert m.delete_log("gone.topic-x", 0) and not m.delete_log("gone.topic-x", 0)
    assert m.get_log("gone.topic-x", 0) is None
    (renamed,) = [p for p in tmp_path.iterdir() if p.name.endswith("-delete")]
    assert re.fullmatch(r"gone\.topic-x-0\.[0-9a-f]{32}-delete", renamed.name)
    assert ckpt.read_offset_checkpoint(tmp_path / ckpt.RECOVERY_POINT_CHECKPOINT) == {
        ("kept", 0): 0
    }
    assert m.delete_pending_logs() == 1 and not renamed.exists()
    assert m.get_or_create_log("gone.topic-x", 0).log_end_offset == 0  # recreated, empty
    m.shutdown()


def test_leftover_dirs_at_start(tmp_path: Path) -> None:
    (tmp_path / "t-0.0123456789abcdef0123456789abcdef-delete").mkdir()
    (tmp_path / "t-1.0123456789abcdef0123456789abcdef-future").mkdir()
    (tmp_path / "__cluster_metadata-0").mkdir()  # the raft layer's, not ours
    (tmp_path / "a-file").write_bytes(b"")
    m = LogManager(settings(tmp_path, file_delete_delay_ms=0), LogConfig())
    report = m.load_report
    assert report.logs == () and len(report.pending_deletions) == 1
    assert report.skipped_dirs == (str(tmp_path / "t-1.0123456789abcdef0123456789abcdef-future"),)
    assert m.delete_pending_logs() == 1
    m.shutdown()
    (tmp_path / "not_a_partition").mkdir()
    with pytest.raises(LogDirError, match="not in the form of topic-partition"):
        LogManager(settings(tmp_path), LogConfig())
    LogManager(settings(tmp_path / "fresh"), LogConfig()).shutdown()  # the lock was released


def test_unreadable_checkpoint_means_recovery_from_zero(tmp_path: Path) -> None:
    m = LogManager(settings(tmp_path), LogConfig())
    m.get_or_create_log("t", 0).append(batch(0))
    m.shutdown()
    (tmp_path / ckpt.CLEAN_SHUTDOWN_FILE).unlink()
    (tmp_path / ckpt.RECOVERY_POINT_CHECKPOINT).write_bytes(b"0\n5\nbroken\n")
    m = LogManager(settings(tmp_path), LogConfig())
    (warning,) = m.load_report.warnings
    assert ckpt.RECOVERY_POINT_CHECKPOINT in warning and "line 3" in warning
    (info,) = m.load_report.logs
    assert info.checkpointed_recovery_point is None and info.log_end_offset == 1
    m.shutdown()


def test_meta_properties_written_once_and_checked(tmp_path: Path) -> None:
    meta = MetaProperties("VwruvdZ7SLeUKeFkWTtAjA", 1)
    m = LogManager(settings(tmp_path / "a", tmp_path / "b"), LogConfig(), meta=meta)
    ids = dict(m.directory_ids)
    assert len(set(ids.values())) == 2
    m.shutdown()
    m = LogManager(settings(tmp_path / "a", tmp_path / "b"), LogConfig(), meta=meta)
    assert m.directory_ids == ids
    m.shutdown()
    with pytest.raises(LogDirError, match="node 1, not cluster"):
        LogManager(settings(tmp_path / "a"), LogConfig(), meta=MetaProperties("other", 1))
    LogManager(settings(tmp_path / "a"), LogConfig()).shutdown()  # the failed start unlocked


def test_update_config_and_high_watermarks(tmp_path: Path) -> None:
    m = LogManager(settings(tmp_path / "a", tmp_path / "b"), LogConfig())
    for p in range(3):
        m.get_or_create_log("t", p)
    m.get_or_create_log("u", 0)
    m.update_config("t", LogConfig(retention_ms=1000))
    assert [m.get_log("t", p).config.retention_ms for p in range(3)] == [1000] * 3
    m.update_default_config(LogConfig(retention_ms=2000))
    assert m.get_log("u", 0).config.retention_ms == 2000
    assert m.get_or_create_log("t", 3).config.retention_ms == 1000
    hws = {("t", 0): 5, ("t", 1): 6, ("u", 0): 7, ("unknown", 0): 8}
    m.checkpoint_high_watermarks(hws)
    assert m.read_high_watermarks() == {("t", 0): 5, ("t", 1): 6, ("u", 0): 7}
    m.shutdown()


def test_periodic_retention_flush_checkpoints_and_deletes_under_trio(tmp_path: Path) -> None:
    every_20_ms = {
        "retention_check_interval_ms": 20,
        "flush_check_interval_ms": 20,
        "recovery_point_checkpoint_interval_ms": 20,
        "log_start_offset_checkpoint_interval_ms": 20,
        "file_delete_delay_ms": 20,
    }
    config = LogConfig(segment_bytes=1024, retention_ms=60_000, flush_ms=10)
    m = LogManager(settings(tmp_path, **every_20_ms), config)
    log = m.get_or_create_log("t", 0)
    for i in range(60):  # old timestamps: every closed segment is past retention
        log.append(batch(i, ts=TS))
    m.get_or_create_log("doomed", 0)
    closed_segments = len(log.segments()) - 1
    assert closed_segments > 2

    def settled() -> bool:
        points = ckpt.read_offset_checkpoint(tmp_path / ckpt.RECOVERY_POINT_CHECKPOINT)
        starts = ckpt.read_offset_checkpoint(tmp_path / ckpt.LOG_START_OFFSET_CHECKPOINT)
        return (
            len(log.segments()) == 1
            and points.get(("t", 0)) == log.log_end_offset == log.recovery_point
            and starts.get(("t", 0)) == log.log_start_offset
            and not any(p.name.endswith("-delete") for p in tmp_path.iterdir())
        )

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(m.run)
            log.advance_log_start_offset(log.segments()[-1].base_offset + 1)
            m.delete_log("doomed", 0)
            with trio.fail_after(PERIODIC_WAIT_S):
                while not settled():
                    await trio.sleep(0.02)
            nursery.cancel_scope.cancel()

    trio.run(main)
    m.shutdown()
    assert ckpt.read_clean_shutdown_marker(tmp_path) == -1


def test_from_broker_config(tmp_path: Path) -> None:
    from ferrokafka.config import load_broker_config

    config = load_broker_config(
        overrides={
            "log.dirs": f"{tmp_path / 'a'},{tmp_path / 'b'}",
            "log.retention.check.interval.ms": "1234",
            "log.flush.offset.checkpoint.interval.ms": "2345",
            "log.segment.bytes": str(1 << 20),
        }
    )
    m = LogManager.from_broker_config(config, cluster_id="VwruvdZ7SLeUKeFkWTtAjA")
    s = m.settings
    assert s.log_dirs == (str(tmp_path / "a"), str(tmp_path / "b"))
    assert (s.retention_check_interval_ms, s.recovery_point_checkpoint_interval_ms) == (1234, 2345)
    # Kafka's default log.flush.scheduler.interval.ms is "never"; rolled segments still flush.
    assert s.flush_check_interval_ms == 1000
    assert m.get_or_create_log("t", 0).config.segment_bytes == 1 << 20
    meta = ckpt.read_meta_properties(tmp_path / "a" / ckpt.META_PROPERTIES)
    assert (meta.cluster_id, meta.node_id) == ("VwruvdZ7SLeUKeFkWTtAjA", 1)
    m.shutdown()


# -- Apache Kafka's own log directories ------------------------------------------------------


KAFKA_TOPIC = "orders.eu-west"  # '.' and '-' in the name: the partition is after the last '-'
KAFKA_PARTITIONS = 3
KAFKA_RECORDS = 300
KAFKA_DELETED_BELOW = 40  # DeleteRecords on partition 0: a log start offset Kafka checkpoints
KAFKA_CLIENT_TIMEOUT_S = 60.0
CHECKPOINT_LINE = re.compile(rb"orders\.eu-west \d+ \d+\n")


@pytest.fixture(scope="module")
def kafka_dir(tmp_path_factory: pytest.TempPathFactory):
    """A real Kafka 4.4.0 broker's data dir after producing and a clean stop; yields the broker
    (stopped), a copy of Kafka's files as written, and what was produced per partition."""
    from confluent_kafka import Producer
    from confluent_kafka import TopicPartition as KafkaTopicPartition
    from confluent_kafka.admin import AdminClient

    import kafka_support as ks

    ks.require_kafka()
    broker = ks.KafkaBroker(tmp_path_factory.mktemp("kafka"))
    broker.start()
    try:
        broker.create_topic(KAFKA_TOPIC, partitions=KAFKA_PARTITIONS)
        produced: dict[int, dict[int, bytes]] = {p: {} for p in range(KAFKA_PARTITIONS)}

        def delivered(err, msg) -> None:
            assert err is None, err
            produced[msg.partition()][msg.offset()] = msg.value()

        producer = Producer({**broker.client_config(), "enable.idempotence": True})
        for i in range(KAFKA_RECORDS):
            producer.produce(
                KAFKA_TOPIC, value=b"value-%d" % i, key=b"k%d" % i,
                partition=i % KAFKA_PARTITIONS, on_delivery=delivered,
            )  # fmt: skip
        assert producer.flush(KAFKA_CLIENT_TIMEOUT_S) == 0
        admin = AdminClient(broker.client_config())
        futures = admin.delete_records([KafkaTopicPartition(KAFKA_TOPIC, 0, KAFKA_DELETED_BELOW)])
        for future in futures.values():
            future.result(timeout=KAFKA_CLIENT_TIMEOUT_S)
        broker.stop()
        original = tmp_path_factory.mktemp("kafka-original") / "data"
        shutil.copytree(broker.data_dir, original)
        yield broker, original, produced
    finally:
        broker.kill()


@pytest.mark.kafka
@pytest.mark.slow
def test_reads_the_files_kafka_wrote(kafka_dir) -> None:
    broker, original, produced = kafka_dir
    ends = {TopicPartition(KAFKA_TOPIC, p): len(produced[p]) for p in range(KAFKA_PARTITIONS)}
    for name in (ckpt.RECOVERY_POINT_CHECKPOINT, ckpt.REPLICATION_OFFSET_CHECKPOINT):
        raw = (original / name).read_bytes()
        assert re.fullmatch(rb"0\n3\n(%s){3}" % CHECKPOINT_LINE.pattern, raw), raw
        assert ckpt.read_offset_checkpoint(original / name) == ends
    assert ckpt.read_offset_checkpoint(original / ckpt.LOG_START_OFFSET_CHECKPOINT) == {
        (KAFKA_TOPIC, 0): KAFKA_DELETED_BELOW
    }
    assert ckpt.read_offset_checkpoint(original / "cleaner-offset-checkpoint") == {}
    meta = ckpt.read_meta_properties(original / ckpt.META_PROPERTIES)
    assert (meta.cluster_id, meta.node_id, meta.version) == (broker.cluster_id, 1, 1)
    assert meta.directory_id is not None and len(meta.directory_id) == 22
    assert ckpt.read_clean_shutdown_marker(original) >= 0
    for p in range(KAFKA_PARTITIONS):
        epochs = ckpt.read_leader_epoch_checkpoint(
            original / f"{KAFKA_TOPIC}-{p}" / ckpt.LEADER_EPOCH_CHECKPOINT
        )
        # DeleteRecords moved partition 0's first epoch entry up to the new log start.
        assert epochs == [(0, KAFKA_DELETED_BELOW if p == 0 else 0)]


@pytest.mark.kafka
@pytest.mark.slow
def test_opens_kafkas_log_dir_and_kafka_opens_ours(kafka_dir) -> None:
    """LogManager opens Kafka's dir (trusted: Kafka stopped cleanly), reads every record, shuts
    down writing its own checkpoints and marker; they match Kafka's formatting, and Kafka then
    starts on them, skips recovery and serves the same records from the same start offsets."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer
    from confluent_kafka import TopicPartition as KafkaTopicPartition

    broker, original, produced = kafka_dir
    data = broker.data_dir
    meta = MetaProperties(broker.cluster_id, 1)
    m = LogManager(settings(data), LogConfig(), meta=meta)
    report = m.load_report
    assert report.clean_dirs == (str(data),) and report.warnings == ()
    assert sorted(info.tp for info in report.logs) == [
        (KAFKA_TOPIC, p) for p in range(KAFKA_PARTITIONS)
    ]  # __cluster_metadata-0 is left to the raft layer
    for info in report.logs:
        end = len(produced[info.tp.partition])
        assert info.clean_shutdown and info.truncated_bytes == 0
        assert info.checkpointed_recovery_point == info.recovery_point == info.log_end_offset == end
        log = m.get_log(*info.tp)
        start = KAFKA_DELETED_BELOW if info.tp.partition == 0 else 0
        assert log.log_start_offset == start
        expected = {o: v for o, v in produced[info.tp.partition].items() if o >= start}
        assert dict(values(log)) == expected
    m.shutdown(broker_epoch=7)

    for name in (ckpt.RECOVERY_POINT_CHECKPOINT, ckpt.LOG_START_OFFSET_CHECKPOINT):
        ours, kafkas = (data / name).read_bytes(), (original / name).read_bytes()
        assert ours.split(b"\n")[:2] == kafkas.split(b"\n")[:2]
        assert sorted(ours.split(b"\n")[2:]) == sorted(kafkas.split(b"\n")[2:])
    assert (data / ckpt.CLEAN_SHUTDOWN_FILE).read_bytes() == b'{"version":0,"brokerEpoch":7}'
    assert (data / ckpt.META_PROPERTIES).read_bytes() == (
        original / ckpt.META_PROPERTIES
    ).read_bytes()  # present and valid: left as Kafka wrote it

    kafka_log_before = broker.log_file.read_text()
    broker.start()
    kafka_log = broker.log_file.read_text()[len(kafka_log_before) :]
    assert f"Skipping recovery of {KAFKA_PARTITIONS} logs from {data} since clean shutdown" in (
        kafka_log
    )
    consumer = Consumer({
        **broker.client_config(), "group.id": "ferrokafka-storage-test",
        "enable.auto.commit": False,
    })  # fmt: skip
    try:
        consumer.assign(
            [KafkaTopicPartition(KAFKA_TOPIC, p, OFFSET_BEGINNING) for p in range(KAFKA_PARTITIONS)]
        )
        consumed: dict[int, dict[int, bytes]] = {p: {} for p in range(KAFKA_PARTITIONS)}
        wanted = KAFKA_RECORDS - KAFKA_DELETED_BELOW
        for _ in range(int(KAFKA_CLIENT_TIMEOUT_S)):  # one-second polls: bounded
            for msg in consumer.consume(num_messages=500, timeout=1.0):
                assert msg.error() is None, msg.error()
                consumed[msg.partition()][msg.offset()] = msg.value()
            if sum(len(c) for c in consumed.values()) >= wanted:
                break
    finally:
        consumer.close()
    assert min(consumed[0]) == KAFKA_DELETED_BELOW
    for p in range(KAFKA_PARTITIONS):
        start = KAFKA_DELETED_BELOW if p == 0 else 0
        assert consumed[p] == {o: v for o, v in produced[p].items() if o >= start}
    broker.stop()


def test_previous_broker_epoch_needs_every_dir_clean_with_one_epoch() -> None:
    """Kafka's readBrokerEpochFromCleanShutdownFiles: -1 unless every dir agrees."""
    from ferrokafka.storage import LoadReport

    assert LoadReport((), ("a", "b"), (), {"a": 7, "b": 7}).previous_broker_epoch == 7
    assert LoadReport((), ("a", "b"), (), {"a": 7, "b": 8}).previous_broker_epoch == -1
    assert LoadReport((), ("a",), ("b",), {"a": 7}).previous_broker_epoch == -1


def test_a_new_log_goes_to_the_dir_the_metadata_assigns(tmp_path: Path) -> None:
    """Kafka creates a replica's log in the dir its partition record names for the broker;
    an unknown or offline dir falls back to the least loaded one."""
    from ferrokafka.storage.checkpoints import parse_kafka_uuid

    a, b = tmp_path / "a", tmp_path / "b"
    m = LogManager(settings(a, b), LogConfig(), meta=MetaProperties("c", 1))
    try:
        b_id = parse_kafka_uuid(m.directory_ids[str(b)])
        assert m.dir_with_id(b_id) == b
        assert m.dir_with_id(uuid.uuid4()) is None
        for p in range(3):  # least loaded would alternate a, b, a
            m.get_or_create_log("t", p, preferred_dir=m.dir_with_id(b_id))
        assert {m.log_dir_of("t", p) for p in range(3)} == {b}
        m.get_or_create_log("t", 3, preferred_dir=None)
        assert m.log_dir_of("t", 3) == a
        m.fail_dir(b, OSError(5, "Input/output error"))
        assert m.dir_with_id(b_id) is None
        m.get_or_create_log("t", 4, preferred_dir=b)  # offline: not there
        assert m.log_dir_of("t", 4) == a
    finally:
        m.shutdown()
