"""`ferrokafka consume`: print a topic's records, like kafka-console-consumer.sh and kcat -C.

Where it starts, per partition: the group's committed offset (``--group``), else
``--from-timestamp`` (ListOffsets by time), else ``--offset`` (beginning, end, N, or -N from the
end), else the end. It stops after ``--max-messages``, after ``--timeout-ms`` without a record,
or (``-e``) once every partition is read up to its high watermark.

With ``--group`` the tool assigns itself the partitions (every one, or ``--partition``) and
commits what it printed as an offset-only group (no generation, no member, as kcat's
``-G``-less consumers and Kafka's admin do): it resumes where the last run stopped, but two
runs at once each read every partition, and a group with active members refuses the commits.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click

from ferrokafka.protocol.error_codes import error_name
from ferrokafka.storage import FerrokafkaError, decode_batches

from .bootstrap import bootstrap_options, reports_errors
from .client import EARLIEST_TIMESTAMP, LATEST_TIMESTAMP, ClientError, KafkaClient, TopicInfo
from .group_admin import commit_offsets, fetch_offsets
from .record_format import ConsumedRecord, parse_format, plain, render, to_json
from .topics import connect

# How long one fetch may wait on the broker for new records; --timeout-ms is checked between
# fetches.
FETCH_MAX_WAIT_MS = 500
# With --exit-at-end fetches do not wait; a round that printed nothing pauses this long.
IDLE_PAUSE_S = 0.05


def parse_offset(text: str) -> tuple[str, int]:
    """``beginning`` | ``end`` | ``N`` | ``-N`` (N before the end)."""
    value = text.strip().lower()
    if value in ("beginning", "earliest"):
        return ("beginning", 0)
    if value in ("end", "latest"):
        return ("end", 0)
    try:
        number = int(value)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not beginning, end, N or -N", param_hint="--offset"
        ) from None
    return ("relative", number) if number < 0 else ("absolute", number)


def parse_timestamp_ms(text: str) -> int:
    """Milliseconds since the epoch, or an ISO-8601 date-time (local time without a zone)."""
    value = text.strip()
    if value.lstrip("-").isdigit():
        return int(value)
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        return int(datetime.fromisoformat(value).timestamp() * 1000)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is neither milliseconds nor an ISO-8601 date-time "
            "(e.g. 2026-11-21T10:00:00Z)",
            param_hint="--from-timestamp",
        ) from None


@click.command("consume")
@click.argument("topic")
@click.option("--partition", type=click.IntRange(min=0), help="Default: every partition.")
@click.option(
    "-o",
    "--offset",
    metavar="beginning|end|N|-N",
    help="Where to start: the log start, the end (default), offset N, or N before the end.",
)
@click.option("--from-beginning", is_flag=True, help="Same as --offset beginning.")
@click.option(
    "--from-timestamp",
    metavar="MS|ISO-8601",
    help="Start at the first record at or after this time.",
)
@click.option("-g", "--group", "group_id", help="Resume from and commit to this group's offsets.")
@click.option("--max-messages", type=click.IntRange(min=1), help="Exit after this many.")
@click.option(
    "--timeout-ms", type=click.IntRange(min=0), help="Exit when no record came for this long."
)
@click.option(
    "-e", "--exit-at-end", is_flag=True, help="Exit once every partition is read to its end."
)
@click.option("-f", "--format", "fmt", help="kcat-style format, e.g. '%p:%o %k=%v\\n'.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per record.")
@click.option("--print-key", is_flag=True, help="Print KEY<TAB>VALUE.")
@click.option("--print-headers", is_flag=True, help="Print k:v,k:v (or NO_HEADERS) first.")
@bootstrap_options
@reports_errors
def consume(
    topic: str,
    partition: int | None,
    offset: str | None,
    from_beginning: bool,
    from_timestamp: str | None,
    group_id: str | None,
    max_messages: int | None,
    timeout_ms: int | None,
    exit_at_end: bool,
    fmt: str | None,
    as_json: bool,
    print_key: bool,
    print_headers: bool,
    bootstrap_server: str,
    timeout: float,
) -> None:
    """Print TOPIC's records until --max-messages, --timeout-ms, the end (-e), or Ctrl-C."""
    starts = [given for given in (offset, from_beginning or None, from_timestamp) if given]
    if len(starts) > 1:
        raise click.UsageError("give one of --offset, --from-beginning, --from-timestamp")
    if fmt is not None and as_json:
        raise click.UsageError("--format and --json are exclusive")
    start = ("beginning", 0) if from_beginning else parse_offset(offset or "end")
    at_time = None if from_timestamp is None else parse_timestamp_ms(from_timestamp)
    parts = None if fmt is None else parse_format(fmt)

    def line(r: ConsumedRecord) -> str:
        if as_json:
            return to_json(r) + "\n"
        if parts is not None:
            return render(parts, r)
        return plain(r, print_key, print_headers) + "\n"

    with connect(bootstrap_server, timeout) as client:
        info = client.topic_with_leaders(topic, timeout)
        partitions = [p.partition for p in info.partitions]
        if partition is not None:
            if partition not in partitions:
                raise ClientError(f"Topic '{topic}' has no partition {partition}.")
            partitions = [partition]
        committed: dict[int, int] = {}
        if group_id is not None:
            found = fetch_offsets(client, group_id, {info.topic_id: topic})
            committed = {p: o for (t, p), o in found.items() if t == topic and p in partitions}
        positions = _start_positions(client, info, partitions, start, at_time, committed)
        loop = _Loop(client, info, positions, line, group_id)
        try:
            loop.run(max_messages, timeout_ms, exit_at_end)
        except KeyboardInterrupt:
            pass
        finally:
            loop.commit()
        click.echo(f"Processed a total of {loop.printed} messages", err=True)


