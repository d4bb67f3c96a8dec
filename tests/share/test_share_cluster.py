"""Share groups on a KRaft cluster of three ``ferrokafka serve`` processes
(tests/cluster/kraft_processes.py), formatted as Kafka 4.4 formats by default:

- Kafka's ``kafka-features describe`` shows share.version 2 finalized (share groups and their
  dead-letter queues, KIP-1191), and every broker advertises the share APIs;
- librdkafka's share consumer (confluent-kafka 2.16) reads a replicated topic while the
  partition's leader is killed (SIGKILL) mid-stream: every record is delivered, and none whose
  acknowledgement was confirmed (``commit_sync`` without error) comes again (Kafka's
  at-least-once: only records acquired or acknowledged without confirmation may);
- the killed node, restarted as a follower, answers a ShareFetch for the partition
  NOT_LEADER_OR_FOLLOWER with the current leader, its epoch and its endpoint (KIP-951), and a
  ShareAcknowledge UNKNOWN_TOPIC_OR_PARTITION (no share-partition there), as Kafka 4.4 does.

The group, share-state and data topics have three replicas, so the group coordinator and the
share coordinator move too when their leader is the node killed.

``FERROKAFKA_SHARE_KAFKA=1`` also runs the same scenario against three Apache Kafka 4.4 nodes
(tests/cluster/kraft_kafka.py, formatted the same way); each run prints its outcome (records
delivered, deliveries, records redelivered) on a ``share-cluster`` line to compare (``-s``).
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import confluent_kafka as ck
import pytest
from click.testing import CliRunner
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
)
from server_wire import RawClient

import kafka_support as ks
from cluster.kraft_kafka import KafkaKRaftCluster
from cluster.kraft_processes import KRaftCluster
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.find_coordinator import FindCoordinatorRequest
from ferrokafka.protocol.messages.metadata import MetadataRequest
from ferrokafka.protocol.messages.share_acknowledge import ShareAcknowledgeRequest
from ferrokafka.protocol.messages.share_fetch import ShareFetchRequest
from ferrokafka_cli.main import cli

pytestmark = pytest.mark.skipif(
    not hasattr(ck, "ShareConsumer"), reason="this confluent-kafka has no share consumer"
)

KAFKA_ENV = "FERROKAFKA_SHARE_KAFKA"
KAFKA_OPT_IN = pytest.mark.skipif(
    os.environ.get(KAFKA_ENV, "") in ("", "0"),
    reason=f"opt-in: {KAFKA_ENV}=1 (the same scenario on three Apache Kafka 4.4 nodes)",
)
FEATURE_COMMAND = "org.apache.kafka.tools.FeatureCommand"
SHARE_API_KEYS = {76, 77, 78, 79, 90, 91, 92}
OVERRIDES = {
    "offsets.topic.num.partitions": "1",
    "offsets.topic.replication.factor": "3",
    "share.coordinator.state.topic.num.partitions": "1",
    "share.coordinator.state.topic.replication.factor": "3",
    "share.coordinator.state.topic.min.isr": "1",
    "group.share.session.timeout.ms": "45000",
    # The killed broker is fenced (and the partition's leadership moved) within 3 s.
    "broker.session.timeout.ms": "3000",
    "broker.heartbeat.interval.ms": "500",
    # Records acquired from the killed leader are delivered again from the new one once
    # their acquisition lock (as the first leader answered it) has lapsed: librdkafka holds
    # them until then, so a short lock keeps the test short.
    "group.share.min.record.lock.duration.ms": "1000",
    "group.share.record.lock.duration.ms": "5000",
}
TOPIC = "sq"
GROUP = "sq-g"
JAVA_GROUP = "sq-java"
# The Java consumer runs until the test has seen every record in its output (then it is
# stopped), for JAVA_RUN_MS at most: its own idle stop is as long, so that a leader failover
# on a loaded machine (records 200-299 came after a 20 s idle stop once) never ends it early.
JAVA_RUN_MS = "150000"
JAVA_IDLE_MS = JAVA_RUN_MS
JAVA_FIRST_WAIT_MS = "60000"
APP_TIMEOUT_S = 180.0
PHASE = 100  # records produced before, during and after the kill
POLL_S = 0.5
WAIT_S = 120.0
SETTLE_S = 60.0


def advertised(bootstrap: str) -> set[int]:
    with RawClient(bootstrap) as client:
        return {k.api_key for k in client.call_api_versions().api_keys}


def leader_of(bootstrap: str, topic: str) -> tuple[int, int]:
    """(leader id, leader epoch) of the topic's partition 0; (-1, -1) while the broker does
    not know the topic yet (a topic just created reaches each broker's metadata a moment
    later)."""
    with RawClient(bootstrap) as client:
        answer = client.call(
            MetadataRequest(topics=[MetadataRequest.MetadataRequestTopic(name=topic)]), 12
        )
    if not answer.topics or not answer.topics[0].partitions:
        return -1, -1
    part = answer.topics[0].partitions[0]
    return part.leader_id, part.leader_epoch


def wait_for(what: str, check: object, timeout_s: float = SETTLE_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s"
        time.sleep(0.2)


@pytest.mark.parametrize(
    "kind", ["ferrokafka", pytest.param("kafka", marks=[pytest.mark.kafka, KAFKA_OPT_IN])]
)
def test_share_consumer_survives_a_leader_kill(tmp_path: Path, kind: str) -> None:
    ks.require_kafka()
    nodes_class = KafkaKRaftCluster if kind == "kafka" else KRaftCluster
    with nodes_class(tmp_path / "c", size=3, overrides=OVERRIDES).running() as cluster:
        nodes = cluster.nodes
        # Formatted with Kafka 4.4's defaults: share.version 2 (share groups and their
        # dead-letter queues) is finalized, and every broker advertises the share APIs.
        features = ks.run_kafka_tool(
            FEATURE_COMMAND,
            ["--bootstrap-server", cluster.bootstrap, "describe"],
            work_dir=tmp_path,
        )
        share = next(line for line in features.stdout.splitlines() if "share.version" in line)
        assert "FinalizedVersionLevel: 2" in share, share
        for node in nodes.values():
            wait_for(
                f"node {node.node_id} advertises the share APIs",
                lambda n=node: SHARE_API_KEYS <= advertised(n.bootstrap),
            )

        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        # The data partition led by a node that is not the group coordinator, so that the lag
        # of a describe comes from another broker (ListOffsets to the leader).
        coordinator = group_coordinator(nodes[1].bootstrap)
        first = next(n for n in sorted(nodes) if n != coordinator)
        replicas = [first, coordinator, next(n for n in nodes if n not in (first, coordinator))]
        T = CreateTopicsRequest.CreatableTopic
        request = CreateTopicsRequest(
            topics=[
                T(
                    name=TOPIC,
                    num_partitions=-1,
                    replication_factor=-1,
                    assignments=[
                        CreateTopicsRequest.CreatableReplicaAssignment(
                            partition_index=0, broker_ids=replicas
                        )
                    ],
                    configs=[
                        CreateTopicsRequest.CreatableTopicConfig(
                            name="min.insync.replicas", value="2"
                        )
                    ],
                )
            ],
            timeout_ms=30_000,
        )
        with RawClient(nodes[coordinator].bootstrap) as client:
            assert client.call(request, 7).topics[0].error_code == ec.NONE
        producer = ck.Producer({"bootstrap.servers": cluster.bootstrap, "acks": "all"})
        produce(producer, 0, PHASE)
        resource = ConfigResource(
            "GROUP",
            GROUP,
            incremental_configs=[
                ConfigEntry(
                    "share.auto.offset.reset",
                    "earliest",
                    incremental_operation=AlterConfigOpType.SET,
                )
            ],
        )
        java_resource = ConfigResource(
            "GROUP", JAVA_GROUP, incremental_configs=resource.incremental_configs
        )
        for future in admin.incremental_alter_configs([resource, java_resource]).values():
            future.result(timeout=30)
        # Kafka's Java share consumer reads the topic in its own group across the kill.
        java_log = tmp_path / "java-consumer.err"
        java = java_consumer(cluster.bootstrap, java_log)

        consumer = ck.ShareConsumer(
            {
                "bootstrap.servers": cluster.bootstrap,
                "group.id": GROUP,
                "share.acknowledgement.mode": "explicit",
            }
        )
        run = Run(consumer)
        try:
            consumer.subscribe([TOPIC])
            # Phase 1: read, acknowledged and confirmed.
            run.until(lambda: set(run.confirmed) >= set(range(PHASE)))
            # Phase 2: records acquired, then their leader killed before they are
            # acknowledged: they must come again (from the new leader), with a higher count.
            produce(producer, PHASE, 2 * PHASE)
            assert leader_of(nodes[1].bootstrap, TOPIC)[0] == first
            # (no --metrics-url: the in-flight count is n/a). Kafka shows the start offset
            # one write behind (README, share groups), 0 here, with the same lag.
            described = share_offsets(cluster.bootstrap)
            print(f"share-cluster {kind}: describe before the kill {described}")
            start = "0" if kind == "kafka" else str(PHASE)
            assert described == [[GROUP, TOPIC, "0", start, str(PHASE), "n/a"]]
            acquired = run.until_acquired()
            held = [m.offset() for m in acquired]
            killed, _ = leader_of(nodes[1].bootstrap, TOPIC)
            cluster.kill(killed)
            run.acknowledge_unconfirmed(acquired)
            # Phase 3: more records on the new leader; every record delivered.
            produce(producer, 2 * PHASE, 3 * PHASE)
            run.until(lambda: run.offsets() >= set(range(3 * PHASE)))
            # The killed node comes back as a follower: ShareFetch there is refused.
            cluster.start(killed)
            cluster.wait_ready(killed)
            leader, epoch = leader_of(nodes[killed].bootstrap, TOPIC)
            assert leader != killed
            hint = (ec.NOT_LEADER_OR_FOLLOWER, leader, epoch, [(leader, nodes[leader].port)])
            fetched, acknowledged = not_led_answers(nodes[killed].bootstrap)
            assert fetched == hint, fetched
            # No share-partition here to acknowledge on (Kafka's "No share partition found"):
            # not a leadership error, so no hint.
            assert acknowledged == (ec.UNKNOWN_TOPIC_OR_PARTITION, 0, 0, []), acknowledged
            java_got = java_deliveries(java, java_log, set(range(3 * PHASE)))
        finally:
            consumer.close()
            if java.poll() is None:
                java.kill()
                java.wait(APP_TIMEOUT_S)
        java_counts: dict[int, int] = {}
        for offset, _ in java_got:
            java_counts[offset] = java_counts.get(offset, 0) + 1
        print(
            f"share-cluster {kind}: Java consumer delivered {len(java_counts)} records in "
            f"{len(java_got)} deliveries, redelivered "
            f"{sum(1 for c in java_counts.values() if c > 1)}"
        )
        assert set(java_counts) == set(range(3 * PHASE))
        report(kind, run, held)
        offsets = [offset for offset, _ in run.delivered]
        assert set(offsets) == set(range(3 * PHASE))
        # None delivered again once its acknowledgement was confirmed ...
        again = sorted(
            o for i, o in enumerate(offsets) if o in run.confirmed and i >= run.confirmed[o]
        )
        assert not again, again
        # ... and those held at the kill delivered again, ferrokafka's with their delivery
        # count raised: it persists each acquisition, where Kafka 4.4 writes the state on
        # acknowledgements and lock expiries only, so the new leader redelivers them with
        # count 1 again.
        counts: dict[int, list[int]] = {}
        for offset, count in run.delivered:
            counts.setdefault(offset, []).append(count)
        assert held and all(len(counts[o]) >= 2 for o in held), {o: counts[o] for o in held}
        if kind == "ferrokafka":
            assert all(max(counts[o]) >= 2 for o in held), {o: counts[o] for o in held}
        dead_letters_across_brokers(cluster.bootstrap, nodes[1].bootstrap, admin)


DLQ_TOPIC = "dlq.sq"
DLQ_GROUP = "sq-dlq-g"


def dead_letters_across_brokers(bootstrap: str, node_bootstrap: str, admin: AdminClient) -> None:
    """A second group rejects every record; the DLQ topic's partition is led by another
    broker than the source partition, so the share-partition leader writes its DLQ records
    with a Produce to that broker (share.version 2, KIP-1191)."""
    source_leader, _ = leader_of(node_bootstrap, TOPIC)
    other = next(n for n in (1, 2, 3) if n != source_leader)
    replicas = [other, *(n for n in (1, 2, 3) if n != other)]
    request = CreateTopicsRequest(
        topics=[
            CreateTopicsRequest.CreatableTopic(
                name=DLQ_TOPIC,
                num_partitions=-1,
                replication_factor=-1,
                assignments=[
                    CreateTopicsRequest.CreatableReplicaAssignment(
                        partition_index=0, broker_ids=replicas
                    )
                ],
                configs=[
                    CreateTopicsRequest.CreatableTopicConfig(
                        name="errors.deadletterqueue.group.enable", value="true"
                    )
                ],
            )
        ],
        timeout_ms=30_000,
    )
    with RawClient(node_bootstrap) as client:
        assert client.call(request, 7).topics[0].error_code == ec.NONE
    wait_for("the DLQ partition's leader", lambda: leader_of(node_bootstrap, DLQ_TOPIC)[0] == other)
    entries = {
        "share.auto.offset.reset": "earliest",
        "errors.deadletterqueue.topic.name": DLQ_TOPIC,
    }
    resource = ConfigResource(
        "GROUP",
        DLQ_GROUP,
        incremental_configs=[
            ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET)
            for k, v in entries.items()
        ],
    )
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=30)
    rejecter = ck.ShareConsumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": DLQ_GROUP,
            "share.acknowledgement.mode": "explicit",
        }
    )
    rejected: set[int] = set()
    deadline = time.monotonic() + WAIT_S
    try:
        rejecter.subscribe([TOPIC])
        while len(rejected) < 3 * PHASE:
            assert time.monotonic() < deadline, f"{len(rejected)} rejected only"
            got = [m for m in rejecter.poll(POLL_S) or [] if m.error() is None]
            for message in got:
                rejecter.acknowledge(message, ck.AcknowledgeType.REJECT)
                rejected.add(message.offset())
            if got:
                _committed(rejecter)
    finally:
        rejecter.close()
    reader = ck.Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "sq-dlq-reader",
            "auto.offset.reset": "earliest",
        }
    )
    dead: dict[int, dict[str, bytes]] = {}
    deadline = time.monotonic() + WAIT_S
    try:
        reader.subscribe([DLQ_TOPIC])
        while len(dead) < 3 * PHASE:
            assert time.monotonic() < deadline, f"{len(dead)} DLQ records only"
            message = reader.poll(POLL_S)
            if message is not None and message.error() is None:
                headers = dict(message.headers() or [])
                dead[int(headers["__dlq.errors.offset"])] = headers
    finally:
        reader.close()
    assert sorted(dead) == list(range(3 * PHASE))
    assert {h["__dlq.errors.group"] for h in dead.values()} == {DLQ_GROUP.encode()}
    assert {h["__dlq.errors.message"] for h in dead.values()} == {b"Offset rejected by client."}


def group_coordinator(bootstrap: str) -> int:
    """The group coordinator of GROUP (FindCoordinator creates __consumer_offsets first)."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        with RawClient(bootstrap) as client:
            found = client.call(
                FindCoordinatorRequest(key_type=0, coordinator_keys=[GROUP]), 4
            ).coordinators[0]
        if found.error_code == ec.NONE:
            return int(found.node_id)
        assert time.monotonic() < deadline, f"no group coordinator: {found}"
        time.sleep(0.2)


