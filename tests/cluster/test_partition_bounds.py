"""Every controller operation bounded as Apache Kafka 4.4 bounds it (issue 12, item 10).

Unbounded, a CreateTopics for 100,000 or 2,147,483,647 partitions, or a CreatePartitions to
4,194,304, made the broker build them all: 6 GB of RSS in about 80 s, the connection dropped,
the process lost. Kafka 4.4 answers such requests at once. What it answers was read from a
real Kafka 4.4.0 broker (raw requests with our codec, the same ones as below) and from its
``ReplicationControlManager``:

- CreateTopics asking for more than 10,000 partitions in all: every topic of the request, as
  sent, POLICY_VIOLATION "Excessively large number of partitions per request.", nothing made;
- CreatePartitions adding more than 10,000: the same with "Excessively large number of
  additional partitions per request.";
- more than 10,000 metadata records from one operation: a CreateTopics is refused whole with
  POLICY_VIOLATION "Unable to perform excessively large batch operation." (one topic of 10,000
  partitions is 10,001 records); a DeleteTopics answers each topic past the bound
  UNKNOWN_SERVER_ERROR, without a message.

The unit tests drive :class:`TopicOperations` (and the controller); the wire tests send the
issue's requests raw to a ``ferrokafka serve`` process and then through librdkafka.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic
from server_wire import RawClient

from ferrokafka.cluster import Controller, errors
from ferrokafka.cluster.delta import MetadataDelta
from ferrokafka.cluster.image import MetadataImage, random_topic_id
from ferrokafka.cluster.records import TopicRecord
from ferrokafka.cluster.topic_ops import (
    EXCESSIVE_ADDITIONAL_PARTITIONS,
    EXCESSIVE_BATCH,
    EXCESSIVE_PARTITIONS,
    MAX_PARTITIONS_PER_BATCH,
    MAX_RECORDS_PER_USER_OP,
    TopicOperations,
)
from ferrokafka.protocol.messages.create_partitions import CreatePartitionsRequest
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.delete_topics import DeleteTopicsRequest
from ferrokafka.protocol.messages.metadata import MetadataRequest
from ferrokafka.protocol.schema import Message

CT = CreateTopicsRequest
CP = CreatePartitionsRequest
POLICY_VIOLATION = errors.POLICY_VIOLATION
INT32_MAX = 2**31 - 1
# The requests.
HUGE_COUNTS = [100_000, INT32_MAX]
HUGE_GROWTH = 4_194_304
# A refusal costs nothing per partition: Kafka answers in milliseconds; the unbounded broker
# took about 80 s. Generous for a loaded two-core machine.
ANSWER_S = 5.0
# What the refused requests may add to the broker's peak RSS (VmHWM). Building the 100,000
# partitions alone used to cost gigabytes.
RSS_GROWTH_MAX = 200 << 20

REPO = Path(__file__).resolve().parents[2]
SERVE = [sys.executable, "-c", "from ferrokafka_cli.main import main; main()", "serve"]
EPHEMERAL = ["--listeners", "PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0"]
LISTENING = re.compile(r"listening on PLAINTEXT://([0-9.]+):(\d+)")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 0.05
CLIENT_TIMEOUT_S = 30.0


def topic(name: str, partitions: int = 1, factor: int = 1, **kwargs: Any) -> CT.CreatableTopic:
    return CT.CreatableTopic(
        name=name, num_partitions=partitions, replication_factor=factor, **kwargs
    )


def grow(
    name: str, count: int, assignments: list[list[int]] | None = None
) -> CP.CreatePartitionsTopic:
    return CP.CreatePartitionsTopic(
        name=name,
        count=count,
        assignments=None
        if assignments is None
        else [CP.CreatePartitionsAssignment(broker_ids=ids) for ids in assignments],
    )


def create(
    ops: TopicOperations, image: MetadataImage, *topics: CT.CreatableTopic
) -> tuple[list[Message], list[tuple[str, int, str | None]]]:
    records, response = ops.create_topics(image, CT(topics=list(topics)))
    return records, [(t.name, t.error_code, t.error_message) for t in response.topics]


def add(
    ops: TopicOperations, image: MetadataImage, *topics: CP.CreatePartitionsTopic
) -> tuple[list[Message], list[tuple[str, int, str | None]]]:
    records, response = ops.create_partitions(image, CP(topics=list(topics)))
    return records, [(t.name, t.error_code, t.error_message) for t in response.results]


def refused(message: str, *names: str) -> list[tuple[str, int, str | None]]:
    return [(name, POLICY_VIOLATION, message) for name in names]


@pytest.fixture
def ops(controller: Controller) -> TopicOperations:
    return TopicOperations(controller.config)


@pytest.fixture
def grown(controller: Controller) -> Controller:
    """A controller whose image has topics cp, cp2 and cp3 of one partition each."""
    response = controller.create_topics(CT(topics=[topic("cp"), topic("cp2"), topic("cp3")]))
    assert [t.error_code for t in response.topics] == [0, 0, 0]
    return controller


# -- CreateTopics: the partitions asked for --------------------------------------------------


@pytest.mark.parametrize("count", [MAX_PARTITIONS_PER_BATCH + 1, *HUGE_COUNTS])
def test_create_topics_over_the_bound_is_refused_at_once(
    controller: Controller, ops: TopicOperations, count: int
) -> None:
    started = time.monotonic()
    records, answers = create(ops, controller.image, topic("big", count))
    assert time.monotonic() - started < ANSWER_S
    assert (records, answers) == ([], refused(EXCESSIVE_PARTITIONS, "big"))
    # through the controller too, validate_only or not: nothing is committed
    for validate_only in (True, False):
        response = controller.create_topics(
            CT(topics=[topic("big", count)], validate_only=validate_only)
        )
        assert [(t.error_code, t.error_message) for t in response.topics] == [
            (POLICY_VIOLATION, EXCESSIVE_PARTITIONS)
        ]
        assert response.topics[0].num_partitions == -1
    assert controller.image.topic("big") is None


def test_create_topics_refusal_answers_every_topic_as_sent(
    grown: Controller, ops: TopicOperations
) -> None:
    """Kafka 4.4 answered exactly this: the whole request, in order, duplicates twice; the
    valid topic next to the big one is not created."""
    names = ["ok1", "big2", "dup", "dup", "__cluster_metadata", "bad name!", "cp"]
    counts = [1, 100_000, 1, 1, 1, 1, 1]
    request = [topic(name, count) for name, count in zip(names, counts, strict=True)]
    assert create(ops, grown.image, *request) == ([], refused(EXCESSIVE_PARTITIONS, *names))
    response = grown.create_topics(CT(topics=request))
    assert [t.error_code for t in response.topics] == [POLICY_VIOLATION] * len(names)
    assert grown.image.topic("ok1") is None


def test_create_topics_total_is_counted_as_kafka_counts_it(
    controller: Controller, ops: TopicOperations, make_controller: Any
) -> None:
    image = controller.image
    # the total of all topics (Kafka's own test: 5,000 + 5,000 + 1)
    records, answers = create(ops, image, topic("a", 5000), topic("b", 5000), topic("c", 1))
    assert (records, answers) == ([], refused(EXCESSIVE_PARTITIONS, "a", "b", "c"))
    # summed without overflow: Kafka 4.4 sums in a long (4.3 wrapped to -2 and went on)
    records, answers = create(ops, image, topic("o1", INT32_MAX), topic("o2", INT32_MAX))
    assert (records, answers) == ([], refused(EXCESSIVE_PARTITIONS, "o1", "o2"))
    # a topic's other errors come after: Kafka validates the total first
    _, answers = create(ops, image, topic("rf0", 100_000, factor=0))
    assert answers == refused(EXCESSIVE_PARTITIONS, "rf0")
    # an assignment list counts its entries (num_partitions is then -1)
    assigned = topic(
        "manual",
        -1,
        -1,
        assignments=[
            CT.CreatableReplicaAssignment(partition_index=i, broker_ids=[1])
            for i in range(MAX_PARTITIONS_PER_BATCH + 1)
        ],
    )
    assert create(ops, image, assigned) == ([], refused(EXCESSIVE_PARTITIONS, "manual"))
    # -1 counts the default
    big_default = make_controller({"num.partitions": str(MAX_PARTITIONS_PER_BATCH + 1)})
    response = big_default.create_topics(CT(topics=[topic("dflt", -1)]))
    assert [(t.error_code, t.error_message) for t in response.topics] == [
        (POLICY_VIOLATION, EXCESSIVE_PARTITIONS)
    ]


def test_create_topics_total_leaves_out_what_is_answered_before(
    controller: Controller, ops: TopicOperations
) -> None:
    """As Kafka 4.4 answered: duplicates and the metadata topic never reach its controller,
    and invalid counts add nothing."""
    image = controller.image
    records, answers = create(
        ops, image, topic("dd", 100_000), topic("dd", 100_000), topic("ee", 1)
    )
    assert answers == [("dd", errors.INVALID_REQUEST, "Duplicate topic name."), ("ee", 0, None)]
    assert len(records) == 2
    _, answers = create(ops, image, topic("__cluster_metadata", 100_000))
    assert answers == [
        (
            "__cluster_metadata",
            errors.INVALID_REQUEST,
            "Creation of internal topic __cluster_metadata is prohibited.",
        )
    ]
    records, answers = create(ops, image, topic("neg", -5), topic("zero", 0), topic("fits", 9999))
    assert [code for _, code, _ in answers] == [errors.INVALID_PARTITIONS] * 2 + [0]
    assert len(records) == 1 + 9999


# -- CreateTopics: the records written ------------------------------------------------------


def test_create_topics_records_bound(controller: Controller, ops: TopicOperations) -> None:
    image = controller.image
    # 9,999 partitions and the TopicRecord: exactly the bound
    records, answers = create(ops, image, topic("t9999", 9999))
    assert answers == [("t9999", 0, None)] and len(records) == MAX_RECORDS_PER_USER_OP
    # 10,000 partitions pass the partition bound but are 10,001 records: Kafka 4.4's answer
    assert create(ops, image, topic("t10k", 10_000)) == ([], refused(EXCESSIVE_BATCH, "t10k"))
    response = controller.create_topics(CT(topics=[topic("t10k", 10_000)], validate_only=True))
    assert [(t.error_code, t.error_message) for t in response.topics] == [
        (POLICY_VIOLATION, EXCESSIVE_BATCH)
    ]
    # every topic's TopicRecord and ConfigRecords count
    two = [topic("a", 5000), topic("b", 4999)]
    assert create(ops, image, *two) == ([], refused(EXCESSIVE_BATCH, "a", "b"))
    retention = [CT.CreatableTopicConfig(name="retention.ms", value="60000")]
    both = retention + [CT.CreatableTopicConfig(name="cleanup.policy", value="compact")]
    records, answers = create(ops, image, topic("one-config", 9998, configs=retention))
    assert answers[0][1] == 0 and len(records) == MAX_RECORDS_PER_USER_OP
    _, answers = create(ops, image, topic("two-configs", 9998, configs=both))
    assert answers == refused(EXCESSIVE_BATCH, "two-configs")
    assert controller.image.topic("t10k") is None


# -- CreatePartitions -----------------------------------------------------------------------


@pytest.mark.parametrize("count", [1 + MAX_PARTITIONS_PER_BATCH + 1, HUGE_GROWTH, INT32_MAX])
def test_create_partitions_over_the_bound_is_refused_at_once(grown: Controller, count: int) -> None:
    ops = TopicOperations(grown.config)
    started = time.monotonic()
    records, answers = add(ops, grown.image, grow("cp", count))
    assert time.monotonic() - started < ANSWER_S
    assert (records, answers) == ([], refused(EXCESSIVE_ADDITIONAL_PARTITIONS, "cp"))
    for validate_only in (True, False):
        response = grown.create_partitions(
            CP(topics=[grow("cp", count)], validate_only=validate_only)
        )
        assert [(r.error_code, r.error_message) for r in response.results] == [
            (POLICY_VIOLATION, EXCESSIVE_ADDITIONAL_PARTITIONS)
        ]
    topic_image = grown.image.topic("cp")
    assert topic_image is not None and len(topic_image.partitions) == 1


def test_create_partitions_bound_is_exact(grown: Controller, ops: TopicOperations) -> None:
    # 1 -> 10,001 adds 10,000 partitions: allowed, and 10,000 records
    records, answers = add(ops, grown.image, grow("cp", 1 + MAX_PARTITIONS_PER_BATCH))
    assert answers == [("cp", 0, None)] and len(records) == MAX_PARTITIONS_PER_BATCH
    # a manual assignment counts the partitions added, as placed ones do
    manual = grow("cp", 2 + MAX_PARTITIONS_PER_BATCH, [[1]] * (1 + MAX_PARTITIONS_PER_BATCH))
    assert add(ops, grown.image, manual) == ([], refused(EXCESSIVE_ADDITIONAL_PARTITIONS, "cp"))


def test_create_partitions_refusal_answers_every_topic_as_sent(
    grown: Controller, ops: TopicOperations
) -> None:
    """Kafka 4.4's answers to these very requests."""
    image = grown.image
    # the total of all topics
    two = [grow("cp", 6001), grow("cp2", 6001)]
    assert add(ops, image, *two) == ([], refused(EXCESSIVE_ADDITIONAL_PARTITIONS, "cp", "cp2"))
    # every topic in order, the unknown one and the invalid count included
    mix = [grow("nosuch", 100_000), grow("cp3", 0), grow("cp2", 2), grow("cp", 10_002)]
    assert add(ops, image, *mix) == (
        [],
        refused(EXCESSIVE_ADDITIONAL_PARTITIONS, "nosuch", "cp3", "cp2", "cp"),
    )
    # duplicates are listed each time when the rest is refused
    dups = [grow("cp", 3), grow("cp", 3), grow("cp2", 10_002)]
    assert add(ops, image, *dups) == (
        [],
        refused(EXCESSIVE_ADDITIONAL_PARTITIONS, "cp", "cp", "cp2"),
    )


