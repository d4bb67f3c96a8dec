"""IncrementalAlterConfigs and AlterConfigs on topics and brokers: Kafka's operations, per
resource error codes, persisted as ConfigRecords."""

from __future__ import annotations

from ferrokafka.cluster import Controller, errors
from ferrokafka.protocol.messages.alter_configs import AlterConfigsRequest
from ferrokafka.protocol.messages.create_topics import CreateTopicsRequest
from ferrokafka.protocol.messages.incremental_alter_configs import IncrementalAlterConfigsRequest

IAC = IncrementalAlterConfigsRequest
AC = AlterConfigsRequest
TOPIC, BROKER = 2, 4
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3


def make_topic(controller: Controller, name: str = "t") -> None:
    topic = CreateTopicsRequest.CreatableTopic(name=name, num_partitions=1, replication_factor=1)
    assert controller.create_topics(CreateTopicsRequest(topics=[topic])).topics[0].error_code == 0


def alter(controller: Controller, rtype: int, name: str, *ops, validate_only=False):
    resource = IAC.AlterConfigsResource(
        resource_type=rtype,
        resource_name=name,
        configs=[IAC.AlterableConfig(name=k, config_operation=op, value=v) for k, op, v in ops],
    )
    response = controller.incremental_alter_configs(
        IAC(resources=[resource], validate_only=validate_only)
    )
    result = response.responses[0]
    assert (result.resource_type, result.resource_name) == (rtype, name)
    return result.error_code, result.error_message


def test_set_delete_append_subtract(controller: Controller) -> None:
    make_topic(controller)
    assert alter(controller, TOPIC, "t", ("retention.ms", SET, "1000")) == (0, None)
    assert controller.image.topic_config("t") == {"retention.ms": "1000"}
    assert alter(controller, TOPIC, "t", ("cleanup.policy", APPEND, "compact")) == (0, None)
    assert controller.image.topic_config("t")["cleanup.policy"] == "delete,compact"
    assert alter(controller, TOPIC, "t", ("cleanup.policy", SUBTRACT, "delete")) == (0, None)
    assert controller.image.topic_config("t")["cleanup.policy"] == "compact"
    assert alter(controller, TOPIC, "t", ("retention.ms", DELETE, None)) == (0, None)
    assert controller.image.topic_config("t") == {"cleanup.policy": "compact"}


def test_errors(controller: Controller) -> None:
    make_topic(controller)
    assert alter(controller, TOPIC, "missing", ("retention.ms", SET, "1")) == (
        errors.UNKNOWN_TOPIC_OR_PARTITION, "The topic 'missing' does not exist.",
    )  # fmt: skip
    assert alter(controller, TOPIC, "t", ("retention.ms", APPEND, "1")) == (
        errors.INVALID_CONFIG, "Can't APPEND to key retention.ms because its type is not LIST.",
    )  # fmt: skip
    assert alter(controller, TOPIC, "t", ("retention.ms", SET, "x"))[0] == errors.INVALID_CONFIG
    assert alter(controller, TOPIC, "t", ("nope", SET, "1")) == (
        errors.INVALID_CONFIG, "Unknown topic config name: nope",
    )  # fmt: skip
    assert alter(controller, TOPIC, "t", ("retention.ms", 9, "1"))[0] == errors.INVALID_REQUEST
    twice = (("retention.ms", SET, "1"), ("retention.ms", SET, "2"))
    assert alter(controller, TOPIC, "t", *twice)[0] == errors.INVALID_REQUEST
    assert alter(controller, 8, "x", ("a", SET, "1"))[0] == errors.INVALID_REQUEST
    assert controller.image.topic_config("t") == {}


def test_validate_only(controller: Controller) -> None:
    make_topic(controller)
    before = controller.log.committed_offset
    assert alter(controller, TOPIC, "t", ("retention.ms", SET, "5"), validate_only=True)[0] == 0
    assert controller.image.topic_config("t") == {} and controller.log.committed_offset == before


def test_broker_configs(controller: Controller) -> None:
    assert alter(controller, BROKER, "1", ("log.cleaner.threads", SET, "2")) == (0, None)
    assert alter(controller, BROKER, "", ("log.retention.ms", SET, "1000")) == (0, None)
    assert controller.image.broker_config(1) == {"log.cleaner.threads": "2"}
    assert controller.image.broker_config(None) == {"log.retention.ms": "1000"}
    code, message = alter(controller, BROKER, "1", ("log.dirs", SET, "/x"))
    assert code == errors.INVALID_REQUEST and "Cannot update these configs dynamically" in message
    assert alter(controller, BROKER, "one", ("log.cleaner.threads", SET, "2")) == (
        errors.INVALID_REQUEST, "Unable to parse broker name as a base 10 number.",
    )  # fmt: skip
    # Kafka answers a bad broker value with INVALID_REQUEST (checked against Kafka 4.4).
    assert alter(controller, BROKER, "1", ("log.cleaner.threads", SET, "x"))[0] == (
        errors.INVALID_REQUEST
    )


def test_legacy_alter_replaces_every_override(controller: Controller) -> None:
    make_topic(controller)
    alter(controller, TOPIC, "t", ("retention.ms", SET, "1000"), ("segment.ms", SET, "60000"))

    def legacy(**values: str | None):
        resource = AC.AlterConfigsResource(
            resource_type=TOPIC,
            resource_name="t",
            configs=[
                AC.AlterableConfig(name=k.replace("_", "."), value=v) for k, v in values.items()
            ],
        )
        result = controller.alter_configs(AC(resources=[resource])).responses[0]
        return result.error_code, result.error_message

    assert legacy(retention_bytes="1048576") == (0, None)
    assert controller.image.topic_config("t") == {"retention.bytes": "1048576"}
    assert legacy(retention_bytes=None)[0] == errors.INVALID_REQUEST
    assert legacy(max_message_bytes="-5")[0] == errors.INVALID_CONFIG
    assert controller.image.topic_config("t") == {"retention.bytes": "1048576"}
