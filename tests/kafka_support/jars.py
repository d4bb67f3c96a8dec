"""Finding Apache Kafka's jars (resolved by tests/kafka/fetch.sh) and running Kafka's tools.

The version lives in one place, ``<kafka.version>`` in tests/kafka/pom.xml; the cache paths
follow the same rules as fetch.sh (``FERROKAFKA_KAFKA_VERSION``, ``FERROKAFKA_CACHE``,
``FERROKAFKA_KAFKA_HOME``). Nothing here downloads anything.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Sequence
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parents[1]
KAFKA_DIR = TESTS_DIR / "kafka"
POM = KAFKA_DIR / "pom.xml"
FETCH_SCRIPT = KAFKA_DIR / "fetch.sh"

# Bounds: a Kafka tool run is one short JVM; three minutes covers a loaded CI box.
TOOL_TIMEOUT_S = 180.0
# C1 only and the serial collector: on two cores a short-lived JVM starts faster and leaves the
# CPU to the test process.
TOOL_JVM_OPTIONS = ("-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
# Keys and payloads are printed as text: make that UTF-8 whatever the locale (Java 17 reads
# sun.stdout.encoding, later versions stdout.encoding).
UTF8_STDOUT_OPTIONS = ("-Dsun.stdout.encoding=UTF-8", "-Dstdout.encoding=UTF-8")
ERROR_ARGS_CHARS_MAX = 400
# DumpLogSegments moved from the Scala core to the tools module during 4.x.
DUMP_LOG_SEGMENTS_CLASSES = (
    "org.apache.kafka.tools.DumpLogSegments",
    "kafka.tools.DumpLogSegments",
)
LOG_TAIL_LINES = 60


class KafkaNotFetchedError(RuntimeError):
    """Kafka's jars are not where fetch.sh puts them."""


class KafkaToolError(RuntimeError):
    """A Kafka command-line tool failed or timed out."""


def kafka_version() -> str:
    """The Kafka version under test: ``FERROKAFKA_KAFKA_VERSION`` or the pom's kafka.version."""
    override = os.environ.get("FERROKAFKA_KAFKA_VERSION")
    if override:
        return override
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    if match is None:
        raise KafkaNotFetchedError(f"no <kafka.version> property in {POM}")
    return match.group(1).strip()


def kafka_home() -> Path:
    """The cache directory fetch.sh writes ``classpath.txt`` into (same rules as fetch.sh)."""
    override = os.environ.get("FERROKAFKA_KAFKA_HOME")
    if override:
        return Path(override)
    cache_root = os.environ.get("FERROKAFKA_CACHE") or str(Path.home() / ".cache" / "ferrokafka")
    return Path(cache_root) / f"kafka-{kafka_version()}"


def kafka_classpath() -> str:
    """The classpath fetch.sh resolved; raises KafkaNotFetchedError telling how to get it."""
    path = kafka_home() / "classpath.txt"
    hint = (
        f"run {FETCH_SCRIPT.relative_to(TESTS_DIR.parent)} to fetch Apache Kafka {kafka_version()}"
    )
    if not path.is_file():
        raise KafkaNotFetchedError(f"{path} does not exist: {hint}")
    classpath = path.read_text().strip()
    missing = [jar for jar in classpath.split(os.pathsep) if not os.path.isfile(jar)]
    if not classpath or missing:
        raise KafkaNotFetchedError(f"{path} lists missing jars ({missing[:3]}...): {hint}")
    return classpath


# Extra Java artifacts some tests need, each a Maven project of its own under tests/kafka/,
# resolved once on first use and cached beside the Kafka jars (its classpath.txt).
EXTRA_FETCH_TIMEOUT_S = 600.0
# kafka-metadata-shell: the newest kafka-shell on Maven Central (4.4.0 was not published).
METADATA_SHELL_POM = KAFKA_DIR / "metadata-shell" / "pom.xml"
METADATA_SHELL_VERSION = "4.3.1"
# Kafka Streams (exactly_once_v2 applications in the transaction tests).
STREAMS_POM = KAFKA_DIR / "streams" / "pom.xml"
# Kafka Connect and MirrorMaker 2 (tests/ecosystem/): connect-file and connect-mirror 4.4.0 were
# not published to Maven Central; 4.3.1 is the newest version there for all of them.
CONNECT_POM = KAFKA_DIR / "connect" / "pom.xml"
CONNECT_VERSION = "4.3.1"


def metadata_shell_classpath() -> str:
    """kafka-shell's classpath (its own Kafka 4.3.1 jars); raises KafkaNotFetchedError when
    Maven cannot resolve it."""
    return extra_classpath(f"kafka-shell-{METADATA_SHELL_VERSION}", METADATA_SHELL_POM)


def streams_classpath() -> str:
    """kafka-streams (the Kafka version under test) and its dependencies."""
    return extra_classpath(f"kafka-streams-{kafka_version()}", STREAMS_POM)


def connect_classpath() -> str:
    """connect-runtime, connect-file, connect-json and connect-mirror (CONNECT_VERSION) with
    their own kafka-clients; tests/kafka/fetch.sh resolves the same cache entry."""
    return extra_classpath(f"kafka-connect-{CONNECT_VERSION}", CONNECT_POM)


