"""Kafka's key catalog (config/kafka_keys.py, generated from the jars), the classification of
keys (config/known_keys.py) and group configs (config/group.py): Kafka's defaults, bounds and
error messages, as a Kafka 4.4 broker answers them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ferrokafka.config import BROKER_KEYS, SINGLE_NODE_PROPERTIES, BrokerConfig, ConfigError
from ferrokafka.config import known_keys as kk
from ferrokafka.config.definitions import ConfigType, to_kafka_string
from ferrokafka.config.describe import ConfigSource, describe_broker, describe_group
from ferrokafka.config.group import (
    GROUP_KEYS,
    GroupConfigError,
    effective_group_value,
    validate_group_config,
)
from ferrokafka.config.kafka_keys import BROKER_ROWS, GROUP_ROWS, KAFKA_VERSION

REPO = Path(__file__).resolve().parents[2]
GENERATOR_TIMEOUT_S = 300.0


@pytest.mark.kafka
def test_catalog_matches_the_kafka_jars() -> None:
    """scripts/gen_kafka_keys.py --check: the committed module is what the jars say."""
    sys.path.insert(0, str(REPO / "tests"))
    import kafka_support as ks

    ks.require_kafka()  # CI fetches the jars: their absence fails, never skips
    assert ks.kafka_version() == KAFKA_VERSION
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_kafka_keys.py"), "--check"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO / "tests")},
        capture_output=True,
        text=True,
        timeout=GENERATOR_TIMEOUT_S,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_catalog_shape() -> None:
    names = [row[0] for row in BROKER_ROWS]
    assert len(names) == len(set(names)) > 350
    modes = {row[0]: row[5] for row in BROKER_ROWS}
    assert modes["log.retention.ms"] == kk.CLUSTER_WIDE
    assert modes["sasl.kerberos.min.time.before.relogin"] == kk.PER_BROKER
    assert modes["log.dirs"] == kk.READ_ONLY
    assert {row[0] for row in GROUP_ROWS} >= {
        "consumer.session.timeout.ms",
        "consumer.heartbeat.interval.ms",
        "share.record.lock.duration.ms",
        "streams.num.standby.replicas",
    }


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("log.segment.bytes", kk.IMPLEMENTED),
        ("num.network.threads", kk.IMPLEMENTED),
        ("request.timeout.ms", kk.ACCEPTED),
        ("listener.name.external.max.connections", kk.ACCEPTED),
        ("ssl.keystore.location", kk.IMPLEMENTED),  # TLS listeners (server/tls/)
        ("ssl.keymanager.algorithm", kk.SECURITY),
        ("sasl.jaas.config", kk.IMPLEMENTED),  # SASL (server/sasl/)
        ("sasl.kerberos.service.name", kk.SECURITY),  # GSSAPI is not implemented
        ("ssl.keystore.locaton", kk.SECURITY),
        ("listener.name.external.ssl.truststore.password", kk.IMPLEMENTED),
        ("listener.name.external.ssl.trustmanager.algorithm", kk.SECURITY),
        ("listener.name.sasl_ssl.plain.sasl.jaas.config", kk.IMPLEMENTED),
        ("listener.name.sasl_ssl.gssapi.sasl.kerberos.service.name", kk.SECURITY),
        ("authorizer.class.name", kk.IMPLEMENTED),  # the ACL keys (config/authorizer_keys.py)
        ("principal.builder.class", kk.SECURITY),
        ("super.users", kk.IMPLEMENTED),
        ("num.netwrk.threads", kk.UNKNOWN),
        ("listener.name.external.no.such.key", kk.UNKNOWN),
    ],
)
def test_classify(name: str, kind: str) -> None:
    assert kk.classify(name) == kind


def broker(**static: str) -> BrokerConfig:
    return BrokerConfig({**SINGLE_NODE_PROPERTIES, **static})


def test_accepted_keys_are_parsed_with_kafka_types_and_ranges() -> None:
    config = broker(**{"request.timeout.ms": "40000", "metric.reporters": ""})
    assert config.accepted == {"request.timeout.ms": 40000, "metric.reporters": []}
    assert config.value("request.timeout.ms") == 40000
    assert config.value("quota.window.num") == 11  # Kafka's default
    with pytest.raises(ConfigError, match="Not a number of type INT"):
        broker(**{"request.timeout.ms": "soon"})
    with pytest.raises(ConfigError, match="Value must be at least 1024"):
        broker(**{"fetch.max.bytes": "1000"})


def test_security_and_unknown_keys_are_refused_statically_only() -> None:
    with pytest.raises(ConfigError, match="not supported yet"):
        broker(**{"sasl.kerberos.min.time.before.relogin": "70000"})
    with pytest.raises(ConfigError, match="Unknown configuration 'num.netwrk.threads'"):
        broker(**{"num.netwrk.threads": "3"})
    # Set at run time (AlterConfigs), Kafka stores it: so does ferrokafka.
    config = BrokerConfig(
        SINGLE_NODE_PROPERTIES, dynamic_broker={"sasl.kerberos.min.time.before.relogin": "70000"}
    )
    assert config.value("sasl.kerberos.min.time.before.relogin") == 70000


def test_describe_broker_says_which_keys_take_effect() -> None:
    config = BrokerConfig(
        {**SINGLE_NODE_PROPERTIES, "num.network.threads": "2"},
        dynamic_broker={"sasl.kerberos.min.time.before.relogin": "70000"},
    )
    entries = {
        e.name: e for e in describe_broker(config, include_documentation=True)
    }  # fmt: skip
    relogin = entries["sasl.kerberos.min.time.before.relogin"]
    assert (relogin.value, relogin.source, relogin.read_only) == (
        "70000",
        ConfigSource.DYNAMIC_BROKER_CONFIG,
        False,
    )
    assert [(s.name, s.value, s.source) for s in relogin.synonyms] == [
        ("sasl.kerberos.min.time.before.relogin", "70000", ConfigSource.DYNAMIC_BROKER_CONFIG),
        ("sasl.kerberos.min.time.before.relogin", "60000", ConfigSource.DEFAULT_CONFIG),
    ]
    assert "has no effect in ferrokafka yet" in (relogin.documentation or "")
    assert "does not apply" in (entries["num.network.threads"].documentation or "")
    assert "does not apply" not in (entries["log.segment.bytes"].documentation or "")
    assert entries["log.cleaner.io.max.bytes.per.second"].value == "1.7976931348623157E308"
    assert entries["advertised.listeners"].read_only  # Kafka 4.4 cannot change it at run time


def test_java_double_strings() -> None:
    assert to_kafka_string(ConfigType.DOUBLE, 1.7976931348623157e308) == "1.7976931348623157E308"
    assert to_kafka_string(ConfigType.DOUBLE, 1e7) == "1.0E7"
    assert to_kafka_string(ConfigType.DOUBLE, 0.5) == "0.5"
    assert to_kafka_string(ConfigType.DOUBLE, 1000000.0) == "1000000.0"


# Group configs: the messages are the ones a Kafka 4.4 broker answered (INVALID_CONFIG).
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"consumer.session.timeout.ms": "1000"},
         "consumer.session.timeout.ms must be in the range 45000 to 60000 inclusive."),
        ({"consumer.heartbeat.interval.ms": "50000"},
         "consumer.heartbeat.interval.ms must be in the range 5000 to 15000 inclusive."),
        ({"consumer.session.timeout.ms": "abc"},
         "Invalid value abc for configuration consumer.session.timeout.ms: "
         "Not a number of type INT"),
        ({"consumer.session.timeout.ms": "0"},
         "Invalid value 0 for configuration consumer.session.timeout.ms: "
         "Value must be at least 1"),
        ({"foo.bar": "1"}, "Unknown group config name: foo.bar"),
        ({"streams.rack.aware.assignment.tags": "a,a"},
         "streams.rack.aware.assignment.tags must not contain duplicate tag keys."),
        ({"streams.assignor.name": "foo"},
         "streams.assignor.name 'foo' is not a registered task assignor. "
         "Registered assignors are: [sticky]."),
        ({"share.isolation.level": "x"},
         "Invalid value x for configuration share.isolation.level: "
         "String must be one of: read_committed, read_uncommitted"),
        ({"streams.num.standby.replicas": "5"},
         "streams.num.standby.replicas must be less than or equal to 2"),
        ({"errors.deadletterqueue.topic.name": "__x"},
         "errors.deadletterqueue.topic.name: DLQ topic name must not start with '__'"),
        ({"share.auto.offset.reset": "by_duration:xx"},
         "Invalid value by_duration:xx for configuration share.auto.offset.reset: Invalid value "
         "`by_duration:xx` for configuration share.auto.offset.reset. The value must be either "
         "'earliest', 'latest' or of the format 'by_duration:<PnDTnHnMn.nS>'."),
    ],
)  # fmt: skip
def test_group_validation_messages(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(GroupConfigError) as info:
        validate_group_config(broker(), overrides)
    assert str(info.value) == message


def test_group_bounds_follow_the_broker_and_session_exceeds_heartbeat() -> None:
    wide = broker(
        **{
            "group.consumer.min.session.timeout.ms": "1000",
            "group.consumer.max.heartbeat.interval.ms": "20000",
        }
    )
    validate_group_config(wide, {"consumer.session.timeout.ms": "6000"})
    with pytest.raises(GroupConfigError, match="^consumer.session.timeout.ms must be greater than"):
        validate_group_config(
            wide,
            {"consumer.session.timeout.ms": "6000", "consumer.heartbeat.interval.ms": "6000"},
        )
    validate_group_config(broker(), {"share.auto.offset.reset": "by_duration:PT1H"})
    # A value the bounds no longer allow is clamped when used (Kafka's GroupConfig.evaluate).
    overrides = {"consumer.session.timeout.ms": "2000"}
    assert effective_group_value(wide, overrides, "consumer.session.timeout.ms") == 2000
    assert effective_group_value(broker(), overrides, "consumer.session.timeout.ms") == 45000
    assert effective_group_value(broker(), {}, "consumer.heartbeat.interval.ms") == 5000


def test_describe_group() -> None:
    entries = {
        e.name: e for e in describe_group(broker(), {"consumer.session.timeout.ms": "50000"})
    }
    public = {name for name, *_rest in GROUP_ROWS if not _rest[3]}
    assert set(entries) == public and "consumer.assignor.offload.enable" not in entries
    session = entries["consumer.session.timeout.ms"]
    assert (session.value, session.source, session.read_only) == (
        "50000",
        ConfigSource.GROUP_CONFIG,
        False,
    )
    assert [(s.name, s.value, s.source) for s in session.synonyms] == [
        ("consumer.session.timeout.ms", "50000", ConfigSource.GROUP_CONFIG),
        ("group.consumer.session.timeout.ms", "45000", ConfigSource.DEFAULT_CONFIG),
    ]
    assignor = entries["streams.assignor.name"]
    assert (assignor.value, assignor.source) == ("sticky", ConfigSource.DEFAULT_CONFIG)
    isolation = entries["share.isolation.level"]
    assert [(s.name, s.value) for s in isolation.synonyms] == [
        ("share.isolation.level", "read_uncommitted")
    ]
    # Internal keys are described when asked for by name, as Kafka does.
    assert [e.name for e in describe_group(broker(), {}, ["consumer.assignor.offload.enable"])]
    assert set(GROUP_KEYS) >= public
    assert "group.consumer.session.timeout.ms" in BROKER_KEYS
