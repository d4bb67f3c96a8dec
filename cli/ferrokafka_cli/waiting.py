"""Long waits say what they wait for: one line on stderr once a wait has lasted
NOTICE_AFTER_S, so a user watching a silent terminal knows why (stdout stays the data)."""

from __future__ import annotations

import sys
import time

# A wait shorter than this passes silently (a new topic's leader is usually known by then).
NOTICE_AFTER_S = 1.0


class WaitNotice:
    """Call ``tick()`` on each round of a wait loop; the first round past NOTICE_AFTER_S
    prints "Waiting for <what> (up to Ns)..." to stderr, once."""

    def __init__(self, what: str, budget_s: float) -> None:
        self.what = what
        self.budget_s = budget_s
        self.started = time.monotonic()
        self.printed = False

    def tick(self) -> None:
        if self.printed or time.monotonic() - self.started < NOTICE_AFTER_S:
            return
        self.printed = True
        print(f"Waiting for {self.what} (up to {self.budget_s:g}s)...", file=sys.stderr)
