"""StopFlag: a stop request raised from signal handlers, also when signals arrive back to back."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from capillaries_provider.stop_flag import StopFlag


@pytest.fixture
def flag_on_sigusr1() -> Iterator[StopFlag]:
    flag = StopFlag()
    handled: list[int] = []

    def handler(signum: int, frame: object) -> None:
        handled.append(signum)
        flag.request()
        if len(handled) == 1:  # a second signal lands while the first handler is still running
            os.kill(os.getpid(), signal.SIGUSR1)

    previous = signal.signal(signal.SIGUSR1, handler)
    yield flag
    signal.signal(signal.SIGUSR1, previous)


def test_wait_times_out_without_a_request() -> None:
    flag = StopFlag()
    started = time.monotonic()
    assert flag.wait(0.3) is False
    assert 0.3 <= time.monotonic() - started < 1.0
    assert not flag.is_set()


def test_a_request_from_another_thread_ends_the_wait_early() -> None:
    flag = StopFlag()
    threading.Timer(0.2, flag.request).start()
    started = time.monotonic()
    assert flag.wait(10) is True
    assert time.monotonic() - started < 1.0


def test_back_to_back_signals_during_a_wait_stop_it(flag_on_sigusr1: StopFlag) -> None:
    """Two signals in a row (a process group kill plus the supervisor's forwarded SIGTERM), the second handled inside
    the first, end the wait promptly. The deadlock this flag replaces (a handler's `Event.set()` interrupting another
    `Event.set()`) depends on timing; `test_faults.py::test_sigterm_while_a_worker_retries_cassandra_stops_it` is its
    regression test against the real worker."""
    threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGUSR1)).start()
    started = time.monotonic()
    assert flag_on_sigusr1.wait(10) is True
    assert time.monotonic() - started < 1.0
