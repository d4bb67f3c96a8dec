"""`ferrokafka transactions`: list and describe transactions, describe a partition's producers,
find hanging transactions and abort one, like Kafka's kafka-transactions.sh
(org.apache.kafka.tools.TransactionsCommand), over the transaction APIs of any
Kafka-compatible broker. Column names are Kafka's, so scripts written for its tool read ours.

A hanging transaction is one a partition still holds open although its coordinator no longer
will finish it (the coordinator lost it, or has moved on without this partition): it pins the
last stable offset, and read_committed consumers stop there. ``find-hanging`` finds them as
Kafka's tool does and ``abort`` writes the ABORT marker that releases the partition.
"""

from __future__ import annotations

import time

import click

from ferrokafka.protocol.error_codes import TRANSACTIONAL_ID_NOT_FOUND

from .bootstrap import bootstrap_options, group_bootstrap_option, reports_errors
from .client import ClientError, KafkaApiError, KafkaClient
from .groups import echo_table
from .topics import connect
from .txn_admin import (
    AbortSpec,
    ListFilters,
    ProducerState,
    abort_transaction,
    describe_producers,
    describe_producers_at,
    describe_transaction,
    list_transactions,
)

# What Kafka's tool prints for a value that is absent.
NONE_TEXT = "None"
# find-hanging: partitions per DescribeProducers request (Kafka's MAX_BATCH_SIZE), and the
# default of --max-transaction-timeout (minutes): the broker's transaction.max.timeout.ms.
FIND_HANGING_BATCH = 500
MAX_TRANSACTION_TIMEOUT_MIN_DEFAULT = 15
MS_PER_MIN = 60_000


def _csv(values: tuple[str, ...]) -> list[str]:
    """Repeated and comma-separated option values, in order, without blanks."""
    return [v.strip() for arg in values for v in arg.split(",") if v.strip()]


def _producer_ids(values: tuple[str, ...]) -> list[int]:
    out = []
    for text in _csv(values):
        try:
            out.append(int(text))
        except ValueError:
            raise click.BadParameter(
                f"{text!r} is not a producer id", param_hint="--producer-id-filter"
            ) from None
    return out


@click.group("transactions")
@group_bootstrap_option
def transactions() -> None:
    """List, describe and abort transactions; describe producers; find hanging transactions."""


@transactions.command("list")
@click.option(
    "--state",
    "states",
    multiple=True,
    metavar="STATE",
    help="Only transactions in this state (e.g. Ongoing, CompleteCommit); repeat or "
    "comma-separate for several.",
)
@click.option(
    "--producer-id-filter",
    "producer_ids",
    multiple=True,
    metavar="ID",
    help="Only transactions of this producer id; repeat or comma-separate for several.",
)
@click.option(
    "--duration-filter",
    type=int,
    default=-1,
    metavar="MS",
    help="Only transactions running longer than MS milliseconds (< 0: all).",
)
@click.option(
    "--transactional-id-pattern",
    metavar="REGEX",
    help="Only transactional ids matching this regular expression (Java syntax).",
)
@bootstrap_options
@reports_errors
def list_cmd(
    states: tuple[str, ...],
    producer_ids: tuple[str, ...],
    duration_filter: int,
    transactional_id_pattern: str | None,
    bootstrap_server: str,
    timeout: float,
) -> None:
    """Every transactional id known to the coordinators, with its coordinator, producer id and
    state (ListTransactions to every broker)."""
    filters = ListFilters(
        states=_csv(states),
        producer_ids=_producer_ids(producer_ids),
        duration_ms=duration_filter,
        pattern=transactional_id_pattern,
    )
    with connect(bootstrap_server, timeout) as client:
        result = list_transactions(client, filters)
    for node_id, unknown in sorted(result.unknown_states.items()):
        click.echo(
            f"Broker {node_id} does not know the state(s) {', '.join(unknown)}: ignored.",
            err=True,
        )
    echo_table(
        ("TransactionalId", "Coordinator", "ProducerId", "TransactionState"),
        [(t.transactional_id, t.coordinator_id, t.producer_id, t.state) for t in result.listings],
    )


@transactions.command("describe")
@click.option("--transactional-id", required=True, help="The transactional id to describe.")
@bootstrap_options
@reports_errors
def describe(transactional_id: str, bootstrap_server: str, timeout: float) -> None:
    """The state of one transactional id at its coordinator (FindCoordinator, then
    DescribeTransactions)."""
    with connect(bootstrap_server, timeout) as client:
        d = describe_transaction(client, transactional_id)
    if d.start_time_ms is None:
        start_text = duration_text = NONE_TEXT
    else:
        start_text = str(d.start_time_ms)
        duration_text = str(int(time.time() * 1000) - d.start_time_ms)
    echo_table(
        (
            "CoordinatorId",
            "TransactionalId",
            "ProducerId",
            "ProducerEpoch",
            "TransactionState",
            "TransactionTimeoutMs",
            "CurrentTransactionStartTimeMs",
            "TransactionDurationMs",
            "TopicPartitions",
        ),
        [
            (
                d.coordinator_id,
                d.transactional_id,
                d.producer_id,
                d.producer_epoch,
                d.state,
                d.timeout_ms,
                start_text,
                duration_text,
                ",".join(f"{t}-{p}" for t, p in d.partitions),
            )
        ],
    )


