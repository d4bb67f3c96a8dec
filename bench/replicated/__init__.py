"""Replicated produce, ferrokafka against Apache Kafka: three nodes, RF 3, acks=all.

Run from the repo root with the project's interpreter::

    python -m bench.replicated --quick    # 2 rounds per side, a few minutes
    python -m bench.replicated --full     # 3 rounds, larger runs
    python -m bench.replicated --smoke    # proves the harness (numbers mean nothing)

Each side is a 3-node KRaft cluster of combined (broker + controller) nodes on loopback, every
node its own process (``ferrokafka serve``, or Apache Kafka 4.4 with its production JVM flags),
formatted and started by ``tests/cluster/mixed_processes.py``. Both sides get the same broker
settings (Kafka's thread defaults, the same segment size, ``min.insync.replicas=2``). A topic with
replication factor 3 is created and, once every partition has its full ISR, Kafka's
ProducerPerformance sends with ``acks=all``. The sides alternate over the rounds (A B, B A, ...)
so drift on the machine hits both.

Figures per run: records/s and MB/s, the producer's p50/p99 latency, the CPU seconds of all three
node processes per GB produced (each GB is written three times), and each node's resident set.
The report gives the median over the rounds and the ratio ferrokafka/Kafka.
Output: ``bench/results/replicated-<mode>.{json,md}``. It never fails on speed.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The process-cluster launcher and the Kafka jars live with the tests.
for _path in (REPO / "tests", REPO / "tests" / "cluster"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
