"""A node cut off long enough to lose its leadership must learn so promptly once its network
is back (three combined ``ferrokafka serve`` nodes in network namespaces; root).

Found by the long mode (seeds 2 and 5, records and transactions, a node's link down for 7-8
s): for ~6 s after its link came back the node kept the metadata it had when it was cut off,
and answered OffsetFetch as the group coordinator it no longer was; Kafka's
TransactionalMessageCopier, reset to that stale offset after an abort, copied records again
(copy-duplicate 60 and 100). Its raft connections had requests in flight when the link went
down, the kernel's retransmissions backed off meanwhile, and nothing closed a connection whose
answers were overdue. Kafka's NetworkClient disconnects on a request timeout; ferrokafka's raft
peer does now (``controller.quorum.request.timeout.ms``, 2 s).

The cut-off node here is a follower in the quorum (not the active controller: a leader has no
fetch in flight) and leads the topic's partition; measured from the heal until its own
Metadata answer names another leader: 5.8-6.0 s in 4 of 5 runs before the fix, 0.1-0.9 s
after it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from server_wire import RawClient

from ferrokafka.protocol.messages.metadata import MetadataRequest

from .cluster import FaultCluster

TOPIC = "stale"
CUT_S = 8.0  # well past the broker session (3 s): the controller moves the leadership
STALE_BOUND_S = 3.5  # from the heal until the node names the new leader (5.8-6.0 s before)
DEADLINE_S = 30.0
POLL_S = 0.05
METADATA_VERSION = 12


def leader_seen_by(bootstrap: str) -> int | None:
    """The partition's leader in the node's own Metadata answer (None: no answer)."""
    request = MetadataRequest(topics=[MetadataRequest.MetadataRequestTopic(name=TOPIC)])
    try:
        with RawClient(bootstrap, timeout_s=1.0) as client:
            answer = client.call(request, METADATA_VERSION)
    except OSError:
        return None
    partitions = answer.topics[0].partitions if answer.topics else []
    return partitions[0].leader_id if partitions else None


def wait_until(condition, what: str) -> float:  # type: ignore[no-untyped-def]
    began = time.monotonic()
    while time.monotonic() - began < DEADLINE_S:
        if condition():
            return time.monotonic() - began
        time.sleep(POLL_S)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_a_node_back_from_a_link_down_drops_its_stale_leadership_promptly(
    tmp_path: Path,
) -> None:
    if os.geteuid() != 0:
        pytest.fail("network namespaces need root (ip netns add)", pytrace=False)
    cluster = FaultCluster(tmp_path, 3, log_level="INFO")
    try:
        cluster.start()
        controller = None

        def found_controller() -> bool:
            nonlocal controller
            controller = cluster.active_controller()
            return controller is not None

        wait_until(found_controller, "an active controller")
        assert controller is not None
        cut = (controller + 1) % cluster.size  # a quorum follower, with fetches in flight
        cut_id = cut + 1
        others = [n + 1 for n in range(cluster.size) if n != cut]
        admin = AdminClient({"bootstrap.servers": cluster.bootstrap})
        topic = NewTopic(TOPIC, num_partitions=1, replica_assignment=[[cut_id, *others]])
        admin.create_topics([topic])[TOPIC].result(DEADLINE_S)
        node = cluster.nodes[cut]
        wait_until(lambda: leader_seen_by(node.bootstrap) == cut_id, "the cut node leading")

        cluster.network.link_down(cut)
        time.sleep(CUT_S)
        # Meanwhile the controller fenced it and moved the leadership.
        assert leader_seen_by(cluster.nodes[controller].bootstrap) in others
        cluster.network.heal()
        stale_s = wait_until(
            lambda: leader_seen_by(node.bootstrap) in others, "the node to learn the new leader"
        )
        print(f"node {cut_id} named the new leader {stale_s:.2f} s after the heal")
        assert stale_s < STALE_BOUND_S
    finally:
        try:
            cluster.stop()
        finally:
            cluster.close()
