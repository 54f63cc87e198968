"""Writing the rows of one batch into a run's data and index tables (spec 3.4, made idempotent).

Differences from Go, on purpose (DESIGN.md invariants): row ids are deterministic, `(batch_idx << 32) | seq`, and
data rows are plain inserts, so processing a batch again rewrites exactly the same rows instead of adding new ones
(Go draws random row ids and pays one LWT per row). Only unique indexes use `IF NOT EXISTS`; finding our own
rowid under the key means an earlier attempt of this batch wrote it, which is fine.

Plain inserts (data rows, non-unique index entries) travel in small UNLOGGED batches of statements whose
partitions share a primary replica: one request per ~10 statements instead of one each cuts the client's CPU per
row several-fold (the driver's per-request cost dominates in Python). Batches stay within Cassandra's default
warning thresholds (10 partitions, 5 KiB), so they are neither slow multi-node fan-outs nor log noise. Unique
index inserts are LWTs and go one by one.

Writes are asynchronous with at most `concurrency` requests in flight. Transient failures are retried with Go's
back-off (200 ms doubling, 5 attempts; 2 s for a table not yet known to the coordinator); other errors are
collected and raised by `flush()`, naming the table, the rowid and the row. Data and index inserts of a row are
issued together rather than data-first: nothing reads a node's tables before all its batches succeeded, and a
failed batch is rewritten as a whole.

distinct_table batches use `distinct_writer.DistinctRowWriter`, which claims unique keys before writing rows.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from cassandra.cluster import Session
from cassandra.query import BatchStatement, BatchType, BoundStatement

from capillaries_provider.expr.keys import build_key
from capillaries_provider.expr.types import Value
from capillaries_provider.store.errors import DuplicateKeyError, RowWriteError, retry_delay_s
from capillaries_provider.store.session import prepare_cached, validate_keyspace_name
from capillaries_provider.store.tables import IndexSpec, TableSpec, run_table_name
from capillaries_provider.store.values import to_cassandra

MAX_ROWS_PER_BATCH = 1 << 32
MAX_REPORTED_ERRORS = 5
# Cassandra's defaults: unlogged_batch_across_partitions_warn_threshold = 10, batch_size_warn_threshold = 5 KiB.
STATEMENTS_PER_BATCH = 10
BATCH_BYTES = 5 * 1024


def make_rowid(batch_idx: int, seq: int) -> int:
    """Deterministic, non-negative row id of the `seq`-th row written by batch `batch_idx`."""
    if not 0 <= batch_idx < (1 << 31):
        raise ValueError(f"batch index {batch_idx} out of range for row ids")
    if not 0 <= seq < MAX_ROWS_PER_BATCH:
        raise ValueError(f"a batch cannot write more than {MAX_ROWS_PER_BATCH} rows")
    return (batch_idx << 32) | seq


@dataclass(frozen=True)
class WriteStats:
    rows: int
    data_inserts: int
    index_inserts: int
    retries: int
    elapsed_s: float


class _Op:
    """One request in flight (a statement or a batch of `members`), with what an error message needs."""

    __slots__ = ("statement", "table", "rowid", "index", "key", "row", "attempt", "members")

    def __init__(
        self,
        statement: BoundStatement | BatchStatement,
        table: str,
        rowid: int,
        index: IndexSpec | None,
        key: str,
        row: Mapping[str, Value] | None,
    ) -> None:
        self.statement = statement
        self.table = table
        self.rowid = rowid
        self.index = index
        self.key = key
        self.row = row
        self.attempt = 0
        self.members: list[_Op] = []

    def describe(self) -> str:
        what = f"index {self.table} key {self.key!r}" if self.index is not None else f"table {self.table}"
        return f"{what} rowid {self.rowid}{_describe_row(self.row)}"


def _statement_bytes(statement: BoundStatement) -> int:
    return sum(map(len, filter(None, statement.values)))


def _describe_row(row: Mapping[str, Value] | None) -> str:
    if row is None:
        return ""
    shown = ", ".join(f"{k}={str(v)[:80]!r}" for k, v in row.items())
    return f"; row: {{{shown}}}"


class RowWriter:
    """Writes the rows of one batch of one node; use as a context manager or call `flush()` at the end."""

    def __init__(
        self,
        session: Session,
        ks: str,
        table: TableSpec,
        run_id: int,
        batch_idx: int,
        *,
        concurrency: int = 64,
        statements_per_batch: int = STATEMENTS_PER_BATCH,
    ) -> None:
        validate_keyspace_name(ks)
        make_rowid(batch_idx, 0)
        if concurrency < 1:
            raise ValueError("writer concurrency must be at least 1")
        self._per_batch = max(1, statements_per_batch)
        self._ks = ks
        # On a one-node cluster every partition has the same replica: no token lookup per statement.
        self._by_replica = self._per_batch > 1 and len(session.cluster.metadata.all_hosts()) > 1
        # Pending plain inserts grouped by the primary replica of their partition (None: unknown topology).
        self._groups: dict[object, list[_Op]] = {}
        self._group_bytes: dict[object, int] = {}
        self._session = session
        self._spec = table
        self._batch_idx = batch_idx
        self._table = run_table_name(table.name, run_id)
        self._fields = list(table.fields)
        self._converters = [to_cassandra(t) for t in table.fields.values()]
        columns = ", ".join(["rowid", "batch_idx", *self._fields])
        marks = ", ".join("?" * (len(self._fields) + 2))
        self._data_stmt = prepare_cached(session, f"INSERT INTO {ks}.{self._table} ({columns}) VALUES ({marks})")
        self._index_stmts = [
            (
                idx,
                run_table_name(idx.name, run_id),
                prepare_cached(
                    session,
                    f"INSERT INTO {ks}.{run_table_name(idx.name, run_id)} (key, rowid) VALUES (?, ?)"
                    + (" IF NOT EXISTS" if idx.unique else ""),
                ),
            )
            for idx in table.indexes
        ]
        self._window = threading.BoundedSemaphore(concurrency)
        self._done = threading.Condition()
        self._pending = 0
        self._errors: list[RowWriteError] = []
        self._error_count = 0
        self._seq = 0
        self._data_inserts = 0
        self._index_inserts = 0
        self._retries = 0
        self._started = time.monotonic()

    @property
    def table_name(self) -> str:
        return self._table

    def write(self, row: Mapping[str, Value]) -> int:
        """Queue the row and its index entries; returns its rowid. Raises early once some write has failed."""
        if self._errors:
            self._raise_errors()
        rowid = make_rowid(self._batch_idx, self._seq)
        try:
            values = [convert(row[f]) for f, convert in zip(self._fields, self._converters, strict=True)]
            data = self._data_stmt.bind([rowid, self._batch_idx, *values])
            index_ops = []
            for idx, name, stmt in self._index_stmts:
                key = build_key([row[c.field] for c in idx.components], idx.components)
                index_ops.append(_Op(stmt.bind([key, rowid]), name, rowid, idx, key, None))
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise RowWriteError(
                f"cannot write row {rowid} to {self._table}: {type(exc).__name__}: {exc}{_describe_row(row)}"
            ) from exc
        self._seq += 1
        data_op = _Op(data, self._table, rowid, None, "", row)
        self._enqueue(data_op)
        for op in index_ops:
            if op.index is not None and op.index.unique:
                self._issue(op)
            else:
                self._enqueue(op)
        return rowid

    def flush(self) -> WriteStats:
        """Send what is still grouped, wait for every write; raise DuplicateKeyError or RowWriteError on failure."""
        for group in list(self._groups):
            self._send_group(group)
        with self._done:
            while self._pending:
                self._done.wait()
        if self._errors:
            self._raise_errors()
        return WriteStats(
            rows=self._seq,
            data_inserts=self._data_inserts,
            index_inserts=self._index_inserts,
            retries=self._retries,
            elapsed_s=time.monotonic() - self._started,
        )

    def __enter__(self) -> RowWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.flush()
        else:
            # Do not leave callbacks running against a writer the caller has given up on.
            self._groups.clear()
            with self._done:
                while self._pending:
                    self._done.wait()

    # -- internals ----------------------------------------------------------------------------------------------

    def _raise_errors(self) -> None:
        first = self._errors[0]
        dup = next((e for e in self._errors if isinstance(e, DuplicateKeyError)), None)
        if dup is not None:
            raise dup
        if self._error_count == 1:
            raise first
        more = f" (and {self._error_count - len(self._errors)} more)" if self._error_count > len(self._errors) else ""
        text = "; ".join(str(e) for e in self._errors)
        raise RowWriteError(f"{self._error_count} writes to {self._table} failed{more}: {text}") from first

    def _replica(self, statement: BoundStatement) -> object:
        token_map = self._session.cluster.metadata.token_map
        key = statement.routing_key
        if token_map is None or key is None:
            return None
        replicas = token_map.get_replicas(self._ks, token_map.token_class.from_key(key))
        return replicas[0] if replicas else None

    def _enqueue(self, op: _Op) -> None:
        if self._per_batch == 1:
            self._issue(op)
            return
        size = _statement_bytes(op.statement)
        if size >= BATCH_BYTES:
            self._issue(op)
            return
        group = self._replica(op.statement) if self._by_replica else None
        if self._group_bytes.get(group, 0) + size > BATCH_BYTES:
            self._send_group(group)
        self._groups.setdefault(group, []).append(op)
        self._group_bytes[group] = self._group_bytes.get(group, 0) + size
        if len(self._groups[group]) >= self._per_batch:
            self._send_group(group)

    def _send_group(self, group: object) -> None:
        ops = self._groups.pop(group, [])
        self._group_bytes.pop(group, None)
        if len(ops) == 1:
            self._issue(ops[0])
        elif ops:
            batch = BatchStatement(batch_type=BatchType.UNLOGGED)
            for op in ops:
                batch.add(op.statement)
            carrier = _Op(batch, self._table, ops[0].rowid, None, "", None)
            carrier.members = ops
            self._issue(carrier)

    def _issue(self, op: _Op) -> None:
        self._window.acquire()
        with self._done:
            self._pending += 1
        self._send(op)

    def _send(self, op: _Op) -> None:
        try:
            future = self._session.execute_async(op.statement)
        except Exception as exc:  # e.g. the session was shut down
            self._on_error(exc, op)
            return
        future.add_callbacks(self._on_success, self._on_error, callback_args=(op,), errback_args=(op,))

    def _on_success(self, rows: list[dict[str, Any]], op: _Op) -> None:
        if op.index is not None and op.index.unique and rows and not rows[0]["[applied]"]:
            existing = rows[0]["rowid"]
            if existing != op.rowid:
                self._finish(op, DuplicateKeyError(op.table, op.key, existing, op.rowid))
                return
        self._finish(op, None)

    def _on_error(self, exc: BaseException, op: _Op) -> None:
        delay = retry_delay_s(exc, op.attempt)
        if delay is not None:
            op.attempt += 1
            with self._done:
                self._retries += 1
            timer = threading.Timer(delay, self._send, (op,))
            timer.daemon = True
            timer.start()
            return
        attempts = f" after {op.attempt + 1} attempts" if op.attempt else ""
        if op.members:
            rows = sorted({m.rowid for m in op.members})
            first = next((m for m in op.members if m.row is not None), op.members[0])
            what = f"batch of {len(op.members)} inserts for rowids {rows} (first: {first.describe()})"
        else:
            what = op.describe()
        error = RowWriteError(f"insert failed{attempts}: {type(exc).__name__}: {exc}; {what}")
        error.__cause__ = exc
        self._finish(op, error)

    def _finish(self, op: _Op, error: RowWriteError | None) -> None:
        with self._done:
            if error is not None:
                self._error_count += 1
                if len(self._errors) < MAX_REPORTED_ERRORS:
                    self._errors.append(error)
            else:
                for done in op.members or [op]:
                    if done.index is None:
                        self._data_inserts += 1
                    else:
                        self._index_inserts += 1
            self._pending -= 1
            if not self._pending:
                self._done.notify_all()
        self._window.release()
