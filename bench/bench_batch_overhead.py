"""Fixed cost per batch as the keyspace's history grows (issue 18): ms per 1-row and per empty batch in a keyspace
with 1, 100 and 1,000 earlier runs. Target: flat within 20 %, at most 20 ms per batch at 1,000 runs.

Run: `.venv/bin/python -m bench.bench_batch_overhead [--quick]` with the local services up. Not a test.

The batches go through the real worker path in this process: the worker's own consumer on a private queue,
`make_handler` over a `BatchProcessor` built as `capillaries worker` builds it (backend, script cache, dependency
decision cache), Cassandra and RabbitMQ for real. The script has a file_table node `read` (one 1-row CSV per
batch) and a table_table node `copy` reading its table in `--copy-batches` token ranges, so nearly all `copy`
batches are empty and each one runs the dependency check against every earlier run. Earlier runs are written
directly into the workflow tables (properties, run start/complete, node history as a real run leaves it, no data
tables), so 1,000 of them take seconds, not 1,000 runs' worth of tables. Each measured run is one more
`start_run` (driver cli: the worker that finishes `read` enqueues `copy`). Per run the median ms per batch of each
node is taken; the table shows the median [min-max] of those over the runs, the mean per `copy` batch (which
includes the uncached dependency reads, once a second), and the dependency lookup alone without the cache.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import pika
from cassandra.concurrent import execute_concurrent_with_args
from prometheus_client import CollectorRegistry

from bench.pipeline import SCRIPT, drop, wait_for_cassandra
from bench.report import Spread, fmt, table
from capillaries_provider.config import AmqpSettings, amqp_settings, cassandra_settings
from capillaries_provider.engine.batch import BatchProcessor
from capillaries_provider.engine.dependency import DecisionCache
from capillaries_provider.engine.ports import BatchTask, Driver
from capillaries_provider.engine.run import start_run
from capillaries_provider.queue.consumer import Consumer, HandlerResult
from capillaries_provider.queue.topology import queue_names
from capillaries_provider.script.loader import load_script
from capillaries_provider.status import NodeBatchStatus, RunStatus
from capillaries_provider.worker.backend import CassandraBackend
from capillaries_provider.worker.metrics import WorkerMetrics
from capillaries_provider.worker.process import make_handler, node_types
from capillaries_provider.worker.scripts import ScriptCache

NODES = ("read", "copy")
RUN_TIMEOUT_S = 300.0


def write_script(folder: Path, read_batches: int, copy_batches: int) -> Path:
    """The two-node script (with the benchmark script's dependency policy) and its 1-row input files."""
    urls = []
    for i in range(read_batches):
        path = folder / f"in_{i:03d}.csv"
        path.write_text(f"c\n{i}\n")
        urls.append(str(path))
    int_field = {"type": "int"}
    doc = {
        "nodes": {
            "read": {
                "type": "file_table",
                "r": {
                    "urls": urls,
                    "csv": {"hdr_line_idx": 0, "first_data_line_idx": 1},
                    "columns": {"col_c": {"csv": {"col_hdr": "c", "col_format": "%d"}, "col_type": "int"}},
                },
                "w": {"name": "t_read", "fields": {"c": {**int_field, "expression": "r.col_c"}}},
            },
            "copy": {
                "type": "table_table",
                "r": {"table": "t_read", "expected_batches_total": copy_batches},
                "w": {"name": "t_copy", "fields": {"c": {**int_field, "expression": "r.c"}}},
            },
        },
        "dependency_policies": json.loads(SCRIPT.read_text())["dependency_policies"],
    }
    path = folder / "script.json"
    path.write_text(json.dumps(doc, indent=2))
    return path


def write_history(backend: CassandraBackend, ks: str, runs: int, batches: dict[str, int]) -> None:
    """`runs` completed earlier runs of both nodes, as their workflow rows (node history: one start row per
    batch, then the final success, like a real run)."""
    backend.ensure_keyspace(ks)
    session = backend.session
    session.execute(f"UPDATE {ks}.wf_run_counter SET last_run = %s WHERE ks = %s IF last_run = 0", (runs, ks))
    ids = range(1, runs + 1)
    props = session.prepare(
        f"INSERT INTO {ks}.wf_run_properties (run_id, start_nodes, affected_nodes, script_url, script_params_url,"
        " run_description) VALUES (?, 'read', 'read,copy', '', '', 'earlier run')"
    )
    run_rows = session.prepare(f"INSERT INTO {ks}.wf_run_history (ts, run_id, status, comment) VALUES (?, ?, ?, '')")
    node_rows = session.prepare(
        f"INSERT INTO {ks}.wf_node_history (ts, run_id, script_node, written_by_batch_idx, status, comment)"
        " VALUES (?, ?, ?, ?, ?, '')"
    )
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=runs + 1)

    def at(run_id: int, ms: int) -> dt.datetime:
        return t0 + dt.timedelta(minutes=run_id, milliseconds=ms)

    execute_concurrent_with_args(session, props, [(r,) for r in ids], concurrency=50, raise_on_first_error=True)
    history = [(at(r, int(s)), r, int(s)) for r in ids for s in (RunStatus.START, RunStatus.COMPLETE)]
    execute_concurrent_with_args(session, run_rows, history, concurrency=50, raise_on_first_error=True)
    node_history = [
        (at(r, 10 + i), r, node, i, int(NodeBatchStatus.START))
        for r in ids
        for node, total in batches.items()
        for i in range(total)
    ] + [
        (at(r, 50_000), r, node, total - 1, int(NodeBatchStatus.SUCCESS))
        for r in ids
        for node, total in batches.items()
    ]
    execute_concurrent_with_args(session, node_rows, node_history, concurrency=50, raise_on_first_error=True)


