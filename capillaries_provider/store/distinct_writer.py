"""Writes of a distinct_table batch (spec 6.3): claim unique keys with LWTs, then write the winners.

Implements engine/distinct.py's `DistinctSink`. A page's claims go out asynchronously (`INSERT ... IF NOT EXISTS`
into the unique index); a key counts as ours when the insert applied or the index already holds our rowid (an
earlier attempt of this batch). The winners' data rows and non-unique index entries go through a `RowWriter`
without the unique index, so they travel in its small UNLOGGED batches (one request per row each cost
02_loan_ids of fannie_mae, 60k distinct keys, about half its time). Row ids are the deterministic
`(batch_idx << 32) | seq` of the row writer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from cassandra.cluster import Session
from cassandra.query import BoundStatement

from capillaries_provider.expr.types import Value
from capillaries_provider.script.names import validate_keyspace_name
from capillaries_provider.store.errors import RowWriteError
from capillaries_provider.store.session import prepare_cached
from capillaries_provider.store.tables import TableSpec, run_table_name
from capillaries_provider.store.window import Request, RequestWindow
from capillaries_provider.store.writer import RowWriter, WriteStats, make_rowid


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
        self._batch_idx = batch_idx
        self._unique_table = run_table_name(unique[0].name, run_id)
        self._claim_stmt = prepare_cached(
            session, f"INSERT INTO {ks}.{self._unique_table} (key, rowid) VALUES (?, ?) IF NOT EXISTS"
        )
        self._claims = RequestWindow(session, concurrency)
        plain = dataclasses.replace(table, indexes=tuple(i for i in table.indexes if not i.unique))
        self._rows = RowWriter(session, ks, plain, run_id, batch_idx, concurrency=concurrency)

    def claim(self, claims: Sequence[tuple[str, int]]) -> list[bool]:
        owned = [False] * len(claims)
        for i, (key, seq) in enumerate(claims):
            rowid = make_rowid(self._batch_idx, seq)
            self._claims.submit(_Claim(self._claim_stmt.bind((key, rowid)), owned, i, rowid))
        self._claims.wait()
        if self._claims.error_count:
            error = self._claims.errors[0]
            raise RowWriteError(
                f"claiming keys in {self._unique_table} failed: {type(error).__name__}: {error}"
            ) from error
        return owned

    def write(self, seq: int, row: Mapping[str, Value]) -> None:
        self._rows.write_at(seq, row)

    def flush(self) -> WriteStats:
        return self._rows.flush()
