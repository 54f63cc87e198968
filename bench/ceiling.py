"""The raw Cassandra ceiling: the fastest a minimal cassandra-driver client writes the load stage's table shapes.

Same data table (rowid, batch_idx + the 8 transaction fields with the same CQL types) and the same non-unique
index table (key, rowid) as the script's `load_txns` node, created the way a run creates them. Each row is one
data INSERT plus one index INSERT, both prepared, sent with the driver's `execute_concurrent` at a large in-flight
window, either one request per insert or in UNLOGGED batches of 10 inserts (the engine's grouping on one node;
the faster of the two is the ceiling). The index key is the text the engine stores (spec 1.7: the account id
padded to 64 characters), so both write the same bytes. Rows are built in memory beforehand, so only the driver
and Cassandra are measured. `processes` writers run in parallel (one session each), like worker processes would.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import multiprocessing
import queue
import random
import time
from dataclasses import dataclass
from typing import Any

from cassandra.concurrent import execute_concurrent
from cassandra.query import BatchStatement, BatchType

from bench.pipeline import schema_retry
from bench.procwatch import cassandra_pids, cpu_seconds_all
from capillaries_provider.config import cassandra_settings
from capillaries_provider.expr.keys import KeyComponent, build_key
from capillaries_provider.expr.types import FieldType
from capillaries_provider.store.session import close, connect, ensure_keyspace

DEFAULT_CONCURRENCY = 512
CHUNK = 20_000
READY_TIMEOUT_S = 300.0
DATA_DDL = (
    "CREATE TABLE IF NOT EXISTS {ks}.raw_txns (rowid BIGINT, batch_idx BIGINT, txn_id BIGINT, ts TIMESTAMP,"
    " account_id TEXT, ticker TEXT, side TEXT, qty BIGINT, price DECIMAL, fee DOUBLE, PRIMARY KEY((rowid)))"
)
INDEX_DDL = (
    "CREATE TABLE IF NOT EXISTS {ks}.raw_idx_txns_account_id (key TEXT, rowid BIGINT, PRIMARY KEY((key), rowid))"
)
DATA_INSERT = (
    "INSERT INTO {ks}.raw_txns (rowid, batch_idx, txn_id, ts, account_id, ticker, side, qty, price, fee)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
INDEX_INSERT = "INSERT INTO {ks}.raw_idx_txns_account_id (key, rowid) VALUES (?, ?)"
# load_txns's index `non_unique(account_id)`: one string component of the default length.
INDEX_KEY = (KeyComponent("account_id", FieldType.STRING),)


@dataclass(frozen=True)
class CeilingResult:
    processes: int
    rows: int
    per_batch: int
    concurrency: int
    wall_s: float
    client_cpu_s: float
    cassandra_cpu_s: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall_s


def create_tables(ks: str) -> None:
    settings = cassandra_settings()
    session = connect(settings, request_timeout_s=120.0)
    try:
        schema_retry("create keyspace", lambda: ensure_keyspace(session, ks, settings.replication))
        for ddl in (DATA_DDL.format(ks=ks), INDEX_DDL.format(ks=ks)):
            schema_retry("create table", functools.partial(session.execute, ddl))
    finally:
        close(session)


Params = tuple[object, ...]


def _rows(part: int, count: int, accounts: int) -> list[tuple[Params, Params]]:
    """(data insert params, index insert params) of each row."""
    rng = random.Random(part)
    start = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
    out: list[tuple[Params, Params]] = []
    for n in range(count):
        rowid = (part << 32) | n
        account = f"ACC{rng.randrange(accounts):06d}"
        data = (
            rowid,
            part,
            rowid,
            start + dt.timedelta(minutes=rng.randrange(525_600)),
            account,
            f"TK{rng.randrange(55):03d}",
            "BS"[rng.randrange(2)],
            rng.randrange(1, 1000),
            decimal.Decimal(rng.randrange(100, 100_000)).scaleb(-2),
            rng.random() * 10,
        )
        out.append((data, (build_key([account], INDEX_KEY), rowid)))
    return out


def _statements(data: Any, index: Any, chunk: list[tuple[Params, Params]], per_batch: int) -> list[tuple[Any, Any]]:
    """(statement, params) pairs for a chunk of rows: single inserts, or UNLOGGED batches of `per_batch` inserts."""
    singles = [(data, d) for d, _ in chunk] + [(index, i) for _, i in chunk]
    if per_batch == 1:
        return singles
    out = []
    for i in range(0, len(singles), per_batch):
        batch = BatchStatement(batch_type=BatchType.UNLOGGED)
        for stmt, params in singles[i : i + per_batch]:
            batch.add(stmt, params)
        out.append((batch, None))
    return out


def _write_part(
    ks: str, part: int, count: int, accounts: int, per_batch: int, concurrency: int, ready: Any, go: Any, report: Any
) -> None:
    """One writer process: connect, prepare, build its rows; signal ready; write when told to; report timings."""
    session = connect(cassandra_settings())
    try:
        data = session.prepare(DATA_INSERT.format(ks=ks))
        index = session.prepare(INDEX_INSERT.format(ks=ks))
        rows = _rows(part, count, accounts)
        ready.release()
        go.wait()
        cpu0, t0 = time.process_time(), time.time()
        for i in range(0, count, CHUNK):
            chunk = rows[i : i + CHUNK]
            # Data and index statements of a chunk share one in-flight window, as a row writer's would.
            statements = _statements(data, index, chunk, per_batch)
            execute_concurrent(session, statements, concurrency=concurrency, raise_on_first_error=True)
        report.put((t0, time.time(), time.process_time() - cpu0))
    finally:
        close(session)


def measure(
    ks: str, rows: int, processes: int, accounts: int = 1000, per_batch: int = 1, concurrency: int = DEFAULT_CONCURRENCY
) -> CeilingResult:
    """Write `rows` rows split over `processes` writer processes into fresh tables.

    `per_batch` > 1 sends UNLOGGED batches of that many inserts (what the engine's RowWriter does on one node),
    1 sends every insert as its own request. `concurrency` is the number of requests in flight per process.

    Connecting and building rows happen before a common start signal; wall time runs from the signal to the last
    writer's end, and `client_cpu_s` is the writers' CPU time while writing.
    """
    create_tables(ks)
    ctx = multiprocessing.get_context("spawn")
    ready, go, report = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    base, extra = divmod(rows, processes)
    procs = [
        ctx.Process(
            target=_write_part,
            args=(ks, p, base + (1 if p < extra else 0), accounts, per_batch, concurrency, ready, go, report),
        )
        for p in range(processes)
    ]
    for p in procs:
        p.start()
    for _ in procs:
        if not ready.acquire(timeout=READY_TIMEOUT_S):
            for p in procs:
                p.kill()
            raise RuntimeError("raw writer processes did not get ready")
    cas = cassandra_pids()
    cas0 = cpu_seconds_all(cas)
    started = time.time()
    go.set()
    reports: list[tuple[float, float, float]] = []
    deadline = started + READY_TIMEOUT_S + rows / 50
    while len(reports) < len(procs):
        try:
            reports.append(report.get(timeout=1.0))
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in procs) or time.time() > deadline:
                for p in procs:
                    p.kill()
                raise RuntimeError("a raw writer process failed or timed out (see its traceback above)") from None
    ended = max(r[1] for r in reports)
    cas_cpu = cpu_seconds_all(cas) - cas0
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"raw writer process exited with {p.exitcode}")
    return CeilingResult(processes, rows, per_batch, concurrency, ended - started, sum(r[2] for r in reports), cas_cpu)
