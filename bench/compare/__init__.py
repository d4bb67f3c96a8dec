"""ferrokafka against Apache Kafka, side by side, with clients neither side wrote.

Run from the repo root with the project's interpreter::

    python -m bench.compare --quick     # a representative subset, under five minutes
    python -m bench.compare --full      # the whole matrix, a few GB per broker

Both brokers run as separate processes on loopback with equivalent settings (same data
filesystem, same segment size, no per-message fsync), one after the other, alternating A/B
over the repetitions. The workloads are Kafka's own ProducerPerformance, ConsumerPerformance
and EndToEndLatency (Java, from the jars ``tests/kafka/fetch.sh`` caches), librdkafka through
confluent-kafka, and kcat (librdkafka in C, no interpreter in the data path). The same run
measures the machine's limits (loopback TCP, sequential write of the data filesystem) and
reports every figure also as a share of its limit.

Output: ``bench/results/compare-<mode>.{json,md}`` and PNG charts beside them. The harness
reports; it never fails on speed, and a workload that fails is recorded with its error.

Layout: ``plan`` (what runs in each mode), ``probe`` (readiness and /proc sampling),
``brokers`` (the two launchers), ``clients`` (the Java and confluent-kafka workloads),
``kcat`` (the kcat workloads), ``limits`` (loopback and disk),
``run`` (repetitions), ``report`` (statistics, markdown, JSON), ``charts`` (PNG).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# kafka_support (the Kafka launcher and jars) lives with the tests.
_TESTS = str(REPO / "tests")
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
