"""One fault-injection run per seed against a single ``ferrokafka serve`` or a cluster of
them (``nodes`` > 1: :class:`~.cluster.FaultCluster`, each node in its own network
namespace), and the table.

A run: start the node(s) (log dir on a tmpfs when the schedule fills the disk), create the
topic (on a cluster: replication factor ``nodes``, min.insync.replicas 2), start the workloads
(idempotent acks=all producers, confluent-kafka and Kafka's Java client; a group of
consumers committing), play the seed's schedule for ``duration_s``, heal, probe (one record
sent to each partition and read back), stop the producers and consumers, read the group's
committed offsets and every partition in full, stop the node(s) cleanly, and run the checkers
over the history. With the ``txn`` workload (``workloads``), transactional copiers and a
read_committed reader run beside (or instead of) those, on a history of their own
(:mod:`.txn_workload`, checked by :mod:`.txn_checkers`).

Everything a run leaves is in its directory: ``history.jsonl``, each node's ``serve.err``
(``node-<id>/``), the clients' log, ``schedule.txt`` and ``result.json``.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import checkers, txn_checkers
from .cluster import FERROKAFKA, KAFKA, FaultCluster
from .history import COMMIT, FAULT, READ, SEND, TXN, History, Op, write_history
from .nemesis import Nemesis, Network, Resolver, _by_node
from .nodes import FerrokafkaNode, NodeConfig, stop_cleanly
from .schedule import (
    CLUSTER_FAULTS,
    DEFAULT_FAULTS,
    FILL,
    FILL_KILL,
    POWER_LOSS,
    describe,
    generate,
)
from .txn_workload import INPUT_TOPIC, JAVA_INPUT_TOPIC, OUTPUT_TOPIC, TxnWorkload
from .workloads import (
    CLIENT_LOG,
    PRODUCER_DEBUG_ENV,
    REQUEST_TIMEOUT_MS,
    GroupConsumer,
    JavaProducer,
    RdkafkaProducer,
    committed_offsets,
    create_topic,
    final_read,
    java_available,
    probe_partitions,
)

TOPIC = "faults"
# Big enough for a few minutes of the workload at its default rates, small enough that
# filling it is quick.
DISK_BYTES = 256 * 1024 * 1024
# Each node's ext4 loop disk when power-loss is among the faults (a sparse image file): room
# for the workloads' logs and Kafka's preallocated index files.
POWER_DISK_BYTES = 2 * 1024 * 1024 * 1024
LIVENESS_BOUND_S = 30.0
MIN_INSYNC = 2
# After the workloads stop, what the final read and commits need.
SETTLE_S = 0.5
# The workloads: idempotent producers and a consumer group on TOPIC; transactional copiers.
RECORDS = "records"
TXN_WORKLOAD = "txn"
WORKLOADS = (RECORDS, TXN_WORKLOAD)
log = logging.getLogger(__name__)


@dataclass
class RunConfig:
    seed: int
    duration_s: float
    work_dir: Path
    faults: tuple[str, ...] = DEFAULT_FAULTS
    partitions: int = 3
    rdkafka_producers: int = 2
    java_producers: int = 1
    consumers: int = 2
    rate_per_s: int = 100
    request_timeout_ms: int = REQUEST_TIMEOUT_MS
    liveness_bound_s: float = LIVENESS_BOUND_S
    log_level: str = "WARNING"
    overrides: dict[str, str] = field(default_factory=dict)
    nodes: int = 1
    # With several nodes: ferrokafka, or Apache Kafka 4.4 as the baseline.
    broker: str = FERROKAFKA
    workloads: tuple[str, ...] = (RECORDS,)


class SingleNode:
    """One node as the runner's deployment (what :class:`~.cluster.FaultCluster` is for
    several): its bootstrap, its nodes, no network faults, targets by node."""

    network: Network | None = None

    def __init__(self, node: FerrokafkaNode) -> None:
        self.node = node
        self.nodes = [node]

    @property
    def bootstrap(self) -> str:
        return self.node.bootstrap

    def resolver(self, topic: str) -> Resolver:
        return _by_node

    def start(self) -> None:
        self.node.start()

    def stop(self) -> list[str]:
        return stop_cleanly(self.nodes)

    def close(self) -> None:
        self.node.close()

    def stderr_count(self, needle: str) -> int:
        return self.node.stderr_count(needle)


Deployment = SingleNode | FaultCluster


@dataclass
class RunResult:
    seed: int
    duration_s: float
    faults: dict[str, int]
    schedule: list[str]
    operations: int
    sends: int
    acknowledged: int
    failed: int
    indeterminate: int
    reads: int
    commits: int
    anomalies: dict[str, list[str]]
    recovery_s: list[float | None]
    recovery_after_heal_s: float | None
    probe_s: float | None
    final_read_short: dict[int, int]
    workload_failures: list[str]
    tracebacks: int
    elapsed_s: float
    run_dir: str
    unclean_stops: list[str] = field(default_factory=list)
    broker: str = FERROKAFKA
    # The txn workload's transactions by outcome, anomalies by kind, output partitions its
    # final read could not finish (empty without it).
    txns: dict[str, int] = field(default_factory=dict)
    txn_anomalies: dict[str, list[str]] = field(default_factory=dict)
    txn_final_short: dict[int, int] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        return len(self.anomalies.get(checkers.LOST, []))

    @property
    def duplicated(self) -> int:
        return len(self.anomalies.get(checkers.DUPLICATE, []))

    @property
    def clean(self) -> bool:
        return (
            not any(self.anomalies.values())
            and not any(self.txn_anomalies.values())
            and not self.txn_final_short
            and not self.final_read_short
            and not self.workload_failures
            and not self.unclean_stops
            and self.probe_s is not None
        )

    def to_json(self) -> str:
        return json.dumps(
            {**asdict(self), "lost": self.lost, "duplicated": self.duplicated, "clean": self.clean},
            indent=2,
        )


def _replay_args(config: RunConfig) -> list[str]:
    """The command-line options (besides seed, duration, faults) that shaped this run."""
    default = RunConfig(seed=0, duration_s=0.0, work_dir=Path())
    args = []
    if config.partitions != default.partitions:
        args.append(f"--partitions {config.partitions}")
    if config.rate_per_s != default.rate_per_s:
        args.append(f"--rate {config.rate_per_s}")
    if config.request_timeout_ms != default.request_timeout_ms:
        args.append(f"--request-timeout-ms {config.request_timeout_ms}")
    if config.java_producers == 0:
        args.append("--no-java")
    if config.broker != FERROKAFKA:
        args.append(f"--broker {config.broker}")
    if config.workloads != default.workloads:
        args.append(f"--workload {','.join(config.workloads)}")
    return args


def default_faults(nodes: int) -> tuple[str, ...]:
    return CLUSTER_FAULTS if nodes > 1 else DEFAULT_FAULTS


def _configure_client_log(run_dir: Path) -> logging.Handler:
    handler = logging.FileHandler(run_dir / "clients.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    CLIENT_LOG.addHandler(handler)
    # librdkafka's debug lines come at DEBUG: kept when they were asked for.
    CLIENT_LOG.setLevel(logging.DEBUG if os.environ.get(PRODUCER_DEBUG_ENV) else logging.INFO)
    CLIENT_LOG.propagate = False
    return handler


def run_seed(config: RunConfig) -> RunResult:
    """One run; every node is stopped (its tmpfs unmounted, its namespace deleted) whatever
    happens."""
    began = time.monotonic()
    name = f"seed-{config.seed}" + ("" if config.broker == FERROKAFKA else f"-{config.broker}")
    run_dir = Path(config.work_dir) / name
    run_dir.mkdir(parents=True, exist_ok=True)
    events = generate(
        config.seed, config.duration_s, config.faults, config.nodes, config.partitions
    )
    text = describe(
        config.seed,
        config.duration_s,
        config.faults,
        events,
        _replay_args(config),
        nodes=config.nodes,
    )
    print(text, flush=True)
    (run_dir / "schedule.txt").write_text(text + "\n")
    handler = _configure_client_log(run_dir)
    deployment: Deployment | None = None
    try:
        deployment = _deploy(config, run_dir)
        history = History()
        result = _exercise(config, deployment, history, events, run_dir)
        result.elapsed_s = time.monotonic() - began
        (run_dir / "result.json").write_text(result.to_json() + "\n")  # with the run's time
        return result
    finally:
        if deployment is not None:
            deployment.close()
        CLIENT_LOG.removeHandler(handler)
        handler.close()


def _deploy(config: RunConfig, run_dir: Path) -> Deployment:
    """Start the node(s) and create the topic; closed again if that fails."""
    deployment: Deployment
    if config.nodes > 1:
        if {FILL, FILL_KILL} & set(config.faults):
            raise ValueError("fill and fill-kill are single-node faults")
        deployment = FaultCluster(
            run_dir,
            config.nodes,
            log_level=config.log_level,
            overrides=config.overrides,
            broker=config.broker,
            power_disk_bytes=POWER_DISK_BYTES if POWER_LOSS in config.faults else None,
        )
    elif config.broker == KAFKA:
        raise ValueError("the Kafka baseline is a cluster (--nodes 3)")
    else:
        node = FerrokafkaNode(
            NodeConfig(
                node_id=1,
                work_dir=run_dir / "node-1",
                disk_bytes=DISK_BYTES if {FILL, FILL_KILL} & set(config.faults) else None,
                log_level=config.log_level,
                overrides={
                    "offsets.topic.replication.factor": "1",
                    "transaction.state.log.replication.factor": "1",
                    "transaction.state.log.min.isr": "1",
                    "group.initial.rebalance.delay.ms": "0",
                    **config.overrides,
                },
            )
        )
        deployment = SingleNode(node)
    try:
        deployment.start()
        replicated = {"min.insync.replicas": str(MIN_INSYNC)} if config.nodes > 1 else {}
        create_topic(
            deployment.bootstrap,
            TOPIC,
            config.partitions,
            replication_factor=config.nodes,
            config=replicated,
        )
        if TXN_WORKLOAD in config.workloads:
            for topic, partitions in (
                (INPUT_TOPIC, config.partitions),
                (OUTPUT_TOPIC, config.partitions),
                (JAVA_INPUT_TOPIC, 1),
            ):
                create_topic(
                    deployment.bootstrap,
                    topic,
                    partitions,
                    replication_factor=config.nodes,
                    config=replicated,
                )
    except BaseException:
        deployment.close()
        raise
    return deployment


def _exercise(
    config: RunConfig, deployment: Deployment, history: History, events: list, run_dir: Path
) -> RunResult:
    group = f"faults-{config.seed}"
    records = RECORDS in config.workloads
    java_missing = java_available() if config.java_producers else None
    if java_missing is not None:
        raise RuntimeError(f"the Java producer and copier need Apache Kafka: {java_missing}")
    bootstrap = deployment.bootstrap
    consumers = [
        GroupConsumer(history, bootstrap, TOPIC, group, f"consumer-{i}")
        for i in range(config.consumers if records else 0)
    ]
    producers = [
        RdkafkaProducer(
            history,
            bootstrap,
            TOPIC,
            f"s{config.seed}p{i}",
            rate_per_s=config.rate_per_s,
            duration_s=config.duration_s + 120.0,
            request_timeout_ms=config.request_timeout_ms,
        )
        for i in range(config.rdkafka_producers if records else 0)
    ]
    java = [
        JavaProducer(
            history,
            bootstrap,
            TOPIC,
            1000 + i,
            run_dir,
            rate_per_s=config.rate_per_s,
            max_messages=int(config.rate_per_s * config.duration_s),
            request_timeout_ms=config.request_timeout_ms,
        )
        for i in range(config.java_producers if records else 0)
    ]
    txn_history = History(started=time.monotonic() - history.now())
    txn = (
        TxnWorkload(
            txn_history,
            bootstrap,
            config.seed,
            config.partitions,
            duration_s=config.duration_s,
            request_timeout_ms=config.request_timeout_ms,
            java_work_dir=run_dir if config.java_producers else None,
        )
        if TXN_WORKLOAD in config.workloads
        else None
    )
    nemesis = Nemesis(
        history,
        deployment.nodes,
        events,
        network=deployment.network,
        resolve=deployment.resolver(TOPIC),
    )
    workers = [*consumers, *producers]
    try:
        for worker in workers:
            worker.start()
        for producer in java:
            producer.start()
        if txn is not None:
            txn.start()
        nemesis.start()
        time.sleep(max(0.0, config.duration_s - history.now()))
        nemesis.stop()
        probe_s = probe_partitions(
            history, bootstrap, TOPIC, f"probe-{config.seed}", config.partitions
        )
        for producer in java:
            producer.stop()
        stuck = txn.stop(SETTLE_S) if txn is not None else []
        stuck += [problem for worker in producers if (problem := _stop(worker))]
        time.sleep(SETTLE_S)
        stuck += [problem for worker in consumers if (problem := _stop(worker))]
        committed_offsets(history, bootstrap, TOPIC, group, config.partitions)
        short = final_read(history, bootstrap, TOPIC, config.partitions)
        txn_short = txn.finish() if txn is not None else {}
        stop_codes = deployment.stop()
    finally:
        # Interrupted or failed: no fault after this, no JVM outlives the run (the client
        # threads are daemons).
        nemesis.halt()
        for producer in java:
            producer.kill()
    failures = [f"{w.name}: {w.failure!r}" for w in workers if w.failure is not None] + stuck
    if txn is not None:
        failures += txn.failures()
    if nemesis.failure is not None:
        failures.append(f"nemesis: {nemesis.failure!r}")
    unclean = stop_codes
    ops = history.ops()
    write_history(run_dir / "history.jsonl", ops)
    result = summarize(config, ops, nemesis.injected, events, probe_s, short, failures)
    result.unclean_stops = unclean
    if txn is not None:
        txn_ops = txn_history.ops()
        write_history(run_dir / "txn-history.jsonl", txn_ops)
        found = txn_checkers.check_txn(
            txn_ops,
            heal_s=checkers.heal_time(ops),
            liveness_bound_s=config.liveness_bound_s,
        )
        result.txn_anomalies = {kind: [a.detail for a in v] for kind, v in found.items()}
        result.txns = txn.counts()
        result.txn_final_short = txn_short
        if not records:
            recovered = checkers.recovery_times(_commits(ops, txn_ops, txn.group))
            result.recovery_s = [took for _, took in recovered]
    result.broker = config.broker
    result.tracebacks = deployment.stderr_count("Traceback")
    result.run_dir = str(run_dir)
    (run_dir / "result.json").write_text(result.to_json() + "\n")
    return result


def _commits(ops: list[Op], txn_ops: list[Op], group: str) -> list[Op]:
    """The faults, and each committed transaction of ``group`` (the confluent-kafka copiers)
    as an acknowledgement of every input partition it committed offsets of: recovery is then
    until every partition's copying commits again."""
    commits = [
        Op(SEND, op.process, op.invoke_s, op.complete_s, True, op.value, partition)
        for op in txn_ops
        if op.kind == TXN and op.ok and op.group == group
        for partition in op.offsets
    ]
    return [op for op in ops if op.kind == FAULT] + commits