def test_create_partitions_total_leaves_out_what_adds_nothing(
    grown: Controller, ops: TopicOperations
) -> None:
    image = grown.image
    # an unknown topic adds nothing
    records, answers = add(ops, image, grow("nosuch", 100_000), grow("cp2", 2))
    assert answers == [("nosuch", errors.UNKNOWN_TOPIC_OR_PARTITION, None), ("cp2", 0, None)]
    assert len(records) == 1
    # duplicates never reach Kafka's controller
    records, answers = add(ops, image, grow("cp", 10_002), grow("cp", 10_002), grow("cp2", 2))
    assert answers == [("cp", errors.INVALID_REQUEST, "Duplicate topic name."), ("cp2", 0, None)]
    # nor do counts that are no increase
    _, answers = add(ops, image, grow("cp", -5), grow("cp2", 2))
    assert answers == [
        (
            "cp",
            errors.INVALID_PARTITIONS,
            "The topic cp currently has 1 partition(s); -5 would not be an increase.",
        ),
        ("cp2", 0, None),
    ]


# -- DeleteTopics ---------------------------------------------------------------------------


def test_delete_topics_records_bound(controller: Controller, ops: TopicOperations) -> None:
    """One RemoveTopicRecord a topic: past MAX_RECORDS_PER_USER_OP Kafka answers each further
    topic UNKNOWN_SERVER_ERROR without a message and deletes the others."""
    names = [f"t-{i:05}" for i in range(MAX_RECORDS_PER_USER_OP + 2)]
    delta = MetadataDelta(controller.image)
    delta.replay_all(
        [TopicRecord(name=name, topic_id=random_topic_id()) for name in names],
        controller.image.offset + len(names),
    )
    image = delta.apply()
    request = DeleteTopicsRequest(
        topics=[DeleteTopicsRequest.DeleteTopicState(name=n) for n in names]
    )
    records, response = ops.delete_topics(image, request)
    assert len(records) == MAX_RECORDS_PER_USER_OP
    answers = [(r.name, r.error_code, r.error_message) for r in response.responses]
    assert answers[:MAX_RECORDS_PER_USER_OP] == [(n, 0, None) for n in names[:-2]]
    assert answers[MAX_RECORDS_PER_USER_OP:] == [
        (n, errors.UNKNOWN_SERVER_ERROR, None) for n in names[-2:]
    ]