def _coordinator_epoch(p: ProducerState) -> int:
    return -1 if p.coordinator_epoch is None else p.coordinator_epoch


@transactions.command("describe-producers")
@click.option("--topic", required=True, help="The topic.")
@click.option("--partition", type=click.IntRange(min=0), required=True, help="The partition.")
@click.option(
    "--broker-id",
    type=int,
    help="Ask this replica instead of the leader (a follower's view of the producers).",
)
@bootstrap_options
@reports_errors
def describe_producers_cmd(
    topic: str, partition: int, broker_id: int | None, bootstrap_server: str, timeout: float
) -> None:
    """The active producers of one partition: epochs, last sequence and timestamp, and where
    their open transaction starts (DescribeProducers)."""
    with connect(bootstrap_server, timeout) as client:
        producers = describe_producers(client, topic, partition, broker_id)
    echo_table(
        (
            "ProducerId",
            "ProducerEpoch",
            "LatestCoordinatorEpoch",
            "LastSequence",
            "LastTimestamp",
            "CurrentTransactionStartOffset",
        ),
        [
            (
                p.producer_id,
                p.producer_epoch,
                _coordinator_epoch(p),
                p.last_sequence,
                p.last_timestamp,
                NONE_TEXT if p.txn_start_offset is None else p.txn_start_offset,
            )
            for p in producers
        ],
    )


@transactions.command("abort")
@click.option("--topic", required=True, help="The topic.")
@click.option("--partition", type=click.IntRange(min=0), required=True, help="The partition.")
@click.option(
    "--start-offset",
    type=click.IntRange(min=0),
    help="Start offset of the open transaction to abort (its producer is looked up).",
)
@click.option("--producer-id", type=int, help="Without --start-offset: the producer id.")
@click.option(
    "--producer-epoch",
    type=click.IntRange(min=0, max=32767),
    help="Without --start-offset: the producer epoch.",
)
@click.option(
    "--coordinator-epoch", type=int, help="Without --start-offset: the coordinator epoch."
)
@bootstrap_options
@reports_errors
def abort(
    topic: str,
    partition: int,
    start_offset: int | None,
    producer_id: int | None,
    producer_epoch: int | None,
    coordinator_epoch: int | None,
    bootstrap_server: str,
    timeout: float,
) -> None:
    """Abort a hanging transaction on one partition: an ABORT marker written by the leader
    (WriteTxnMarkers; needs cluster-action rights where an authorizer runs)."""
    if start_offset is None and producer_id is None:
        raise ClientError(
            "The transaction to abort must be identified either with --start-offset or with "
            "--producer-id, --producer-epoch and --coordinator-epoch"
        )
    with connect(bootstrap_server, timeout) as client:
        if start_offset is not None:
            spec = _spec_at_offset(client, topic, partition, start_offset)
        else:
            if producer_epoch is None:
                raise ClientError("Missing required argument --producer-epoch")
            if coordinator_epoch is None:
                raise ClientError("Missing required argument --coordinator-epoch")
            # A producer that never saw a marker reports -1: 0 is at or below any epoch a
            # coordinator can have, as Kafka's tool reasons.
            spec = AbortSpec(
                topic, partition, producer_id, producer_epoch, max(0, coordinator_epoch)
            )
        abort_transaction(client, spec)
    click.echo(f"Aborted the transaction of {spec}.")


def _spec_at_offset(client: KafkaClient, topic: str, partition: int, offset: int) -> AbortSpec:
    producers = describe_producers(client, topic, partition, None)
    for p in producers:
        if p.txn_start_offset == offset:
            epoch = 0 if p.coordinator_epoch is None else p.coordinator_epoch
            return AbortSpec(topic, partition, p.producer_id, p.producer_epoch, epoch)
    raise ClientError(
        f"Could not find any open transactions starting at offset {offset} on partition "
        f"{topic}-{partition}"
    )


