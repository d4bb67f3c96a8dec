"""The pieces behind the broker's log lines, in-process: secret redaction, the JSON and text
formats, the rejected-request rate limit (on a fake clock), the scan of nested error codes,
and the controller's change lines with a secret config value."""

from __future__ import annotations

import io
import json
import logging
import uuid
import warnings

import pytest

from ferrokafka.cluster.change_log import log_committed
from ferrokafka.cluster.image import MetadataImage
from ferrokafka.cluster.records import ConfigRecord, PartitionRecord, TopicRecord
from ferrokafka.config.redact import HIDDEN, format_settings, is_secret_key, redacted
from ferrokafka.protocol import error_codes as ec
from ferrokafka.protocol.messages.create_topics import CreateTopicsResponse
from ferrokafka.protocol.messages.header import RequestHeader
from ferrokafka.protocol.messages.produce import ProduceResponse
from ferrokafka.server.dispatcher import RequestContext
from ferrokafka.server.log_setup import configure_logging
from ferrokafka.server.request_log import RejectedRequestLog, rejected_errors

SECRET = "s3cret-value"


@pytest.mark.parametrize(
    "key",
    [
        "ssl.keystore.password",
        "ssl.key.password",
        "listener.name.sasl_ssl.plain.sasl.jaas.config",
        "sasl.jaas.config",
        "password.encoder.secret",
        "delegation.token.secret.key",
        "sasl.oauthbearer.token.endpoint.url",
        "my.credentials.file",
        "SSL.KEYSTORE.KEY",
    ],
)
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)
    assert redacted({key: SECRET}) == {key: HIDDEN}


def test_plain_keys_and_none_kept() -> None:
    assert redacted({"retention.ms": "1000", "ssl.key.password": None}) == {
        "retention.ms": "1000",
        "ssl.key.password": None,
    }
    assert format_settings([("a", 1), ("x.password", SECRET)]) == f"a=1, x.password={HIDDEN}"


def _emit(log_format: str, *, debug: bool) -> str:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("INFO", log_format, debug=debug, stream=stream)  # type: ignore[arg-type]
        log = logging.getLogger("ferrokafka.test")
        log.info("created topic %s", "t", extra={"fields": {"event": "x", "partitions": 3}})
        warnings.warn_explicit("careful", RuntimeWarning, "f.py", 1)  # through logging too
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("failed")
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        logging.captureWarnings(False)
    return stream.getvalue()


def test_json_format_one_object_per_line() -> None:
    lines = _emit("json", debug=False).splitlines()
    assert len(lines) == 3
    first, warned, second = map(json.loads, lines)
    assert warned["logger"] == "py.warnings" and "RuntimeWarning: careful" in warned["message"]
    assert first["message"] == "created topic t" and first["level"] == "INFO"
    assert first["logger"] == "ferrokafka.test" and first["ts"].endswith("Z")
    assert first["event"] == "x" and first["partitions"] == 3
    # A crash keeps its traceback (a bug report needs it), inside the one JSON line.
    assert second["error"] == "ValueError: boom"
    assert "Traceback (most recent call last)" in second["traceback"]


def test_text_format() -> None:
    text = _emit("text", debug=False)
    assert "INFO ferrokafka.test: created topic t" in text
    assert "ERROR ferrokafka.test: failed\nTraceback (most recent call last)" in text


def test_debug_lowers_the_level() -> None:
    assert "DEBUG" not in _emit("text", debug=False)
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("INFO", "text", debug=True, stream=stream)
        logging.getLogger("ferrokafka.test").debug("detail")
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        logging.captureWarnings(False)
    assert "DEBUG ferrokafka.test: detail" in stream.getvalue()


def _context(api_key: int, client_id: str = "c1") -> RequestContext:
    return RequestContext(
        header=RequestHeader(
            request_api_key=api_key, request_api_version=7, correlation_id=1, client_id=client_id
        ),
        client_address=("127.0.0.1", 5555),
        listener_name="PLAINTEXT",
        connection_id=1,
    )


