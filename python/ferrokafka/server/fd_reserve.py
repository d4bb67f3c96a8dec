"""One file descriptor held in reserve, so that a broker out of descriptors (EMFILE at the
open-file limit, ENFILE system-wide) still refuses new connections cleanly: the reserve is
let go, the waiting connection accepted and closed at once (the client sees the close and
backs off, instead of hanging in the kernel's backlog until its own timeout), and the
reserve taken back. The trick of libev's and nginx's accept loops."""

from __future__ import annotations

import os

RESERVE_PATH = "/dev/null"


class FdReserve:
    def __init__(self) -> None:
        self._fd: int | None = None
        self.take()

    @property
    def held(self) -> bool:
        return self._fd is not None

    def take(self) -> None:
        """Hold the reserve again if it is free (a no-op while descriptors are still out)."""
        if self._fd is None:
            try:
                self._fd = os.open(RESERVE_PATH, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                self._fd = None

    def release(self) -> bool:
        """Let the reserve go; whether there was one to free."""
        fd, self._fd = self._fd, None
        if fd is None:
            return False
        os.close(fd)
        return True

    def close(self) -> None:
        self.release()
