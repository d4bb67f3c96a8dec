"""The controller's answers: Kafka's error codes and messages item by item, defaults from the
config, validate_only, and that what it answers is what the image then shows."""

from __future__ import annotations

import uuid

import pytest

from ferrokafka.cluster import Controller, errors
from ferrokafka.protocol.messages.create_partitions import CreatePartitionsRequest
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.delete_topics import DeleteTopicsRequest

CT = CreateTopicsRequest
CP = CreatePartitionsRequest
DT = DeleteTopicsRequest


def topic(name: str, partitions: int = 1, factor: int = 1, **kwargs: object) -> CT.CreatableTopic:
    return CT.CreatableTopic(
        name=name, num_partitions=partitions, replication_factor=factor, **kwargs
    )


def configs(**values: str | None) -> list[CT.CreatableTopicConfig]:
    return [CT.CreatableTopicConfig(name=k.replace("_", "."), value=v) for k, v in values.items()]


def create(controller: Controller, *topics: CT.CreatableTopic, validate_only: bool = False):
    response = controller.create_topics(CT(topics=list(topics), validate_only=validate_only))
    return {t.name: t for t in response.topics}


def answer(controller: Controller, item: CT.CreatableTopic) -> tuple[int, str | None]:
    result = create(controller, item)[item.name]
    return result.error_code, result.error_message


def test_create_uses_defaults_and_shows_in_the_image(make_controller) -> None:
    controller = make_controller({"num.partitions": "3"})
    result = create(controller, topic("orders", -1, -1, configs=configs(retention_ms="1000")))
    ok = result["orders"]
    assert (ok.error_code, ok.error_message, ok.num_partitions, ok.replication_factor) == (
        0, None, 3, 1,
    )  # fmt: skip
    image = controller.image
    created = image.topic("orders")
    assert created is not None and created.topic_id == ok.topic_id
    assert ok.topic_id.version == 4
    assert [p.replicas for p in created.partitions.values()] == [(1,), (1,), (1,)]
    assert all(p.leader == 1 and p.isr == (1,) for p in created.partitions.values())
    assert image.topic_config("orders") == {"retention.ms": "1000"}
    entries = {c.name: c for c in ok.configs}
    assert entries["retention.ms"].value == "1000" and entries["retention.ms"].config_source == 1


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Topic name is illegal, it can't be empty"),
        (".", 'Topic name cannot be "." or ".."'),
        ("..", 'Topic name cannot be "." or ".."'),
        ("a" * 250, "Topic name is illegal, it can't be longer than 249 characters, topic name: "
         + "a" * 250),
        ("bad/name", 'Topic name "bad/name" is illegal, it contains a character other than ASCII '
         "alphanumerics, '.', '_' and '-'"),
        ("ünïcode", 'Topic name "ünïcode" is illegal, it contains a character other than ASCII '
         "alphanumerics, '.', '_' and '-'"),
    ],
)  # fmt: skip
def test_invalid_topic_names(controller: Controller, name: str, message: str) -> None:
    assert answer(controller, topic(name)) == (errors.INVALID_TOPIC_EXCEPTION, message)


def test_longest_legal_name(controller: Controller) -> None:
    assert answer(controller, topic("a-Z_0." + "x" * 243))[0] == errors.NONE


def test_exists_and_collisions(controller: Controller) -> None:
    assert answer(controller, topic("a.b"))[0] == errors.NONE
    assert answer(controller, topic("a.b")) == (
        errors.TOPIC_ALREADY_EXISTS, "Topic 'a.b' already exists.",
    )  # fmt: skip
    assert answer(controller, topic("a_b")) == (
        errors.INVALID_TOPIC_EXCEPTION, "Topic 'a_b' collides with existing topic: a.b",
    )  # fmt: skip
    # Within one request too (stricter than Kafka).
    both = create(controller, topic("x.y"), topic("x_y"))
    assert both["x.y"].error_code == errors.NONE
    assert both["x_y"].error_code == errors.INVALID_TOPIC_EXCEPTION


def test_duplicates_and_internal_names(controller: Controller) -> None:
    result = create(controller, topic("dup"), topic("dup"), topic("__cluster_metadata"))
    assert (result["dup"].error_code, result["dup"].error_message) == (
        errors.INVALID_REQUEST, "Duplicate topic name.",
    )  # fmt: skip
    assert result["__cluster_metadata"].error_code == errors.INVALID_REQUEST
    assert controller.image.topic("dup") is None


