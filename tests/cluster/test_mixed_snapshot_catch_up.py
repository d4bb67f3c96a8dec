"""An Apache Kafka 4.4 broker joins a cluster whose ferrokafka controller has already snapshot
its metadata and deleted the log prefix (a tiny ``metadata.log.max.record.bytes.between
.snapshots``, small segments, ``metadata.max.retention.bytes`` of 1): Kafka's broker, fetching
``__cluster_metadata`` from offset 0, is answered with our snapshot id, downloads our snapshot
with FetchSnapshot, validates and loads it (Kafka's own reader), continues the log after it,
registers and is unfenced, and serves every topic created before it came — and a new one,
produced to and read back. Kafka's broker then writes snapshots of its own image, which our
snapshot reader decodes and our image loads."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mixed_clients import admin, consume, create_topic, produce, wait_leaders
from mixed_processes import FERROKAFKA, KAFKA, MixedCluster

from ferrokafka.cluster.image_records import image_from_records
from ferrokafka.cluster.snapshot_file import SnapshotId, read_snapshot

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

OUR_CONTROLLER = 1
OUR_BROKER = 2
KAFKA_BROKER = 3
TOPICS = 25
RECORDS = 100
WAIT_S = 60.0
KAFKA_SNAPSHOT_BYTES = 1000
# Only on our nodes: Kafka refuses metadata segments under 8 MiB.
OUR_SNAPSHOT_SETTINGS = {
    "metadata.log.max.record.bytes.between.snapshots": "1500",
    "metadata.log.segment.bytes": "4096",
    "metadata.max.retention.bytes": "1",
}


@pytest.fixture
def cluster(tmp_path: Path, kafka_classpath: str) -> Iterator[MixedCluster]:
    made = MixedCluster(
        tmp_path / "cluster",
        {
            OUR_CONTROLLER: (FERROKAFKA, ("controller",)),
            OUR_BROKER: (FERROKAFKA, ("broker",)),
            KAFKA_BROKER: (KAFKA, ("broker",)),
        },
    )
    try:
        made.format()
        for node_id in (OUR_CONTROLLER, OUR_BROKER):
            with made.nodes[node_id].config_file.open("a") as config:
                config.writelines(f"{k}={v}\n" for k, v in OUR_SNAPSHOT_SETTINGS.items())
        with made.nodes[KAFKA_BROKER].config_file.open("a") as config:
            config.write(
                f"metadata.log.max.record.bytes.between.snapshots={KAFKA_SNAPSHOT_BYTES}\n"
            )
        made.start(OUR_CONTROLLER)
        made.start(OUR_BROKER)
        made.wait_brokers(OUR_BROKER)
        yield made
    finally:
        made.close()


def metadata_partition(node_dir: Path) -> Path:
    return next(node_dir.rglob("__cluster_metadata-0"))


def snapshot_ids(directory: Path) -> list[SnapshotId]:
    return sorted(
        s for p in directory.iterdir() if (s := SnapshotId.from_file_name(p.name)) is not None
    )


def test_a_kafka_broker_catches_up_from_our_snapshot(cluster: MixedCluster) -> None:
    ours = cluster.nodes[OUR_BROKER].bootstrap
    names = [f"before-{i:02d}" for i in range(TOPICS)]
    for name in names:
        create_topic(ours, name, 1)
    controller_dir = metadata_partition(cluster.nodes[OUR_CONTROLLER].work_dir / "metadata")

    def first_segment() -> int:
        return min(int(p.name[:20]) for p in controller_dir.glob("*.log"))

    deadline = time.monotonic() + WAIT_S
    while first_segment() == 0:  # the snapshot is written off the request path
        assert time.monotonic() < deadline, "the controller kept its whole log"
        time.sleep(0.2)
    ids = snapshot_ids(controller_dir)
    assert ids and ids[0].end_offset > 0, ids  # the bootstrap checkpoint was cleaned

    cluster.start(KAFKA_BROKER)
    cluster.wait_brokers(KAFKA_BROKER)
    kafka = cluster.nodes[KAFKA_BROKER]
    kafka_dir = metadata_partition(kafka.work_dir / "logs")
    downloaded = snapshot_ids(kafka_dir)
    assert set(downloaded) & set(snapshot_ids(controller_dir)) or any(
        s.end_offset >= first_segment() for s in downloaded
    ), (downloaded, snapshot_ids(controller_dir))
    kafka_log = kafka.logged()
    assert "after downloading snapshot" in kafka_log, kafka_log[-3000:]
    errors = [line for line in kafka_log.splitlines() if " ERROR " in line]
    assert not errors, errors[:5]
    seen = set(admin(kafka.bootstrap).list_topics(timeout=60).topics)
    assert set(names) <= seen

    create_topic(kafka.bootstrap, "after", 2)
    wait_leaders(kafka.bootstrap, "after", 2)
    produce(kafka.bootstrap, "after", RECORDS)
    values = consume(kafka.bootstrap, "after", RECORDS, "after-group")
    assert sorted(values) == sorted(f"v{i}".encode() for i in range(RECORDS))

    # Kafka's own snapshots (its SnapshotGenerator, past the one it downloaded) read back here.
    for i in range(5):
        create_topic(ours, f"later-{i}", 1)
    downloaded_end = max(s.end_offset for s in downloaded)
    deadline = time.monotonic() + WAIT_S
    while not (own := [s for s in snapshot_ids(kafka_dir) if s.end_offset > downloaded_end]):
        assert time.monotonic() < deadline, f"Kafka wrote no snapshot: {snapshot_ids(kafka_dir)}"
        time.sleep(0.2)
    snapshot = read_snapshot(kafka_dir / max(own).file_name)
    image, _ = image_from_records(snapshot.messages(), max(own).end_offset - 1)
    assert {"after", *names} <= set(image.topics_by_name)
    assert image.broker(KAFKA_BROKER) is not None and image.metadata_version > 0