def _stop(worker: RdkafkaProducer | GroupConsumer) -> str | None:
    """Stop a client thread; a thread that does not stop in time (a librdkafka call blocked on
    an unreachable coordinator) is a workload failure, and the run goes on without it (it is
    a daemon)."""
    try:
        worker.stop()
    except TimeoutError as exc:
        return str(exc)
    return None


def summarize(
    config: RunConfig,
    ops: list[Op],
    injected: dict[str, int],
    events: list,
    probe_s: float | None,
    short: dict[int, int],
    failures: list[str],
) -> RunResult:
    found = checkers.check(ops, liveness_bound_s=config.liveness_bound_s)
    sends = [op for op in ops if op.kind == SEND]
    return RunResult(
        seed=config.seed,
        duration_s=config.duration_s,
        faults=dict(injected),
        schedule=[str(e) for e in events],
        operations=len(ops),
        sends=len(sends),
        acknowledged=sum(1 for op in sends if op.ok),
        failed=sum(1 for op in sends if op.ok is False),
        indeterminate=sum(1 for op in sends if op.ok is None),
        reads=sum(1 for op in ops if op.kind == READ),
        commits=sum(1 for op in ops if op.kind == COMMIT and op.ok),
        anomalies={kind: [a.detail for a in found[kind]] for kind in checkers.ANOMALY_KINDS},
        recovery_s=[took for _, took in checkers.recovery_times(ops)],
        recovery_after_heal_s=checkers.recovery_after_heal(ops),
        probe_s=probe_s,
        final_read_short=short,
        workload_failures=failures,
        tracebacks=0,
        elapsed_s=0.0,
        run_dir="",
    )


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _txns(counts: dict[str, int]) -> str:
    """Transactions committed/aborted/unknown, and ``+<n>j`` committed by Kafka's copier; "-"
    without the txn workload."""
    if not counts:
        return "-"
    java = f" +{counts['java-committed']}j" if counts.get("java-launches") else ""
    return f"{counts['committed']}/{counts['aborted']}/{counts['unknown']}{java}"


