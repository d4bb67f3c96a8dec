"""Group configs and Kafka-known broker keys, side by side on ferrokafka and Apache Kafka 4.4.

The same scenario runs against both brokers and must give the same answers: Kafka's own
kafka-configs (ConfigCommand) sets and describes a group config and broker keys ferrokafka
accepts without implementing; raw IncrementalAlterConfigs/AlterConfigs/DescribeConfigs (our
codec, checked by Kafka's answers) give the same error codes and messages for bad values.
Then a KIP-848 ConsumerGroupHeartbeat on ferrokafka carries the group's own heartbeat interval.

The jars come from tests/kafka/fetch.sh; without them these fail saying how to fetch them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource
from server_wire import RawClient

import kafka_support as ks
from ferrokafka.protocol.messages.alter_configs import AlterConfigsRequest as AC
from ferrokafka.protocol.messages.consumer_group_heartbeat import (
    ConsumerGroupHeartbeatRequest as HB,
)
from ferrokafka.protocol.messages.describe_configs import DescribeConfigsRequest as DC
from ferrokafka.protocol.messages.find_coordinator import FindCoordinatorRequest as FC
from ferrokafka.protocol.messages.incremental_alter_configs import (
    IncrementalAlterConfigsRequest as IAC,
)
from ferrokafka.testing import RunningBroker

CONFIG_COMMAND = "org.apache.kafka.tools.ConfigCommand"
GROUP = 32
BROKER = 4
SET, DELETE, APPEND = 0, 1, 2
COORDINATOR_LOAD_TRIES = 60
COORDINATOR_RETRY_S = 0.5
COORDINATOR_NOT_AVAILABLE = 15
# Keys Kafka 4.4 changes per broker at run time that ferrokafka accepts with no effect.
ACCEPTED_DYNAMIC = (
    "sasl.kerberos.min.time.before.relogin=70000",
    "log.cleaner.io.max.bytes.per.second=1000000",
)

# (request, expected) scenario rows: each answer is (error code, message) of one resource.
ALTERS: list[tuple[int, str, list[tuple[str, int, str | None]]]] = [
    (GROUP, "g1", [("consumer.session.timeout.ms", SET, "1000")]),
    (GROUP, "g1", [("consumer.session.timeout.ms", SET, "abc")]),
    (GROUP, "g1", [("consumer.heartbeat.interval.ms", SET, "50000")]),
    (GROUP, "g1", [("foo.bar", SET, "1")]),
    (GROUP, "", [("consumer.session.timeout.ms", SET, "50000")]),
    (GROUP, "g1", [("streams.rack.aware.assignment.tags", APPEND, "a")]),
    (GROUP, "g1", [("share.isolation.level", SET, "x")]),
    (GROUP, "g1", [("streams.num.standby.replicas", SET, "5")]),
    (GROUP, "g1", [("consumer.session.timeout.ms", SET, None)]),
    (GROUP, "g1", [("consumer.session.timeout.ms", DELETE, None)]),
    (GROUP, "g1", [("consumer.heartbeat.interval.ms", SET, "6000")]),
    (BROKER, "1", [("sasl.kerberos.min.time.before.relogin", SET, "70000")]),
    (BROKER, "", [("sasl.kerberos.min.time.before.relogin", SET, "70000")]),
    (BROKER, "1", [("ssl.keystore.location", SET, "/nonexistent")]),
    (BROKER, "1", [("listener.name.plaintext.sasl.enabled.mechanisms", SET, "PLAIN")]),
    (BROKER, "1", [("log.dirs", SET, "/x")]),
    (BROKER, "1", [("group.consumer.max.session.timeout.ms", SET, "90000")]),
    (BROKER, "1", [("advertised.listeners", SET, "PLAINTEXT://localhost:1")]),
    (BROKER, "1", [("sasl.kerberos.min.time.before.relogin", SET, "abc")]),
    (BROKER, "1", [("num.replica.fetchers", SET, "abc")]),
    # Keys no one knows are kept, as plugins' configs (Kafka's customPropsAllowed).
    (BROKER, "1", [("custom.plugin.key", SET, "1")]),
    (BROKER, "", [("custom.plugin.key", SET, "2")]),
    (BROKER, "1", [("listener.name.plaintext.custom.key", SET, "3")]),
]


@pytest.fixture(scope="module")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ks.KafkaBroker]:
    ks.require_kafka()
    with ks.KafkaBroker(tmp_path_factory.mktemp("kafka")) as broker:
        yield broker


def config_command(tool_dir: Path, bootstrap: str, *args: str) -> str:
    return ks.run_kafka_tool(
        CONFIG_COMMAND, ["--bootstrap-server", bootstrap, *args], work_dir=tool_dir
    ).stdout


def alter(client: RawClient, rtype: int, name: str, changes: list[Any]) -> tuple[int, Any]:
    request = IAC(
        resources=[
            IAC.AlterConfigsResource(
                resource_type=rtype,
                resource_name=name,
                configs=[
                    IAC.AlterableConfig(name=k, config_operation=op, value=v)
                    for k, op, v in changes
                ],
            )
        ]
    )
    answer = client.call(request, 1).responses[0]
    return answer.error_code, answer.error_message


def legacy_alter(client: RawClient, rtype: int, name: str, **values: str) -> tuple[int, Any]:
    request = AC(
        resources=[
            AC.AlterConfigsResource(
                resource_type=rtype,
                resource_name=name,
                configs=[AC.AlterableConfig(name=k, value=v) for k, v in values.items()],
            )
        ]
    )
    answer = client.call(request, 2).responses[0]
    return answer.error_code, answer.error_message


def describe(client: RawClient, rtype: int, name: str, keys: list[str] | None) -> Any:
    request = DC(
        resources=[
            DC.DescribeConfigsResource(
                resource_type=rtype, resource_name=name, configuration_keys=keys
            )
        ],
        include_synonyms=True,
    )
    return client.call(request, 4).results[0]


def entries(result: Any) -> dict[str, tuple[Any, ...]]:
    return {
        e.name: (
            e.value,
            e.read_only,
            e.config_source,
            e.is_sensitive,
            e.config_type,
            tuple((s.name, s.value, s.source) for s in e.synonyms),
        )
        for e in result.configs
    }


def scenario(client: RawClient) -> dict[str, Any]:
    """Everything the scenario observes, in a form both brokers must agree on."""
    seen: dict[str, Any] = {"alters": [alter(client, *row) for row in ALTERS]}
    seen["legacy"] = legacy_alter(client, GROUP, "g2", **{"consumer.session.timeout.ms": "50000"})
    public = describe(client, GROUP, "g-none", None)
    seen["group_default"] = (public.error_code, entries(public))
    seen["group_empty_name"] = describe(client, GROUP, "", None).error_code
    keys = ["consumer.session.timeout.ms", "consumer.heartbeat.interval.ms"]
    seen["g1"] = entries(describe(client, GROUP, "g1", keys))
    seen["g2"] = entries(describe(client, GROUP, "g2", keys))
    relogin = describe(client, BROKER, "1", ["sasl.kerberos.min.time.before.relogin"])
    seen["relogin"] = entries(relogin)
    custom = ["custom.plugin.key", "listener.name.plaintext.custom.key"]
    seen["custom"] = entries(describe(client, BROKER, "1", custom))
    seen["custom_default"] = entries(describe(client, BROKER, "", custom))
    return seen


def settle(client: RawClient, name: str, key: str, value: str) -> None:
    """Wait (bounded) until the broker's image shows what its controller committed."""
    for _ in range(COORDINATOR_LOAD_TRIES):
        result = entries(describe(client, GROUP, name, [key]))
        if result.get(key, (None,))[0] == value:
            return
        time.sleep(COORDINATOR_RETRY_S)


