"""Apache Kafka for ferrokafka's interop tests: a real broker, Kafka's own log tools, and the
workload Kafka writes for the tests to read.

The jars come from ``tests/kafka/fetch.sh`` (Maven Central); nothing here downloads anything.

- :mod:`.jars`: find the classpath fetch.sh wrote (or say to run fetch.sh); run Kafka's tools.
- :mod:`.broker`: :class:`KafkaBroker`, one single-node KRaft Kafka on loopback ports.
- :mod:`.dump`: :func:`dump_log_segments`, Kafka's DumpLogSegments run and its output parsed.
- :mod:`.opt_in`: ``FERROKAFKA_COMPARE_KAFKA``, the opt-in of the costliest side-by-side runs.
- :mod:`.workload`: what the interop tests have Kafka write, and what Kafka said about it.

Every wait and subprocess is bounded (the ``*_TIMEOUT_S`` constants of each module).
"""

from kafka_support.broker import (
    CLEAN_SHUTDOWN_FILE,
    KafkaBroker,
    KafkaStartError,
    KafkaStopError,
)
from kafka_support.dump import (
    DumpedBatch,
    DumpedFile,
    DumpedRecord,
    DumpResult,
    dump_log_segments,
    parse_dump_output,
    segment_files,
)
from kafka_support.jars import (
    KafkaNotFetchedError,
    KafkaToolError,
    java_executable,
    kafka_classpath,
    kafka_home,
    kafka_version,
    require_kafka,
    run_kafka_tool,
)
from kafka_support.opt_in import COMPARE_ENV, COMPARE_OPT_IN, compare_enabled

__all__ = [
    "CLEAN_SHUTDOWN_FILE",
    "COMPARE_ENV",
    "COMPARE_OPT_IN",
    "DumpResult",
    "DumpedBatch",
    "DumpedFile",
    "DumpedRecord",
    "KafkaBroker",
    "KafkaNotFetchedError",
    "KafkaStartError",
    "KafkaStopError",
    "KafkaToolError",
    "compare_enabled",
    "dump_log_segments",
    "java_executable",
    "kafka_classpath",
    "kafka_home",
    "kafka_version",
    "parse_dump_output",
    "require_kafka",
    "run_kafka_tool",
    "segment_files",
]
