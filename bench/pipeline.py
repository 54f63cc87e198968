"""Running the benchmark script through the real CLI and workers, and reading back what each node did.

Workers are started as `capillaries worker --processes N` on a queue of their own (so other users of the
broker neither take nor give batches), watched by a `TreeWatch` for CPU and peak RSS. A stage is one
`capillaries run start --wait` whose start nodes are the stage's nodes (every later node is `manual` in staged
mode, so a run holds exactly its start nodes). Per node, rows and timing come from Capillaries' own batch
history: rows from the batch success comments, the node's span from its first batch `start` to its last
batch `success` row.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import pika
import pika.exceptions
from cassandra import OperationTimedOut

from bench.procwatch import TreeWatch, cpu_seconds_all
from capillaries_provider.config import amqp_settings, cassandra_settings
from capillaries_provider.status import NodeBatchStatus
from capillaries_provider.store.session import close, connect, drop_keyspace
from capillaries_provider.store.workflow import WorkflowStore

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "bench" / "portfolio" / "script.json"
PY_DIR = REPO / "bench" / "portfolio"
CLI = (sys.executable, "-m", "capillaries_provider.cli.main")
ROWS_RE = re.compile(r"row_reads: (\d+).*row_writes: (\d+)")
WORKER_READY_TIMEOUT_S = 120.0


class BenchError(RuntimeError):
    """A benchmark step failed; the text says which and includes the CLI's output."""


