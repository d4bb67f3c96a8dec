"""A share group of consumers (KIP-932, queues), ferrokafka against Apache Kafka 4.4.

Run from the repo root with the project's interpreter::

    python -m bench.share_group --quick    # 2 rounds per side, a few minutes
    python -m bench.share_group --full     # 3 rounds, larger runs
    python -m bench.share_group --smoke    # proves the harness (numbers mean nothing)

Each side is one broker on loopback (``ferrokafka serve``, or Apache Kafka 4.4 with its
production JVM flags) with the same settings. A topic is filled by Kafka's ProducerPerformance,
the group gets ``share.auto.offset.reset=earliest`` (kafka-configs on the GROUP resource), and
Kafka's ShareConsumerPerformance reads every record with ``--threads`` share consumers in one
share group (implicit acknowledgement: every delivered record is accepted, so the broker keeps
acquisition locks, acknowledgements and the share-partition state as it goes). The sides
alternate over the rounds so drift on the machine hits both.

Figures per run: records/s and MB/s of the share group, the broker's CPU seconds per GB
consumed, its resident set. The report gives medians and the ratio ferrokafka/Kafka.
Output: ``bench/results/share-group-<mode>.{json,md}``. It never fails on speed.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The Kafka jars and their launchers live with the tests.
for _path in (REPO / "tests",):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
