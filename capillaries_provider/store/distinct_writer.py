"""Writes of a distinct_table batch (spec 6.3): claim unique keys with LWTs, then write the winners.

Implements engine/distinct.py's `DistinctSink`. A page's claims go out asynchronously (`INSERT ... IF NOT EXISTS`
into the unique index); a key counts as ours when the insert applied or the index already holds our rowid (an
earlier attempt of this batch). Data rows and non-unique index entries are plain inserts, streamed with a bounded
window until `flush()`. Row ids are the deterministic `(batch_idx << 32) | seq` of the row writer.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

from cassandra.cluster import Session
from cassandra.marshal import int64_pack
from cassandra.query import BoundStatement

from capillaries_provider.expr.keys import row_key
from capillaries_provider.expr.types import Value
from capillaries_provider.script.names import validate_keyspace_name
from capillaries_provider.store.errors import RowWriteError
from capillaries_provider.store.session import prepare_cached
from capillaries_provider.store.tables import TableSpec, run_table_name
from capillaries_provider.store.values import bind_bytes, to_cql_bytes
from capillaries_provider.store.window import Request, RequestWindow
from capillaries_provider.store.writer import make_rowid


class _Claim(Request):
    """An `IF NOT EXISTS` claim of a unique key; records in `owned[i]` whether the key is ours."""

    __slots__ = ("owned", "i", "rowid")

    def __init__(self, statement: BoundStatement, owned: list[bool], i: int, rowid: int) -> None:
        super().__init__(statement)
        self.owned, self.i, self.rowid = owned, i, rowid

    def check(self, rows: Any) -> BaseException | None:
        first = rows[0] if rows else {"[applied]": True}
        self.owned[self.i] = bool(first["[applied]"]) or first.get("rowid") == self.rowid
        return None


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
        self._serializers = [to_cql_bytes(t) for t in table.fields.values()]
        self._claim_stmt = prepare_cached(
            session, f"INSERT INTO {ks}.{self._unique_table} (key, rowid) VALUES (?, ?) IF NOT EXISTS"
        )
        columns = ", ".join(["rowid", "batch_idx", *self._fields])
        marks = ", ".join("?" * (len(self._fields) + 2))
        self._data_stmt = prepare_cached(session, f"INSERT INTO {ks}.{self._table} ({columns}) VALUES ({marks})")
        self._index_stmts = [
            (
                prepare_cached(
                    session, f"INSERT INTO {ks}.{run_table_name(idx.name, run_id)} (key, rowid) VALUES (?, ?)"
                ),
                row_key(idx.components),
            )
            for idx in table.indexes
            if not idx.unique
        ]
        self._window = RequestWindow(session, concurrency)

    def claim(self, claims: Sequence[tuple[str, int]]) -> list[bool]:
        owned = [False] * len(claims)
        for i, (key, seq) in enumerate(claims):
            rowid = make_rowid(self._batch_idx, seq)
            self._window.submit(_Claim(self._claim_stmt.bind((key, rowid)), owned, i, rowid))
        self._wait()
        return owned

    def write(self, seq: int, row: Mapping[str, Value]) -> None:
        if self._window.error_count:
            self._wait()
        rowid = make_rowid(self._batch_idx, seq)
        try:
            rowid_bytes = int64_pack(rowid)
            values = [rowid_bytes, int64_pack(self._batch_idx)]
            values += [serialize(row[f]) for f, serialize in zip(self._fields, self._serializers, strict=True)]
            index_values = [(stmt, [key_of(row).encode(), rowid_bytes]) for stmt, key_of in self._index_stmts]
        except (KeyError, TypeError, ValueError, OverflowError, struct.error) as exc:
            raise RowWriteError(f"cannot write row {rowid} to {self._table}: {type(exc).__name__}: {exc}") from exc
        self._window.submit(Request(bind_bytes(self._data_stmt, values)))
        for stmt, params in index_values:
            self._window.submit(Request(bind_bytes(stmt, params)))

    def flush(self) -> None:
        self._wait()

    def _wait(self) -> None:
        """Wait for everything in flight; raise the first failure."""
        self._window.wait()
        if self._window.error_count:
            error = self._window.errors[0]
            raise RowWriteError(f"distinct write to {self._table} failed: {type(error).__name__}: {error}") from error