# -- On the wire: a ferrokafka serve process ------------------------------------------------


class Serve:
    """One ``ferrokafka serve`` process on ephemeral ports; output goes to files."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.out = work_dir / "serve.out"
        self.err = work_dir / "serve.err"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(
                [*SERVE, *EPHEMERAL, "--log-dirs", str(work_dir / "data")],
                cwd=REPO,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self.bootstrap = self._wait_listening()

    def _wait_listening(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            match = LISTENING.search(self.out.read_text())
            if match:
                return f"{match.group(1)}:{match.group(2)}"
            assert self.proc.poll() is None, f"serve exited: {self.stderr()}"
            time.sleep(POLL_INTERVAL_S)
        raise TimeoutError(f"serve did not listen within {START_TIMEOUT_S} s: {self.stderr()}")

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")[-4000:]

    def peak_rss(self) -> int:
        """The process's peak resident set (VmHWM), in bytes."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        match = re.search(r"^VmHWM:\s+(\d+) kB$", status, re.MULTILINE)
        assert match, status
        return int(match.group(1)) * 1024

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_S)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    broker = Serve(tmp_path)
    try:
        yield broker
    finally:
        broker.close()


def timed(client: RawClient, request: Message, version: int) -> Any:
    started = time.monotonic()
    response = client.call(request, version)
    elapsed = time.monotonic() - started
    assert elapsed < ANSWER_S, f"answered in {elapsed:.1f} s"
    return response