def extra_classpath(name: str, pom: Path) -> str:
    """The runtime classpath of the Maven project ``pom``, resolved by Maven once and cached in
    ``<cache>/<name>/classpath.txt``; raises KafkaNotFetchedError when Maven cannot resolve it."""
    home = kafka_home().parent / name
    path = home / "classpath.txt"
    if path.is_file():
        classpath = path.read_text().strip()
        if classpath and all(os.path.isfile(j) for j in classpath.split(os.pathsep)):
            return classpath
    home.mkdir(parents=True, exist_ok=True)
    partial = home / "classpath.part"
    try:
        result = subprocess.run(
            [
                "mvn",
                "-B",
                "-q",
                "-f",
                str(pom),
                f"-Dkafka.version={kafka_version()}",
                f"-Dmdep.outputFile={partial}",
                "-Dmdep.includeScope=runtime",
                "dependency:build-classpath",
            ],
            capture_output=True,
            text=True,
            timeout=EXTRA_FETCH_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KafkaNotFetchedError(f"{name}: {exc}") from None
    if result.returncode != 0 or not partial.is_file():
        raise KafkaNotFetchedError(
            f"Maven could not resolve {name}: {(result.stdout + result.stderr)[-1000:]}"
        )
    os.replace(partial, path)
    return path.read_text().strip()


def java_executable() -> str:
    """``$JAVA_HOME/bin/java`` if set, else ``java`` on the PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and os.access(os.path.join(java_home, "bin", "java"), os.X_OK):
        return os.path.join(java_home, "bin", "java")
    found = shutil.which("java")
    if found is None:
        raise KafkaNotFetchedError("java not found (set JAVA_HOME or put java 17+ on the PATH)")
    return found


@functools.cache
def _class_on_classpath(classpath: str, class_name: str) -> bool:
    entry = class_name.replace(".", "/") + ".class"
    for jar in classpath.split(os.pathsep):
        with zipfile.ZipFile(jar) as archive:
            try:
                archive.getinfo(entry)
            except KeyError:
                continue
            return True
    return False


def dump_log_segments_class(classpath: str) -> str:
    """DumpLogSegments' main class in this Kafka version."""
    for name in DUMP_LOG_SEGMENTS_CLASSES:
        if _class_on_classpath(classpath, name):
            return name
    raise KafkaNotFetchedError(f"none of {DUMP_LOG_SEGMENTS_CLASSES} is on the classpath")


def write_log4j2_config(path: Path, *, log_file: Path | None, level: str) -> None:
    """A log4j2 properties file: to ``log_file`` if given, else to stderr."""
    lines = ["status = warn", "name = ferrokafka-interop"]
    if log_file is None:
        lines += [
            "appender.out.type = Console",
            "appender.out.name = out",
            "appender.out.target = SYSTEM_ERR",
        ]
    else:
        lines += [
            "appender.out.type = File",
            "appender.out.name = out",
            f"appender.out.fileName = {log_file}",
        ]
    lines += [
        "appender.out.layout.type = PatternLayout",
        "appender.out.layout.pattern = [%d] %p %m (%c)%n",
        f"rootLogger.level = {level}",
        "rootLogger.appenderRef.out.ref = out",
    ]
    path.write_text("\n".join(lines) + "\n")


def run_kafka_tool(
    main_class: str,
    args: Sequence[str],
    *,
    work_dir: Path,
    timeout_s: float = TOOL_TIMEOUT_S,
) -> subprocess.CompletedProcess[str]:
    """Run one of Kafka's command-line tools to completion; raises KafkaToolError on failure.

    The tool's own logging goes to stderr at ERROR level, so whatever it prints there is
    either its report or a real problem.
    """
    classpath = kafka_classpath()
    log4j_config = work_dir / "log4j2-tools.properties"
    if not log4j_config.exists():
        write_log4j2_config(log4j_config, log_file=None, level="error")
    command = [
        java_executable(),
        *TOOL_JVM_OPTIONS,
        *UTF8_STDOUT_OPTIONS,
        f"-Dlog4j2.configurationFile={log4j_config}",
        "-cp",
        classpath,
        main_class,
        *args,
    ]
    try:
        result = subprocess.run(
            command,
            cwd=work_dir,
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise KafkaToolError(f"{_describe(main_class, args)} took over {timeout_s}s") from exc
    if result.returncode != 0:
        raise KafkaToolError(
            f"{_describe(main_class, args)} exited {result.returncode}\n"
            f"stdout:\n{_tail(result.stdout)}\nstderr:\n{_tail(result.stderr)}"
        )
    return result


def _describe(main_class: str, args: Sequence[str]) -> str:
    joined = " ".join(args)
    if len(joined) > ERROR_ARGS_CHARS_MAX:
        joined = joined[: ERROR_ARGS_CHARS_MAX - 3] + "..."
    return f"{main_class} {joined}"


def _tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


def file_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        return _tail(path.read_text(errors="replace"), lines)
    except FileNotFoundError:
        return f"({path} does not exist)"


def require_kafka() -> None:
    """Fail the calling test (never skip it: CI fetches the jars, so their absence is a set-up
    bug) when Java or Apache Kafka's jars are missing, with the one line that says why."""
    try:
        java_executable()
        kafka_classpath()
    except KafkaNotFetchedError as exc:
        problem = str(exc)
    else:
        return
    # Outside the except block: the report is this line, not a chained traceback.
    import pytest

    pytest.fail(f"Apache Kafka is needed: {problem}", pytrace=False)