class TimedWorker:
    """The worker's consumer and handler in a thread of this process, recording ms per batch per node."""

    def __init__(self, backend: CassandraBackend, amqp: AmqpSettings) -> None:
        scripts = ScriptCache()
        processor = BatchProcessor(backend, backend, scripts, decisions=DecisionCache(time.monotonic))
        # As `capillaries worker` without a metrics port: the counts go to a registry nobody serves.
        self.handler = make_handler(processor, WorkerMetrics(CollectorRegistry()), node_types(scripts))
        self.ms: dict[tuple[int, str], list[float]] = {}
        self.consumer = Consumer(amqp, self.handle, poll_interval_s=0.1)
        self.thread = threading.Thread(target=self.consumer.run, daemon=True)

    def handle(self, task: BatchTask) -> HandlerResult:
        started = time.perf_counter()
        result = self.handler(task)
        self.ms.setdefault((task.run_id, task.target_node), []).append((time.perf_counter() - started) * 1000)
        return result

    def __enter__(self) -> TimedWorker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.consumer.stop()
        self.thread.join(60)


def measure(earlier: int, args: argparse.Namespace, script: Path, amqp: AmqpSettings) -> dict[str, Spread | None]:
    ks = f"bench_overhead_{earlier}_{uuid.uuid4().hex[:6]}"
    backend = CassandraBackend(cassandra_settings(), amqp)
    try:
        write_history(backend, ks, earlier, {"read": args.read_batches, "copy": args.copy_batches})
        loaded = load_script(str(script))
        medians: dict[str, list[float]] = {n: [] for n in NODES}
        copy_all: list[float] = []
        with TimedWorker(backend, amqp) as worker:
            for repeat in range(args.warmup + args.repeats):
                run_id = start_run(
                    backend,
                    loaded,
                    ks=ks,
                    script_url=str(script),
                    script_params_url="",
                    start_nodes=["read"],
                    description="bench_batch_overhead",
                    driver=Driver.CLI,
                )
                deadline = time.monotonic() + RUN_TIMEOUT_S
                while backend.run_status(ks, run_id) is not RunStatus.COMPLETE:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"run {run_id} in {ks} did not complete in {RUN_TIMEOUT_S:.0f} s")
                    time.sleep(0.05)
                if repeat < args.warmup:
                    continue
                for node in NODES:
                    medians[node].append(statistics.median(worker.ms[(run_id, node)]))
                copy_all.extend(worker.ms[(run_id, "copy")])
        lookups = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            backend.dependency_entries(ks, earlier + 1, ["read"])
            lookups.append((time.perf_counter() - started) * 1000)
        return {
            "read": Spread.of(medians["read"]),
            "copy": Spread.of(medians["copy"]),
            "copy_mean": Spread.of([statistics.fmean(copy_all)]),
            "lookup": Spread.of(lookups),
        }
    finally:
        backend.close()
        drop(ks)


def delete_queues(amqp: AmqpSettings) -> None:
    names = queue_names(amqp.queue)
    connection = pika.BlockingConnection(pika.URLParameters(amqp.url))
    try:
        channel = connection.channel()
        for queue in (names.work, names.delay, names.parked):
            channel.queue_delete(queue)
    finally:
        if connection.is_open:
            connection.close()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 1 and 10 earlier runs, 1 repeat, few batches")
    p.add_argument("--earlier-runs", default="1,100,1000", help="comma-separated numbers of earlier runs")
    p.add_argument("--repeats", type=int, default=5, help="measured runs per keyspace")
    p.add_argument("--warmup", type=int, default=1, help="unmeasured runs per keyspace (script load, statements)")
    p.add_argument("--read-batches", type=int, default=5, help="1-row files, one batch each")
    p.add_argument("--copy-batches", type=int, default=40, help="token-range batches of the copy node")
    args = p.parse_args(argv)
    if args.quick:
        args.earlier_runs, args.repeats, args.read_batches, args.copy_batches = "1,10", 1, 2, 5
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not wait_for_cassandra(60.0):
        raise SystemExit("Cassandra does not answer; start the services first (capillaries services up)")
    amqp = dataclasses.replace(amqp_settings(), queue=f"bench_overhead_{uuid.uuid4().hex[:8]}")
    results: dict[int, dict[str, Spread | None]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench_overhead_") as tmp:
            script = write_script(Path(tmp), args.read_batches, args.copy_batches)
            for earlier in (int(n) for n in args.earlier_runs.split(",")):
                results[earlier] = measure(earlier, args, script, amqp)
                print(f"{earlier} earlier runs: done", flush=True)
    finally:
        delete_queues(amqp)
    base = results[min(results)]["copy"]
    rows = [
        [
            f"{earlier:,}",
            fmt(r["read"], 1),
            fmt(r["copy"], 1),
            f"{r['copy'].median / base.median:.2f}" if r["copy"] and base else "-",
            fmt(r["copy_mean"], 1),
            fmt(r["lookup"], 1),
        ]
        for earlier, r in results.items()
    ]
    headers = [
        "earlier runs",
        "1-row file_table batch, ms",
        "empty table_table batch, ms",
        "vs fewest runs",
        "mean per table_table batch, ms",
        "dependency lookup (uncached), ms",
    ]
    print(f"\n{args.repeats} measured runs per keyspace; {args.read_batches} + {args.copy_batches} batches per run\n")
    print(table(headers, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