def test_same_answers_as_kafka(
    kafka: ks.KafkaBroker, ferrokafka_broker: RunningBroker, tmp_path: Path
) -> None:
    seen = {}
    for label, bootstrap in (
        ("kafka", kafka.bootstrap_servers),
        ("ferrokafka", ferrokafka_broker.bootstrap_servers),
    ):
        with RawClient(bootstrap) as client:
            seen[label] = scenario(client)
    # Row by row first, so a difference names its request (one failed once, on a loaded
    # machine, and the whole-dict diff did not say which).
    answers = zip(ALTERS, seen["ferrokafka"]["alters"], seen["kafka"]["alters"], strict=True)
    for row, ours, theirs in answers:
        assert ours == theirs, (row, ours, theirs)
    assert seen["ferrokafka"] == seen["kafka"]
    # The answers themselves, as Kafka gave them (so a change in both is noticed too).
    alters = dict(zip(range(len(ALTERS)), seen["kafka"]["alters"], strict=True))
    assert alters[0] == (40, "consumer.session.timeout.ms must be in the range 45000 to 60000 "
                             "inclusive.")  # fmt: skip
    assert alters[4] == (42, "Default group resources are not allowed.")
    assert alters[10] == (0, None) and alters[11] == (0, None)
    assert alters[12][0] == 42 and "broker id must be specified" in alters[12][1]
    assert seen["kafka"]["g1"]["consumer.heartbeat.interval.ms"][0] == "6000"
    assert seen["kafka"]["relogin"]["sasl.kerberos.min.time.before.relogin"][0] == "70000"
    assert seen["kafka"]["custom"]["custom.plugin.key"][:4] == (None, True, 2, True)


