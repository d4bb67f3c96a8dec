"""Kafka's own ``VerifiableConsumer`` (org.apache.kafka.tools) as a workload: a classic-protocol
group member that commits synchronously after every poll, run with ``--verbose`` so that its
JSON events on stdout name every record it consumed (``record_data``: value, partition,
offset), every commit (``offsets_committed``) and every assignment change
(``partitions_assigned`` / ``partitions_revoked``). Each becomes an :class:`~.history.Op`:
a ``read`` per record (its session is the assignment it was read under), a ``commit`` per
commit. It polls forever; :meth:`JavaConsumer.stop` ends it by SIGTERM (its shutdown hook
closes the consumer), then SIGKILL, by PID.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from .history import COMMIT, READ, History, Op
from .workloads import (
    JAVA_EXIT_TIMEOUT_S,
    JAVA_OPTIONS,
    RECONNECT_BACKOFF_MAX_MS,
    VerifiableTool,
)

JAVA_CONSUMER_CLASS = "org.apache.kafka.tools.VerifiableConsumer"
SESSION_TIMEOUT_MS = 10_000


class JavaConsumer(VerifiableTool):
    """A VerifiableConsumer member of ``group`` reading ``topic``; a new session at every
    assignment change."""

    def __init__(
        self, history: History, bootstrap: str, topic: str, group: str, name: str, work_dir: Path
    ) -> None:
        self.history = history
        self.bootstrap = bootstrap
        self.topic = topic
        self.group = group
        self.name = name
        self.work_dir = Path(work_dir)
        self.session = 0
        self.assignments = 0
        self.assignment: list[int] = []  # its partitions now
        self.commit_failures = 0
        # When the last poll's records were reported: the commit of them is invoked after.
        self._polled_s: float | None = None

    def _command(self) -> list[str]:
        from kafka_support.jars import java_executable, kafka_classpath

        config = self.work_dir / f"{self.name}.properties"
        config.write_text(
            f"reconnect.backoff.max.ms={RECONNECT_BACKOFF_MAX_MS}\nclient.id={self.name}\n"
        )
        return [
            java_executable(),
            *JAVA_OPTIONS,
            "-cp",
            kafka_classpath(),
            JAVA_CONSUMER_CLASS,
            "--bootstrap-server",
            self.bootstrap,
            "--topic",
            self.topic,
            "--group-id",
            self.group,
            "--group-protocol",
            "classic",
            "--session-timeout",
            str(SESSION_TIMEOUT_MS),
            "--reset-policy",
            "earliest",
            "--verbose",
            "--consumer.config",
            str(config),
        ]

    def _event(self, event: dict[str, Any]) -> None:
        name = event.get("name")
        done = self.history.now()
        if name in ("partitions_assigned", "partitions_revoked"):
            self.session += 1
            assigned = name == "partitions_assigned"
            self.assignments += assigned
            parts = sorted(int(p["partition"]) for p in event.get("partitions", []))
            self.assignment = parts if assigned else []
        elif name == "records_consumed":
            self._polled_s = done
        elif name == "record_data":
            self.history.add(
                Op(
                    READ,
                    self.name,
                    done,
                    done,
                    True,
                    str(event.get("value")),
                    int(event["partition"]),
                    int(event["offset"]),
                    session=self.session,
                )
            )
        elif name == "offsets_committed":
            offsets = {int(o["partition"]): int(o["offset"]) for o in event.get("offsets", [])}
            ok = bool(event.get("success"))
            self.commit_failures += not ok
            # commitSync is called right after the poll's records_consumed line is printed.
            self.history.add(
                Op(
                    COMMIT,
                    self.name,
                    self._polled_s,
                    done,
                    ok,
                    error=event.get("error"),
                    session=self.session,
                    group=self.group,
                    offsets=offsets,
                )
            )

    def stop(self, timeout_s: float = JAVA_EXIT_TIMEOUT_S) -> None:
        """SIGTERM (its shutdown hook closes the consumer and leaves the group), then
        SIGKILL, by PID; its stdout is read to the end."""
        self._end((signal.SIGTERM, signal.SIGKILL), timeout_s)

    @property
    def returncode(self) -> int | None:
        return None if self._process is None else self._process.returncode
