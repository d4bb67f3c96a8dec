"""Which partition of a coordinator's internal topic a key lives on: Kafka's
``Utils.abs(key.hashCode()) % numPartitions``, shared by the group coordinator (group ids on
``__consumer_offsets``) and the transaction coordinator (transactional ids on
``__transaction_state``).
"""

from __future__ import annotations


def java_string_hash(text: str) -> int:
    """Java's String.hashCode (over UTF-16 code units), as a signed 32-bit int."""
    h = 0
    data = text.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def partition_for(key: str, num_partitions: int) -> int:
    """Kafka's ``Utils.abs(key.hashCode()) % numPartitions``. Utils.abs is Math.abs with
    Integer.MIN_VALUE mapped to 0 -- not ``& 0x7fffffff``, which differs for every negative
    hash (checked against a real Kafka broker in tests/groups/test_format_kafka.py)."""
    h = java_string_hash(key)
    return (0 if h == -(2**31) else abs(h)) % num_partitions
