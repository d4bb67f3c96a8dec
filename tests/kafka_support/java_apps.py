"""Small Java programs of the tests (tests/kafka/apps/*.java) — a Kafka Streams application, a
transactional producer — compiled with the machine's javac against a Kafka classpath, once,
into a cache directory keyed by the sources' and classpath's hash."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from kafka_support.jars import KAFKA_DIR, KafkaNotFetchedError, java_executable, kafka_home

APPS_DIR = KAFKA_DIR / "apps"
COMPILE_TIMEOUT_S = 300.0
# Enough for a Streams application and a producer on a two-core box.
APP_JVM_OPTIONS = ("-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")


def compiled_apps(classpath: str) -> Path:
    """The directory holding every app's classes compiled against ``classpath``."""
    sources = sorted(APPS_DIR.glob("*.java"))
    digest = hashlib.sha256(classpath.encode())
    for source in sources:
        digest.update(source.name.encode() + source.read_bytes())
    out = kafka_home().parent / "apps" / digest.hexdigest()[:16]
    if (out / "done").is_file():
        return out
    javac = shutil.which("javac") or str(Path(java_executable()).with_name("javac"))
    partial = out.with_suffix(".part")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    result = subprocess.run(
        [javac, "-nowarn", "-d", str(partial), "-cp", classpath, *map(str, sources)],
        capture_output=True,
        text=True,
        timeout=COMPILE_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    if result.returncode != 0:
        raise KafkaNotFetchedError(f"javac failed: {(result.stdout + result.stderr)[-2000:]}")
    (partial / "done").write_text("ok\n")
    shutil.rmtree(out, ignore_errors=True)
    os.replace(partial, out)
    return out


def app_command(main_class: str, classpath: str, *args: str) -> list[str]:
    """The command line running ``main_class`` of tests/kafka/apps with ``classpath``."""
    classes = compiled_apps(classpath)
    return [
        java_executable(),
        *APP_JVM_OPTIONS,
        "-cp",
        f"{classes}{os.pathsep}{classpath}",
        main_class,
        *args,
    ]
