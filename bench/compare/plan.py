"""What runs in each mode: the workload matrix, its sizes and its bounds.

Every load loop in the harness takes its count from here and has a time limit from here: a
broker that stalls costs at most the limit and is recorded as a failed workload.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

KIB = 1 << 10
MIB = 1 << 20
GIB = 1 << 30
RECORD_SIZES = (100, KIB)
ACKS = ("1", "all")
CODECS = ("none", "lz4", "zstd")
PARTITIONS = (1, 6)
# Same on both brokers; Kafka 4 refuses less than 1 MiB. Small enough that the restart
# workload of the full mode spans several segments per partition.
SEGMENT_BYTES_DEFAULT = 256 * MIB


# The transactional produce case: transactions committed every TRANSACTION_MS (Kafka's
# ProducerPerformance --transaction-duration-ms), so the coordinator's round trips
# (AddPartitionsToTxn, EndTxn, the markers on every partition) weigh in the figure.
TRANSACTION_MS = 100


@dataclass(frozen=True)
class ProduceCase:
    """One ProducerPerformance run: ``records`` records of ``record_size`` bytes; with
    ``transaction_ms``, inside transactions each committed after that many milliseconds
    (a transactional producer is idempotent, so it needs acks=all)."""

    record_size: int
    acks: str
    codec: str
    partitions: int
    records: int
    transaction_ms: int | None = None

    def __post_init__(self) -> None:
        if self.transaction_ms is not None and (self.transaction_ms <= 0 or self.acks != "all"):
            raise ValueError(f"a transactional case needs acks=all and a duration > 0: {self}")

    @property
    def name(self) -> str:
        size = (
            f"{self.record_size // KIB}KiB" if self.record_size >= KIB else f"{self.record_size}B"
        )
        txn = "" if self.transaction_ms is None else f" txn {self.transaction_ms}ms"
        return f"produce {size} acks={self.acks} {self.codec} p{self.partitions}{txn}"

    @property
    def topic(self) -> str:
        txn = "" if self.transaction_ms is None else f"-txn{self.transaction_ms}"
        name = f"produce-{self.record_size}-{self.acks}-{self.codec}-{self.partitions}{txn}"
        return name.replace("all", "a")


@dataclass(frozen=True)
class Plan:
    mode: str
    repetitions: int
    produce: tuple[ProduceCase, ...]
    # Consume: a topic of consume_records x consume_record_size filled first, then read from
    # offset 0 by ConsumerPerformance (a consumer group), a librdkafka assign loop and kcat.
    consume_records: int
    consume_record_size: int
    consume_partitions: int
    # EndToEndLatency: one record in flight at a time (its own design), this many records.
    e2e_records: int
    e2e_record_size: int
    # librdkafka open-loop latency: a fixed rate far below both brokers' maxima.
    rate_per_s: int
    rate_seconds: float
    # Restart: the data directory is topped up to at least this many bytes before it.
    restart_bytes: int
    # Physical limits measured in the same run.
    loopback_bytes: int
    disk_bytes: int
    # One produce case also run with librdkafka (confluent-kafka) as the client, and one
    # (uncompressed: kcat's file input) with kcat, librdkafka in C with no interpreter.
    librdkafka_produce: ProduceCase | None = None
    kcat_produce: ProduceCase | None = None
    # Broker-bound produce (bench.compare.raw): measured and warm-up requests, each one batch
    # of raw_batch_records x raw_record_size bytes; 0 requests: not run.
    raw_requests: int = 0
    raw_warmup_requests: int = 0
    raw_record_size: int = KIB
    raw_batch_records: int = 15
    # Each consume client reads the topic this many times per broker run, and the run's figure
    # is the median round: one read of a topic moves by 20% from run to run on either broker.
    consume_rounds: int = 1
    segment_bytes: int = SEGMENT_BYTES_DEFAULT
    # Bounds on one workload and on one broker's start.
    workload_timeout_s: float = 300.0
    start_timeout_s: float = 120.0
    limit_timeout_s: float = 30.0
    notes: tuple[str, ...] = field(default=())


def _records(total_bytes: int, record_size: int) -> int:
    return max(1, total_bytes // record_size)


def full_plan() -> Plan:
    """Every combination of size, acks, codec and partitions, and the transactional case;
    ~1 GiB per produce run."""
    cases = tuple(
        ProduceCase(size, acks, codec, parts, _records(GIB, size) if size >= KIB else 5_000_000)
        for size, acks, codec, parts in itertools.product(RECORD_SIZES, ACKS, CODECS, PARTITIONS)
    ) + (ProduceCase(KIB, "all", "none", 6, _records(GIB, KIB), TRANSACTION_MS),)
    return Plan(
        mode="full",
        repetitions=3,
        produce=cases,
        librdkafka_produce=ProduceCase(100, "1", "none", 1, 5_000_000),
        kcat_produce=ProduceCase(100, "1", "none", 1, 5_000_000),
        raw_requests=60_000,
        raw_warmup_requests=30_000,
        consume_records=_records(2 * GIB, KIB),
        consume_record_size=KIB,
        consume_partitions=6,
        consume_rounds=3,
        e2e_records=20_000,
        e2e_record_size=100,
        rate_per_s=2_000,
        rate_seconds=30.0,
        restart_bytes=4 * GIB,
        loopback_bytes=16 * GIB,
        disk_bytes=4 * GIB,
        workload_timeout_s=600.0,
    )


def quick_plan() -> Plan:
    """A representative subset: every value of every axis appears once, from a 100 B, acks=1,
    uncompressed, one-partition base case (four ProducerPerformance runs, not 24), and the
    transactional case."""
    variants = [
        (100, "1", "none", 1),
        (KIB, "1", "none", 6),
        (100, "all", "lz4", 1),
        (100, "1", "zstd", 1),
    ]
    cases = tuple(
        ProduceCase(size, acks, codec, parts, _records(32 * MIB, size))
        for size, acks, codec, parts in variants
    ) + (ProduceCase(KIB, "all", "none", 6, _records(32 * MIB, KIB), TRANSACTION_MS),)
    return Plan(
        mode="quick",
        repetitions=2,
        produce=cases,
        librdkafka_produce=cases[0],
        # kcat sends 32 MiB of 100 B records in a quarter of a second, where its ~20 ms of
        # process start, connection and metadata would weigh: 128 MiB.
        kcat_produce=replace(cases[0], records=_records(128 * MIB, 100)),
        raw_requests=20_000,
        raw_warmup_requests=20_000,
        # 512 MiB: kcat reads 128 MiB in well under a second, so start-up would dominate.
        consume_records=_records(512 * MIB, KIB),
        consume_record_size=KIB,
        consume_partitions=6,
        consume_rounds=3,
        e2e_records=1_000,
        e2e_record_size=100,
        rate_per_s=1_000,
        rate_seconds=3.0,
        restart_bytes=256 * MIB,
        loopback_bytes=2 * GIB,
        disk_bytes=512 * MIB,
        workload_timeout_s=120.0,
    )


def smoke_plan() -> Plan:
    """Seconds of load: proves the harness end to end (the CI smoke test); numbers mean nothing."""
    return Plan(
        mode="smoke",
        repetitions=1,
        produce=(
            ProduceCase(100, "1", "lz4", 1, 5_000),
            ProduceCase(KIB, "all", "none", 2, 5_000, TRANSACTION_MS),
        ),
        librdkafka_produce=ProduceCase(100, "1", "none", 1, 5_000),
        kcat_produce=ProduceCase(100, "1", "none", 1, 5_000),
        raw_requests=200,
        raw_warmup_requests=100,
        consume_records=5_000,
        consume_record_size=KIB,
        consume_partitions=2,
        e2e_records=200,
        e2e_record_size=100,
        rate_per_s=200,
        rate_seconds=1.0,
        restart_bytes=0,
        loopback_bytes=64 * MIB,
        disk_bytes=16 * MIB,
        segment_bytes=MIB,
        workload_timeout_s=60.0,
        start_timeout_s=90.0,
        limit_timeout_s=10.0,
    )


PLANS = {"full": full_plan, "quick": quick_plan, "smoke": smoke_plan}


def scaled(plan: Plan, factor: float) -> Plan:
    """The same plan with every record count and byte size multiplied by ``factor`` (at least
    one record): runs the full matrix in minutes to check the harness, not to measure."""

    def n(value: int) -> int:
        return max(1, int(value * factor))

    def one(value: ProduceCase | None) -> ProduceCase | None:
        return None if value is None else replace(value, records=n(value.records))

    return replace(
        plan,
        mode=f"{plan.mode}-x{factor:g}",
        produce=tuple(replace(case, records=n(case.records)) for case in plan.produce),
        librdkafka_produce=one(plan.librdkafka_produce),
        kcat_produce=one(plan.kcat_produce),
        raw_requests=n(plan.raw_requests) if plan.raw_requests else 0,
        raw_warmup_requests=n(plan.raw_warmup_requests) if plan.raw_requests else 0,
        consume_records=n(plan.consume_records),
        e2e_records=n(plan.e2e_records),
        rate_seconds=max(1.0, plan.rate_seconds * factor),
        restart_bytes=int(plan.restart_bytes * factor),
        loopback_bytes=n(plan.loopback_bytes),
        disk_bytes=n(plan.disk_bytes),
    )
