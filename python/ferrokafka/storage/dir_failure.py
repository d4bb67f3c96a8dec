"""Which storage I/O errors fail a log directory (Kafka's LogDirFailureChannel).

Kafka takes a log dir offline on any IOException from its files: its partitions answer
KAFKA_STORAGE_ERROR until the broker restarts, the broker tells the controller (the
heartbeat's ``offline_log_dirs``) and, once every dir failed, halts. Here an error fails the
dir when it can have left the log in a state the broker no longer knows: EIO, EROFS and the
like, or any error once the records were written (an fsync failing after the write under
``flush.messages``: retrying the append would write the batch twice). Running out of a
resource (ENOSPC, EDQUOT, EMFILE, ENFILE) before anything was written is not a failure of
the dir: the native log cut the segment back, and the same request succeeds once space or
file descriptors return (a deliberate difference from Kafka, which fails the dir on ENOSPC
too; see the README's fault-injection section).
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

# Exhausted resources: the append left nothing behind and will work again later.
RECOVERABLE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EMFILE, errno.ENFILE})


# Errors that say the disk under a dir is gone (a read of it fails), not that a path or a
# permission is wrong: a dir that answers one at start is failed (Kafka's errorLogDirs).
DISK_FAILURE_ERRNOS = frozenset({errno.EIO, errno.ENXIO, errno.ENODEV, errno.EUCLEAN})
META_PROPERTIES = "meta.properties"


# How Rust's io::Error shows its errno: the native log's OSError carries no ``errno``
# attribute (PyO3 passes the message only), so it is read from the message.
_OS_ERROR = re.compile(r"\(os error (\d+)\)")


def io_errno(exc: OSError) -> int | None:
    """The errno of ``exc``, from the attribute or, for the native log's, its message."""
    if exc.errno is not None:
        return exc.errno
    found = _OS_ERROR.search(str(exc))
    return int(found.group(1)) if found else None


def fails_log_dir(exc: BaseException, *, written: bool = False) -> bool:
    """Whether ``exc``, raised by a log's append, read or flush, takes its dir offline.
    ``written``: the log end moved although the call failed (the data is in the file)."""
    if not isinstance(exc, OSError) or isinstance(exc, BlockingIOError):
        return False  # BlockingIOError: a nowait read or inline append asked to wait
    return written or io_errno(exc) not in RECOVERABLE_ERRNOS


class LogDirOfflineError(OSError):
    """An operation on a log whose directory failed: the broker serves it again only after
    a restart."""

    def __init__(self, log_dir: str) -> None:
        super().__init__(errno.EIO, f"log directory {log_dir} is offline")


def probe_log_dir(path: Path) -> str | None:
    """Why ``path`` cannot be used at start: a disk error listing it or reading its
    meta.properties (Kafka loads such a dir as failed and starts without it), else None. A
    missing dir, or a permission problem, is not a disk failure (refused with its own
    message)."""
    try:
        if path.exists():
            os.listdir(path)
            meta = path / META_PROPERTIES
            if meta.exists():
                meta.read_bytes()
    except OSError as exc:
        if io_errno(exc) in DISK_FAILURE_ERRNOS:
            return str(exc)
    return None
