"""Apache Kafka's own tools over SASL_PLAINTEXT against ferrokafka: kafka-topics, the console
producer and consumer with PLAIN, SCRAM-SHA-256/512 and OAUTHBEARER (the Java login module's
unsecured tokens); a wrong password refused as Kafka refuses it; and Apache Kafka 4.4 itself,
configured the same way, giving the same answers on the wire (the wrong-password error code and
message, the unsupported-mechanism answer, the pre-authentication gate, ApiVersions)."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_wire import RawClient
from tests.security.sasl_support import (
    OAUTH_MODULE,
    PLAIN_USERS,
    SCRAM_MODULE,
    SCRAM_USERS,
    SaslBroker,
    plain_jaas,
    run_sasl_broker,
)

from ferrokafka.protocol.messages import (
    delete_groups,
    describe_groups,
    fetch,
    find_coordinator,
    list_offsets,
    metadata,
    offset_commit,
    produce,
)
from ferrokafka.protocol.messages.metadata import MetadataRequest
from ferrokafka.protocol.messages.sasl_authenticate import SaslAuthenticateRequest
from ferrokafka.protocol.messages.sasl_handshake import SaslHandshakeRequest
from kafka_support import KafkaBroker, KafkaToolError, run_kafka_tool
from kafka_support.broker import free_loopback_port
from kafka_support.jars import (
    TOOL_JVM_OPTIONS,
    TOOL_TIMEOUT_S,
    UTF8_STDOUT_OPTIONS,
    java_executable,
    kafka_classpath,
    write_log4j2_config,
)

TOPIC_COMMAND = "org.apache.kafka.tools.TopicCommand"
CONSOLE_PRODUCER = "org.apache.kafka.tools.ConsoleProducer"
CONSOLE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
CONSUME_TIMEOUT_MS = 30_000
LINES = ["one", "two", "three"]


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SaslBroker]:
    kafka_classpath()  # fails (never skips) when Kafka's jars are not fetched
    with run_sasl_broker(tmp_path_factory.mktemp("sasl-java")) as running:
        yield running


def _client_properties(path: Path, mechanism: str, user: str, password: str) -> Path:
    if mechanism == "PLAIN":
        module = plain_jaas({}).split(" required")[0]
        jaas = f'{module} required username="{user}" password="{password}";'
    elif mechanism.startswith("SCRAM"):
        jaas = f'{SCRAM_MODULE} required username="{user}" password="{password}";'
    else:
        jaas = f'{OAUTH_MODULE} required unsecuredLoginStringClaim_sub="{user}";'
    path.write_text(
        f"security.protocol=SASL_PLAINTEXT\nsasl.mechanism={mechanism}\nsasl.jaas.config={jaas}\n"
    )
    return path


def _console_producer(bootstrap: str, topic: str, config: Path, work_dir: Path) -> None:
    log4j = work_dir / "log4j2-producer.properties"
    write_log4j2_config(log4j, log_file=None, level="error")
    command = [
        java_executable(),
        *TOOL_JVM_OPTIONS,
        *UTF8_STDOUT_OPTIONS,
        f"-Dlog4j2.configurationFile={log4j}",
        "-cp",
        kafka_classpath(),
        CONSOLE_PRODUCER,
        "--bootstrap-server",
        bootstrap,
        "--topic",
        topic,
        "--command-config",
        str(config),
    ]
    produced = subprocess.run(
        command,
        input="".join(f"{line}\n" for line in LINES),
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
    )
    assert produced.returncode == 0, produced.stderr


@pytest.mark.parametrize(
    ("mechanism", "user", "password"),
    [
        ("PLAIN", "alice", PLAIN_USERS["alice"]),
        ("SCRAM-SHA-256", "scrammer", SCRAM_USERS["scrammer"]),
        ("SCRAM-SHA-512", "bob", SCRAM_USERS["bob"]),
        ("OAUTHBEARER", "carol", ""),
    ],
)
def test_kafka_tools_create_produce_and_consume(
    broker: SaslBroker, tmp_path: Path, mechanism: str, user: str, password: str
) -> None:
    config = _client_properties(tmp_path / "client.properties", mechanism, user, password)
    topic = f"java-{uuid.uuid4().hex[:8]}"
    common = ["--bootstrap-server", broker.sasl_bootstrap, "--command-config", str(config)]
    run_kafka_tool(TOPIC_COMMAND, [*common, "--create", "--topic", topic], work_dir=tmp_path)
    listed = run_kafka_tool(TOPIC_COMMAND, [*common, "--list"], work_dir=tmp_path)
    assert topic in listed.stdout.split()
    _console_producer(broker.sasl_bootstrap, topic, config, tmp_path)
    consumed = run_kafka_tool(
        CONSOLE_CONSUMER,
        [
            "--bootstrap-server",
            broker.sasl_bootstrap,
            "--command-config",
            str(config),
            "--topic",
            topic,
            "--from-beginning",
            "--max-messages",
            str(len(LINES)),
            "--timeout-ms",
            str(CONSUME_TIMEOUT_MS),
        ],
        work_dir=tmp_path,
    )
    assert consumed.stdout.split() == LINES


def test_kafka_topics_with_a_wrong_password_is_refused(broker: SaslBroker, tmp_path: Path) -> None:
    config = _client_properties(tmp_path / "bad.properties", "PLAIN", "alice", "not-the-password")
    with pytest.raises(KafkaToolError) as caught:
        run_kafka_tool(
            TOPIC_COMMAND,
            [
                "--bootstrap-server",
                broker.sasl_bootstrap,
                "--command-config",
                str(config),
                "--list",
            ],
            work_dir=tmp_path,
        )
    assert "Authentication failed: Invalid username or password" in str(caught.value)


# -- the same answers as Apache Kafka 4.4 -----------------------------------------------------


class SaslKafkaBroker(KafkaBroker):
    """Apache Kafka with a SASL_PLAINTEXT listener (PLAIN) beside its PLAINTEXT one."""

    sasl_port = 0

    def _write_config(self) -> None:
        if not self.sasl_port:
            self.sasl_port = free_loopback_port()
        self.extra_config.update(
            {
                "listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
                f"SASL_PLAINTEXT://127.0.0.1:{self.sasl_port},"
                f"CONTROLLER://127.0.0.1:{self.controller_port}",
                "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
                f"SASL_PLAINTEXT://127.0.0.1:{self.sasl_port}",
                "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,"
                "SASL_PLAINTEXT:SASL_PLAINTEXT",
                "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256",
                "listener.name.sasl_plaintext.plain.sasl.jaas.config": plain_jaas(),
                "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config": (
                    f"{SCRAM_MODULE} required;"
                ),
            }
        )
        super()._write_config()


def _mid_authentication_requests() -> list[tuple[str, object, int]]:
    """Requests sent after the handshake instead of SaslAuthenticate: Kafka answers each with
    its getErrorResponse (ILLEGAL_SASL_STATE wherever the response has an error), then closes,
    including for APIs whose responses have no top-level error code."""
    m, p, lo = metadata, produce, list_offsets
    oc, f = offset_commit, fetch
    return [
        (
            "metadata",
            m.MetadataRequest(topics=[m.MetadataRequest.MetadataRequestTopic(name="t")]),
            12,
        ),
        (
            "produce",
            p.ProduceRequest(
                acks=1,
                timeout_ms=1000,
                topic_data=[
                    p.ProduceRequest.TopicProduceData(
                        name="t",
                        partition_data=[
                            p.ProduceRequest.PartitionProduceData(index=0, records=b"")
                        ],
                    )
                ],
            ),
            9,
        ),
        (
            "list_offsets",
            lo.ListOffsetsRequest(
                replica_id=-1,
                topics=[
                    lo.ListOffsetsRequest.ListOffsetsTopic(
                        name="t",
                        partitions=[lo.ListOffsetsRequest.ListOffsetsPartition(partition_index=0)],
                    )
                ],
            ),
            7,
        ),
        (
            "offset_commit",
            oc.OffsetCommitRequest(
                group_id="g",
                topics=[
                    oc.OffsetCommitRequest.OffsetCommitRequestTopic(
                        name="t",
                        partitions=[
                            oc.OffsetCommitRequest.OffsetCommitRequestPartition(
                                partition_index=0, committed_offset=1
                            )
                        ],
                    )
                ],
            ),
            8,
        ),
        (
            "fetch_v4",
            f.FetchRequest(
                replica_id=-1,
                max_wait_ms=100,
                topics=[
                    f.FetchRequest.FetchTopic(
                        topic="t", partitions=[f.FetchRequest.FetchPartition(partition=0)]
                    )
                ],
            ),
            4,
        ),
        ("describe_groups", describe_groups.DescribeGroupsRequest(groups=["g"]), 5),
        ("delete_groups", delete_groups.DeleteGroupsRequest(groups_names=["g"]), 2),
        ("find_coordinator_v4", find_coordinator.FindCoordinatorRequest(coordinator_keys=["g"]), 4),
    ]


def _fields(message: object) -> object:
    """A decoded message as plain data, to compare two brokers' answers."""
    schema = getattr(message, "SCHEMA", None)
    if schema is not None:
        return {spec.name: _fields(getattr(message, spec.name)) for spec in schema}
    if isinstance(message, list):
        return [_fields(item) for item in message]
    return message


