"""Conformance runs need the real services and running workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from capillaries_provider.services import cassandra, rabbitmq

WORKER_PROCESSES = int(os.environ.get("CAPILLARIES_TEST_WORKERS", "2"))


@pytest.fixture(scope="session")
def workers() -> Iterator[subprocess.Popen[bytes]]:
    """`capillaries worker --processes N` for the whole session, stopped with SIGTERM (graceful) at the end."""
    cassandra.up()
    rabbitmq.up()
    proc = subprocess.Popen(
        [sys.executable, "-m", "capillaries_provider.cli.main", "worker", "--processes", str(WORKER_PROCESSES)],
        start_new_session=True,
    )
    yield proc
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


_OUTCOMES: dict[str, str] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Remember each variant's outcome (a failed setup counts too) for the summary below."""
    if "test_variant_matches_golden_outputs[" not in report.nodeid:
        return
    if report.when == "call" or report.outcome != "passed":
        _OUTCOMES[report.nodeid.split("[", 1)[1].rstrip("]")] = report.outcome


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """List every conformance variant with its outcome, also in quiet runs such as `make test`."""
    if not _OUTCOMES:
        return
    terminalreporter.section(f"conformance variants ({WORKER_PROCESSES} worker processes)")
    for variant, outcome in sorted(_OUTCOMES.items()):
        terminalreporter.write_line(f"{outcome:8} {variant}")