@pytest.mark.parametrize(
    ("partitions", "factor", "code", "message"),
    [
        (1, 2, errors.INVALID_REPLICATION_FACTOR,
         "Unable to replicate the partition 2 time(s): The target replication factor of 2 cannot "
         "be reached because only 1 broker(s) are registered or some brokers have all their log "
         "directories cordoned."),
        (1, 0, errors.INVALID_REPLICATION_FACTOR,
         "Replication factor must be larger than 0, or -1 to use the default value."),
        (1, -2, errors.INVALID_REPLICATION_FACTOR,
         "Replication factor must be larger than 0, or -1 to use the default value."),
        (0, 1, errors.INVALID_PARTITIONS,
         "Number of partitions was set to an invalid non-positive value."),
        (-5, 1, errors.INVALID_PARTITIONS,
         "Number of partitions was set to an invalid non-positive value."),
    ],
)  # fmt: skip
def test_counts(controller: Controller, partitions: int, factor: int, code: int, message: str):
    assert answer(controller, topic("t", partitions, factor)) == (code, message)


def test_default_replication_factor_too_big(make_controller) -> None:
    controller = make_controller({"default.replication.factor": "3"})
    assert answer(controller, topic("t", 1, -1))[0] == errors.INVALID_REPLICATION_FACTOR


def assigned(name: str, *lists: list[int], partitions: int = -1, factor: int = -1):
    return topic(
        name,
        partitions,
        factor,
        assignments=[
            CT.CreatableReplicaAssignment(partition_index=i, broker_ids=b)
            for i, b in enumerate(lists)
        ],
    )


def test_manual_assignments(controller: Controller) -> None:
    assert answer(controller, assigned("ok", [1], [1]))[0] == errors.NONE
    assert len(controller.image.topic("ok").partitions) == 2
    cases = {
        "rf": (assigned("rf", [1], factor=1), errors.INVALID_REQUEST),
        "np": (assigned("np", [1], partitions=1), errors.INVALID_REQUEST),
        "empty": (assigned("empty", []), errors.INVALID_REPLICA_ASSIGNMENT),
        "unknown": (assigned("unknown", [7]), errors.INVALID_REPLICA_ASSIGNMENT),
        "twice": (assigned("twice", [1, 1]), errors.INVALID_REPLICA_ASSIGNMENT),
    }
    for name, (item, code) in cases.items():
        assert answer(controller, item)[0] == code, name
    gap = topic(
        "gap",
        -1,
        -1,
        assignments=[CT.CreatableReplicaAssignment(partition_index=1, broker_ids=[1])],
    )
    assert answer(controller, gap) == (
        errors.INVALID_REPLICA_ASSIGNMENT,
        "partitions should be a consecutive 0-based integer sequence",
    )
    assert answer(controller, assigned("unknown", [7]))[1] == (
        "The manual partition assignment includes broker 7, but no such broker is registered."
    )


def test_configs_are_validated(controller: Controller) -> None:
    bad = [
        (configs(retention_ms=None), "Null value not supported for topic configs: retention.ms"),
        (configs(nope="1"), "Unknown topic config name: nope"),
        (configs(cleanup_policy="bogus"), "Invalid value bogus for configuration cleanup.policy"),
        (configs(segment_bytes="12"), "segment.bytes"),
        (configs(min_compaction_lag_ms="10", max_compaction_lag_ms="5"), "conflict"),
    ]
    for i, (items, message) in enumerate(bad):
        code, text = answer(controller, topic(f"t{i}", configs=items))
        assert code == errors.INVALID_CONFIG and message in text, (items, text)
    assert controller.image.topics_by_name == {}


def test_validate_only_writes_nothing(controller: Controller) -> None:
    before = controller.log.committed_offset
    result = create(controller, topic("v", 2), validate_only=True)
    assert result["v"].error_code == errors.NONE and result["v"].num_partitions == 2
    assert controller.image.topic("v") is None and controller.log.committed_offset == before


