"""`ferrokafka dump-log` on .txnindex files: Kafka's line per entry, and a clear one-line
error for a file that is not whole entries (Kafka's own tool compared: tests/interop/
test_txn_index_kafka.py)."""

from __future__ import annotations

import struct
from pathlib import Path

from click.testing import CliRunner

from ferrokafka_cli.main import cli

ENTRY = struct.Struct(">hqqqq")


def test_entries_and_torn_files(tmp_path: Path) -> None:
    path = tmp_path / "00000000000000000042.txnindex"
    path.write_bytes(ENTRY.pack(0, 7, 40, 45, 39) + ENTRY.pack(0, 2**40, 44, 50, 44))
    result = CliRunner().invoke(cli, ["dump-log", str(path)])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"Dumping {path}",
        "version: 0 producerId: 7 firstOffset: 40 lastOffset: 45 lastStableOffset: 39",
        "version: 0 producerId: 1099511627776 firstOffset: 44 lastOffset: 50 lastStableOffset: 44",
    ]
    path.write_bytes(ENTRY.pack(0, 7, 40, 45, 39)[:20])
    result = CliRunner().invoke(cli, ["dump-log", str(path)])
    assert result.exit_code != 0
    assert "20 bytes is not a whole number of 34-byte entries" in result.output
