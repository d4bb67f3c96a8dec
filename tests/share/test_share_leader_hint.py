"""The KIP-951 leader hint of ShareFetch/ShareAcknowledge errors (server/handlers/leader_hint.py,
as Kafka's ``getCurrentLeader``): the hosted replica's leader and epoch, else the metadata
image's, else -1/-1; the endpoint only of a registered, unfenced leader with the request's
listener. (On the wire, against a follower: tests/share/test_share_cluster.py.)"""

from __future__ import annotations

import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import trio

from ferrokafka.cluster.image import (
    BrokerEndpoint,
    BrokerRegistration,
    MetadataImage,
    PartitionImage,
    TopicImage,
)
from ferrokafka.partition import ReplicaManager
from ferrokafka.server.handlers.leader_hint import Endpoint, LeaderHint, current_leader
from ferrokafka.storage import LogConfig, LogManager, LogManagerSettings

ME = 1
HOSTED = uuid.UUID(int=1)
ELSEWHERE = uuid.UUID(int=2)


def broker(broker_id: int, *, fenced: bool = False) -> BrokerRegistration:
    return BrokerRegistration(
        broker_id,
        uuid.uuid4(),
        1,
        (BrokerEndpoint("PLAINTEXT", f"h{broker_id}", 9000 + broker_id, 0),),
        {},
        "r1" if broker_id == 2 else None,
        fenced,
    )


def image(hosted_leader: int, hosted_epoch: int) -> MetadataImage:
    hosted = TopicImage(
        "hosted", HOSTED, {0: PartitionImage(0, (ME, 2), (ME, 2), hosted_leader, hosted_epoch, 1)}
    )
    elsewhere = TopicImage(
        "elsewhere",
        ELSEWHERE,
        {
            0: PartitionImage(0, (2, 3), (2, 3), 3, 4, 1),
            1: PartitionImage(1, (2, 3), (2, 3), -1, 6, 1),
        },
    )
    return MetadataImage(
        offset=10,
        topics_by_name={"hosted": hosted, "elsewhere": elsewhere},
        topics_by_id={HOSTED: hosted, ELSEWHERE: elsewhere},
        brokers={1: broker(1), 2: broker(2), 3: broker(3, fenced=True)},
    )


def test_the_hint_names_the_leader_as_kafka_does(tmp_path: Path) -> None:
    async def main() -> None:
        replicas = ReplicaManager(ME, LogManager(LogManagerSettings((str(tmp_path),)), LogConfig()))
        img = image(hosted_leader=2, hosted_epoch=7)
        await replicas.apply_image(img, lambda _: LogConfig(), lambda _: 1)
        node: Any = SimpleNamespace(replicas=replicas, image=img)
        # A follower here: the replica's leader and epoch, the leader's endpoint and rack.
        assert current_leader(node, HOSTED, 0, "PLAINTEXT") == LeaderHint(
            2, 7, Endpoint(2, "h2", 9002, "r1")
        )
        # No such listener on the leader: the leader without an endpoint.
        assert current_leader(node, HOSTED, 0, "SSL") == LeaderHint(2, 7, None)
        # Not hosted here: from the image; a fenced leader has no endpoint.
        assert current_leader(node, ELSEWHERE, 0, "PLAINTEXT") == LeaderHint(3, 4, None)
        # No leader at all, and a partition no one knows.
        assert current_leader(node, ELSEWHERE, 1, "PLAINTEXT") == LeaderHint(-1, 6, None)
        assert current_leader(node, uuid.UUID(int=9), 0, "PLAINTEXT") == LeaderHint(-1, -1, None)

    trio.run(main)