@ks.COMPARE_OPT_IN
def test_kafka_configs_tool_on_both(
    kafka: ks.KafkaBroker, ferrokafka_broker: RunningBroker, tmp_path: Path
) -> None:
    outputs = {}
    for label, bootstrap in (
        ("kafka", kafka.bootstrap_servers),
        ("ferrokafka", ferrokafka_broker.bootstrap_servers),
    ):
        group = ["--entity-type", "groups", "--entity-name", "tool-group"]
        broker = ["--entity-type", "brokers", "--entity-name", "1"]
        out = config_command(
            tmp_path, bootstrap, *group, "--alter", "--add-config",
            "consumer.session.timeout.ms=50000",
        )  # fmt: skip
        out += config_command(
            tmp_path, bootstrap, *broker, "--alter", "--add-config", ",".join(ACCEPTED_DYNAMIC)
        )
        with RawClient(bootstrap) as client:
            settle(client, "tool-group", "consumer.session.timeout.ms", "50000")
        out += config_command(tmp_path, bootstrap, *group, "--describe")
        # Only the lines of these keys: the module's Kafka broker kept earlier tests' configs.
        described = config_command(tmp_path, bootstrap, *broker, "--describe")
        names = tuple(f"  {setting.split('=')[0]}=" for setting in ACCEPTED_DYNAMIC)
        out += "".join(line for line in described.splitlines(True) if line.startswith(names))
        with pytest.raises(ks.KafkaToolError) as refused:
            config_command(
                tmp_path, bootstrap, *group, "--alter", "--add-config",
                "consumer.heartbeat.interval.ms=1",
            )  # fmt: skip
        outputs[label] = (out, str(refused.value).count("must be in the range 5000 to 15000"))
    assert outputs["ferrokafka"] == outputs["kafka"]
    out, refusals = outputs["kafka"]
    assert refusals >= 1
    assert "Completed updating config for group tool-group." in out
    assert (
        "consumer.session.timeout.ms=50000 sensitive=false synonyms={DYNAMIC_GROUP_CONFIG:"
        "consumer.session.timeout.ms=50000, DEFAULT_CONFIG:group.consumer.session.timeout.ms"
        "=45000}" in out
    )
    assert "sasl.kerberos.min.time.before.relogin=70000 sensitive=false" in out


