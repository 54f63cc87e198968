"""Events deep in the I/O layers (store retries, py_calc children) that a worker process counts for its metrics.

A leaf module like `status`: the store and the py_calc pool report here without importing a metrics library or
the worker layer; a worker process with metrics on installs a sink (worker/metrics.py). Without one (CLI,
Airflow, tests) reporting does nothing.
"""

from __future__ import annotations

from typing import Literal, Protocol

PyCalcKillReason = Literal["timeout", "failure"]


class Sink(Protocol):
    def cassandra_retry(self, error: BaseException) -> None: ...

    def pycalc_child_started(self) -> None: ...

    def pycalc_child_killed(self, reason: PyCalcKillReason) -> None: ...


_sink: Sink | None = None


def install(sink: Sink | None) -> None:
    """Send this process's events to `sink` (None: drop them again)."""
    global _sink
    _sink = sink


def cassandra_retry(error: BaseException) -> None:
    """The store is about to send a failed statement again because of `error`."""
    if _sink is not None:
        _sink.cassandra_retry(error)


def pycalc_child_started() -> None:
    """A fresh py_calc interpreter answered its greeting (first use, or replacing a killed one)."""
    if _sink is not None:
        _sink.pycalc_child_started()


def pycalc_child_killed(reason: PyCalcKillReason) -> None:
    """A py_calc child was killed and will not be reused: it missed a deadline, died or broke the protocol."""
    if _sink is not None:
        _sink.pycalc_child_killed(reason)
