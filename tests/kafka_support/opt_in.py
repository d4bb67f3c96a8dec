"""Side-by-side runs against a single Apache Kafka 4.4 broker that cost the suite the most (a
JVM broker per module, Kafka's tools run twice) are opt-in: ``FERROKAFKA_COMPARE_KAFKA=1``
runs them (README, "Tests"). The ferrokafka half of each behaviour is checked by other tests
that always run; these prove the answers equal Kafka's. Mixed clusters (Kafka and ferrokafka
nodes in one cluster) and the comparisons that cost little always run."""

from __future__ import annotations

import os

import pytest

COMPARE_ENV = "FERROKAFKA_COMPARE_KAFKA"


def compare_enabled() -> bool:
    return os.environ.get(COMPARE_ENV, "") not in ("", "0")


COMPARE_OPT_IN = pytest.mark.skipif(
    not compare_enabled(), reason=f"opt-in: {COMPARE_ENV}=1 (side by side with Apache Kafka 4.4)"
)

# More variants of a behaviour another test of the default run already proves (one Kafka
# controller as well as three, transaction.version 0 as well as 1, a second single-node fault
# seed): opt-in with FERROKAFKA_MORE_VARIANTS=1 to keep the suite near its budget.
VARIANTS_ENV = "FERROKAFKA_MORE_VARIANTS"


def variants_enabled() -> bool:
    return os.environ.get(VARIANTS_ENV, "") not in ("", "0")


VARIANT_OPT_IN = pytest.mark.skipif(
    not variants_enabled(), reason=f"opt-in: {VARIANTS_ENV}=1 (more variants of a tested case)"
)