def _produce_rejected(code: int) -> ProduceResponse:
    partition = ProduceResponse.PartitionProduceResponse(
        index=0, error_code=code, error_message="The request included a message larger ..."
    )
    return ProduceResponse(
        responses=[ProduceResponse.TopicProduceResponse(name="t", partition_responses=[partition])]
    )


def test_nested_errors_found_and_routine_ones_skipped() -> None:
    response = _produce_rejected(ec.MESSAGE_TOO_LARGE)
    assert rejected_errors(response) == [
        (ec.MESSAGE_TOO_LARGE, "The request included a message larger ...")
    ]
    assert rejected_errors(_produce_rejected(ec.NOT_LEADER_OR_FOLLOWER)) == []
    assert rejected_errors(_produce_rejected(ec.NONE)) == []
    topics = CreateTopicsResponse(
        topics=[CreateTopicsResponse.CreatableTopicResult(name="t", error_code=36)]
    )
    assert [code for code, _ in rejected_errors(topics)] == [ec.TOPIC_ALREADY_EXISTS]


def test_rate_limit_per_client_api_and_error(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    limiter = RejectedRequestLog(interval_s=10.0, clock=lambda: now[0])
    caplog.set_level(logging.INFO, logger="ferrokafka.server.request_log")
    produce, too_large = _context(0), _produce_rejected(ec.MESSAGE_TOO_LARGE)
    for _ in range(5):
        limiter.note(produce, too_large)
    limiter.note(_context(0, client_id="c2"), too_large)  # another client: its own line
    assert len(caplog.records) == 2
    now[0] += 10.0
    limiter.note(produce, too_large)
    assert len(caplog.records) == 3
    last = caplog.records[-1].getMessage()
    assert last.startswith("rejected Produce v7 from client 'c1' at 127.0.0.1:5555: ")
    assert "MESSAGE_TOO_LARGE" in last and "4 more like it in the last 10 s not logged" in last
    assert caplog.records[-1].fields["suppressed"] == 4  # type: ignore[attr-defined]


def test_rate_limit_keys_bounded(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RejectedRequestLog(interval_s=10.0, keys_max=3, clock=lambda: 0.0)
    caplog.set_level(logging.INFO, logger="ferrokafka.server.request_log")
    for i in range(10):
        limiter.note(_context(0, client_id=f"c{i}"), _produce_rejected(ec.MESSAGE_TOO_LARGE))
    assert len(caplog.records) == 10
    assert len(limiter._windows) == 3


def test_secret_error_message_hidden(caplog: pytest.LogCaptureFixture) -> None:
    limiter = RejectedRequestLog()
    caplog.set_level(logging.INFO, logger="ferrokafka.server.request_log")
    response = _produce_rejected(ec.INVALID_CONFIG)
    response.responses[0].partition_responses[
        0
    ].error_message = f"Invalid value {SECRET} for configuration ssl.key.password"
    limiter.note(_context(44), response)
    assert len(caplog.records) == 1 and SECRET not in caplog.text and HIDDEN in caplog.text


def test_change_lines_hide_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ferrokafka.cluster.change_log")
    topic_id = uuid.uuid4()
    records = [
        TopicRecord(name="t", topic_id=topic_id),
        ConfigRecord(resource_type=2, resource_name="t", name="retention.ms", value="5"),
        ConfigRecord(resource_type=2, resource_name="t", name="x.password", value=SECRET),
        PartitionRecord(partition_id=0, topic_id=topic_id, replicas=[1, 2]),
        PartitionRecord(partition_id=1, topic_id=topic_id, replicas=[2, 1]),
        ConfigRecord(resource_type=4, resource_name="", name="ssl.key.password", value=SECRET),
        ConfigRecord(resource_type=4, resource_name="1", name="log.retention.ms", value=None),
    ]
    log_committed(MetadataImage(), records)
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == (
        f"created topic t (topic id {topic_id}, 2 partitions, replication factor 2, configs: "
        f"retention.ms=5, x.password={HIDDEN})"
    )
    assert (
        messages[1] == f"config of every broker (cluster default): ssl.key.password set to {HIDDEN}"
    )
    assert messages[2] == "config of broker 1: log.retention.ms deleted (back to its default)"
    assert SECRET not in caplog.text
