"""The client CLI's pure parts, no broker: kcat format strings, --offset and --from-timestamp
values, the wait notice, byte sizes, and dump-log's index check and sequence arithmetic."""

from __future__ import annotations

import struct
from datetime import datetime, timezone
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from ferrokafka.storage import BatchBuilder
from ferrokafka_cli import waiting
from ferrokafka_cli.consume import parse_offset, parse_timestamp_ms
from ferrokafka_cli.dump_files import _first_sequence
from ferrokafka_cli.main import cli
from ferrokafka_cli.record_format import ConsumedRecord, parse_format, render, to_json
from ferrokafka_cli.status import human_bytes

RECORD = ConsumedRecord("t", 1, 7, 1234, "CreateTime", None, b"v\xff", [("a", b"1"), ("b", None)])


def test_format_tokens_and_escapes() -> None:
    parts = parse_format("%t/%p/%o k=%k(%K) v=%v(%S) %s %T [%h] 100%%\\t\\n")
    assert render(parts, RECORD) == "t/1/7 k=(-1) v=v\\xff(2) v\\xff 1234 [a=1,b=] 100%\t\n"
    for bad in ("%x", "%", "abc%"):
        with pytest.raises(click.BadParameter):
            parse_format(bad)


def test_json_keeps_nulls() -> None:
    assert to_json(RECORD) == (
        '{"topic": "t", "partition": 1, "offset": 7, "timestamp": 1234, '
        '"timestamp_type": "CreateTime", "key": null, "value": "v\\\\xff", '
        '"headers": [["a", "1"], ["b", null]]}'
    )


def test_offsets_and_timestamps() -> None:
    assert parse_offset("beginning") == ("beginning", 0)
    assert parse_offset("END") == ("end", 0)
    assert parse_offset("12") == ("absolute", 12)
    assert parse_offset("-3") == ("relative", -3)
    with pytest.raises(click.BadParameter):
        parse_offset("soon")
    assert parse_timestamp_ms("1700000000123") == 1700000000123
    moment = datetime(2026, 11, 21, 10, 0, 0, 500000, tzinfo=timezone.utc)
    assert parse_timestamp_ms("2026-11-21T10:00:00.500Z") == int(moment.timestamp() * 1000)
    with pytest.raises(click.BadParameter):
        parse_timestamp_ms("yesterday")


def test_wait_notice_prints_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(waiting, "NOTICE_AFTER_S", 0.0)
    notice = waiting.WaitNotice("topic 'x' to have a leader for every partition", 30)
    notice.tick()
    notice.tick()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "Waiting for topic 'x' to have a leader for every partition (up to 30s)...\n"
    )


def test_human_bytes_and_sequences() -> None:
    assert [human_bytes(n) for n in (-1, 0, 1023, 1536, 5 * 2**30)] == [
        "-", "0 B", "1023 B", "1.5 KiB", "5.0 GiB"
    ]  # fmt: skip
    assert _first_sequence(10, 2) == 8
    assert _first_sequence(1, 3) == 2**31 - 2  # sequences wrap past Integer.MAX_VALUE


def test_index_entry_off_a_batch_is_reported(tmp_path: Path) -> None:
    builder = BatchBuilder(compression="none")
    for i in range(3):
        builder.append(f"r{i}".encode())
    (tmp_path / "00000000000000000000.log").write_bytes(builder.build())
    index = tmp_path / "00000000000000000000.index"
    index.write_bytes(struct.pack(">ii", 1, 0))  # offset 1, but the batch there ends at 2
    result = CliRunner().invoke(cli, ["dump-log", str(index)])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1:] == ["offset: 1 position: 0"]
    assert result.stderr.splitlines() == [
        f"Mismatches in :{index}",
        "  Index offset: 1, log offset: 2",
    ]