def test_raw_requests_are_refused_at_once_and_the_broker_serves_on(serve: Serve) -> None:
    with RawClient(serve.bootstrap, timeout_s=CLIENT_TIMEOUT_S) as client:
        # warm up (first topic, metadata) before taking the baseline
        [made] = client.call(CT(topics=[topic("grow")], timeout_ms=5000), 7).topics
        assert made.error_code == 0
        client.call(MetadataRequest(topics=None), 12)
        baseline = serve.peak_rss()

        for count in HUGE_COUNTS:
            request = CT(topics=[topic("big", count)], timeout_ms=5000)
            for version in (2, 7):  # the oldest Kafka 4 takes and the newest
                [result] = timed(client, request, version).topics
                assert (result.name, result.error_code, result.error_message) == (
                    "big",
                    POLICY_VIOLATION,
                    EXCESSIVE_PARTITIONS,
                )
        request = CP(topics=[grow("grow", HUGE_GROWTH)], timeout_ms=5000)
        for version in (0, 3):
            [result] = timed(client, request, version).results
            assert (result.name, result.error_code, result.error_message) == (
                "grow",
                POLICY_VIOLATION,
                EXCESSIVE_ADDITIONAL_PARTITIONS,
            )

        # the same connection goes on, and the broker still creates, grows and describes
        assert client.call_api_versions(correlation_id=99).error_code == 0
        [after] = client.call(CT(topics=[topic("after", 3)], timeout_ms=5000), 7).topics
        assert (after.error_code, after.num_partitions) == (0, 3)
        [grown] = client.call(CP(topics=[grow("grow", 2)], timeout_ms=5000), 3).results
        assert grown.error_code == 0
        names = ["big", "grow", "after"]
        metadata = client.call(
            MetadataRequest(topics=[MetadataRequest.MetadataRequestTopic(name=n) for n in names]),
            12,
        )
    shown = {t.name: (t.error_code, len(t.partitions)) for t in metadata.topics}
    assert shown == {
        "big": (errors.UNKNOWN_TOPIC_OR_PARTITION, 0),
        "grow": (0, 2),
        "after": (0, 3),
    }
    assert serve.proc.poll() is None, serve.stderr()
    growth = serve.peak_rss() - baseline
    assert growth < RSS_GROWTH_MAX, f"peak RSS grew {growth >> 20} MiB"


