"""Kafka-compatible configuration: ``server.properties``, topic configs, DescribeConfigs views.

Keys, types, defaults, ranges and precedence rules are Apache Kafka 4.x's, so an existing
``server.properties`` means the same thing to ferrokafka. Nothing here imports the native
module until :meth:`TopicConfig.to_log_config` builds a storage-engine ``LogConfig``.
"""

from ferrokafka.config.broker import SINGLE_NODE_PROPERTIES, BrokerConfig, load_broker_config
from ferrokafka.config.broker_keys import BROKER_KEYS
from ferrokafka.config.definitions import (
    ConfigError,
    ConfigKey,
    ConfigTable,
    ConfigType,
    UnknownConfigError,
)
from ferrokafka.config.describe import (
    ConfigEntry,
    ConfigSource,
    ConfigSynonym,
    describe_broker,
    describe_group,
    describe_topic,
)
from ferrokafka.config.listeners import Endpoint, QuorumVoter, parse_listeners
from ferrokafka.config.properties import parse_override, parse_properties, read_properties
from ferrokafka.config.topic import TOPIC_KEYS, TOPIC_SYNONYMS, TopicConfig

__all__ = [
    "BROKER_KEYS",
    "SINGLE_NODE_PROPERTIES",
    "TOPIC_KEYS",
    "TOPIC_SYNONYMS",
    "BrokerConfig",
    "ConfigEntry",
    "ConfigError",
    "ConfigKey",
    "ConfigSource",
    "ConfigSynonym",
    "ConfigTable",
    "ConfigType",
    "Endpoint",
    "QuorumVoter",
    "TopicConfig",
    "UnknownConfigError",
    "describe_broker",
    "describe_group",
    "describe_topic",
    "load_broker_config",
    "parse_listeners",
    "parse_override",
    "parse_properties",
    "read_properties",
]
