"""An inline append (in the trio thread, which serves every connection) inflates a compressed
batch only up to INLINE_INFLATE_BYTES_MAX: a batch that inflates to more — a decompression
bomb of a few KB, or just a very compressible big batch — raises InflateInWorkerThread with
nothing changed, and append_as_leader makes it in a worker thread instead (before: ~100 ms of
the event loop per 4 KB zstd bomb)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import trio

from ferrokafka.partition import AppendOrigin, Partition
from ferrokafka.partition.appends import INLINE_INFLATE_BYTES_MAX, InflateInWorkerThread
from ferrokafka.partition.leader_epochs import load_leader_epoch_cache
from ferrokafka.partition.partition import PartitionState
from ferrokafka.partition.producer_state import load_producer_state
from ferrokafka.protocol import error_codes as ec
from ferrokafka.storage import BatchBuilder, Log, LogConfig

ME = 1
# Past the native limit (128 MiB): refused wherever it is inflated.
BOMB_BYTES = 130 * 1024 * 1024


def zstd_batch(value_bytes: int) -> bytes:
    builder = BatchBuilder(compression="zstd")
    builder.append(bytes(value_bytes), key=b"k", headers=[])
    return bytes(builder.build())


async def leader(tmp_path: Path) -> Partition:
    log = Log(str(tmp_path / "t-0"), LogConfig())
    partition = Partition(
        "t",
        0,
        uuid.uuid4(),
        log,
        load_producer_state(log),
        load_leader_epoch_cache(log),
        local_broker_id=ME,
    )
    await partition.make_leader(PartitionState(ME, 0, 0, (ME,), (ME,)))
    return partition


@pytest.mark.parametrize(
    ("value_bytes", "code"),
    [(8 * 1024 * 1024, ec.NONE), (BOMB_BYTES, ec.CORRUPT_MESSAGE)],
    ids=["big-but-valid", "bomb"],
)
def test_a_big_inflation_leaves_the_event_loop(tmp_path: Path, value_bytes: int, code: int) -> None:
    async def main() -> None:
        partition = await leader(tmp_path)
        batch = zstd_batch(value_bytes)
        assert value_bytes > INLINE_INFLATE_BYTES_MAX and len(batch) < 64 * 1024
        assert partition.appends_inline(batch)  # small on the wire: looks inline
        with pytest.raises(InflateInWorkerThread):
            partition.append_as_leader_nowait(batch, origin=AppendOrigin.CLIENT, required_acks=1)
        assert partition.log_end_offset == 0  # nothing written, nothing changed

        result = await partition.append_as_leader(
            batch, origin=AppendOrigin.CLIENT, required_acks=1
        )
        assert result.code == code
        assert partition.log_end_offset == (1 if code == ec.NONE else 0)

    trio.run(main)


def test_a_small_compressed_batch_stays_inline(tmp_path: Path) -> None:
    async def main() -> None:
        partition = await leader(tmp_path)
        result = partition.append_as_leader_nowait(
            zstd_batch(64 * 1024), origin=AppendOrigin.CLIENT, required_acks=1
        )
        assert result.code == ec.NONE and partition.log_end_offset == 1

    trio.run(main)