def _start_positions(
    client: KafkaClient,
    info: TopicInfo,
    partitions: list[int],
    start: tuple[str, int],
    at_time: int | None,
    committed: dict[int, int],
) -> dict[int, int]:
    todo = [p for p in partitions if p not in committed]
    positions = dict(committed)
    if not todo:
        return positions
    firsts = client.list_offsets(info, todo, EARLIEST_TIMESTAMP)
    ends = client.list_offsets(info, todo, LATEST_TIMESTAMP)
    by_time = {} if at_time is None else client.list_offsets(info, todo, at_time)
    kind, number = start
    for p in todo:
        if at_time is not None:
            # No record at or after the time: start at the end, as Kafka's consumer does.
            positions[p] = ends[p] if by_time[p] < 0 else by_time[p]
        elif kind == "beginning":
            positions[p] = firsts[p]
        elif kind == "end":
            positions[p] = ends[p]
        elif kind == "relative":
            positions[p] = max(firsts[p], ends[p] + number)
        else:
            positions[p] = min(max(number, firsts[p]), ends[p])
    return positions


class _Loop:
    """Fetches from the positions, prints, and (with a group) commits what it printed."""

    def __init__(
        self,
        client: KafkaClient,
        info: TopicInfo,
        positions: dict[int, int],
        line: Callable[[ConsumedRecord], str],
        group_id: str | None,
    ) -> None:
        self.client = client
        self.info = info
        self.positions = positions
        self.line = line
        self.group_id = group_id
        self.printed = 0
        self.committed = dict(positions)

    def run(self, max_messages: int | None, timeout_ms: int | None, exit_at_end: bool) -> None:
        last_record = time.monotonic()
        while max_messages is None or self.printed < max_messages:
            wait_ms = 0 if exit_at_end else FETCH_MAX_WAIT_MS
            if timeout_ms is not None:
                left_ms = timeout_ms - int((time.monotonic() - last_record) * 1000)
                if left_ms <= 0:
                    return
                wait_ms = min(wait_ms, left_ms)
            got_any, at_end = self._fetch_once(wait_ms, max_messages)
            self.commit()
            if got_any:
                last_record = time.monotonic()
            if exit_at_end and at_end:
                return
            if exit_at_end and not got_any:
                # Below the high watermark yet nothing to print (markers, aborted data
                # skipped): do not spin on zero-wait fetches.
                time.sleep(IDLE_PAUSE_S)

    def _fetch_once(self, wait_ms: int, max_messages: int | None) -> tuple[bool, bool]:
        got_any = False
        at_end = True
        fetched = self.client.fetch(self.info, self.positions, wait_ms)
        for partition, (high_watermark, data) in sorted(fetched.items()):
            try:
                batches = decode_batches(data, allow_partial=True)
            except FerrokafkaError as exc:
                raise ClientError(f"partition {partition}: bad records: {exc}") from exc
            for batch in batches:
                # A compressed batch may start before the position asked for; control
                # batches (transaction markers) are not records to print.
                if not batch.is_control:
                    for record in batch.records():
                        if record.offset < self.positions[partition]:
                            continue
                        if max_messages is not None and self.printed >= max_messages:
                            return got_any, at_end
                        self._emit(partition, batch.timestamp_type, record)
                        self.positions[partition] = record.offset + 1
                        got_any = True
                self.positions[partition] = max(self.positions[partition], batch.next_offset)
            if self.positions[partition] < high_watermark:
                at_end = False
        return got_any, at_end

    def _emit(self, partition: int, timestamp_type: str, record: Any) -> None:
        r = ConsumedRecord(
            topic=self.info.name,
            partition=partition,
            offset=record.offset,
            timestamp=record.timestamp,
            timestamp_type=timestamp_type,
            key=record.key,
            value=record.value,
            headers=list(record.headers),
        )
        sys.stdout.write(self.line(r))
        sys.stdout.flush()
        self.printed += 1

    def commit(self) -> None:
        """Commit the positions that moved since the last commit (with a group only)."""
        if self.group_id is None:
            return
        moved = {
            (self.info.name, p): o for p, o in self.positions.items() if self.committed.get(p) != o
        }
        if not moved:
            return
        errors = commit_offsets(self.client, self.group_id, moved, {self.info.name: self.info})
        failed = {k: c for k, c in errors.items() if c}
        if failed:
            (t, p), code = sorted(failed.items())[0]
            raise ClientError(
                f"committing to group '{self.group_id}' failed for {t}-{p}: {error_name(code)}"
                " (a group with active members takes commits from its members only)"
            )
        self.committed.update({p: o for (_, p), o in moved.items()})
