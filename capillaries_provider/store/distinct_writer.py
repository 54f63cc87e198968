"""Writes of a distinct_table batch (spec 6.3): claim unique keys with LWTs, then write the winners.

Implements engine/distinct.py's `DistinctSink`. A page's claims go out concurrently (`INSERT ... IF NOT EXISTS`
into the unique index); a key counts as ours when the insert applied or the index already holds our rowid (an
earlier attempt of this batch). Data rows and non-unique index entries are plain inserts, sent concurrently in
chunks. Row ids are the deterministic `(batch_idx << 32) | seq` of the row writer.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from cassandra.cluster import Session
from cassandra.concurrent import execute_concurrent
from cassandra.query import PreparedStatement

from capillaries_provider.expr.keys import build_key
from capillaries_provider.expr.types import Value
from capillaries_provider.store.errors import RowWriteError, retry_delay_s
from capillaries_provider.store.session import prepare_cached, validate_keyspace_name
from capillaries_provider.store.tables import TableSpec, run_table_name
from capillaries_provider.store.values import to_cassandra
from capillaries_provider.store.writer import make_rowid

WRITE_CHUNK = 500


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
        self._concurrency = concurrency
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
        self._queued: list[tuple[PreparedStatement, tuple[Any, ...]]] = []

    def claim(self, claims: Sequence[tuple[str, int]]) -> list[bool]:
        params = [(key, make_rowid(self._batch_idx, seq)) for key, seq in claims]
        results = self._execute([(self._claim_stmt, p) for p in params])
        owned: list[bool] = []
        for (_, rowid), rows in zip(params, results, strict=True):
            first = rows[0] if rows else {"[applied]": True}
            owned.append(bool(first["[applied]"]) or first.get("rowid") == rowid)
        return owned

    def write(self, seq: int, row: Mapping[str, Value]) -> None:
        rowid = make_rowid(self._batch_idx, seq)
        try:
            values = [convert(row[f]) for f, convert in zip(self._fields, self._converters, strict=True)]
            self._queued.append((self._data_stmt, (rowid, self._batch_idx, *values)))
            for idx, stmt in self._index_stmts:
                key = build_key([row[c.field] for c in idx.components], idx.components)
                self._queued.append((stmt, (key, rowid)))
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise RowWriteError(f"cannot write row {rowid} to {self._table}: {type(exc).__name__}: {exc}") from exc
        if len(self._queued) >= WRITE_CHUNK:
            self.flush()

    def flush(self) -> None:
        queued, self._queued = self._queued, []
        if queued:
            self._execute(queued)

    def _execute(self, statements: list[tuple[PreparedStatement, tuple[Any, ...]]]) -> list[list[dict[str, Any]]]:
        """Run the statements concurrently; transient failures are retried with the store's back-off."""
        results: list[list[dict[str, Any]] | None] = [None] * len(statements)
        todo = list(range(len(statements)))
        attempt = 0
        while todo:
            outcomes = execute_concurrent(
                self._session,
                [statements[i] for i in todo],
                concurrency=self._concurrency,
                raise_on_first_error=False,
            )
            failed: list[int] = []
            error: BaseException | None = None
            for i, (ok, result) in zip(todo, outcomes, strict=True):
                if ok:
                    results[i] = list(result)
                else:
                    failed.append(i)
                    error = result
            if error is not None:
                delay = retry_delay_s(error, attempt)
                if delay is None:
                    raise RowWriteError(f"distinct write to {self._table} failed: {type(error).__name__}: {error}")
                attempt += 1
                time.sleep(delay)
            todo = failed
        return [r if r is not None else [] for r in results]
