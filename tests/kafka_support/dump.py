"""Kafka's DumpLogSegments: run it over segment and index files, and parse what it prints.

The parser knows the output format of Kafka 4.x (batch lines, ``| offset:`` record lines,
control records, index entries, sanity-check results, the stderr report) and raises on any line
it does not recognise, so a format change fails loudly instead of comparing nothing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kafka_support.jars import (
    TOOL_TIMEOUT_S,
    dump_log_segments_class,
    kafka_classpath,
    run_kafka_tool,
)


@dataclass
class DumpedRecord:
    """One ``| offset: ...`` line of DumpLogSegments' deep iteration.

    ``key`` and ``payload`` are what Kafka's default StringDecoder printed (UTF-8 text), or
    None when the record has no key / no value. Header values are not printed by Kafka, only
    their keys. ``control`` is set for control records: ``("COMMIT" | "ABORT",
    coordinator_epoch)``.

    Kafka's format is ambiguous for some data, which the tests avoid: a payload holding a
    newline, a header key holding "]" or ",", and a non-UTF-8 key followed by a payload that
    holds " payload: ".
    """

    offset: int
    timestamp_type: str
    timestamp: int
    key_size: int
    value_size: int
    sequence: int | None
    header_keys: list[str]
    key: str | None
    payload: str | None
    control: tuple[str, int] | None = None
    # A KRaft control record of a metadata log (LeaderChange, KRaftVoters, ...): its type and
    # the JSON Kafka printed for it.
    raft_control: tuple[str, str] | None = None


@dataclass
class DumpedBatch:
    """One batch line of DumpLogSegments (record batch v2 fields, as Kafka named them)."""

    base_offset: int
    last_offset: int
    count: int | None
    base_sequence: int
    last_sequence: int
    producer_id: int
    producer_epoch: int
    partition_leader_epoch: int
    is_transactional: bool
    is_control: bool
    position: int
    timestamp_type: str
    max_timestamp: int
    size: int
    magic: int
    compresscodec: str
    crc: int
    isvalid: bool
    records: list[DumpedRecord] = field(default_factory=list)


@dataclass
class DumpedFile:
    """What DumpLogSegments printed for one file.

    For a ``.log``: ``start_offset``, ``batches`` and ``invalid_trailing_bytes``. For an
    ``.index`` / ``.timeindex``: ``index_entries`` as (offset, position) / (timestamp, offset)
    pairs, or ``sanity_check_passed`` with --index-sanity-check; ``is_empty`` for an offset
    index without entries. For a ``.txnindex``: ``aborted_txns`` as (version, producer id,
    first offset, last offset, last stable offset) tuples.
    """

    path: str
    start_offset: int | None = None
    batches: list[DumpedBatch] = field(default_factory=list)
    invalid_trailing_bytes: int = 0
    index_entries: list[tuple[int, int]] = field(default_factory=list)
    sanity_check_passed: bool = False
    is_empty: bool = False
    aborted_txns: list[tuple[int, int, int, int, int]] = field(default_factory=list)


@dataclass
class DumpResult:
    """Everything one DumpLogSegments run printed, by absolute file path.

    ``problems`` holds what Kafka reported on stderr: index entries that do not match the log,
    out-of-order or mismatched time index entries, non-consecutive offsets, unknown files,
    errors. A clean run has none (see :func:`_report_problems` for the one entry dropped)."""

    files: dict[str, DumpedFile]
    problems: list[str]
    stdout: str

    def file(self, path: str | os.PathLike[str]) -> DumpedFile:
        return self.files[os.path.abspath(path)]


_RECORD_HEAD = re.compile(
    r"^\| offset: (?P<offset>-?\d+) (?P<ts_type>\w+): (?P<ts>-?\d+)"
    r" keySize: (?P<key_size>-?\d+) valueSize: (?P<value_size>-?\d+)"
    r"(?: sequence: (?P<sequence>-?\d+) headerKeys: \[(?P<header_keys>[^\]]*)\])?"
)
_CONTROL = re.compile(r"^ endTxnMarker: (?P<type>\w+) coordinatorEpoch: (?P<epoch>-?\d+)")
_RAFT_CONTROL = re.compile(
    r"^ (?P<type>LeaderChange|SnapshotHeader|SnapshotFooter|KRaftVersion|KRaftVoters): "
    r"(?P<json>\{.*\})$"
)
_INDEX_ENTRY = re.compile(r"^offset: (\d+) position: (\d+)$")
_TIME_INDEX_ENTRY = re.compile(r"^timestamp: (-?\d+) offset: (\d+)$")
_ABORTED_TXN = re.compile(
    r"^version: (-?\d+) producerId: (-?\d+) firstOffset: (-?\d+) lastOffset: (-?\d+)"
    r" lastStableOffset: (-?\d+)$"
)
# A field of a batch line: "name: value" where value has no spaces.
_FIELD = re.compile(r"(\w+): (\S+)")

_BATCH_INT_FIELDS = {
    "baseOffset": "base_offset",
    "lastOffset": "last_offset",
    "baseSequence": "base_sequence",
    "lastSequence": "last_sequence",
    "producerId": "producer_id",
    "producerEpoch": "producer_epoch",
    "partitionLeaderEpoch": "partition_leader_epoch",
    "position": "position",
    "size": "size",
    "magic": "magic",
    "crc": "crc",
}
_TIMESTAMP_TYPES = ("CreateTime", "LogAppendTime", "NoTimestampType")


def parse_dump_output(stdout: str, stderr: str = "") -> DumpResult:
    """Parse DumpLogSegments' output (pure; the format of Kafka 4.x)."""
    files: dict[str, DumpedFile] = {}
    current: DumpedFile | None = None
    # Only "\n" ends a line: str.splitlines would also split inside payloads (at \x1c, \x85...).
    for line_number, line in enumerate(stdout.split("\n"), 1):
        if not line:
            continue
        if line.startswith("Dumping "):
            current = DumpedFile(path=line[len("Dumping ") :])
            files[current.path] = current
            continue
        if current is None:
            raise ValueError(f"line {line_number}: output before any 'Dumping' line: {line!r}")
        _parse_file_line(current, line, line_number)
    problems = _report_problems(stderr, files)
    return DumpResult(files=files, problems=problems, stdout=stdout)


