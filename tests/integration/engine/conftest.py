"""Engine integration fixtures: a private queue, worker subprocesses, the real CLI, throw-away keyspaces."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pika
import pytest
from cassandra.cluster import Session

from capillaries_provider.config import amqp_settings, cassandra_settings
from capillaries_provider.queue.topology import delete_topology
from capillaries_provider.status import RunStatus
from capillaries_provider.store.session import close, connect, drop_keyspace
from capillaries_provider.store.workflow import WorkflowStore

RETRY_DELAY_MS = 500


@dataclass
class Env:
    """Environment for the CLI and worker subprocesses: our own queue, so no other worker takes our messages."""

    queue: str

    def vars(self) -> dict[str, str]:
        return {
            **os.environ,
            "CAPILLARIES_AMQP_QUEUE": self.queue,
            "CAPILLARIES_AMQP_RETRY_DELAY_MS": str(RETRY_DELAY_MS),
        }

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "capillaries_provider.cli.main", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=self.vars(), check=False)

    def start_worker(self, processes: int = 2) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "capillaries_provider.cli.main", "worker", "--processes", str(processes)]
        return subprocess.Popen(cmd, env=self.vars(), start_new_session=True, stderr=subprocess.DEVNULL)


def stop_worker(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 60) -> int:
    """Signal the worker's whole process group (supervisor and children) and wait for the supervisor."""
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise


def _delete_queues(queue: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_settings().url))
    try:
        delete_topology(connection.channel(), queue)
    finally:
        connection.close()


def _new_env() -> Env:
    return Env(queue=f"test_engine_{uuid.uuid4().hex[:10]}")


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    e = _new_env()
    yield e
    _delete_queues(e.queue)


@pytest.fixture(scope="module")
def worker(env: Env) -> Iterator[subprocess.Popen[bytes]]:
    """Two worker processes for the module, stopped gracefully (SIGTERM) at the end."""
    proc = env.start_worker(2)
    yield proc
    assert stop_worker(proc) == 0


@pytest.fixture
def private_env() -> Iterator[Env]:
    """A queue of its own for tests that start, kill or withhold workers."""
    e = _new_env()
    yield e
    _delete_queues(e.queue)


@pytest.fixture(scope="module")
def session() -> Iterator[Session]:
    s = connect(cassandra_settings())
    yield s
    close(s)


@pytest.fixture
def keyspace(session: Session) -> Iterator[str]:
    ks = f"test_engine_{uuid.uuid4().hex[:12]}"
    yield ks
    drop_keyspace(session, ks)


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def run_finished(session: Session, ks: str, run_id: int) -> Callable[[], bool]:
    def done() -> bool:
        try:
            statuses = {e.status for e in WorkflowStore(session, ks).read_run_history(run_id)}
        except Exception:  # keyspace/tables not there yet
            return False
        return bool(statuses & {RunStatus.COMPLETE, RunStatus.STOP})

    return done


def count_rows(session: Session, ks: str, table: str) -> int:
    return int(session.execute(f"SELECT count(*) AS n FROM {ks}.{table}").one()["n"])