@transactions.command("find-hanging")
@click.option("--broker-id", type=int, help="Search the partitions this broker holds.")
@click.option("--topic", help="Search this topic only (required with --partition).")
@click.option("--partition", type=click.IntRange(min=0), help="Search this partition only.")
@click.option(
    "--max-transaction-timeout",
    type=click.IntRange(min=0),
    default=MAX_TRANSACTION_TIMEOUT_MIN_DEFAULT,
    show_default=True,
    metavar="MIN",
    help="Transactions open longer than this many minutes are suspects.",
)
@bootstrap_options
@reports_errors
def find_hanging(
    broker_id: int | None,
    topic: str | None,
    partition: int | None,
    max_transaction_timeout: int,
    bootstrap_server: str,
    timeout: float,
) -> None:
    """Open transactions older than --max-transaction-timeout that their coordinator will not
    finish: no transactional id maps to the producer any more, or its current transaction
    does not include the partition."""
    if topic is None and broker_id is None:
        raise ClientError(
            "find-hanging requires either --topic or --broker-id to limit the scope of the search"
        )
    if partition is not None and topic is None:
        raise ClientError("--partition requires --topic")
    with connect(bootstrap_server, timeout) as client:
        partitions = _partitions_to_search(client, topic, partition, broker_id)
        suspects = _open_transactions(
            client, partitions, broker_id, max_transaction_timeout * MS_PER_MIN
        )
        hanging = _hanging(client, suspects)
    now_ms = int(time.time() * 1000)
    echo_table(
        (
            "Topic",
            "Partition",
            "ProducerId",
            "ProducerEpoch",
            "CoordinatorEpoch",
            "StartOffset",
            "LastTimestamp",
            "Duration(min)",
        ),
        [
            (
                t,
                p,
                s.producer_id,
                s.producer_epoch,
                _coordinator_epoch(s),
                -1 if s.txn_start_offset is None else s.txn_start_offset,
                s.last_timestamp,
                (now_ms - s.last_timestamp) // MS_PER_MIN,
            )
            for (t, p), s in hanging
        ],
    )


Suspect = tuple[tuple[str, int], ProducerState]


def _partitions_to_search(
    client: KafkaClient, topic: str | None, partition: int | None, broker_id: int | None
) -> list[tuple[str, int]]:
    if topic is not None and partition is not None:
        return [(topic, partition)]
    infos = client.metadata(None if topic is None else [topic])
    out = []
    for info in infos:
        if info.error_code:
            raise KafkaApiError(info.error_code, f"describing topic '{info.name}'")
        for p in info.partitions:
            if broker_id is None or broker_id in p.replicas:
                out.append((info.name, p.partition))
    return sorted(out)


def _open_transactions(
    client: KafkaClient,
    partitions: list[tuple[str, int]],
    broker_id: int | None,
    max_timeout_ms: int,
) -> list[Suspect]:
    """Producers whose transaction on a partition has been open longer than the timeout
    (judged by their last write, as Kafka's tool does)."""
    targets: dict[int, list[tuple[str, int]]] = {}
    if broker_id is not None:
        targets[broker_id] = partitions
    else:
        leaders = {
            (info.name, p.partition): p.leader
            for info in client.metadata(sorted({t for t, _ in partitions}))
            for p in info.partitions
        }
        for tp in partitions:
            if tp not in leaders:
                raise ClientError(f"Topic '{tp[0]}' has no partition {tp[1]}.")
            targets.setdefault(leaders[tp], []).append(tp)
    now_ms = int(time.time() * 1000)
    suspects: list[Suspect] = []
    for node_id, tps in sorted(targets.items()):
        for i in range(0, len(tps), FIND_HANGING_BATCH):
            answers = describe_producers_at(client, node_id, tps[i : i + FIND_HANGING_BATCH])
            for tp, (code, message, producers) in sorted(answers.items()):
                if code:
                    raise KafkaApiError(
                        code,
                        f"Failed to describe producers for {tp[0]}-{tp[1]} on broker {node_id}"
                        + (f": {message}" if message else ""),
                    )
                suspects += [
                    (tp, s)
                    for s in producers
                    if s.txn_start_offset is not None and now_ms - s.last_timestamp > max_timeout_ms
                ]
    return suspects


def _hanging(client: KafkaClient, suspects: list[Suspect]) -> list[Suspect]:
    """The suspects the coordinators will not finish: Kafka's cross-check through
    ListTransactions (by producer id) and DescribeTransactions."""
    if not suspects:
        return []
    producer_ids = sorted({s.producer_id for _, s in suspects})
    listed = list_transactions(client, ListFilters(producer_ids=producer_ids)).listings
    txn_ids = {t.producer_id: t.transactional_id for t in listed}
    partitions_of: dict[str, set[tuple[str, int]] | None] = {}
    for txn_id in sorted(set(txn_ids.values())):
        try:
            partitions_of[txn_id] = set(describe_transaction(client, txn_id).partitions)
        except KafkaApiError as exc:
            if exc.code != TRANSACTIONAL_ID_NOT_FOUND:
                raise
            partitions_of[txn_id] = None
    hanging = []
    for tp, s in suspects:
        txn_id = txn_ids.get(s.producer_id)
        known = None if txn_id is None else partitions_of.get(txn_id)
        # The coordinator still lists a partition of an ongoing transaction, and those of a
        # PrepareCommit/PrepareAbort whose markers are not written yet: it will finish them.
        if known is None or tp not in known:
            hanging.append((tp, s))
    return hanging