def _report_problems(stderr: str, files: Mapping[str, DumpedFile]) -> list[str]:
    """The lines of DumpLogSegments' stderr report that point at a real problem.

    The tool checks offsets are consecutive starting from -1 in each file it dumps, so every
    segment whose first record is not offset 0 is reported as "-1 is followed by <first
    offset>". That entry says nothing about the log and is dropped (with its heading, if it
    was the only entry)."""
    problems: list[str] = []
    heading: str | None = None
    entries: list[str] = []

    def close_section() -> None:
        if heading is not None and (entries or not heading.startswith("Non-consecutive")):
            problems.append(heading)
            problems.extend(entries)

    for line in stderr.splitlines():
        if not line.strip() or line.startswith("Picked up JAVA_TOOL_OPTIONS"):
            continue
        if not line.startswith(" "):
            close_section()
            heading, entries = line, []
            continue
        if heading is not None and heading.startswith("Non-consecutive offsets in "):
            dumped = files.get(heading[len("Non-consecutive offsets in ") :])
            first = _first_record_offset(dumped)
            if first is not None and line.strip() == f"-1 is followed by {first}":
                continue
        entries.append(line)
    close_section()
    return problems


def _first_record_offset(dumped: DumpedFile | None) -> int | None:
    if dumped is None:
        return None
    for batch in dumped.batches:
        if batch.records:
            return batch.records[0].offset
    return None


def _parse_file_line(current: DumpedFile, line: str, line_number: int) -> None:
    if line.startswith("Log starting offset: "):
        current.start_offset = int(line.split(": ", 1)[1])
    elif line.startswith("baseOffset: "):
        current.batches.append(_parse_batch_line(line, line_number))
    elif line.startswith("| offset: "):
        if not current.batches:
            raise ValueError(f"line {line_number}: record before any batch: {line!r}")
        current.batches[-1].records.append(_parse_record_line(line, line_number))
    elif line.startswith("Found ") and " invalid bytes at the end of " in line:
        current.invalid_trailing_bytes = int(line.split()[1])
    elif line.endswith(" passed sanity check."):
        current.sanity_check_passed = True
    elif line.endswith(" is empty."):
        current.is_empty = True
    elif (match := _INDEX_ENTRY.match(line)) or (match := _TIME_INDEX_ENTRY.match(line)):
        current.index_entries.append((int(match.group(1)), int(match.group(2))))
    elif match := _ABORTED_TXN.match(line):
        version, producer_id, first, last, lso = (int(g) for g in match.groups())
        current.aborted_txns.append((version, producer_id, first, last, lso))
    else:
        raise ValueError(f"line {line_number}: unrecognised DumpLogSegments output: {line!r}")


def _parse_batch_line(line: str, line_number: int) -> DumpedBatch:
    fields = dict(_FIELD.findall(line))
    timestamp_type = next((t for t in _TIMESTAMP_TYPES if t in fields), None)
    if timestamp_type is None or "isvalid" not in fields:
        raise ValueError(f"line {line_number}: incomplete batch line: {line!r}")
    values: dict[str, object] = {
        attr: int(fields[name]) for name, attr in _BATCH_INT_FIELDS.items()
    }
    return DumpedBatch(
        count=None if fields["count"] == "null" else int(fields["count"]),
        is_transactional=fields["isTransactional"] == "true",
        is_control=fields["isControl"] == "true",
        timestamp_type=timestamp_type,
        max_timestamp=int(fields[timestamp_type]),
        compresscodec=fields["compresscodec"],
        isvalid=fields["isvalid"] == "true",
        **values,  # type: ignore[arg-type]
    )


