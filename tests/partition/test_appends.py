"""``appends.headers_of``: the headers of the whole batches an append took, read in place — what
a follower's producer state and epoch cache follow (a fetched chunk may end in a cut batch)."""

from __future__ import annotations

from ferrokafka.partition.appends import headers_of
from ferrokafka.storage import BatchBuilder


def batch(base_offset: int, producer_id: int, count: int) -> bytes:
    builder = BatchBuilder(
        base_offset=base_offset,
        producer_id=producer_id,
        producer_epoch=0,
        base_sequence=0,
        partition_leader_epoch=3,
    )
    for i in range(count):
        builder.append(b"v%d" % i, key=b"k")
    return bytes(builder.build())


def test_every_whole_batch_and_nothing_past_the_valid_bytes() -> None:
    first, second = batch(0, 7, 2), batch(2, 8, 3)
    chunk = first + second
    headers = list(headers_of(chunk, len(chunk)))
    assert [(h.base_offset, h.last_offset, h.producer_id) for h in headers] == [
        (0, 1, 7),
        (2, 4, 8),
    ]
    assert all(h.partition_leader_epoch == 3 for h in headers)
    # A fetch cut inside the second batch: only the first counts.
    cut = chunk[: len(first) + 30]
    assert [h.base_offset for h in headers_of(cut, len(cut))] == [0]
    assert [h.base_offset for h in headers_of(chunk, len(first))] == [0]
    assert list(headers_of(chunk, 0)) == []