def format_table(results: list[RunResult]) -> str:
    """The summary table: one row per seed."""
    header = (
        "broker",
        "seed",
        "faults",
        "ops",
        "sent",
        "acked",
        "failed",
        "lost",
        "dup",
        "txns c/a/?",
        "anomalies",
        "recovery s (median/max)",
        "heal->read s",
        "tracebacks",
        "run s",
    )
    rows = [header]
    for r in results:
        faults = " ".join(f"{k}={v}" for k, v in sorted(r.faults.items())) or "none"
        found = {**r.anomalies, **r.txn_anomalies}
        anomalies = " ".join(f"{k}={len(v)}" for k, v in found.items() if v) or "none"
        if r.txn_final_short:
            anomalies += f" txn-final-read-short={r.txn_final_short}"
        if r.final_read_short:
            anomalies += f" final-read-short={r.final_read_short}"
        if r.workload_failures:
            anomalies += f" workload-failures={len(r.workload_failures)}"
        if r.unclean_stops:
            anomalies += f" unclean-stops={len(r.unclean_stops)}"
        known = [t for t in r.recovery_s if t is not None]
        recovery = (f"{statistics.median(known):.2f}/{max(known):.2f}" if known else "-") + (
            f" ({len(r.recovery_s) - len(known)} none)" if len(known) < len(r.recovery_s) else ""
        )
        rows.append(
            (
                r.broker,
                str(r.seed),
                faults,
                str(r.operations),
                str(r.sends),
                str(r.acknowledged),
                str(r.failed),
                str(r.lost),
                str(r.duplicated),
                _txns(r.txns),
                anomalies,
                recovery,
                _seconds(r.recovery_after_heal_s),
                str(r.tracebacks),
                f"{r.elapsed_s:.0f}",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_anomalies(result: RunResult, limit: int = checkers.DETAILS_MAX) -> str:
    lines = []
    for kind, details in {**result.anomalies, **result.txn_anomalies}.items():
        for detail in details[:limit]:
            lines.append(f"  seed {result.seed} {kind}: {detail}")
        if len(details) > limit:
            lines.append(f"  seed {result.seed} {kind}: ... {len(details) - limit} more")
    lines += [f"  seed {result.seed} workload: {f}" for f in result.workload_failures]
    lines += [f"  seed {result.seed} stop: {f}" for f in result.unclean_stops]
    if result.final_read_short:
        lines.append(f"  seed {result.seed} final read stopped short: {result.final_read_short}")
    if result.txn_final_short:
        lines.append(f"  seed {result.seed} txn final read stopped short: {result.txn_final_short}")
    if result.probe_s is None:
        lines.append(f"  seed {result.seed} liveness probe failed")
    return "\n".join(lines)