def _wire_answers(sasl_address: str, plaintext_address: str) -> dict[str, object]:
    """What a broker answers to the SASL cases Kafka's clients meet."""
    answers: dict[str, object] = {}
    with RawClient(sasl_address) as client:
        versions = client.call_api_versions()
        answers["api_versions"] = versions.error_code
        answers["sasl_apis_advertised"] = sorted(
            (k.api_key, k.min_version, k.max_version)
            for k in versions.api_keys
            if k.api_key in (17, 36)
        )
        handshake = client.call(SaslHandshakeRequest(mechanism="PLAIN"), 1)
        answers["handshake"] = (handshake.error_code, handshake.mechanisms)
        wrong = client.call(SaslAuthenticateRequest(auth_bytes=b"\0alice\0wrong"), 2)
        answers["wrong_password"] = (wrong.error_code, wrong.error_message)
        answers["closed_after_wrong_password"] = client.is_closed_by_peer()
    with RawClient(sasl_address) as client:
        bad = client.call(SaslHandshakeRequest(mechanism="GSSAPI"), 1)
        answers["unsupported_mechanism"] = (bad.error_code, bad.mechanisms)
        answers["closed_after_unsupported_mechanism"] = client.is_closed_by_peer()
    with RawClient(sasl_address) as client:
        client.send_request(MetadataRequest(topics=None), 12)
        answers["metadata_before_handshake_closes"] = client.is_closed_by_peer()
    with RawClient(sasl_address) as client:
        client.call(SaslHandshakeRequest(mechanism="PLAIN"), 1)
        versions = client.call_api_versions(correlation_id=7)
        answers["api_versions_after_handshake"] = (versions.error_code, versions.api_keys)
        answers["closed_after_api_versions_after_handshake"] = client.is_closed_by_peer()
    with RawClient(sasl_address) as client:
        client.call(SaslHandshakeRequest(mechanism="PLAIN"), 1)
        ok = client.call(SaslAuthenticateRequest(auth_bytes=b"\0alice\0alice-secret"), 2)
        answers["right_password"] = (ok.error_code, ok.error_message, ok.session_lifetime_ms)
        again = client.call(SaslAuthenticateRequest(auth_bytes=b"\0alice\0alice-secret"), 0)
        answers["authenticate_after_success_v0"] = (again.error_code, again.error_message)
    for name, request, version in _mid_authentication_requests():
        with RawClient(sasl_address) as client:
            client.call(SaslHandshakeRequest(mechanism="PLAIN"), 1)
            try:
                answer: object = _fields(client.call(request, version))
            except (OSError, EOFError, AssertionError) as exc:
                answer = f"closed unanswered ({type(exc).__name__})"
            answers[f"{name}_during_authentication"] = answer
            answers[f"closed_after_{name}_during_authentication"] = client.is_closed_by_peer()
    with RawClient(plaintext_address) as client:
        keys = {k.api_key for k in client.call_api_versions().api_keys}
        answers["plaintext_advertises_sasl"] = {17, 36} <= keys
        handshake = client.call(SaslHandshakeRequest(mechanism="PLAIN"), 1)
        answers["handshake_on_plaintext"] = handshake.error_code
    return answers


