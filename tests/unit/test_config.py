"""ferrokafka.config: the .properties format, Kafka's keys, precedence rules, listeners, topic
synonyms, the native LogConfig built from them, and DescribeConfigs sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from ferrokafka.config import (
    BROKER_KEYS,
    SINGLE_NODE_PROPERTIES,
    TOPIC_KEYS,
    BrokerConfig,
    ConfigError,
    ConfigSource,
    UnknownConfigError,
    describe_broker,
    describe_topic,
    load_broker_config,
    parse_listeners,
    parse_override,
    parse_properties,
    read_properties,
)
from ferrokafka.config.definitions import LONG_MAX
from ferrokafka.config.kafka_keys import BROKER_ROWS

# Written from the keys of the config/server.properties Apache Kafka 4.x ships (KRaft, one
# combined node), with comments like the ones it carries.
KAFKA_SERVER_PROPERTIES = r"""
############################# Server Basics #############################
# The role of this server: a combined broker and controller.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=localhost:9093

############################# Socket Server Settings #############################
listeners=PLAINTEXT://:9092,CONTROLLER://:9093
inter.broker.listener.name=PLAINTEXT
advertised.listeners=PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,\
SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
num.network.threads=3
num.io.threads=8
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600

############################# Log Basics #############################
log.dirs=/tmp/kraft-combined-logs
num.partitions=1
num.recovery.threads.per.data.dir=1

############################# Internal Topic Settings #############################
offsets.topic.replication.factor=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1

############################# Log Flush Policy #############################
#log.flush.interval.messages=10000
#log.flush.interval.ms=1000