def heartbeat(client: RawClient, member_id: str, epoch: int) -> Any:
    """A ConsumerGroupHeartbeat, retried (bounded) while the coordinator loads."""
    request = HB(
        group_id="hb-group",
        member_id=member_id,
        member_epoch=epoch,
        rebalance_timeout_ms=30_000,
        subscribed_topic_names=["hb-topic"],
        topic_partitions=[] if epoch == 0 else None,
    )
    for _ in range(COORDINATOR_LOAD_TRIES):
        answer = client.call(request, 1)
        if answer.error_code != COORDINATOR_NOT_AVAILABLE:
            return answer
        time.sleep(COORDINATOR_RETRY_S)
    return answer


def test_consumer_group_heartbeat_carries_the_group_interval(
    ferrokafka_broker: RunningBroker,
) -> None:
    with RawClient(ferrokafka_broker.bootstrap_servers) as client:
        # As a client does first: this also creates __consumer_offsets.
        found = client.call(FC(key_type=0, coordinator_keys=["hb-group"]), 4)
        assert found.coordinators[0].error_code in (0, COORDINATOR_NOT_AVAILABLE)
        joined = heartbeat(client, uuid.uuid4().hex[:22], 0)
        assert (joined.error_code, joined.heartbeat_interval_ms) == (0, 5000)
        changes = [
            ("consumer.heartbeat.interval.ms", SET, "7000"),
            ("consumer.session.timeout.ms", SET, "50000"),
        ]
        assert alter(client, GROUP, "hb-group", changes) == (0, None)
        settle(client, "hb-group", "consumer.heartbeat.interval.ms", "7000")
        again = heartbeat(client, joined.member_id, joined.member_epoch)
        assert (again.error_code, again.heartbeat_interval_ms) == (0, 7000)
        # The session deadline the coordinator keeps uses the group's timeout too.
        coordinator = ferrokafka_broker.broker.node.group_coordinator  # type: ignore[attr-defined]
        group = coordinator.get_group("hb-group")
        assert group.config.session_timeout_ms == 50_000
        assert alter(client, GROUP, "hb-group", [("consumer.heartbeat.interval.ms", DELETE, None)])
        settle(client, "hb-group", "consumer.heartbeat.interval.ms", "5000")
        back = heartbeat(client, again.member_id, again.member_epoch)
        assert (back.error_code, back.heartbeat_interval_ms) == (0, 5000)


def test_confluent_incremental_alter_of_accepted_broker_keys(
    ferrokafka_broker: RunningBroker,
) -> None:
    """librdkafka's IncrementalAlterConfigs with keys Kafka changes per broker at run time and
    ferrokafka does not implement: success, and DescribeConfigs shows them."""
    client = AdminClient({"bootstrap.servers": ferrokafka_broker.bootstrap_servers})
    changes = [
        ConfigEntry(name, value, incremental_operation=AlterConfigOpType.SET)
        for name, value in (setting.split("=") for setting in ACCEPTED_DYNAMIC)
    ]
    resource = ConfigResource("broker", "1", incremental_configs=changes)
    for future in client.incremental_alter_configs([resource]).values():
        future.result(timeout=30)
    [described] = client.describe_configs([ConfigResource("broker", "1")]).values()
    configs = described.result(timeout=30)
    relogin = configs["sasl.kerberos.min.time.before.relogin"]
    assert (relogin.value, relogin.is_read_only) == ("70000", False)
    assert configs["log.cleaner.io.max.bytes.per.second"].value == "1000000.0"
    bad = ConfigResource(
        "broker",
        "1",
        incremental_configs=[
            ConfigEntry("log.dirs", "/x", incremental_operation=AlterConfigOpType.SET)
        ],
    )
    with pytest.raises(Exception, match=r"Cannot update these configs dynamically: \[log.dirs\]"):
        for future in client.incremental_alter_configs([bad]).values():
            future.result(timeout=30)
