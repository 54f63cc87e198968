"""Writes of a distinct_table batch (spec 6.3): claim unique keys with LWTs, then write the winners.

Implements engine/distinct.py's `DistinctSink`. A page's claims go out asynchronously (`INSERT ... IF NOT EXISTS`
into the unique index); a key counts as ours when the insert applied or the index already holds our rowid (an
earlier attempt of this batch). Data rows and non-unique index entries are plain inserts, streamed with a bounded
window until `flush()`. Row ids are the deterministic `(batch_idx << 32) | seq` of the row writer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cassandra.cluster import Session
from cassandra.query import BoundStatement, PreparedStatement

from capillaries_provider.expr.keys import build_key
from capillaries_provider.expr.types import Value
from capillaries_provider.store.errors import RowWriteError, retry_delay_s
from capillaries_provider.store.session import prepare_cached, validate_keyspace_name
from capillaries_provider.store.tables import TableSpec, run_table_name
from capillaries_provider.store.values import to_cassandra
from capillaries_provider.store.writer import make_rowid


class _Window:
    """Asynchronous statements with at most `concurrency` in flight; transient failures retried with back-off."""

    def __init__(self, session: Session, concurrency: int) -> None:
        self._session = session
        self._slots = threading.BoundedSemaphore(concurrency)
        self._done = threading.Condition()
        self._pending = 0
        self._error: BaseException | None = None

    def issue(self, stmt: PreparedStatement, params: tuple[Any, ...], on_rows: Callable[[Any], None] | None) -> None:
        if self._error is not None:
            self.wait()
        self._slots.acquire()
        with self._done:
            self._pending += 1
        self._send(stmt.bind(params), on_rows, 0)

    def _send(self, bound: BoundStatement, on_rows: Callable[[Any], None] | None, attempt: int) -> None:
        try:
            future = self._session.execute_async(bound)
        except Exception as exc:  # e.g. the session was shut down
            self._finish(exc)
            return
        future.add_callbacks(
            self._on_rows, self._on_error, callback_args=(on_rows,), errback_args=(bound, on_rows, attempt)
        )

    def _on_rows(self, rows: Any, on_rows: Callable[[Any], None] | None) -> None:
        error: BaseException | None = None
        if on_rows is not None:
            try:
                on_rows(rows)
            except Exception as exc:  # a bug in the handler must not hang wait()
                error = exc
        self._finish(error)

    def _on_error(
        self, exc: BaseException, bound: BoundStatement, on_rows: Callable[[Any], None] | None, attempt: int
    ) -> None:
        delay = retry_delay_s(exc, attempt)
        if delay is None:
            self._finish(exc)
            return
        timer = threading.Timer(delay, self._send, (bound, on_rows, attempt + 1))
        timer.daemon = True
        timer.start()

    def _finish(self, error: BaseException | None) -> None:
        with self._done:
            if error is not None and self._error is None:
                self._error = error
            self._pending -= 1
            if not self._pending:
                self._done.notify_all()
        self._slots.release()

    def wait(self) -> None:
        """Wait for everything in flight; raise the first failure."""
        with self._done:
            while self._pending:
                self._done.wait()
            error, self._error = self._error, None
        if error is not None:
            raise RowWriteError(f"{type(error).__name__}: {error}") from error


class DistinctRowWriter:
    """One distinct_table batch: `claim()` per page, `write()` per winning row, `flush()` at the end."""

    def __init__(
        self, session: Session, ks: str, table: TableSpec, run_id: int, batch_idx: int, *, concurrency: int = 64
    ) -> None:
        validate_keyspace_name(ks)
        unique = [i for i in table.indexes if i.unique]
        if len(unique) != 1:
            raise ValueError(f"distinct table {table.name} needs exactly one unique index, found {len(unique)}")
        self._session = session
        self._batch_idx = batch_idx
        self._table = run_table_name(table.name, run_id)
        self._unique_table = run_table_name(unique[0].name, run_id)
        self._fields = list(table.fields)
        self._converters = [to_cassandra(t) for t in table.fields.values()]
        self._claim_stmt = prepare_cached(
            session, f"INSERT INTO {ks}.{self._unique_table} (key, rowid) VALUES (?, ?) IF NOT EXISTS"
        )
        columns = ", ".join(["rowid", "batch_idx", *self._fields])
        marks = ", ".join("?" * (len(self._fields) + 2))
        self._data_stmt = prepare_cached(session, f"INSERT INTO {ks}.{self._table} ({columns}) VALUES ({marks})")
        self._index_stmts = [
            (
                idx,
                prepare_cached(
                    session, f"INSERT INTO {ks}.{run_table_name(idx.name, run_id)} (key, rowid) VALUES (?, ?)"
                ),
            )
            for idx in table.indexes
            if not idx.unique
        ]
        self._window = _Window(session, concurrency)

    def claim(self, claims: Sequence[tuple[str, int]]) -> list[bool]:
        owned = [False] * len(claims)

        def record(i: int, rowid: int) -> Callable[[Any], None]:
            def on_rows(rows: Any) -> None:
                first = rows[0] if rows else {"[applied]": True}
                owned[i] = bool(first["[applied]"]) or first.get("rowid") == rowid

            return on_rows

        for i, (key, seq) in enumerate(claims):
            rowid = make_rowid(self._batch_idx, seq)
            self._window.issue(self._claim_stmt, (key, rowid), record(i, rowid))
        self._wait()
        return owned

    def write(self, seq: int, row: Mapping[str, Value]) -> None:
        rowid = make_rowid(self._batch_idx, seq)
        try:
            values = [convert(row[f]) for f, convert in zip(self._fields, self._converters, strict=True)]
            index_params = [
                (stmt, (build_key([row[c.field] for c in idx.components], idx.components), rowid))
                for idx, stmt in self._index_stmts
            ]
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise RowWriteError(f"cannot write row {rowid} to {self._table}: {type(exc).__name__}: {exc}") from exc
        self._window.issue(self._data_stmt, (rowid, self._batch_idx, *values), None)
        for stmt, params in index_params:
            self._window.issue(stmt, params, None)

    def flush(self) -> None:
        self._wait()

    def _wait(self) -> None:
        try:
            self._window.wait()
        except RowWriteError as e:
            raise RowWriteError(f"distinct write to {self._table} failed: {e}") from e.__cause__