def test_delete_by_name_and_id(controller: Controller) -> None:
    ids = {name: r.topic_id for name, r in create(controller, topic("a"), topic("b")).items()}
    response = controller.delete_topics(DT(topic_names=["a", "missing"]))
    codes = {r.name: (r.error_code, r.topic_id) for r in response.responses}
    assert codes == {
        "a": (0, ids["a"]),
        "missing": (errors.UNKNOWN_TOPIC_OR_PARTITION, uuid.UUID(int=0)),
    }
    response = controller.delete_topics(
        DT(topics=[DT.DeleteTopicState(name=None, topic_id=ids["b"]),
                   DT.DeleteTopicState(name=None, topic_id=ids["a"])])
    )  # fmt: skip
    assert [(r.name, r.error_code) for r in response.responses] == [
        ("b", 0), (None, errors.UNKNOWN_TOPIC_ID),
    ]  # fmt: skip
    assert controller.image.topics_by_name == {}


def test_delete_request_errors(make_controller) -> None:
    controller = make_controller()
    create(controller, topic("a"))
    both = DT.DeleteTopicState(name="a", topic_id=uuid.uuid4())
    neither = DT.DeleteTopicState(name=None)
    response = controller.delete_topics(DT(topics=[both, neither]))
    assert [(r.error_code, r.error_message) for r in response.responses] == [
        (errors.INVALID_REQUEST, "You may not specify both topic name and topic id."),
        (errors.INVALID_REQUEST, "Neither topic name nor id were specified."),
    ]
    response = controller.delete_topics(DT(topic_names=["a", "a"]))
    assert [(r.error_code, r.error_message) for r in response.responses] == [
        (errors.INVALID_REQUEST, "Duplicate topic name.")
    ]
    assert controller.image.topic("a") is not None


def test_delete_disabled(make_controller) -> None:
    controller = make_controller({"delete.topic.enable": "false"})
    create(controller, topic("a"))
    response = controller.delete_topics(DT(topic_names=["a"]))
    assert response.responses[0].error_code == errors.TOPIC_DELETION_DISABLED
    assert controller.image.topic("a") is not None


def test_create_partitions(controller: Controller) -> None:
    create(controller, topic("t", 2))

    def grow(count: int, assignments=None, validate_only: bool = False):
        request = CP(topics=[CP.CreatePartitionsTopic(name="t", count=count,
                                                      assignments=assignments)],
                     validate_only=validate_only)  # fmt: skip
        result = controller.create_partitions(request).results[0]
        return result.error_code, result.error_message

    assert grow(2) == (errors.INVALID_PARTITIONS, "Topic already has 2 partition(s).")
    assert grow(1) == (
        errors.INVALID_PARTITIONS,
        "The topic t currently has 2 partition(s); 1 would not be an increase.",
    )
    assert grow(4, validate_only=True) == (0, None)
    assert len(controller.image.topic("t").partitions) == 2
    two = [CP.CreatePartitionsAssignment(broker_ids=[1])] * 2
    assert grow(5, assignments=two)[0] == errors.INVALID_REPLICA_ASSIGNMENT
    assert grow(4, assignments=[CP.CreatePartitionsAssignment(broker_ids=[9])] * 2)[0] == (
        errors.INVALID_REPLICA_ASSIGNMENT
    )
    assert grow(4, assignments=two) == (0, None)
    assert grow(6) == (0, None)
    parts = controller.image.topic("t").partitions
    assert sorted(parts) == list(range(6)) and all(p.leader == 1 for p in parts.values())
    missing = controller.create_partitions(CP(topics=[CP.CreatePartitionsTopic(name="x", count=2)]))
    assert missing.results[0].error_code == errors.UNKNOWN_TOPIC_OR_PARTITION
    dup = CP(topics=[CP.CreatePartitionsTopic(name="t", count=9)] * 2)
    assert [r.error_code for r in controller.create_partitions(dup).results] == [
        errors.INVALID_REQUEST
    ]


def test_subscribers_see_each_new_image(controller: Controller) -> None:
    seen = []
    controller.loader.subscribe(lambda old, new, delta: seen.append((old, new, delta)))
    create(controller, topic("a", 2))
    ((old, new, delta),) = seen
    assert old.topic("a") is None and new.topic("a") is not None
    assert delta.changed_topics == {new.topic("a").topic_id}
