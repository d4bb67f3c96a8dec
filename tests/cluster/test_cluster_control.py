"""Cluster membership on the controller (cluster_control, through Controller): registration
with Kafka 4.4's error codes and messages, heartbeats and the broker state machine, session
fencing on an injected clock, controlled shutdown, unregistration, controller registration,
and what fencing and unfencing do to partition leadership and ISRs."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ferrokafka.cluster import Controller, SingleVoterLog
from ferrokafka.cluster.cluster_control import ClusterControl, MembershipError
from ferrokafka.cluster.records import (
    BrokerRegistrationChangeRecord,
    PartitionChangeRecord,
    RegisterBrokerRecord,
    RegisterControllerRecord,
    UnregisterBrokerRecord,
)
from ferrokafka.config import load_broker_config
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.broker_heartbeat import BrokerHeartbeatRequest
from ferrokafka.protocol.messages.broker_registration import BrokerRegistrationRequest
from ferrokafka.protocol.messages.controller_registration import ControllerRegistrationRequest
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.unregister_broker import UnregisterBrokerRequest
from kafka_support.dump import dump_cluster_metadata

CLUSTER_ID = "membership-test-cluster"
SESSION_TIMEOUT_MS = 9_000


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def controller(tmp_path: Path, clock: Clock) -> Iterator[Controller]:
    config = load_broker_config(
        None,
        {"log.dirs": str(tmp_path / "data"), "broker.session.timeout.ms": SESSION_TIMEOUT_MS},
    )
    log = SingleVoterLog(tmp_path / "data")
    controller = Controller(config, log, cluster_id=CLUSTER_ID, now_ms=clock, rng=random.Random(7))
    controller.start()
    yield controller
    log.close()


def registration(
    broker_id: int,
    incarnation: uuid.UUID | None = None,
    *,
    cluster_id: str = CLUSTER_ID,
    rack: str | None = None,
    features: tuple[tuple[str, int, int], ...] = (("metadata.version", 7, 30),),
    log_dirs: list[uuid.UUID] | None = None,
) -> BrokerRegistrationRequest:
    return BrokerRegistrationRequest(
        broker_id=broker_id,
        cluster_id=cluster_id,
        incarnation_id=incarnation or uuid.uuid4(),
        listeners=[
            BrokerRegistrationRequest.Listener(
                name="PLAINTEXT", host="127.0.0.1", port=9000 + broker_id
            )
        ],
        features=[
            BrokerRegistrationRequest.Feature(
                name=name, min_supported_version=low, max_supported_version=high
            )
            for name, low, high in features
        ],
        rack=rack,
        log_dirs=log_dirs if log_dirs is not None else [uuid.uuid4()],
    )


def heartbeat(
    controller: Controller,
    broker_id: int,
    epoch: int | None = None,
    *,
    offset: int | None = None,
    want_fence: bool = False,
    want_shut_down: bool = False,
):
    if epoch is None:
        broker = controller.image.broker(broker_id)
        assert broker is not None
        epoch = broker.broker_epoch
    return controller.broker_heartbeat(
        BrokerHeartbeatRequest(
            broker_id=broker_id,
            broker_epoch=epoch,
            current_metadata_offset=controller.image.offset if offset is None else offset,
            want_fence=want_fence,
            want_shut_down=want_shut_down,
        )
    )


def start_brokers(controller: Controller, count: int, racks: list[str] | None = None) -> None:
    for broker_id in range(1, count + 1):
        rack = racks[broker_id - 1] if racks else None
        answer = controller.broker_registration(registration(broker_id, rack=rack))
        assert answer.error_code == ec.NONE
        assert not heartbeat(controller, broker_id).is_fenced


def records(controller: Controller, kind: type) -> list[tuple[int, object]]:
    out = []
    for batch in controller.log.read_committed(0):
        for index, record in enumerate(batch.records):
            if isinstance(record.message, kind):
                out.append((batch.base_offset + index, record.message))
    return out


def create_topic(controller: Controller, name: str, partitions: int, factor: int) -> None:
    answer = controller.create_topics(
        CreateTopicsRequest(
            topics=[
                CreateTopicsRequest.CreatableTopic(
                    name=name, num_partitions=partitions, replication_factor=factor
                )
            ]
        )
    )
    assert answer.topics[0].error_code == ec.NONE, answer.topics[0].error_message


# -- registration ------------------------------------------------------------------------


def test_a_new_broker_is_registered_fenced_with_its_record_offset_as_epoch(
    controller: Controller,
) -> None:
    answer = controller.broker_registration(registration(1, rack="r1"))
    assert answer.error_code == ec.NONE
    [(offset, record)] = records(controller, RegisterBrokerRecord)
    assert answer.broker_epoch == offset == record.broker_epoch
    assert record.fenced and record.rack == "r1"
    broker = controller.image.broker(1)
    assert broker is not None and broker.fenced and broker.broker_epoch == offset
    assert broker.endpoint("PLAINTEXT").port == 9001


def test_a_registration_for_another_cluster_is_inconsistent_cluster_id(
    controller: Controller,
) -> None:
    answer = controller.broker_registration(registration(1, cluster_id="other"))
    assert (answer.error_code, answer.broker_epoch) == (ec.INCONSISTENT_CLUSTER_ID, -1)
    assert controller.image.broker(1) is None
    with pytest.raises(MembershipError, match="Expected cluster ID membership-test-cluster, but"):
        controller.membership._register(controller.image, registration(1, cluster_id="x"), 0)


def test_a_live_broker_id_with_another_incarnation_is_a_duplicate(
    controller: Controller, clock: Clock
) -> None:
    first = uuid.uuid4()
    epoch = controller.broker_registration(registration(1, first)).broker_epoch
    assert not heartbeat(controller, 1).is_fenced
    assert controller.broker_registration(registration(1)).error_code == (
        ec.DUPLICATE_BROKER_REGISTRATION
    )
    # The same incarnation again is idempotent: same epoch, still unfenced.
    again = controller.broker_registration(registration(1, first))
    assert (again.error_code, again.broker_epoch) == (ec.NONE, epoch)
    broker = controller.image.broker(1)
    assert broker is not None and not broker.fenced and broker.broker_epoch == epoch
    # Once the session expired, a new incarnation may register (and gets a new epoch).
    clock.now += SESSION_TIMEOUT_MS + 1
    answer = controller.broker_registration(registration(1))
    assert answer.error_code == ec.NONE and answer.broker_epoch > epoch


def test_a_fenced_broker_id_may_be_taken_by_a_new_incarnation(controller: Controller) -> None:
    controller.broker_registration(registration(1))  # registered, never unfenced
    assert controller.broker_registration(registration(1)).error_code == ec.NONE


def test_unsupported_feature_ranges_are_unsupported_version(controller: Controller) -> None:
    answer = controller.broker_registration(
        registration(1, features=(("metadata.version", 7, 21),))
    )
    assert answer.error_code == ec.UNSUPPORTED_VERSION
    with pytest.raises(MembershipError) as caught:
        controller.membership._register(
            controller.image, registration(1, features=(("metadata.version", 31, 40),)), 0
        )
    assert str(caught.value) == (
        "Unable to register because the broker does not support finalized version 30 of "
        "metadata.version. The broker wants a version between 31 and 40, inclusive."
    )
    # A feature the cluster has not finalized is at level 0: a range above it is refused.
    answer = controller.broker_registration(
        registration(1, features=(("metadata.version", 7, 30), ("group.version", 1, 1)))
    )
    assert answer.error_code == ec.UNSUPPORTED_VERSION
    no_mv = controller.broker_registration(registration(1, features=()))
    assert no_mv.error_code == ec.INVALID_REGISTRATION
    assert controller.image.broker(1) is None


def test_log_directories_are_checked(controller: Controller) -> None:
    assert controller.broker_registration(registration(1, log_dirs=[])).error_code == (
        ec.INVALID_REGISTRATION
    )
    reserved = uuid.UUID(int=1)
    assert controller.broker_registration(registration(1, log_dirs=[reserved])).error_code == (
        ec.INVALID_REGISTRATION
    )
    shared = uuid.uuid4()
    assert controller.broker_registration(registration(1, log_dirs=[shared, shared])).error_code
    assert controller.broker_registration(registration(1, log_dirs=[shared])).error_code == 0
    with pytest.raises(MembershipError, match="Broker 1 is already registered with directory"):
        controller.membership._register(controller.image, registration(2, log_dirs=[shared]), 0)


# -- heartbeats --------------------------------------------------------------------------


def test_heartbeats_before_registration_or_with_a_wrong_epoch_are_stale(
    controller: Controller,
) -> None:
    answer = heartbeat(controller, 1, epoch=0)
    assert (answer.error_code, answer.is_fenced) == (ec.STALE_BROKER_EPOCH, True)
    epoch = controller.broker_registration(registration(1)).broker_epoch
    assert heartbeat(controller, 1, epoch=epoch + 1).error_code == ec.STALE_BROKER_EPOCH
    with pytest.raises(MembershipError, match=f"Expected broker epoch {epoch}, but got"):
        controller.membership.check_broker_epoch(controller.image, 1, epoch + 1)


def test_unfenced_once_caught_up_with_its_registration(controller: Controller) -> None:
    epoch = controller.broker_registration(registration(1)).broker_epoch
    behind = heartbeat(controller, 1, offset=epoch - 1)
    assert (behind.error_code, behind.is_fenced, behind.is_caught_up) == (ec.NONE, True, False)
    assert heartbeat(controller, 1, offset=epoch, want_fence=True).is_fenced
    caught_up = heartbeat(controller, 1, offset=epoch)
    assert (caught_up.is_fenced, caught_up.is_caught_up) == (False, True)
    [(_, change)] = records(controller, BrokerRegistrationChangeRecord)
    assert (change.broker_id, change.broker_epoch, change.fenced) == (1, epoch, -1)
    assert not controller.image.broker(1).fenced
    # An unfenced broker that asks to be fenced is.
    assert heartbeat(controller, 1, want_fence=True).is_fenced
    assert controller.image.broker(1).fenced


def test_a_broker_without_heartbeats_is_fenced_after_its_session(
    controller: Controller, clock: Clock
) -> None:
    start_brokers(controller, 2)
    clock.now += SESSION_TIMEOUT_MS
    assert not controller.tick()  # exactly the timeout: still valid
    heartbeat(controller, 2)
    clock.now += 1
    assert controller.tick()  # broker 1 first, alone in its batch
    assert not controller.tick()
    assert controller.image.broker(1).fenced and not controller.image.broker(2).fenced
    assert controller.next_tick_ms() == clock.now - 1 + SESSION_TIMEOUT_MS
    # Its next heartbeat unfences it again.
    assert not heartbeat(controller, 1).is_fenced


# -- leadership on fence / unfence -------------------------------------------------------


def test_fencing_moves_leadership_and_unfencing_brings_back_leaderless_partitions(
    controller: Controller, clock: Clock
) -> None:
    start_brokers(controller, 3)
    create_topic(controller, "rf3", 3, 3)
    create_topic(controller, "rf1", 6, 1)
    before = controller.image
    led_rf1 = [i for i, p in before.topic("rf1").partitions.items() if p.leader == 1]
    led_rf3 = [i for i, p in before.topic("rf3").partitions.items() if p.leader == 1]
    assert led_rf1 and led_rf3  # striping gave broker 1 some of each
    assert controller.membership.sessions[1].fenced is False
    controller.membership.sessions[1].last_contact_ms -= SESSION_TIMEOUT_MS + 1
    assert controller.tick()
    after = controller.image
    for index, part in after.topic("rf1").partitions.items():
        old = before.topic("rf1").partitions[index]
        if index in led_rf1:  # leaderless, the ISR keeps its last member
            assert (part.leader, part.isr) == (-1, (1,))
            assert part.leader_epoch == old.leader_epoch + 1
        else:
            assert part == old
    for index, part in after.topic("rf3").partitions.items():
        assert 1 not in part.isr and part.leader in (2, 3)
        expected_leader = next(r for r in part.replicas if r != 1) if index in led_rf3 else None
        if expected_leader is not None:
            assert part.leader == expected_leader
    # The fence record follows the partition changes in one batch (Kafka's order).
    batch = list(controller.log.read_committed(0))[-1]
    kinds = [type(r.message) for r in batch.records]
    assert kinds[-1] is BrokerRegistrationChangeRecord
    assert set(kinds[:-1]) == {PartitionChangeRecord}
    assert len(kinds) - 1 == len(led_rf1) + 3  # every rf3 partition had 1 in its ISR

    assert not heartbeat(controller, 1).is_fenced
    back = controller.image
    for index in led_rf1:
        assert back.topic("rf1").partitions[index].leader == 1
    # RF 3: 1 left the ISRs; only its leader can add it back (AlterPartition), so
    # leadership stays where it moved, as in Kafka.
    assert back.topic("rf3").partitions == after.topic("rf3").partitions


def test_unclean_leader_election_takes_a_replica_outside_the_isr(
    controller: Controller, clock: Clock
) -> None:
    start_brokers(controller, 2)
    create_topic(controller, "t", 1, 2)
    part = controller.image.topic("t").partitions[0]
    leader, other = part.leader, next(r for r in part.replicas if r != part.leader)
    # The other replica is fenced first: it leaves the ISR.
    heartbeat(controller, other, want_fence=True)
    assert controller.image.topic("t").partitions[0].isr == (leader,)
    heartbeat(controller, other)  # unfenced again, but not in the ISR
    heartbeat(controller, leader, want_fence=True)
    assert controller.image.topic("t").partitions[0].leader == -1
    # With unclean elections allowed, the next change may pick a replica outside the ISR.
    controller.config = load_broker_config(
        None,
        {
            "log.dirs": str(controller.config.log_dirs[0]),
            "unclean.leader.election.enable": True,
        },
    )
    heartbeat(controller, other, want_fence=True)
    heartbeat(controller, other)
    part = controller.image.topic("t").partitions[0]
    assert (part.leader, part.isr, part.leader_recovery_state) == (other, (other,), 1)


# -- controlled shutdown -----------------------------------------------------------------


def test_controlled_shutdown_moves_leadership_then_lets_the_broker_go(
    controller: Controller,
) -> None:
    start_brokers(controller, 3)
    create_topic(controller, "rf3", 3, 3)
    create_topic(controller, "rf1", 3, 1)
    led = [
        (t, i)
        for t in ("rf3", "rf1")
        for i, p in controller.image.topic(t).partitions.items()
        if p.leader == 2
    ]
    assert led
    first = heartbeat(controller, 2, want_shut_down=True)
    assert (first.is_fenced, first.should_shut_down) == (False, False)
    image = controller.image
    assert image.broker(2).in_controlled_shutdown
    for topic, index in led:
        part = image.topic(topic).partitions[index]
        assert part.leader != 2
        assert part.leader == (-1 if topic == "rf1" else part.leader)
    # Not before the other active brokers saw the change.
    shutdown_offset = controller.membership.sessions[2].controlled_shutdown_offset
    assert shutdown_offset == image.offset
    heartbeat(controller, 1, offset=shutdown_offset - 1)
    heartbeat(controller, 3, offset=shutdown_offset)
    assert not heartbeat(controller, 2, want_shut_down=True).should_shut_down
    heartbeat(controller, 1, offset=shutdown_offset)
    done = heartbeat(controller, 2, want_shut_down=True)
    assert (done.is_fenced, done.should_shut_down) == (True, True)
    assert controller.image.broker(2).fenced


def test_a_broker_leading_nothing_shuts_down_at_once(controller: Controller) -> None:
    start_brokers(controller, 1)
    answer = heartbeat(controller, 1, want_shut_down=True)
    assert (answer.is_fenced, answer.should_shut_down) == (True, True)


# -- unregistration, controllers ---------------------------------------------------------


def test_unregister_broker(controller: Controller) -> None:
    unknown = controller.unregister_broker(UnregisterBrokerRequest(broker_id=7))
    assert unknown.error_code == ec.BROKER_ID_NOT_REGISTERED
    assert unknown.error_message == "Broker ID 7 is not currently registered"
    start_brokers(controller, 2)
    create_topic(controller, "t", 2, 2)
    answer = controller.unregister_broker(UnregisterBrokerRequest(broker_id=2))
    assert (answer.error_code, answer.error_message) == (ec.NONE, None)
    assert controller.image.broker(2) is None
    for part in controller.image.topic("t").partitions.values():
        assert part.isr == (1,) and part.leader == 1
    [(_, record)] = records(controller, UnregisterBrokerRecord)
    assert record.broker_id == 2
    assert 2 not in controller.membership.sessions
    assert heartbeat(controller, 2, epoch=0).error_code == ec.STALE_BROKER_EPOCH


def test_controller_registration_writes_its_record(controller: Controller) -> None:
    incarnation = uuid.uuid4()
    answer = controller.register_controller(
        ControllerRegistrationRequest(
            controller_id=3000,
            incarnation_id=incarnation,
            listeners=[
                ControllerRegistrationRequest.Listener(name="CONTROLLER", host="h", port=9093)
            ],
            features=[
                ControllerRegistrationRequest.Feature(
                    name="metadata.version", min_supported_version=7, max_supported_version=30
                )
            ],
        )
    )
    assert answer.error_code == ec.NONE
    [(_, record)] = records(controller, RegisterControllerRecord)
    assert (record.controller_id, record.incarnation_id) == (3000, incarnation)
    assert record.end_points[0].port == 9093
    assert controller.membership.controllers == {3000: incarnation}


def test_a_restarted_controller_knows_registrations_and_starts_sessions_afresh(
    tmp_path: Path, controller: Controller, clock: Clock
) -> None:
    start_brokers(controller, 2)
    offsets = dict(controller.membership.registration_offsets)
    controller.log.close()
    log = SingleVoterLog(tmp_path / "data")
    try:
        again = Controller(controller.config, log, cluster_id=CLUSTER_ID, now_ms=clock)
        again.start()
        assert again.membership.registration_offsets == offsets
        assert again.membership.has_valid_session(1)
        assert heartbeat(again, 1).error_code == ec.NONE
    finally:
        log.close()
    controller.log = SingleVoterLog(tmp_path / "data")  # closed by the fixture


def test_cluster_control_without_a_cluster_id_accepts_any() -> None:
    control = ClusterControl(None, session_timeout_ms=1000, now_ms=lambda: 0.0)
    from ferrokafka.cluster.image import MetadataImage

    image = MetadataImage(offset=5, features={"metadata.version": 30})
    made, answer = control.register_broker(image, registration(4, cluster_id="anything"), 6)
    assert answer.error_code == ec.NONE and answer.broker_epoch == 6
    assert isinstance(made[0], RegisterBrokerRecord)


@pytest.mark.kafka
def test_kafka_decodes_every_membership_record(
    controller: Controller, clock: Clock, tmp_path: Path, kafka_classpath: str
) -> None:
    """Registration, unfencing, controlled shutdown, session fencing, unregistration and a
    controller registration, read back by Kafka's DumpLogSegments --cluster-metadata-decoder
    with the values we wrote."""
    start_brokers(controller, 3, racks=["a", "b", "c"])
    create_topic(controller, "t", 3, 3)
    heartbeat(controller, 3, want_shut_down=True)
    controller.membership.sessions[1].last_contact_ms -= SESSION_TIMEOUT_MS + 1
    assert controller.tick()
    controller.unregister_broker(UnregisterBrokerRequest(broker_id=1))
    controller.register_controller(
        ControllerRegistrationRequest(controller_id=3000, incarnation_id=uuid.uuid4())
    )
    payloads, dumped = dump_cluster_metadata(Path(controller.log.dir), work_dir=tmp_path / "dump")
    assert dumped.problems == []
    ours = _all_records(controller)
    assert len(payloads) == len(ours)
    for payload, (_, message) in zip(payloads, ours, strict=True):
        assert payload["type"] == _kafka_type_name(type(message).__name__)
    by_type: dict[str, list[tuple[int, dict]]] = {}
    for payload in payloads:
        by_type.setdefault(payload["type"], []).append((payload["version"], payload["data"]))
    registers = by_type["REGISTER_BROKER_RECORD"]
    assert [(d["brokerId"], d["rack"], d["fenced"]) for _, d in registers] == [
        (1, "a", True),
        (2, "b", True),
        (3, "c", True),
    ]
    epochs = {d["brokerId"]: d["brokerEpoch"] for _, d in registers}
    # Broker 1 was unregistered; the others' epochs are their records' offsets.
    assert controller.membership.registration_offsets == {2: epochs[2], 3: epochs[3]}
    changes = by_type["BROKER_REGISTRATION_CHANGE_RECORD"]
    assert (1, {"brokerId": 3, "brokerEpoch": epochs[3], "inControlledShutdown": 1}) in [
        (v, {k: d[k] for k in ("brokerId", "brokerEpoch", "inControlledShutdown") if k in d})
        for v, d in changes
    ]
    assert [d["fenced"] for _, d in changes if d["brokerId"] == 1] == [-1, 1]
    [(_, unregister)] = by_type["UNREGISTER_BROKER_RECORD"]
    assert (unregister["brokerId"], unregister["brokerEpoch"]) == (1, epochs[1])
    [(_, registered)] = by_type["REGISTER_CONTROLLER_RECORD"]
    assert registered["controllerId"] == 3000
    assert any(d.get("leader") == -1 or "isr" in d for _, d in by_type["PARTITION_CHANGE_RECORD"])


def _all_records(controller: Controller) -> list[tuple[int, object]]:
    return [
        (batch.base_offset + i, record.message)
        for batch in controller.log.read_committed(0)
        for i, record in enumerate(batch.records)
    ]


def _kafka_type_name(class_name: str) -> str:
    """RegisterBrokerRecord -> REGISTER_BROKER_RECORD (Kafka's MetadataRecordType names)."""
    out = []
    for i, char in enumerate(class_name):
        if char.isupper() and i:
            out.append("_")
        out.append(char.upper())
    return "".join(out)
