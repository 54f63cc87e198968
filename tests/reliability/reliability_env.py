"""Shared plumbing of the reliability suites: a private queue, worker subprocesses, the real CLI, run reports.

Every suite gets its own queue name so that killing or starving its workers never touches another test's runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pika
from cassandra.cluster import Session

from capillaries_provider.config import amqp_settings
from capillaries_provider.queue.topology import delete_topology
from capillaries_provider.status import NodeBatchStatus, RunStatus
from capillaries_provider.store.workflow import WorkflowStore

RETRY_DELAY_MS = 500
CLI = [sys.executable, "-m", "capillaries_provider.cli.main"]


@dataclass
class Env:
    """Environment of the CLI and worker subprocesses (own queue, short redelivery delay, extra variables)."""

    queue: str = field(default_factory=lambda: f"test_rel_{uuid.uuid4().hex[:10]}")
    extra: dict[str, str] = field(default_factory=dict)

    def vars(self) -> dict[str, str]:
        return {
            **os.environ,
            "CAPILLARIES_AMQP_QUEUE": self.queue,
            "CAPILLARIES_AMQP_RETRY_DELAY_MS": str(RETRY_DELAY_MS),
            **self.extra,
        }

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*CLI, *args], capture_output=True, text=True, timeout=timeout, env=self.vars(), check=False
        )

    def cli_async(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.vars()
        )

    def start_worker(self, processes: int, log_path: Path | None = None) -> subprocess.Popen[bytes]:
        out = log_path.open("ab") if log_path else subprocess.DEVNULL
        try:
            return subprocess.Popen(
                [*CLI, "worker", "--processes", str(processes)],
                env=self.vars(),
                start_new_session=True,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        finally:
            if log_path and not isinstance(out, int):
                out.close()

    def delete_queues(self) -> None:
        connection = pika.BlockingConnection(pika.URLParameters(amqp_settings().url))
        try:
            delete_topology(connection.channel(), self.queue)
        finally:
            connection.close()


def stop_worker(proc: subprocess.Popen[bytes], timeout: float = 60, must_stop: bool = True) -> int:
    """SIGTERM the worker's process group (graceful), SIGKILL if it does not stop in time (an error if
    `must_stop`)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        code = proc.wait()
        if must_stop:
            raise
        return code


def child_pids(pid: int) -> list[int]:
    """Direct children of a process (the worker processes of a supervisor), from /proc."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except FileNotFoundError:
        return []


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, poll: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(poll)


def run_statuses(session: Session, ks: str, run_id: int) -> set[RunStatus]:
    try:
        return {e.status for e in WorkflowStore(session, ks).read_run_history(run_id)}
    except Exception:  # keyspace or tables not there yet
        return set()


def last_batch_statuses(session: Session, ks: str, run_id: int, node: str) -> dict[int, NodeBatchStatus]:
    """Latest status of every batch of a node (by ts)."""
    latest: dict[int, tuple[object, NodeBatchStatus]] = {}
    for e in WorkflowStore(session, ks).read_batch_history(run_id, node):
        seen = latest.get(e.batch.batch_idx)
        if seen is None or e.ts >= seen[0]:  # type: ignore[operator]
            latest[e.batch.batch_idx] = (e.ts, e.status)
    return {i: s for i, (_, s) in latest.items()}


def table_rows(session: Session, ks: str, table: str, columns: str) -> list[tuple[object, ...]]:
    """All rows of a table as sorted tuples (order-insensitive comparison)."""
    return sorted(tuple(r.values()) for r in session.execute(f"SELECT {columns} FROM {ks}.{table}"))


def stage(case_dir: Path, dst: Path, replacements: Mapping[str, str]) -> Path:
    """Copy a corpus case folder, replacing placeholders in its text files; returns the staged folder."""
    for src in case_dir.rglob("*"):
        target = dst / src.relative_to(case_dir)
        if src.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        data = src.read_bytes()
        if src.suffix in {".json", ".yaml", ".csv"}:
            for key, value in replacements.items():
                data = data.replace(key.encode(), value.encode())
        target.write_bytes(data)
    return dst


def drop_keyspace_patiently(session: Session, ks: str, attempts: int = 4) -> None:
    """DROP KEYSPACE of a keyspace with many run tables can exceed the request timeout on a busy node; it is
    idempotent (IF EXISTS), so try again."""
    from capillaries_provider.store.session import drop_keyspace

    for attempt in range(attempts):
        try:
            drop_keyspace(session, ks)
            return
        except Exception:
            if attempt == attempts - 1:
                raise
            time.sleep(5)


class SlowProxy:
    """A TCP proxy that holds every new connection for `delay` seconds before forwarding it.

    It makes "the worker is connecting" a long, observable state: `accepted` is set on the first connection.
    """

    def __init__(self, target: tuple[str, int], delay: float) -> None:
        self.target, self.delay = target, delay
        self.accepted = threading.Event()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            self.accepted.set()
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        time.sleep(self.delay)
        upstream = socket.create_connection(self.target)
        for a, b in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self._server.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