def test_confluent_admin_client_gets_policy_violation(serve: Serve) -> None:
    """librdkafka, a client we did not write, as a user would call it."""
    admin = AdminClient({"bootstrap.servers": serve.bootstrap})
    [big] = admin.create_topics(
        [NewTopic("cf-big", num_partitions=100_000, replication_factor=1)],
        operation_timeout=CLIENT_TIMEOUT_S,
    ).values()
    with pytest.raises(KafkaException) as info:
        big.result(timeout=CLIENT_TIMEOUT_S)
    error = info.value.args[0]
    assert error.code() == KafkaError.POLICY_VIOLATION
    assert EXCESSIVE_PARTITIONS in error.str()

    [made] = admin.create_topics(
        [NewTopic("cf-grow", num_partitions=1, replication_factor=1)],
        operation_timeout=CLIENT_TIMEOUT_S,
    ).values()
    made.result(timeout=CLIENT_TIMEOUT_S)
    # librdkafka itself refuses totals above 100,000
    [growth] = admin.create_partitions([NewPartitions("cf-grow", 20_000)]).values()
    with pytest.raises(KafkaException) as info:
        growth.result(timeout=CLIENT_TIMEOUT_S)
    error = info.value.args[0]
    assert error.code() == KafkaError.POLICY_VIOLATION
    assert EXCESSIVE_ADDITIONAL_PARTITIONS in error.str()
    assert serve.proc.poll() is None, serve.stderr()
