"""Messages for records too large, which say the size, the limit and the config that sets it.

Two limits apply to what `ferrokafka produce` sends. The client's own, named as librdkafka
names it (``message.max.bytes``, here ``--max-message-bytes``): a record or a batch larger
than it is never sent. The broker's: a batch larger than the topic's ``max.message.bytes``
(whose default is the broker's ``message.max.bytes``) is refused with MESSAGE_TOO_LARGE; the
limit and where it comes from are read back with DescribeConfigs.
"""

from __future__ import annotations

from ferrokafka.protocol.messages.describe_configs import DescribeConfigsRequest

from .client import RESOURCE_TOPIC, ClientError, KafkaApiError, KafkaClient

# librdkafka's default message.max.bytes (what kcat and confluent-kafka send at most).
CLIENT_MESSAGE_MAX_BYTES = 1_000_000
TOPIC_LIMIT_KEY = "max.message.bytes"
BROKER_LIMIT_KEY = "message.max.bytes"
# DescribeConfigs config sources (Kafka's ConfigSource).
SOURCE_TOPIC = 1
SOURCE_NAMES = {
    1: "set on the topic",
    2: "the broker's dynamic message.max.bytes",
    4: "the cluster-wide dynamic message.max.bytes",
    5: "the broker's message.max.bytes (server.properties)",
    6: "Kafka's default",
}


def client_limit_error(what: str, size: int, limit: int) -> ClientError:
    return ClientError(
        f"{what} is {size} bytes, larger than the producer's message.max.bytes ({limit}); "
        "raise it with --max-message-bytes (the broker's limit is the topic's max.message.bytes)"
    )


def topic_limit(client: KafkaClient, topic: str) -> tuple[int, str] | None:
    """The topic's max.message.bytes and where it comes from, or None if the broker won't say."""
    request = DescribeConfigsRequest(
        resources=[
            DescribeConfigsRequest.DescribeConfigsResource(
                resource_type=RESOURCE_TOPIC,
                resource_name=topic,
                configuration_keys=[TOPIC_LIMIT_KEY],
            )
        ]
    )
    try:
        [result] = client.call(request).results
    except ClientError:
        return None
    for config in result.configs:
        if config.name == TOPIC_LIMIT_KEY and config.value and config.value.isdigit():
            source = SOURCE_NAMES.get(config.config_source, "the broker's configuration")
            return int(config.value), source
    return None


def broker_refused(
    client: KafkaClient, exc: KafkaApiError, topic: str, partition: int, batch_bytes: int
) -> ClientError:
    """MESSAGE_TOO_LARGE / RECORD_LIST_TOO_LARGE from the broker, with the limit spelled out."""
    found = topic_limit(client, topic)
    said = f" (broker: {exc.detail})" if exc.detail else ""
    if found is None:
        limit = f"the topic's {TOPIC_LIMIT_KEY} (default: the broker's {BROKER_LIMIT_KEY})"
    else:
        value, source = found
        limit = f"the topic's {TOPIC_LIMIT_KEY}={value} ({source})"
    return ClientError(
        f"{exc.name}: the broker refused a batch of {batch_bytes} bytes for {topic}-{partition}: "
        f"larger than {limit}{said}. Raise it with "
        f"`ferrokafka topics alter {topic} --config {TOPIC_LIMIT_KEY}=N`, or send smaller records."
    )
