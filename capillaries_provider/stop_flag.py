"""A stop request that signal handlers may raise safely.

`threading.Event.set()` takes a lock that is not re-entrant. A Python signal handler runs in the main thread between
two bytecodes, so a second SIGTERM arriving while the first handler is inside `Event.set()` (or while the main thread
is inside `Event.wait()`) calls `set()` again on the same thread and deadlocks: the worker then never stops. This
happens in practice: `kill` of a process group reaches a worker process directly and again through its supervisor.
`StopFlag.request()` only assigns an attribute; waiting polls it.
"""

from __future__ import annotations

import time

POLL_S = 0.1


class StopFlag:
    def __init__(self) -> None:
        self._requested = False

    def request(self) -> None:
        """Ask to stop; safe from signal handlers, any number of times."""
        self._requested = True

    def is_set(self) -> bool:
        return self._requested

    def wait(self, timeout: float) -> bool:
        """Sleep until a stop is requested or `timeout` seconds passed; True if a stop was requested."""
        deadline = time.monotonic() + timeout
        while not self._requested:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(remaining, POLL_S))
        return True
