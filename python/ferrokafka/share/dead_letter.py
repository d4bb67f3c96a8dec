"""The records a share-partition leader writes to a share group's dead-letter queue topic
(share.version 2, KIP-1191), as Kafka 4.4's ``ShareGroupDLQStateManager`` builds them.

One DLQ record per offset of a :class:`~ferrokafka.share.partition.DeadLetter` run, in a batch
without compression, timestamped now (CreateTime), with Kafka's headers (UTF-8 strings):

- ``__dlq.errors.topic``, ``__dlq.errors.partition``, ``__dlq.errors.offset``: the record's
  origin (the partition as a decimal, the offset as a decimal);
- ``__dlq.errors.group``: the share group;
- ``__dlq.errors.delivery.count``: how often it was delivered (decimal);
- ``__dlq.errors.message``: why (``Offset rejected by client.`` or ``Offset delivery count
  exceeded the threshold.``).

The original key and value are copied only when the group sets
``errors.deadletterqueue.copy.record.enable``; else both are null. The original headers are
never copied. An offset the log no longer has (compacted away) gets headers only, as in Kafka.
"""

from __future__ import annotations

from collections.abc import Mapping

from ferrokafka.share.partition import DeadLetter
from ferrokafka.storage import BatchBuilder, decode_batches

HEADER_TOPIC = "__dlq.errors.topic"
HEADER_PARTITION = "__dlq.errors.partition"
HEADER_OFFSET = "__dlq.errors.offset"
HEADER_GROUP = "__dlq.errors.group"
HEADER_DELIVERY_COUNT = "__dlq.errors.delivery.count"
HEADER_MESSAGE = "__dlq.errors.message"
# Kafka reads the originals to copy in rounds of at most this many bytes of log.
ORIGINALS_READ_BYTES = 1_048_576
# A DLQ batch's fixed overhead (record batch v2 header) and a record's, headers aside, as an
# upper bound to split batches under the DLQ topic's max.message.bytes.
_BATCH_OVERHEAD = 61
_RECORD_OVERHEAD = 32

Original = tuple[bytes | None, bytes | None]  # (key, value)


def headers(
    group_id: str, topic: str, partition: int, offset: int, letter: DeadLetter
) -> list[tuple[str, bytes | None]]:
    return [
        (HEADER_TOPIC, topic.encode()),
        (HEADER_PARTITION, str(partition).encode()),
        (HEADER_OFFSET, str(offset).encode()),
        (HEADER_GROUP, group_id.encode()),
        (HEADER_DELIVERY_COUNT, str(letter.delivery_count).encode()),
        (HEADER_MESSAGE, letter.cause.encode()),
    ]


def dead_letter_batches(
    group_id: str,
    topic: str,
    partition: int,
    letter: DeadLetter,
    originals: Mapping[int, Original],
    now_ms: int,
    max_batch_bytes: int,
) -> list[bytes]:
    """The batches that carry ``letter``'s records, each under ``max_batch_bytes`` (the DLQ
    topic's max.message.bytes) unless one record alone exceeds it."""
    out: list[bytes] = []
    builder: BatchBuilder | None = None
    size = _BATCH_OVERHEAD
    for offset in range(letter.first_offset, letter.last_offset + 1):
        key, value = originals.get(offset, (None, None))
        record_headers = headers(group_id, topic, partition, offset, letter)
        record_size = (
            _RECORD_OVERHEAD
            + len(key or b"")
            + len(value or b"")
            + sum(len(k) + len(v or b"") + 4 for k, v in record_headers)
        )
        if builder is not None and size + record_size > max_batch_bytes:
            out.append(builder.build())
            builder = None
        if builder is None:
            builder = BatchBuilder()
            size = _BATCH_OVERHEAD
        builder.append(value, key=key, headers=record_headers, timestamp=now_ms)
        size += record_size
    if builder is not None:
        out.append(builder.build())
    return out


def originals_of(data: bytes, first: int, last: int) -> tuple[dict[int, Original], int]:
    """The (key, value) of the records first..last among the batches ``data`` holds, and the
    offset after the last batch read (where the next read starts)."""
    found: dict[int, Original] = {}
    after = first
    for batch in decode_batches(data, allow_partial=True):
        after = max(after, batch.last_offset + 1)
        if batch.is_control:
            continue
        for record in batch.records():
            if first <= record.offset <= last:
                found[record.offset] = (record.key, record.value)
    return found, after