def share_offsets(bootstrap: str) -> list[list[str]]:
    """The offset rows of ``ferrokafka groups describe`` (start offset, lag, in flight)."""
    shown = CliRunner().invoke(cli, ["groups", "describe", GROUP, "--bootstrap-server", bootstrap])
    assert shown.exit_code == 0, shown.output
    return [r for r in (line.split() for line in shown.output.splitlines()) if r[:1] == [GROUP]]


def produce(producer: ck.Producer, first: int, end: int) -> None:
    for i in range(first, end):
        producer.produce(TOPIC, value=f"v{i}".encode(), partition=0)
    assert producer.flush(60) == 0


class Run:
    """One share consumer's deliveries: (offset, delivery count) in order, and when each
    offset's acknowledgement was confirmed by ``commit_sync``."""

    def __init__(self, consumer: ck.ShareConsumer) -> None:
        self.consumer = consumer
        self.delivered: list[tuple[int, int]] = []
        # offset -> how many deliveries there were when its acknowledgement was confirmed
        self.confirmed: dict[int, int] = {}

    def offsets(self) -> set[int]:
        return {o for o, _ in self.delivered}

    def _poll(self) -> list[ck.Message]:
        got = [m for m in self.consumer.poll(POLL_S) or [] if m.error() is None]
        self.delivered += [(m.offset(), m.delivery_count()) for m in got]
        return got

    def _accept(self, got: list[ck.Message]) -> None:
        for message in got:
            self.consumer.acknowledge(message, ck.AcknowledgeType.ACCEPT)
        if got and _committed(self.consumer):
            for m in got:
                self.confirmed.setdefault(m.offset(), len(self.delivered))

    def until(self, done: Callable[[], bool]) -> None:
        deadline = time.monotonic() + WAIT_S
        while not done():
            assert time.monotonic() < deadline, f"{len(self.delivered)} deliveries only"
            self._accept(self._poll())

    def until_acquired(self) -> list[ck.Message]:
        """Poll until records come; they are left unacknowledged (acquired)."""
        deadline = time.monotonic() + WAIT_S
        while not (got := self._poll()):
            assert time.monotonic() < deadline, "nothing came"
        return got

    def acknowledge_unconfirmed(self, held: list[ck.Message]) -> None:
        """Acknowledge ``held`` after their leader was killed: whatever commit_sync answers,
        they do not count as confirmed (the acquisition died with the leader)."""
        for message in held:
            self.consumer.acknowledge(message, ck.AcknowledgeType.ACCEPT)
        _committed(self.consumer)