def bench_env(queue: str) -> dict[str, str]:
    env = dict(os.environ)
    env["CAPILLARIES_AMQP_QUEUE"] = queue
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def queue_consumers(queue: str) -> int:
    """Consumers currently attached to `queue` (0 if the queue does not exist yet)."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_settings().url))
    try:
        channel = connection.channel()
        try:
            return int(channel.queue_declare(queue, passive=True).method.consumer_count)
        except pika.exceptions.ChannelClosedByBroker:
            return 0
    finally:
        if connection.is_open:
            connection.close()


class Workers:
    """`capillaries worker --processes N` for the duration of a `with` block, with a TreeWatch on it."""

    def __init__(self, processes: int, queue: str, log_path: Path) -> None:
        self.processes = processes
        self.queue = queue
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.watch: TreeWatch | None = None

    def __enter__(self) -> Workers:
        others = queue_consumers(self.queue)
        if others:
            raise BenchError(
                f"queue {self.queue} already has {others} consumer(s), e.g. workers left over from an interrupted"
                " benchmark; they would take batches without being measured. Stop them or pick another --queue."
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [*CLI, "worker", "--processes", str(self.processes)],
            env=bench_env(self.queue),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.watch = TreeWatch(self.proc.pid).start()
        deadline = time.monotonic() + WORKER_READY_TIMEOUT_S
        while self.log_path.read_text(errors="replace").count("worker consuming queue") < self.processes:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self._stop()
                raise BenchError(f"workers did not start; see {self.log_path}")
            time.sleep(0.2)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop()

    def _stop(self) -> None:
        if self.proc is None:
            return
        if self.watch is not None:
            self.watch.sample()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.watch is not None:
            self.watch.stop()

    def cpu_s(self) -> float:
        assert self.watch is not None
        return self.watch.cpu_s()

    def peak_rss(self) -> dict[str, list[float]]:
        assert self.watch is not None
        return self.watch.peak_rss_by_role()


@dataclass(frozen=True)
class NodeResult:
    node: str
    batches: int
    rows_read: int
    rows_written: int
    span_s: float

    @property
    def rows(self) -> int:
        return max(self.rows_read, self.rows_written)


@dataclass(frozen=True)
class StageResult:
    name: str
    run_id: int
    wall_s: float
    worker_cpu_s: float
    cassandra_cpu_s: float
    nodes: tuple[NodeResult, ...]

    @property
    def rows(self) -> int:
        return sum(n.rows for n in self.nodes)

    @property
    def span_s(self) -> float:
        return max((n.span_s for n in self.nodes), default=0.0)


def write_params(
    path: Path, data_root: Path, txn_files: Sequence[Path], out_dir: Path, *, staged: bool, batches: int
) -> Path:
    params = {
        "dir_in": str(data_root),
        "dir_out": str(out_dir),
        "dir_py": str(PY_DIR),
        "txn_urls": [str(p) for p in txn_files],
        "stage_policy": "manual" if staged else "auto",
        "batches": batches,
        "account_batches": 2,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(params, indent=2))
    out_dir.mkdir(parents=True, exist_ok=True)
    return path


def start_run(
    ks: str, params: Path, start_nodes: Sequence[str], queue: str, timeout_s: float
) -> tuple[int, float, str]:
    """`capillaries run start --wait`; returns (run id, wall seconds, CLI output). Raises if the run failed."""
    cmd = [
        *CLI,
        "run",
        "start",
        "--keyspace",
        ks,
        "--script",
        str(SCRIPT),
        "--params",
        str(params),
        "--start-nodes",
        ",".join(start_nodes),
        "--wait",
        "--timeout",
        str(timeout_s),
    ]
    started = time.monotonic()
    done = subprocess.run(cmd, env=bench_env(queue), capture_output=True, text=True, timeout=timeout_s + 120)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise BenchError(
            f"run of {','.join(start_nodes)} in {ks} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )
    return int(done.stdout.split()[0]), wall, done.stdout


def node_results(ks: str, run_id: int, nodes: Sequence[str]) -> tuple[NodeResult, ...]:
    """Rows and span of each node from `wf_batch_history` (rows summed over the batches' success comments)."""
    session = connect(cassandra_settings())
    try:
        wf = WorkflowStore(session, ks)
        out = []
        for node in nodes:
            events = wf.read_batch_history(run_id, node)
            starts = [e.ts for e in events if e.status is NodeBatchStatus.START]
            successes = [e for e in events if e.status is NodeBatchStatus.SUCCESS]
            read = written = 0
            for e in successes:
                m = ROWS_RE.search(e.comment)
                if m:
                    read += int(m.group(1))
                    written += int(m.group(2))
            span = (max(e.ts for e in successes) - min(starts)).total_seconds() if starts and successes else 0.0
            out.append(NodeResult(node, len(successes), read, written, span))
        return tuple(out)
    finally:
        close(session)


def run_stage(
    name: str,
    ks: str,
    params: Path,
    start_nodes: Sequence[str],
    workers: Workers,
    *,
    timeout_s: float,
    cassandra: Sequence[int],
) -> StageResult:
    """One measured run: wall time of the CLI, CPU of the worker tree and of every Cassandra node, per-node
    history."""
    cpu0 = workers.cpu_s()
    cas0 = cpu_seconds_all(cassandra)
    run_id, wall, _ = start_run(ks, params, start_nodes, workers.queue, timeout_s)
    cpu = workers.cpu_s() - cpu0
    cas = cpu_seconds_all(cassandra) - cas0
    return StageResult(name, run_id, wall, cpu, cas, node_results(ks, run_id, start_nodes))


def wait_for_cassandra(timeout_s: float = 600.0) -> bool:
    """Wait until Cassandra answers CQL (other users of a shared machine may restart it); False on timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            close(connect(cassandra_settings(), connect_timeout_s=5.0))
            return True
        except Exception:
            time.sleep(5.0)
    return False


def schema_retry(what: str, action: Callable[[], None], attempts: int = 4) -> None:
    """Run a schema statement again after a client timeout: on a saturated node DDL can take longer than 30 s."""
    for attempt in range(attempts):
        try:
            action()
            return
        except OperationTimedOut:
            if attempt == attempts - 1:
                raise
            time.sleep(5.0)
    raise BenchError(f"{what} did not finish")


def drop(ks: str) -> None:
    """Drop a benchmark keyspace (retried: a drop that times out on a busy node usually completes later)."""
    session = connect(cassandra_settings(), request_timeout_s=120.0)
    try:
        schema_retry(f"drop keyspace {ks}", lambda: drop_keyspace(session, ks))
    finally:
        close(session)


def count_rows(ks: str, tables: Sequence[str]) -> dict[str, int]:
    """Exact row counts of small tables such as `txns_00001` (smoke test; a full scan, so small tables only)."""
    session = connect(cassandra_settings())
    try:
        return {t: int(session.execute(f"SELECT count(*) AS n FROM {ks}.{t}").one()["n"]) for t in tables}
    finally:
        close(session)
