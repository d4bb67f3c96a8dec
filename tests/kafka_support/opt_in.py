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