def test_the_same_answers_as_apache_kafka(tmp_path: Path) -> None:
    kafka = SaslKafkaBroker(tmp_path / "kafka")
    kafka.start()
    try:
        expected = _wire_answers(f"127.0.0.1:{kafka.sasl_port}", kafka.bootstrap_servers)
    finally:
        kafka.stop()
    with run_sasl_broker(tmp_path / "ferrokafka", mechanisms=("PLAIN", "SCRAM-SHA-256")) as ours:
        got = _wire_answers(ours.sasl_bootstrap, ours.plaintext_bootstrap)
    assert expected["wrong_password"] == (58, "Authentication failed: Invalid username or password")
    assert got == expected, {k: (v, got.get(k)) for k, v in expected.items() if got.get(k) != v}


def test_java_producer_reauthenticates_kip_368(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Kafka's own producer re-authenticates (KIP-368) before the session the broker gave it
    (connections.max.reauth.ms) ends, on the same connection, and every record arrives."""
    import logging
    import time

    reauth_ms = 2000
    lines = [f"r{i}" for i in range(12)]
    with (
        caplog.at_level(logging.DEBUG, logger="ferrokafka"),
        run_sasl_broker(tmp_path / "broker", **{"connections.max.reauth.ms": reauth_ms}) as broker,
    ):
        config = _client_properties(tmp_path / "c.properties", "SCRAM-SHA-256", "bob", "bob-secret")
        topic = f"reauth-{uuid.uuid4().hex[:8]}"
        common = ["--bootstrap-server", broker.sasl_bootstrap, "--command-config", str(config)]
        run_kafka_tool(TOPIC_COMMAND, [*common, "--create", "--topic", topic], work_dir=tmp_path)
        log4j = tmp_path / "log4j2-producer.properties"
        write_log4j2_config(log4j, log_file=None, level="error")
        producer = subprocess.Popen(
            [
                java_executable(),
                *TOOL_JVM_OPTIONS,
                f"-Dlog4j2.configurationFile={log4j}",
                "-cp",
                kafka_classpath(),
                CONSOLE_PRODUCER,
                *common,
                "--topic",
                topic,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert producer.stdin is not None
            for line in lines:  # spread over three sessions' worth of time
                producer.stdin.write(line + "\n")
                producer.stdin.flush()
                time.sleep(3 * reauth_ms / 1000 / len(lines))
            _, stderr = producer.communicate(timeout=TOOL_TIMEOUT_S)
        finally:
            if producer.poll() is None:
                producer.kill()
                producer.wait(10)
        assert producer.returncode == 0, stderr
        consumed = run_kafka_tool(
            CONSOLE_CONSUMER,
            [
                *common,
                "--topic",
                topic,
                "--from-beginning",
                "--max-messages",
                str(len(lines)),
                "--timeout-ms",
                str(CONSUME_TIMEOUT_MS),
            ],
            work_dir=tmp_path,
        )
    assert consumed.stdout.split() == lines
    assert "SCRAM-SHA-256 re-authenticated User:bob" in caplog.text
