"""ElectLeaders on the wire: a broker's RemoteControllerChannel forwards it to a controller
listener and gets the controller's per-partition answer; an inactive controller's refusal
names every partition asked (Kafka's ``ElectLeadersRequest.getErrorResponse``) and is
recognised as NOT_CONTROLLER; a client's request to a broker listener is answered at v0-v2."""

from __future__ import annotations

from pathlib import Path

import trio

from ferrokafka.cluster.node_client import NodeClient
from ferrokafka.cluster.remote_channel import RemoteControllerChannel
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.error_responses import error_response, is_error_response
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.elect_leaders import ElectLeadersRequest
from ferrokafka.testing import RunningBroker, open_broker

TEST_TIMEOUT_S = 60
PARTITIONS = 2


def request(topic: str, partitions: list[int], election_type: int = 0) -> ElectLeadersRequest:
    return ElectLeadersRequest(
        election_type=election_type,
        topic_partitions=[ElectLeadersRequest.TopicPartitions(topic=topic, partitions=partitions)],
    )


class _NoFeed:
    async def subscribe(self, publisher: object) -> None:
        raise AssertionError("not used here")

    def unsubscribe(self, publisher: object) -> None:
        raise AssertionError("not used here")


def address(broker: RunningBroker, listener: str) -> tuple[str, int]:
    return next((a.host, a.port) for a in broker.addresses if a.listener_name == listener)


async def create_topic(broker: RunningBroker) -> None:
    client = NodeClient(address(broker, "PLAINTEXT"), client_id="admin")
    created = await client.call(
        CreateTopicsRequest(
            topics=[
                CreateTopicsRequest.CreatableTopic(
                    name="t", num_partitions=PARTITIONS, replication_factor=1
                )
            ],
            timeout_ms=10_000,
        )
    )
    assert created.topics[0].error_code == ec.NONE
    await client.aclose()


def answers(response: object) -> list[tuple[str, int, int]]:
    return [
        (r.topic, p.partition_id, p.error_code)
        for r in response.replica_election_results  # type: ignore[attr-defined]
        for p in r.partition_result
    ]


def test_forwarded_and_direct_elect_leaders(tmp_path: Path) -> None:
    async def main() -> None:
        with trio.fail_after(TEST_TIMEOUT_S):
            async with open_broker(tmp_path) as broker:
                await create_topic(broker)
                wanted = request("t", [0, 1, 5])
                expected = [
                    ("t", 0, ec.ELECTION_NOT_NEEDED),
                    ("t", 1, ec.ELECTION_NOT_NEEDED),
                    ("t", 5, ec.UNKNOWN_TOPIC_OR_PARTITION),
                ]
                location = address(broker, "CONTROLLER")
                channel = RemoteControllerChannel(2, lambda: location, _NoFeed())
                assert answers(await channel.elect_leaders(wanted)) == expected
                await channel.aclose()
                client = NodeClient(address(broker, "PLAINTEXT"), client_id="admin")
                for version in (0, 1, 2):
                    direct = await client.call(wanted, version=version)
                    assert answers(direct) == expected
                unclean = await client.call(request("t", [0], election_type=1))
                assert answers(unclean) == [("t", 0, ec.ELECTION_NOT_NEEDED)]
                bad = await client.call(request("t", [0], election_type=7))
                assert bad.error_code == ec.INVALID_REQUEST
                assert answers(bad) == [("t", 0, ec.INVALID_REQUEST)]
                await client.aclose()

    trio.run(main)


def test_a_refusal_names_every_partition_asked() -> None:
    refused = error_response(request("t", [0, 3]), ec.NOT_CONTROLLER)
    assert refused.error_code == ec.NOT_CONTROLLER
    assert answers(refused) == [("t", 0, ec.NOT_CONTROLLER), ("t", 3, ec.NOT_CONTROLLER)]
    assert is_error_response(refused, ec.NOT_CONTROLLER)
    everything = error_response(ElectLeadersRequest(topic_partitions=None), ec.NOT_CONTROLLER)
    assert everything.replica_election_results == []
    assert is_error_response(everything, ec.NOT_CONTROLLER)
    answered = error_response(request("t", [0]), ec.NONE)
    answered.replica_election_results[0].partition_result[0].error_code = ec.ELECTION_NOT_NEEDED
    assert not is_error_response(answered, ec.NOT_CONTROLLER)
