"""A log dir failure as Kafka's (storage/dir_failure.py): an I/O error that can leave a log in
a state the broker no longer knows takes the partition offline (KAFKA_STORAGE_ERROR to every
append and read until restart) and its dir with it; an exhausted resource before anything was
written does not. The errors are injected by a Log proxy (the kernel's own EIO, from an ext4
shut down under a broker, is tests/faults/test_log_dir_failure.py)."""

from __future__ import annotations

import errno
import uuid
from pathlib import Path
from typing import Any

import pytest
import trio

from ferrokafka.partition import AppendOrigin, Partition
from ferrokafka.partition.leader_epochs import load_leader_epoch_cache
from ferrokafka.partition.partition import PartitionState
from ferrokafka.partition.producer_state import load_producer_state
from ferrokafka.protocol import error_codes as ec
from ferrokafka.storage import (
    BatchBuilder,
    Log,
    LogConfig,
    LogDirOfflineError,
    LogManager,
    LogManagerSettings,
)

ME = 1
PRODUCER_ID = 7


class FailingLog:
    """The native log, with the next ``append`` / ``read`` failing as a dying disk makes it:
    ``after_write`` raises once the records are in the file (an fsync under flush.messages
    that fails), else before anything is written."""

    def __init__(self, log: Log) -> None:
        self._log = log
        self.append_error: OSError | None = None
        self.after_write = False
        self.read_error: OSError | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._log, name)

    def append(self, records: Any, **kwargs: Any) -> Any:
        error, self.append_error = self.append_error, None
        if error is not None and not self.after_write:
            raise error
        info = self._log.append(records, **kwargs)
        if error is not None:
            raise error
        return info

    def read(self, *args: Any, **kwargs: Any) -> Any:
        if self.read_error is not None:
            raise self.read_error
        return self._log.read(*args, **kwargs)


def idempotent_batch(sequence: int, count: int = 3) -> bytes:
    builder = BatchBuilder(producer_id=PRODUCER_ID, producer_epoch=0, base_sequence=sequence)
    for i in range(count):
        builder.append(b"v%d" % i, key=b"k")
    return bytes(builder.build())


async def leader(tmp_path: Path, config: LogConfig) -> tuple[Partition, FailingLog, list[OSError]]:
    log = FailingLog(Log(str(tmp_path / "t-0"), config))
    failures: list[OSError] = []
    partition = Partition(
        "t",
        0,
        uuid.uuid4(),
        log,  # type: ignore[arg-type]
        load_producer_state(log._log),
        load_leader_epoch_cache(log._log),
        local_broker_id=ME,
    )
    partition.on_dir_failure = failures.append
    await partition.make_leader(PartitionState(ME, 0, 0, (ME,), (ME,)))
    return partition, log, failures


async def append(partition: Partition, batch: bytes) -> int:
    result = await partition.append_as_leader(batch, origin=AppendOrigin.CLIENT, required_acks=1)
    return result.code


def test_a_failed_fsync_after_the_write_never_lets_a_retry_write_the_batch_twice(
    tmp_path: Path,
) -> None:
    """flush.messages=1: the write went to the file, its fsync failed (EIO). Before, the
    client got 56 but the producer state did not have the batch, so the client's retry of it
    was appended a second time; now the dir is offline and the retry answered 56 too."""

    async def main() -> None:
        partition, log, failures = await leader(tmp_path, LogConfig(flush_messages=1))
        assert await append(partition, idempotent_batch(0)) == ec.NONE
        log.append_error, log.after_write = OSError(errno.EIO, "fsync failed"), True
        batch = idempotent_batch(3)
        assert await append(partition, batch) == ec.KAFKA_STORAGE_ERROR
        assert partition.offline and [e.errno for e in failures] == [errno.EIO]
        written = partition.log_end_offset
        assert written == 6  # the failed batch is in the file, once
        assert await append(partition, batch) == ec.KAFKA_STORAGE_ERROR  # the retry
        assert partition.log_end_offset == written
        read = partition.read(
            0,
            1 << 20,
            current_leader_epoch=-1,
            read_committed=False,
            min_one_batch=True,
            nowait=False,
        )
        assert read.code == ec.KAFKA_STORAGE_ERROR

    trio.run(main)


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        OSError(errno.EMFILE, "Too many open files"),
        # As the native log raises it: no errno attribute, Rust's "(os error N)" in the text.
        OSError("No space left on device (os error 28)"),
    ],
    ids=["ENOSPC", "EMFILE", "native-ENOSPC"],
)
def test_an_exhausted_resource_before_the_write_leaves_the_dir_online(
    tmp_path: Path, error: OSError
) -> None:
    """A full disk (or no file descriptor left) refused the write: nothing is in the log, the
    client gets 56, and the same batch is taken once the resource returns."""

    async def main() -> None:
        partition, log, failures = await leader(tmp_path, LogConfig())
        log.append_error = error
        batch = idempotent_batch(0)
        assert await append(partition, batch) == ec.KAFKA_STORAGE_ERROR
        assert not partition.offline and not failures and partition.log_end_offset == 0
        assert await append(partition, batch) == ec.NONE
        assert partition.log_end_offset == 3

    trio.run(main)


def test_eio_on_a_read_is_an_error_answer_and_takes_the_partition_offline(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        partition, log, failures = await leader(tmp_path, LogConfig())
        assert await append(partition, idempotent_batch(0)) == ec.NONE
        log.read_error = OSError(errno.EIO, "Input/output error")
        read = partition.read(
            0,
            1 << 20,
            current_leader_epoch=-1,
            read_committed=False,
            min_one_batch=True,
            nowait=False,
        )
        assert read.code == ec.KAFKA_STORAGE_ERROR
        assert partition.offline and len(failures) == 1
        assert await append(partition, idempotent_batch(3)) == ec.KAFKA_STORAGE_ERROR

    trio.run(main)


def test_a_failed_dir_leaves_the_other_dirs_serving(tmp_path: Path) -> None:
    dirs = [tmp_path / "a", tmp_path / "b"]
    manager = LogManager(LogManagerSettings(log_dirs=tuple(map(str, dirs))), LogConfig())
    told: list[Path] = []
    manager.add_dir_failure_listener(told.append)
    try:
        first = manager.get_or_create_log("t", 0)
        second = manager.get_or_create_log("t", 1)
        failed = Path(first.dir).parent
        assert {failed, Path(second.dir).parent} == {d.absolute() for d in dirs}
        assert manager.fail_dir_of(first, OSError(errno.EIO, "Input/output error"))
        assert not manager.fail_dir(failed, OSError(errno.EIO, "again"))  # told once
        assert told == [failed]
        assert manager.get_log("t", 0) is None and manager.get_log("t", 1) is second
        with pytest.raises(LogDirOfflineError):
            manager.get_or_create_log("t", 0)
        # New partitions go to the dirs still online.
        assert Path(manager.get_or_create_log("u", 0).dir).parent != failed
        manager.checkpoint_recovery_points()  # the online dir only: no error
    finally:
        manager.shutdown()
    # No clean-shutdown marker vouches for the failed dir.
    assert not (failed / ".kafka_cleanshutdown").exists()
    assert (Path(second.dir).parent / ".kafka_cleanshutdown").exists()
