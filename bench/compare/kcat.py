"""kcat (librdkafka in C, Debian's ``/usr/bin/kcat``) as a light client: no interpreter between
librdkafka and the data, so its throughput is the broker's, not a Python loop's.

Both workloads time the kcat process from spawn to exit (wall clock), so the figures include
connecting and the first Metadata round trip (a few milliseconds on loopback) and, for
produce, the final flush of every delivery. Each run is bounded by the plan's workload timeout:
past it the process is killed and the workload fails.

- consume: ``-o beginning -e -c N`` over every partition of the topic (kcat's per-partition
  legacy consumer, no group); each record is printed as its value's length and a newline
  (``-f '%S\\n'``), so the count and the bytes are verified from a few bytes per record.
- produce: ``-P -l FILE``, one record per line of a file written before the clock starts,
  each value exactly ``record_size`` bytes (the newline is the delimiter, not part of it);
  the delivered count is the topic's end offsets afterwards (a fresh topic starts at 0).

Both report kcat's CPU seconds (``client_cpu_s``) beside the wall time (``seconds``): a
client near one core for the whole run is the bound, not the broker.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from bench.compare.clients import WorkloadError
from bench.compare.plan import MIB, ProduceCase

KCAT = "/usr/bin/kcat"
READ_CHUNK_BYTES = MIB
ERROR_TAIL_CHARS = 2000
# The consumer's stderr is kept for the error message only: bounded, the rest is dropped.
STDERR_KEEP_BYTES = 64 * 1024
WATERMARK_TIMEOUT_S = 30.0
# Value byte of the produce file: any byte but the newline delimiter.
VALUE_BYTE = b"x"
# librdkafka's producer defaults but for the ones both clients set: acks, linger, no codec.
PRODUCE_LINGER_MS = 5
# kcat's librdkafka (2.0.2 in Debian 12) stops fetching when its prefetch queue (one queue for
# all partitions) holds queued.min.messages or queued.max.messages.kbytes (defaults 100,000
# and 64 MiB) and looks again only a second later (fetch.queue.backoff.ms, which would shorten
# that, arrived in librdkafka 2.3). Seen with -d fetch on a loaded box: "66330/65536 kb
# queued ... not fetchable", then a 1 s pause in a 1-2 s read. The bound is raised to 1 GiB
# (the client's memory limit) so that a kcat that falls behind keeps fetching.
CONSUME_QUEUE_KBYTES = 1 << 20
CONSUME_QUEUE_MESSAGES = 10_000_000  # librdkafka's maximum: the byte bound is the one that binds
# Writing the produce file in pieces of at most this many records bounds the memory it takes.
FILE_RECORDS_PER_WRITE = 65_536


def _children_cpu_s() -> float:
    """CPU seconds of this process's waited-for children: around one kcat run (the only child
    reaped meanwhile), kcat's own CPU time, which tells whether the client was the bound."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def kcat_path() -> str:
    """The kcat executable: Debian's, else whatever ``kcat`` is on the PATH."""
    found = KCAT if Path(KCAT).exists() else shutil.which("kcat")
    if found is None:
        raise WorkloadError("kcat is not installed (apt-get install kcat)")
    return found


def _kill_after(process: subprocess.Popen[bytes], timeout_s: float) -> threading.Timer:
    timer = threading.Timer(timeout_s, process.kill)
    timer.daemon = True
    timer.start()
    return timer