############################# Log Retention Policy #############################
log.retention.hours=168
#log.retention.bytes=1073741824
log.segment.bytes=1073741824
log.retention.check.interval.ms=300000
"""


def broker(**overrides: object) -> BrokerConfig:
    props: dict[str, object] = dict(SINGLE_NODE_PROPERTIES)
    props.update({k.replace("_", "."): v for k, v in overrides.items()})
    return BrokerConfig(props)


# ------------------------------------------------------------------------------------------
# The .properties format
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a=b", {"a": "b"}),
        ("a: b", {"a": "b"}),
        ("a b", {"a": "b"}),
        ("  a  =  b  ", {"a": "b  "}),  # trailing whitespace is kept, as in Java
        ("a=", {"a": ""}),
        ("a", {"a": ""}),
        ("a==b", {"a": "=b"}),
        ("a=b=c", {"a": "b=c"}),
        ("a:=b", {"a": "=b"}),
        ("# comment\n! also\n  # indented\na=1", {"a": "1"}),
        ("a=1\n\n   \n\tb=2", {"a": "1", "b": "2"}),
        ("a=1\na=2", {"a": "2"}),
        ("a=x,\\\n    y,\\\n\tz", {"a": "x,y,z"}),
        ("a=ends\\\\\nb=2", {"a": "ends\\", "b": "2"}),  # even backslashes: no continuation
        ("# comment \\\na=1", {"a": "1"}),  # a comment never continues
        ("a=1\r\nb=2\rc=3", {"a": "1", "b": "2", "c": "3"}),
        (r"my\ key=v", {"my key": "v"}),
        (r"k\=x=v", {"k=x": "v"}),
        (r"k\:x:v", {"k:x": "v"}),
        (r"a=\t\n\r\f", {"a": "\t\n\r\f"}),
        (r"a=\u00e9\u0041", {"a": "éA"}),
        (r"a=\uD83D\uDE00", {"a": "\U0001f600"}),
        (r"a=\q\\", {"a": "q\\"}),
        ("a=last\\", {"a": "last"}),  # continuation at end of file
    ],
)
def test_properties_format(text: str, expected: dict[str, str]) -> None:
    assert parse_properties(text) == expected


def test_properties_malformed_unicode_escape() -> None:
    with pytest.raises(ConfigError, match=r"line 2: malformed \\uxxxx"):
        parse_properties("a=1\nb=\\u12G4")


def test_properties_file_is_latin1(tmp_path: Path) -> None:
    path = tmp_path / "server.properties"
    path.write_bytes("log.dirs=/data/caf\xe9\n".encode("iso-8859-1"))
    assert read_properties(path) == {"log.dirs": "/data/café"}


def test_override_parsing() -> None:
    assert parse_override("a=b=c") == ("a", "b=c")
    assert parse_override("a=") == ("a", "")
    for bad in ("novalue", "=x"):
        with pytest.raises(ConfigError, match="expected key=value"):
            parse_override(bad)


# ------------------------------------------------------------------------------------------
# Kafka's shipped server.properties and overrides
# ------------------------------------------------------------------------------------------


def test_kafka_shipped_server_properties(tmp_path: Path) -> None:
    path = tmp_path / "server.properties"
    path.write_text(KAFKA_SERVER_PROPERTIES, encoding="ascii")
    config = load_broker_config(path)
    assert config.process_roles == ("broker", "controller")
    assert config.node_id == 1
    assert [str(ep) for ep in config.listeners] == ["PLAINTEXT://:9092", "CONTROLLER://:9093"]
    assert config.inter_broker_listener_name == "PLAINTEXT"
    assert config.controller_listener_names == ("CONTROLLER",)
    assert config.security_protocol_map["SASL_SSL"] == "SASL_SSL"  # mapped, but unused
    assert config.quorum_bootstrap_servers == [("localhost", 9093)]
    assert config.log_dirs == ["/tmp/kraft-combined-logs"]
    assert config.log_retention_ms == 168 * 3_600_000
    assert config["transaction.state.log.min.isr"] == 1
    assert not BROKER_KEYS["num.io.threads"].applies
    assert "does not apply" in BROKER_KEYS["num.network.threads"].doc


def test_overrides_from_flags_and_dict(tmp_path: Path) -> None:
    path = tmp_path / "server.properties"
    path.write_text(KAFKA_SERVER_PROPERTIES, encoding="ascii")
    config = load_broker_config(path, ["num.partitions=3", "log.dirs=/a,/b"])
    assert config["num.partitions"] == 3
    assert config.log_dirs == ["/a", "/b"]
    assert load_broker_config(path, {"num.partitions": 7})["num.partitions"] == 7


def test_single_node_defaults() -> None:
    config = load_broker_config()
    assert [str(ep) for ep in config.advertised_listeners] == [
        "PLAINTEXT://localhost:9092",
        "CONTROLLER://localhost:9093",
    ]
    assert config.log_dirs == ["/tmp/kafka-logs"]  # Kafka's log.dir default


def test_values_are_trimmed_and_typed() -> None:
    config = broker(num_partitions=" 4 ", auto_create_topics_enable=" TRUE ")
    assert config["num.partitions"] == 4
    assert config["auto.create.topics.enable"] is True
    assert broker(log_cleanup_policy="compact , delete")["log.cleanup.policy"] == [
        "compact",
        "delete",
    ]


# ------------------------------------------------------------------------------------------
# Precedence rules
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("props", "retention_ms"),
    [
        ({}, 168 * 3_600_000),
        ({"log.retention.hours": "1"}, 3_600_000),
        ({"log.retention.hours": "1", "log.retention.minutes": "5"}, 300_000),
        ({"log.retention.minutes": "5", "log.retention.ms": "1234"}, 1234),
        ({"log.retention.ms": "-1", "log.retention.hours": "1"}, -1),
        ({"log.retention.minutes": "-5"}, -1),  # any negative means unlimited
    ],
)
def test_retention_precedence(props: dict[str, str], retention_ms: int) -> None:
    config = BrokerConfig({**SINGLE_NODE_PROPERTIES, **props})
    assert config.log_retention_ms == retention_ms
    assert config.topic_config()["retention.ms"] == retention_ms


def test_retention_zero_is_refused() -> None:
    with pytest.raises(ConfigError, match="log.retention.hours.*unlimited"):
        broker(log_retention_hours="0")


def test_roll_and_jitter_and_flush_precedence() -> None:
    assert broker().log_roll_ms == 168 * 3_600_000
    assert broker(log_roll_hours="2").log_roll_ms == 7_200_000
    assert broker(log_roll_hours="2", log_roll_ms="60000").log_roll_ms == 60_000
    assert broker(log_roll_jitter_hours="1").log_roll_jitter_ms == 3_600_000
    assert broker(log_roll_jitter_hours="1", log_roll_jitter_ms="5").log_roll_jitter_ms == 5
    assert broker().log_flush_interval_ms == LONG_MAX
    assert broker(log_flush_scheduler_interval_ms="9").log_flush_interval_ms == 9
    assert (
        broker(log_flush_interval_ms="3", log_flush_scheduler_interval_ms="9").log_flush_interval_ms
        == 3
    )
    assert broker(log_dir="/x").log_dirs == ["/x"]
    assert broker(log_dir="/x", log_dirs="/y,/z").log_dirs == ["/y", "/z"]


def test_inherited_value_checked_with_broker_key_named() -> None:
    with pytest.raises(ConfigError, match="configuration log.roll.ms: Value must be at least 1"):
        broker(log_roll_ms="0")
    with pytest.raises(ConfigError, match="configuration log.flush.interval.ms"):
        broker(log_flush_interval_ms="-5")


# ------------------------------------------------------------------------------------------
# Validators: every one refuses a bad value and names the key
# ------------------------------------------------------------------------------------------

BAD_BROKER_VALUES = [
    ("node.id", "-1", "at least 0"),
    ("node.id", "one", "Not a number of type INT"),
    ("node.id", "2147483648", "Not a number of type INT"),
    ("node.id", "1_000", "Not a number of type INT"),
    ("process.roles", "broker,observer", "must be one of: broker, controller"),
    ("process.roles", "", "Empty list"),
    ("process.roles", "broker,broker", "duplicate role"),
    ("broker.id", "7", "must equal node.id"),
    ("num.partitions", "0", "at least 1"),
    ("auto.create.topics.enable", "yes", "either true or false"),
    ("delete.topic.enable", "1", "either true or false"),
    ("message.max.bytes", "-1", "at least 0"),
    ("log.segment.bytes", "1048575", "at least 1048576"),
    ("log.segment.bytes", "4294967296", "Not a number of type INT"),
    ("log.roll.hours", "0", "at least 1"),
    ("log.roll.ms", "10s", "Not a number of type LONG"),
    ("log.retention.ms", "9223372036854775808", "Not a number of type LONG"),
    ("log.retention.bytes", "1GB", "Not a number of type LONG"),
    ("log.index.interval.bytes", "-1", "at least 0"),
    ("log.index.size.max.bytes", "3", "at least 4"),
    ("log.flush.interval.messages", "0", "at least 1"),
    ("log.message.timestamp.type", "createtime", "CreateTime, LogAppendTime"),
    ("log.message.timestamp.before.max.ms", "-1", "at least 0"),
    ("log.message.timestamp.after.max.ms", "-1", "at least 0"),
    ("compression.type", "brotli", "must be one of"),
    ("compression.gzip.level", "0", "-1 or in"),
    ("compression.zstd.level", "23", "no more than 22"),
    ("log.cleanup.policy", "compact,forever", "must be one of: compact, delete"),
    ("log.cleaner.min.cleanable.ratio", "1.5", "no more than 1"),
    ("log.cleaner.min.cleanable.ratio", "half", "Not a number of type DOUBLE"),
    ("log.retention.check.interval.ms", "0", "at least 1"),
    ("log.dirs", "/a,/a", "duplicated"),
    ("log.dirs", "/a,,/b", "empty entries"),
    ("socket.request.max.bytes", "0", "at least 1"),
    ("max.connections", "-1", "at least 0"),
    ("num.network.threads", "0", "at least 1"),
    ("num.io.threads", "0", "at least 1"),
    ("num.recovery.threads.per.data.dir", "0", "at least 1"),
    ("offsets.topic.num.partitions", "0", "at least 1"),
    ("offsets.topic.replication.factor", "40000", "Not a number of type SHORT"),
    ("offsets.topic.replication.factor", "0", "at least 1"),
    ("offsets.retention.minutes", "0", "at least 1"),
    ("transaction.state.log.min.isr", "0", "at least 1"),
    ("transaction.state.log.num.partitions", "0", "at least 1"),
    ("min.insync.replicas", "0", "at least 1"),
    ("unclean.leader.election.enable", "maybe", "either true or false"),
    ("security.inter.broker.protocol", "TLS", "must be one of"),
    ("controller.quorum.bootstrap.servers", "localhost", "host:port"),
    ("controller.quorum.voters", "x@localhost:9093", "id@host:port"),
    ("controller.quorum.voters", "2@localhost:9093", "node.id 1 must be a voter"),
    ("controller.listener.names", "", "at least one listener name"),
    ("listeners", "PLAINTEXT://:9092", "controller.listener.names"),
    ("listeners", "PLAINTEXT//:9092,CONTROLLER://:9093", "NAME://host:port"),
    ("listeners", "PLAINTEXT://:70000,CONTROLLER://:9093", "port must be in"),
    ("listeners", "PLAINTEXT://:9092,CONTROLLER://:9092", "different port"),
    ("listeners", "PLAINTEXT://:9092,plaintext://:9094", "different name"),
    ("listeners", "PLAINTEXT://:9092,CONTROLLER://:9093,EXTRA://:9094", "no security protocol"),
    ("listener.security.protocol.map", "CONTROLLER:PLAINTEXT,PLAINTEXT:TLS", "unknown security"),
    ("listener.security.protocol.map", "CONTROLLER", "NAME:PROTOCOL"),
    ("advertised.listeners", "OTHER://h:1", "not defined in listeners"),
    ("advertised.listeners", "PLAINTEXT://0.0.0.0:9092", "nonroutable"),
    ("inter.broker.listener.name", "CONTROLLER", "must not be a controller listener"),
    ("inter.broker.listener.name", "NOPE", "advertised.listeners"),
]


@pytest.mark.parametrize(("key", "value", "reason"), BAD_BROKER_VALUES)
def test_broker_validators(key: str, value: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        BrokerConfig({**SINGLE_NODE_PROPERTIES, key: value})
    assert info.value.key == key
    assert reason in str(info.value)
    assert key in str(info.value)


def test_every_broker_validator_refuses_and_names_its_key() -> None:
    validated = [key for key in BROKER_KEYS.values() if key.validator is not None]
    assert len(validated) > 60
    for key in validated:
        bad = "x,x," if key.type.name == "LIST" else "-999999"
        with pytest.raises(ConfigError) as info:
            key.parse(bad)
        assert info.value.key == key.name, key.name
        assert key.name in str(info.value)


def test_missing_required_key() -> None:
    props = dict(SINGLE_NODE_PROPERTIES)
    del props["node.id"]
    with pytest.raises(ConfigError, match="node.id: Missing required"):
        BrokerConfig(props)


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [
        ("num.partition", "num.partitions"),
        ("log.retention.hour", "log.retention.hours"),
        ("listner", "listeners"),
        ("advertised.listener", "advertised.listeners"),
    ],
)
def test_unknown_key_suggests_nearest(key: str, suggestion: str) -> None:
    with pytest.raises(UnknownConfigError) as info:
        BrokerConfig({**SINGLE_NODE_PROPERTIES, key: "1"})
    assert info.value.suggestion == suggestion
    assert f"did you mean {suggestion!r}" in str(info.value)
    assert key in str(info.value)
    with pytest.raises(UnknownConfigError, match="'zzz'") as info:
        BrokerConfig({**SINGLE_NODE_PROPERTIES, "zzz": "1"})
    assert info.value.suggestion is None


# ------------------------------------------------------------------------------------------
# Listeners
# ------------------------------------------------------------------------------------------


def test_listener_forms() -> None:
    eps = parse_listeners(
        "listeners",
        "PLAINTEXT://:9092, internal://localhost:9093,V6://[::1]:9094,ANY://0.0.0.0:0,Z://[fe80::1%eth0]:0",
        require_distinct_ports=True,
    )
    assert [(e.name, e.host, e.port) for e in eps] == [
        ("PLAINTEXT", "", 9092),
        ("INTERNAL", "localhost", 9093),
        ("V6", "::1", 9094),
        ("ANY", "0.0.0.0", 0),
        ("Z", "fe80::1%eth0", 0),
    ]
    assert str(eps[2]) == "V6://[::1]:9094"


def test_listener_ipv4_and_ipv6_may_share_a_port() -> None:
    eps = parse_listeners(
        "listeners", "A://127.0.0.1:9092,B://[::1]:9092", require_distinct_ports=True
    )
    assert [e.port for e in eps] == [9092, 9092]
    with pytest.raises(ConfigError, match="different port"):
        parse_listeners(
            "listeners", "A://127.0.0.1:9092,B://10.0.0.1:9092", require_distinct_ports=True
        )
    assert len(parse_listeners("x", "A://h:1,B://h:1", require_distinct_ports=False)) == 2


def test_controller_listener_rules_by_role() -> None:
    with pytest.raises(ConfigError, match="must not contain controller listeners"):
        broker(process_roles="broker")
    only_broker = broker(
        process_roles="broker",
        listeners="PLAINTEXT://:9092",
        advertised_listeners="PLAINTEXT://localhost:9092",
    )
    assert only_broker.inter_broker_listener_name == "PLAINTEXT"
    with pytest.raises(ConfigError, match="only controller listeners"):
        broker(process_roles="controller")
    controller = broker(process_roles="controller", listeners="CONTROLLER://:9093",
                        advertised_listeners="CONTROLLER://h:9093")  # fmt: skip
    assert controller.inter_broker_listener_name is None


def test_internal_listeners_of_every_protocol() -> None:
    # The node's own clients (raft, broker to controller, replica fetchers) dial SSL listeners
    # (cluster/connector/); a SASL one needs a mechanism they speak and credentials.
    assert broker(listener_security_protocol_map="CONTROLLER:SSL,PLAINTEXT:SSL")
    with pytest.raises(ConfigError, match="controller SASL on listener CONTROLLER"):
        broker(listener_security_protocol_map="CONTROLLER:SASL_SSL,PLAINTEXT:PLAINTEXT")
    with pytest.raises(ConfigError, match="is needed for inter-broker SASL"):
        broker(
            listener_security_protocol_map="CONTROLLER:PLAINTEXT,PLAINTEXT:SASL_PLAINTEXT",
            sasl_mechanism_inter_broker_protocol="PLAIN",
        )


def test_default_protocol_map_covers_controller_listeners() -> None:
    props = dict(SINGLE_NODE_PROPERTIES)
    del props["listener.security.protocol.map"]
    assert BrokerConfig(props).security_protocol_map["CONTROLLER"] == "PLAINTEXT"


def test_inter_broker_keys_are_exclusive() -> None:
    with pytest.raises(ConfigError, match="only one of"):
        broker(inter_broker_listener_name="PLAINTEXT", security_inter_broker_protocol="PLAINTEXT")


def test_quorum_voters() -> None:
    config = broker(controller_quorum_voters="1@localhost:9093, 2@[::1]:9093")
    assert [(v.node_id, v.host, v.port) for v in config.quorum_voters] == [
        (1, "localhost", 9093),
        (2, "::1", 9093),
    ]
    with pytest.raises(ConfigError, match="different id"):
        broker(controller_quorum_voters="1@a:1,1@b:2")
    with pytest.raises(ConfigError, match="must be set"):
        broker(controller_quorum_bootstrap_servers="")


# ------------------------------------------------------------------------------------------
# Topic configs: synonyms, validation, the native LogConfig
# ------------------------------------------------------------------------------------------


def test_topic_defaults_follow_broker_synonyms() -> None:
    config = broker(
        log_segment_bytes=str(64 << 20),
        log_roll_hours="1",
        log_index_size_max_bytes="4096",
        message_max_bytes="2000000",
        log_cleanup_policy="compact",
        log_preallocate="true",
        log_message_timestamp_type="LogAppendTime",
        log_cleaner_min_cleanable_ratio="0.25",
        unclean_leader_election_enable="true",
    )
    topic = config.topic_config()
    assert topic["segment.bytes"] == 64 << 20
    assert topic["segment.ms"] == 3_600_000
    assert topic["segment.index.bytes"] == 4096
    assert topic["max.message.bytes"] == 2_000_000
    assert topic["cleanup.policy"] == ["compact"]
    assert topic["preallocate"] is True
    assert topic["message.timestamp.type"] == "LogAppendTime"
    assert topic["min.cleanable.dirty.ratio"] == 0.25
    assert topic["unclean.leader.election.enable"] is True
    assert topic["flush.messages"] == LONG_MAX
    assert topic["message.timestamp.after.max.ms"] == 3_600_000  # Kafka 4.0's default


def test_topic_overrides_win_and_are_validated() -> None:
    config = broker(log_retention_hours="1")
    topic = config.topic_config({"retention.ms": "1000", "cleanup.policy": "compact,delete"})
    assert topic["retention.ms"] == 1000
    assert topic["cleanup.policy"] == ["compact", "delete"]
    assert topic.overrides == {"retention.ms": 1000, "cleanup.policy": ["compact", "delete"]}


BAD_TOPIC_VALUES = [
    ("segment.bytes", "1000", "at least 1048576"),
    ("segment.ms", "0", "at least 1"),
    ("segment.jitter.ms", "-1", "at least 0"),
    ("segment.index.bytes", "3", "at least 4"),
    ("retention.ms", "-2", "at least -1"),
    ("retention.bytes", "lots", "Not a number of type LONG"),
    ("flush.messages", "0", "at least 1"),
    ("flush.ms", "-1", "at least 0"),
    ("max.message.bytes", "-1", "at least 0"),
    ("index.interval.bytes", "-1", "at least 0"),
    ("delete.retention.ms", "-1", "at least 0"),
    ("file.delete.delay.ms", "-1", "at least 0"),
    ("min.compaction.lag.ms", "-1", "at least 0"),
    ("max.compaction.lag.ms", "0", "at least 1"),
    ("min.cleanable.dirty.ratio", "-0.1", "no less than 0"),
    ("min.insync.replicas", "0", "at least 1"),
    ("cleanup.policy", "remove", "must be one of"),
    ("compression.type", "none", "must be one of"),
    ("compression.gzip.level", "10", "-1 or in"),
    ("compression.lz4.level", "0", "no less than 1"),
    ("compression.zstd.level", "-131073", "no less than -131072"),
    ("message.timestamp.type", "Now", "must be one of"),
    ("message.timestamp.before.max.ms", "-1", "at least 0"),
    ("message.timestamp.after.max.ms", "-1", "at least 0"),
    ("preallocate", "on", "either true or false"),
    ("unclean.leader.election.enable", "off", "either true or false"),
    ("leader.replication.throttled.replicas", "0-1", "partition:broker"),
    ("follower.replication.throttled.replicas", "*,0:1", "partition:broker"),
    ("remote.storage.enable", "true", "no tiered storage"),
]


@pytest.mark.parametrize(("key", "value", "reason"), BAD_TOPIC_VALUES)
def test_topic_validators(key: str, value: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        broker().topic_config({key: value})
    assert info.value.key == key
    assert reason in str(info.value)


def test_every_topic_key_with_a_validator_is_tested() -> None:
    validated = {n for n, k in TOPIC_KEYS.items() if k.validator is not None}
    assert validated <= {key for key, _, _ in BAD_TOPIC_VALUES}


def test_topic_cross_key_rule_and_unknown_key() -> None:
    with pytest.raises(ConfigError, match="min.compaction.lag.ms .5. > max.compaction.lag.ms .4."):
        broker().topic_config({"min.compaction.lag.ms": "5", "max.compaction.lag.ms": "4"})
    with pytest.raises(UnknownConfigError, match="did you mean 'retention.ms'"):
        broker().topic_config({"retention.msx": "5"})
    with pytest.raises(UnknownConfigError, match="did you mean 'segment.bytes'"):
        broker().topic_config({"log.segment.bytes": "5"})  # a broker name is not a topic key


def test_log_config_from_topic() -> None:
    log_config = broker().topic_config().to_log_config()
    assert log_config.segment_bytes == 1 << 30
    assert log_config.segment_ms == 7 * 24 * 3_600_000
    assert log_config.retention_ms == 7 * 24 * 3_600_000
    assert log_config.retention_bytes is None  # -1
    assert log_config.flush_messages is None  # Long.MAX
    assert log_config.flush_ms is None  # Long.MAX via log.flush.scheduler.interval.ms
    assert log_config.message_timestamp_before_max_ms is None
    assert log_config.message_timestamp_after_max_ms == 3_600_000
    assert log_config.compression_type == "producer"

    topic = broker(log_flush_interval_ms="1000").topic_config(
        {
            "retention.ms": "-1",
            "retention.bytes": "5000000",
            "flush.messages": "10",
            "segment.bytes": str(2 << 20),
            "segment.index.bytes": "4096",
            "index.interval.bytes": "100",
            "max.message.bytes": "500",
            "message.timestamp.type": "LogAppendTime",
            "compression.type": "zstd",
        }
    )
    log_config = topic.to_log_config()
    assert log_config.retention_ms is None
    assert log_config.retention_bytes == 5_000_000
    assert log_config.flush_messages == 10
    assert log_config.flush_ms == 1000
    assert (log_config.segment_bytes, log_config.segment_index_bytes) == (2 << 20, 4096)
    assert (log_config.index_interval_bytes, log_config.max_message_bytes) == (100, 500)
    assert log_config.message_timestamp_type == "LogAppendTime"
    assert log_config.compression_type == "zstd"


def test_log_config_engine_floor_names_the_topic_key() -> None:
    # Kafka accepts a 4-byte index (no entries fit); the engine needs room for a few entries.
    with pytest.raises(ConfigError) as info:
        broker().topic_config({"segment.index.bytes": "4"}).to_log_config()
    assert info.value.key == "segment.index.bytes"


# ------------------------------------------------------------------------------------------
# DescribeConfigs
# ------------------------------------------------------------------------------------------


def synonyms_of(entry: object) -> list[tuple[str, str | None, str]]:
    return [(s.name, s.value, s.source.name) for s in entry.synonyms]  # type: ignore[attr-defined]


def test_describe_topic_sources_and_synonyms() -> None:
    config = broker(log_retention_hours="100", log_segment_bytes=str(64 << 20))
    topic = config.topic_config({"cleanup.policy": "compact"})
    entries = {e.name: e for e in describe_topic(config, topic)}
    assert set(entries) == set(TOPIC_KEYS)

    policy = entries["cleanup.policy"]
    assert (policy.value, policy.source) == ("compact", ConfigSource.DYNAMIC_TOPIC_CONFIG)
    assert synonyms_of(policy) == [
        ("cleanup.policy", "compact", "DYNAMIC_TOPIC_CONFIG"),
        ("log.cleanup.policy", "delete", "DEFAULT_CONFIG"),
    ]
    segment = entries["segment.bytes"]
    assert (segment.value, segment.source) == (str(64 << 20), ConfigSource.STATIC_BROKER_CONFIG)
    assert synonyms_of(segment) == [
        ("log.segment.bytes", str(64 << 20), "STATIC_BROKER_CONFIG"),
        ("log.segment.bytes", "1073741824", "DEFAULT_CONFIG"),
    ]
    # Kafka's quirk: synonyms start at the first broker name (log.retention.ms), so with only
    # log.retention.hours set none are reported and the source is DEFAULT_CONFIG.
    retention = entries["retention.ms"]
    assert (retention.value, retention.source, retention.synonyms) == (
        str(100 * 3_600_000),
        ConfigSource.DEFAULT_CONFIG,
        (),
    )
    assert entries["flush.ms"].synonyms == ()
    ratio = entries["min.cleanable.dirty.ratio"]
    assert ratio.value == "0.5" and ratio.config_type == 6  # DOUBLE
    assert not any(e.read_only or e.is_sensitive for e in entries.values())


def test_describe_topic_with_dynamic_broker_layers() -> None:
    config = BrokerConfig(
        {**SINGLE_NODE_PROPERTIES, "log.retention.hours": "168"},
        dynamic_default={"log.retention.ms": "259200000"},
    )
    topic = config.topic_config()
    (entry,) = describe_topic(config, topic, ["retention.ms"], include_documentation=True)
    assert entry.value == "259200000"
    assert entry.source == ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG
    assert synonyms_of(entry) == [
        ("log.retention.ms", "259200000", "DYNAMIC_DEFAULT_BROKER_CONFIG"),
        ("log.retention.hours", "168", "STATIC_BROKER_CONFIG"),
        ("log.retention.hours", "168", "DEFAULT_CONFIG"),
    ]
    assert entry.documentation and "forever" in entry.documentation
    (plain,) = describe_topic(config, topic, ["retention.ms"], include_synonyms=False)
    assert plain.synonyms == () and plain.documentation is None


def test_dynamic_layer_refuses_read_only_key() -> None:
    with pytest.raises(ConfigError, match="read-only"):
        BrokerConfig(SINGLE_NODE_PROPERTIES, dynamic_broker={"node.id": "2"})


def test_describe_broker() -> None:
    config = BrokerConfig(
        {**SINGLE_NODE_PROPERTIES, "log.retention.hours": "100"},
        dynamic_broker={"log.retention.ms": "5000"},
    )
    entries = {e.name: e for e in describe_broker(config)}
    # Every key ferrokafka implements and every public key of Kafka's broker.
    kafka_public = {row[0] for row in BROKER_ROWS if not row[4]}
    assert set(entries) == set(BROKER_KEYS) | kafka_public
    node = entries["node.id"]
    assert (node.value, node.source, node.read_only) == (
        "1",
        ConfigSource.STATIC_BROKER_CONFIG,
        True,
    )
    hours = entries["log.retention.hours"]
    assert hours.read_only  # Kafka 4.4 changes only log.retention.ms at run time
    # The list starts at the key itself, so the dynamic log.retention.ms is cut off.
    assert synonyms_of(hours) == [
        ("log.retention.hours", "100", "STATIC_BROKER_CONFIG"),
        ("log.retention.hours", "168", "DEFAULT_CONFIG"),
    ]
    millis = entries["log.retention.ms"]
    assert (millis.value, millis.source) == ("5000", ConfigSource.DYNAMIC_BROKER_CONFIG)
    roll = entries["log.roll.ms"]
    assert (roll.value, roll.source, roll.synonyms) == (None, ConfigSource.DEFAULT_CONFIG, ())
    partitions = entries["num.partitions"]
    assert synonyms_of(partitions) == [("num.partitions", "1", "DEFAULT_CONFIG")]
    assert entries["listeners"].value == "PLAINTEXT://:9092,CONTROLLER://:9093"
    assert not entries["listeners"].read_only
