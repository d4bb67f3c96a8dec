"""``python -m tests.faults``: fault-injection runs against a single ``ferrokafka serve``, or
with ``--nodes 3`` a KRaft cluster of them, each node in its own network namespace (root).

Prints each seed's schedule (and the command that replays it) as it starts, then one table
row per seed: faults injected, operations, acknowledged, lost, duplicated, anomalies by kind,
recovery times. Exits 1 if any run found an anomaly.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

# Kafka's jars are found by tests/kafka_support, imported as a top-level package (as pytest's
# pythonpath does).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from .cluster import BROKERS, FERROKAFKA
from .runner import WORKLOADS, RunConfig, default_faults, format_anomalies, format_table, run_seed
from .schedule import ALL_FAULT_KINDS, CLUSTER_FAULTS, DEFAULT_FAULTS
from .workloads import REQUEST_TIMEOUT_MS

BOTH = "both"


def parse_seeds(text: str) -> list[int]:
    """``1,2,5-8`` -> [1, 2, 5, 6, 7, 8]."""
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds += range(int(low), int(high or low) + 1)
    return seeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults", description=__doc__)
    parser.add_argument("--seeds", default="1", help="seeds, e.g. 1,2,5-8 (default 1)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of faults per seed")
    parser.add_argument(
        "--nodes",
        type=int,
        default=1,
        help="1: one node; more: a cluster (combined nodes, replication factor NODES, "
        "min.insync.replicas 2), each node in its own network namespace (needs root)",
    )
    parser.add_argument(
        "--broker",
        choices=(*BROKERS, BOTH),
        default=FERROKAFKA,
        help="with several nodes: the brokers under test; kafka is Apache Kafka 4.4 (the "
        "baseline), both runs each seed against each and prints them side by side",
    )
    parser.add_argument(
        "--faults",
        default=None,
        help=f"some of {','.join(ALL_FAULT_KINDS)} (default {','.join(DEFAULT_FAULTS)}; "
        f"with several nodes {','.join(CLUSTER_FAULTS)}); fill and fill-kill need root (a "
        "tmpfs log dir) and one node; the network faults and power-loss (an ext4 loop disk per "
        "node; opt-in) need several nodes",
    )
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--rate", type=int, default=100, help="records/s of each producer")
    parser.add_argument(
        "--request-timeout-ms",
        type=int,
        default=REQUEST_TIMEOUT_MS,
        help="producers' request timeout; below the pause lengths, in-flight requests are "
        "sent again while the broker is stopped (deduplication under test)",
    )
    parser.add_argument(
        "--workload",
        default="records",
        help=f"some of {','.join(WORKLOADS)}: idempotent producers and a consumer group "
        "(records), transactional copiers with a read_committed reader (txn)",
    )
    parser.add_argument(
        "--no-java",
        action="store_true",
        help="no Java tools (VerifiableProducer, TransactionalMessageCopier)",
    )
    parser.add_argument("--work-dir", type=Path, help="where runs are kept (default: a temp dir)")
    parser.add_argument("--log-level", default="WARNING", help="the broker's --log-level")
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C: nodes killed, tmpfs unmounted, no JVM left behind.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    unknown = set(args.workload.split(",")) - set(WORKLOADS) - {""}
    if unknown:
        parser.error(f"unknown workload {','.join(sorted(unknown))}")
    if args.faults is None:
        faults = default_faults(args.nodes)
    else:
        faults = tuple(f for f in args.faults.split(",") if f)
    work_dir = args.work_dir or Path(
        tempfile.mkdtemp(prefix=f"ferrokafka-faults-{time.strftime('%Y%m%d-%H%M%S')}-")
    )
    print(f"runs in {work_dir}", flush=True)
    results = []
    aborted: list[str] = []
    brokers = BROKERS if args.broker == BOTH else (args.broker,)
    for seed, broker in ((s, b) for s in parse_seeds(args.seeds) for b in brokers):
        config = RunConfig(
            seed=seed,
            duration_s=args.duration,
            work_dir=work_dir,
            faults=faults,
            partitions=args.partitions,
            rate_per_s=args.rate,
            request_timeout_ms=args.request_timeout_ms,
            java_producers=0 if args.no_java else 1,
            log_level=args.log_level,
            nodes=args.nodes,
            broker=broker,
            workloads=tuple(w for w in args.workload.split(",") if w),
        )
        try:
            results.append(run_seed(config))
        except Exception:  # one broken run (a cluster that did not start) ends only itself
            traceback.print_exc()
            aborted.append(f"  seed {seed} {broker}: the run failed (traceback above)")
            continue
        print(format_table(results[-1:]), flush=True)
        if any("did not stop" in failure for failure in results[-1].workload_failures):
            # Its thread lives on in this process and would reconnect to the next cluster
            # (same addresses): no later run would be clean of it.
            aborted.append(f"  seeds after {seed} {broker}: not run, a client thread is stuck")
            break
    print("\n" + format_table(results))
    problems = [format_anomalies(r) for r in results if not r.clean] + aborted
    if problems:
        print("\nanomalies:\n" + "\n".join(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