def kcat_consume(
    bootstrap: str, topic: str, records: int, record_size: int, timeout_s: float
) -> dict[str, Any]:
    """Read ``records`` records of ``record_size`` bytes from offset 0 of every partition."""
    line = b"%d\n" % record_size
    command = [
        kcat_path(),
        "-C",
        "-b",
        bootstrap,
        "-t",
        topic,
        "-o",
        "beginning",
        "-e",
        "-q",
        "-c",
        str(records),
        "-f",
        "%S\n",
        "-X",
        f"queued.max.messages.kbytes={CONSUME_QUEUE_KBYTES}",
        "-X",
        f"queued.min.messages={CONSUME_QUEUE_MESSAGES}",
    ]
    cpu_before = _children_cpu_s()
    started = time.monotonic()
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    timer = _kill_after(process, timeout_s)
    stderr = bytearray()

    def drain_stderr() -> None:
        assert process.stderr is not None
        while chunk := process.stderr.read(READ_CHUNK_BYTES):
            if len(stderr) < STDERR_KEEP_BYTES:
                stderr.extend(chunk[: STDERR_KEEP_BYTES - len(stderr)])

    errors = threading.Thread(target=drain_stderr, name="kcat-stderr", daemon=True)
    errors.start()
    lines = matching = 0
    tail = b""
    try:
        assert process.stdout is not None
        while chunk := process.stdout.read(READ_CHUNK_BYTES):
            # Lines never split across chunks for the count; a split one is joined here.
            chunk = tail + chunk
            cut = chunk.rfind(b"\n") + 1
            chunk, tail = chunk[:cut], chunk[cut:]
            lines += chunk.count(b"\n")
            matching += chunk.count(line)
        status = process.wait()
        elapsed = time.monotonic() - started
    finally:
        timer.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
        errors.join(timeout=WATERMARK_TIMEOUT_S)
    if elapsed >= timeout_s:
        raise WorkloadError(f"kcat consume took over {timeout_s:.0f}s ({lines} records)")
    if status != 0:
        raise WorkloadError(f"kcat exited {status}: {bytes(stderr[-ERROR_TAIL_CHARS:])!r}")
    if tail or lines != records or matching != lines:
        raise WorkloadError(
            f"kcat printed {lines} records ({matching} of {record_size} B) of {records}"
        )
    return {
        "records": lines,
        "bytes": lines * record_size,
        "records_per_s": lines / elapsed,
        "mb_per_s": lines * record_size / MIB / elapsed,
        "client_cpu_s": _children_cpu_s() - cpu_before,
        "seconds": elapsed,
    }


def write_records_file(path: Path, records: int, record_size: int) -> Path:
    """``records`` lines, each ``record_size`` value bytes and a newline."""
    line = VALUE_BYTE * record_size + b"\n"
    with open(path, "wb") as out:
        left = records
        while left > 0:
            n = min(left, FILE_RECORDS_PER_WRITE)
            out.write(line * n)
            left -= n
    return path


def end_offsets(bootstrap: str, topic: str, partitions: int) -> int:
    """The sum of the topic's high watermarks (librdkafka's ListOffsets)."""
    import confluent_kafka as ck

    consumer = ck.Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "unused", "enable.auto.commit": False}
    )
    try:
        return sum(
            consumer.get_watermark_offsets(
                ck.TopicPartition(topic, p), timeout=WATERMARK_TIMEOUT_S, cached=False
            )[1]
            for p in range(partitions)
        )
    finally:
        consumer.close()


def kcat_produce(
    bootstrap: str, topic: str, case: ProduceCase, work_dir: Path, timeout_s: float
) -> dict[str, Any]:
    """Send ``case.records`` records to a fresh topic with librdkafka's defaults (linger 5 ms,
    its own batching) but for acks and the codec (uncompressed only: kcat's ``-z``)."""
    if case.codec != "none":
        raise WorkloadError(f"kcat produce is run uncompressed only, not {case.codec}")
    source = write_records_file(
        work_dir / f"kcat-{case.topic}.records", case.records, case.record_size
    )
    command = [
        kcat_path(),
        "-P",
        "-b",
        bootstrap,
        "-t",
        topic,
        "-z",
        "none",
        "-X",
        f"acks={case.acks}",
        "-X",
        f"linger.ms={PRODUCE_LINGER_MS}",
        "-X",
        "enable.idempotence=false",
        "-l",
        str(source),
    ]
    try:
        cpu_before = _children_cpu_s()
        started = time.monotonic()
        try:
            result = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise WorkloadError(f"kcat produce took over {timeout_s:.0f}s") from None
        elapsed = time.monotonic() - started
        client_cpu_s = _children_cpu_s() - cpu_before
    finally:
        source.unlink(missing_ok=True)
    stderr = result.stderr.decode(errors="replace")[-ERROR_TAIL_CHARS:]
    if result.returncode != 0 or "fail" in stderr.lower():
        raise WorkloadError(f"kcat exited {result.returncode}: {stderr}")
    delivered = end_offsets(bootstrap, topic, case.partitions)
    if delivered != case.records:
        raise WorkloadError(f"kcat: the topic holds {delivered} of {case.records} records")
    return {
        "records": delivered,
        "bytes": delivered * case.record_size,
        "records_per_s": delivered / elapsed,
        "mb_per_s": delivered * case.record_size / MIB / elapsed,
        "client_cpu_s": client_cpu_s,
        "seconds": elapsed,
    }