def _parse_record_line(line: str, line_number: int) -> DumpedRecord:
    head = _RECORD_HEAD.match(line)
    if head is None:
        raise ValueError(f"line {line_number}: unrecognised record line: {line!r}")
    key_size = int(head["key_size"])
    value_size = int(head["value_size"])
    header_keys = head["header_keys"]
    record = DumpedRecord(
        offset=int(head["offset"]),
        timestamp_type=head["ts_type"],
        timestamp=int(head["ts"]),
        key_size=key_size,
        value_size=value_size,
        sequence=None if head["sequence"] is None else int(head["sequence"]),
        header_keys=header_keys.split(",") if header_keys else [],
        key=None,
        payload=None,
    )
    rest = line[head.end() :]
    control = _CONTROL.match(rest)
    if control is not None:
        record.control = (control["type"], int(control["epoch"]))
        rest = rest[control.end() :]
    raft_control = _RAFT_CONTROL.match(rest)
    if raft_control is not None:
        record.raft_control = (raft_control["type"], raft_control["json"])
        rest = ""
    if key_size >= 0 and rest.startswith(" key: "):
        record.key, rest = _split_key(rest[len(" key: ") :], key_size, value_size >= 0)
    if value_size >= 0 and rest.startswith(" payload: "):
        record.payload, rest = rest[len(" payload: ") :], ""
    if rest:
        raise ValueError(f"line {line_number}: unparsed end of record line: {rest!r}")
    return record


def _split_key(text: str, key_size: int, has_payload: bool) -> tuple[str, str]:
    """Split "<key> payload: <value>" using the key's byte size (keys may contain spaces).

    Falls back to the first " payload: " when the printed key is not the key's UTF-8 bytes
    (binary keys print with replacement characters)."""
    if not has_payload:
        return text, ""
    size = 0
    end = len(text)
    for index, char in enumerate(text):
        if size >= key_size:
            end = index
            break
        size += len(char.encode())
    if size == key_size and text.startswith(" payload: ", end):
        return text[:end], text[end:]
    cut = text.find(" payload: ")
    if cut < 0:
        return text, ""
    return text[:cut], text[cut:]


def dump_log_segments(
    files: Iterable[str | os.PathLike[str]],
    *,
    work_dir: Path,
    print_data: bool = True,
    index_sanity_check: bool = False,
    verify_index_only: bool = False,
    timeout_s: float = TOOL_TIMEOUT_S,
) -> DumpResult:
    """Run Kafka's DumpLogSegments over ``files`` (.log, .index, .timeindex, ...) in one JVM.

    ``print_data`` adds ``--deep-iteration --print-data-log`` (every record, key and payload);
    ``index_sanity_check`` runs the check the broker runs on start-up before trusting an
    index; ``verify_index_only`` checks each index entry against the log without printing it.
    """
    # Absolute: Kafka names files by absolute path in its stderr report, by the given path
    # in "Dumping ..." lines; the parser matches the two.
    paths = [os.path.abspath(f) for f in files]
    if not paths:
        raise ValueError("no files to dump")
    if any("," in p for p in paths):
        raise ValueError("DumpLogSegments takes a comma-separated list: paths must not hold ','")
    args = ["--files", ",".join(paths)]
    if print_data:
        args += ["--deep-iteration", "--print-data-log"]
    if index_sanity_check:
        args.append("--index-sanity-check")
    if verify_index_only:
        args.append("--verify-index-only")
    work_dir.mkdir(parents=True, exist_ok=True)
    main_class = dump_log_segments_class(kafka_classpath())
    result = run_kafka_tool(main_class, args, work_dir=work_dir, timeout_s=timeout_s)
    return parse_dump_output(result.stdout, result.stderr)


def segment_files(partition_dir: Path, suffix: str = ".log") -> list[Path]:
    """A partition directory's segment files with ``suffix`` (``<20-digit base offset><suffix>``,
    so not ``.deleted`` or ``.cleaned`` leftovers), in base-offset order."""
    name = re.compile(r"\d{20}" + re.escape(suffix))
    found = [path for path in partition_dir.iterdir() if name.fullmatch(path.name)]
    return sorted(found, key=lambda path: int(path.name[:20]))


def dump_cluster_metadata(partition_dir: Path, *, work_dir: Path) -> tuple[list[dict], DumpResult]:
    """Decode a ``__cluster_metadata`` partition with DumpLogSegments
    ``--cluster-metadata-decoder``: every record's JSON payload (``{"type", "version",
    "data"}``) in log order, and the parsed run (its ``problems`` should be empty)."""
    import json

    files = [str(path.resolve()) for path in segment_files(partition_dir)]
    if not files:
        raise ValueError(f"no segments in {partition_dir}")
    work_dir.mkdir(parents=True, exist_ok=True)
    main_class = dump_log_segments_class(kafka_classpath())
    args = ["--cluster-metadata-decoder", "--files", ",".join(files)]
    result = run_kafka_tool(main_class, args, work_dir=work_dir)
    dumped = parse_dump_output(result.stdout, result.stderr)
    payloads = [
        json.loads(record.payload)
        for file in dumped.files.values()
        for batch in file.batches
        for record in batch.records
        if record.payload is not None
    ]
    return payloads, dumped