def _committed(consumer: ck.ShareConsumer) -> bool:
    """Whether commit_sync confirmed every acknowledgement it sent."""
    try:
        result = consumer.commit_sync()
    except ck.KafkaException:
        return False
    if isinstance(result, dict):
        return all(
            getattr(v, "error", None) is None and not isinstance(v, ck.KafkaError)
            for v in result.values()
        )
    if isinstance(result, list):
        return all(getattr(tp, "error", None) is None for tp in result)
    return True


def java_consumer(bootstrap: str, log: Path) -> subprocess.Popen[str]:
    """tests/kafka/apps/ShareConsume.java (KafkaShareConsumer 4.4, implicit acknowledgement)
    in JAVA_GROUP; it prints a ``GOT offset count value`` line per record (its log goes to
    ``log``: the client logs every refused connection while a node is down)."""
    from kafka_support.jars import streams_classpath
    from kafka_support.java_apps import app_command

    command = app_command(
        "ShareConsume",
        streams_classpath(),
        bootstrap,
        JAVA_GROUP,
        TOPIC,
        "implicit",
        JAVA_IDLE_MS,
        JAVA_RUN_MS,
        JAVA_FIRST_WAIT_MS,
    )
    with log.open("w") as err:
        return subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, text=True
        )


def java_deliveries(
    process: subprocess.Popen[str], log: Path, expected: set[int]
) -> list[tuple[int, int]]:
    """(offset, delivery count) of every record the Java consumer printed: read as it prints
    them until every ``expected`` offset came (then it is stopped) or it ended by itself."""
    assert process.stdout is not None
    lines: list[str] = []
    seen: set[int] = set()
    reader = threading.Thread(
        target=lambda: lines.extend(iter(process.stdout.readline, "")),  # type: ignore[union-attr]
        daemon=True,
    )
    reader.start()
    deadline = time.monotonic() + APP_TIMEOUT_S
    while process.poll() is None and time.monotonic() < deadline:
        seen.update(int(line.split(" ", 3)[1]) for line in list(lines) if line.startswith("GOT "))
        if expected <= seen:
            process.terminate()
            break
        time.sleep(0.2)
    process.wait(APP_TIMEOUT_S)
    reader.join(APP_TIMEOUT_S)
    out = "".join(lines)
    stopped = process.returncode != 0 and expected <= seen
    assert stopped or (process.returncode == 0 and "DONE" in out), (
        out[-2000:] + log.read_text()[-3000:]
    )
    return [
        (int(offset), int(count))
        for line in out.splitlines()
        if line.startswith("GOT ")
        for _, offset, count, _value in [line.split(" ", 3)]
    ]


