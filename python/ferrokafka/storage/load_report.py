"""What LogManager found when it opened its log directories: per log, whether it was trusted
(clean shutdown) or recovered, and how many bytes recovery cut."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from ferrokafka.storage.checkpoints import TopicPartition

logger = logging.getLogger("ferrokafka.storage")


@dataclass(frozen=True)
class LogLoadInfo:
    """How one log came up."""

    tp: TopicPartition
    log_dir: str
    clean_shutdown: bool
    checkpointed_recovery_point: int | None
    """The recovery-point checkpoint's entry, None if it had none."""
    recovery_point: int
    log_end_offset: int
    truncated_bytes: int
    """Bytes recovery cut off (a torn or corrupt tail, or stale segments)."""


@dataclass(frozen=True)
class LoadReport:
    """What :class:`LogManager` found at start."""

    logs: tuple[LogLoadInfo, ...]
    clean_dirs: tuple[str, ...]
    """Log dirs that held the clean-shutdown marker (their logs were trusted)."""
    unclean_dirs: tuple[str, ...]
    """Log dirs without the marker: a crash, or a first start; their logs were recovered."""
    broker_epochs: Mapping[str, int] = field(default_factory=dict)
    """The broker epoch each clean marker recorded, by log dir."""

    @property
    def previous_broker_epoch(self) -> int:
        """What a BrokerRegistration says the last incarnation's epoch was (Kafka's
        ``LogManager.readBrokerEpochFromCleanShutdownFiles``): the epoch every log dir's clean
        marker recorded, or -1 when a dir had none (a crash) or they disagree."""
        if self.unclean_dirs:
            return -1
        epochs = {self.broker_epochs.get(d, -1) for d in self.clean_dirs}
        return epochs.pop() if len(epochs) == 1 else -1

    skipped_dirs: tuple[str, ...] = ()
    """-future and -stray directories, left untouched (no replica movement here)."""
    pending_deletions: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def truncated(self) -> list[LogLoadInfo]:
        return [info for info in self.logs if info.truncated_bytes > 0]


def log_report(report: LoadReport) -> None:
    for info in report.truncated:
        logger.warning(
            "%s: recovery cut %d bytes; log end offset now %d",
            info.tp,
            info.truncated_bytes,
            info.log_end_offset,
        )
    # A dir without the clean marker that holds no log is new (just created or formatted):
    # there was nothing to recover, so it is not called recovered.
    holding = {info.log_dir for info in report.logs}
    recovered = [d for d in report.unclean_dirs if d in holding]
    new = [d for d in report.unclean_dirs if d not in holding]
    logger.info(
        "loaded %d logs (clean dirs: %s; recovered dirs: %s; new dirs, formatted: %s)",
        len(report.logs),
        list(report.clean_dirs),
        recovered,
        new,
    )
