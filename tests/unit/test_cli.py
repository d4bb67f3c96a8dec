"""The installed `ferrokafka` command: dump-log on segments ferrokafka wrote, and clear errors."""

import subprocess
import sys
from pathlib import Path

from ferrokafka.storage import BatchBuilder, Log, LogConfig

# The console script sits beside the interpreter of the environment the wheel went into.
FERROKAFKA = str(Path(sys.executable).with_name("ferrokafka"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FERROKAFKA, *args], capture_output=True, text=True, timeout=60, check=False
    )


def write_log(path: Path) -> Path:
    with Log(str(path), LogConfig()) as log:
        for i in range(3):
            b = BatchBuilder(compression="zstd")
            b.append(f"value-{i}".encode(), key=f"key-{i}".encode(), headers=[("h", b"x")])
            b.append(None, key=b"tombstone", timestamp=1_700_000_000_000 + i)
            log.append(b.build())
        return Path(log.segments()[0].path)


def test_dump_log_prints_batches_and_records(tmp_path: Path) -> None:
    segment = write_log(tmp_path / "topic-0")
    proc = run("dump-log", str(segment))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    batches = [line for line in lines if line.startswith("baseOffset:")]
    records = [line for line in lines if line.startswith("| offset:")]
    assert len(batches) == 3 and len(records) == 6
    assert "baseOffset: 4 lastOffset: 5 count: 2" in batches[2]
    assert all("compresscodec: zstd" in b and "isvalid: true" in b for b in batches)
    assert "key: key-1 headers: h:x payload: value-1" in records[2]
    assert "key: tombstone headers:  payload: null" in records[5]


def test_dump_log_reports_a_damaged_batch(tmp_path: Path) -> None:
    segment = write_log(tmp_path / "topic-0")
    data = bytearray(segment.read_bytes())
    data[70] ^= 0xFF  # inside the first batch's CRC'd range
    segment.write_bytes(bytes(data))
    proc = run("dump-log", str(segment))
    assert proc.returncode == 0, proc.stderr
    first = next(line for line in proc.stdout.splitlines() if line.startswith("baseOffset:"))
    assert "isvalid: false" in first


def test_dump_log_bad_magic_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "00000000000000000000.log"
    bogus.write_bytes(b"\x00" * 16 + b"\x01" + b"\x00" * 60)
    proc = run("dump-log", str(bogus))
    assert proc.returncode != 0
    assert "unsupported record batch magic 1" in proc.stderr


def test_dump_log_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    proc = run("dump-log", str(tmp_path / "nope.log"))
    assert proc.returncode != 0
    assert "does not exist" in proc.stderr