def report(kind: str, run: Run, held: list[int]) -> None:
    """The run's outcome on one line, to put the ferrokafka and Kafka runs side by side."""
    counts: dict[int, int] = {}
    for offset, _ in run.delivered:
        counts[offset] = counts.get(offset, 0) + 1
    print(
        f"share-cluster {kind}: delivered {len(counts)} records in {len(run.delivered)} "
        f"deliveries, redelivered {sum(1 for c in counts.values() if c > 1)} "
        f"(held at the kill {len(held)}, max delivery count "
        f"{max((c for _, c in run.delivered), default=0)})"
    )


Answer = tuple[int, int, int, list[tuple[int, int]]]


def not_led_answers(bootstrap: str) -> tuple[Answer, Answer]:
    """What a ShareFetch, then a ShareAcknowledge in the session it opened, answer for the
    topic's partition 0 at ``bootstrap``: (partition error, current leader id, its epoch,
    [(node id, port)] of the node endpoints)."""
    with RawClient(bootstrap) as client:
        meta = client.call(
            MetadataRequest(topics=[MetadataRequest.MetadataRequestTopic(name=TOPIC)]), 12
        )
        topic_id = meta.topics[0].topic_id
        R = ShareFetchRequest
        member = "follower-check-member-01"
        fetched = client.call(
            R(
                group_id=GROUP,
                member_id=member,
                share_session_epoch=0,
                max_wait_ms=0,
                max_records=10,
                batch_size=10,
                topics=[
                    R.FetchTopic(
                        topic_id=topic_id, partitions=[R.FetchPartition(partition_index=0)]
                    )
                ],
            ),
            1,
        )
        A = ShareAcknowledgeRequest
        acknowledged = client.call(
            A(
                group_id=GROUP,
                member_id=member,
                share_session_epoch=1,
                topics=[
                    A.AcknowledgeTopic(
                        topic_id=topic_id,
                        partitions=[
                            A.AcknowledgePartition(
                                partition_index=0,
                                acknowledgement_batches=[
                                    A.AcknowledgementBatch(
                                        first_offset=0, last_offset=0, acknowledge_types=[1]
                                    )
                                ],
                            )
                        ],
                    )
                ],
            ),
            1,
        )
    out = []
    for answer in (fetched, acknowledged):
        assert answer.error_code == ec.NONE, answer
        part = answer.responses[0].partitions[0]
        out.append(
            (
                int(part.error_code),
                part.current_leader.leader_id,
                part.current_leader.leader_epoch,
                [(e.node_id, e.port) for e in answer.node_endpoints],
            )
        )
    return out[0], out[1]
