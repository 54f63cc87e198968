"""An in-memory DataStore (engine/ports.py) with distinct-table support, for processor tests without Cassandra.

Token ranges are ignored: a read returns the whole table in rowid order, `rowset_size` rows per page. Row ids are
`batch_idx << 32 | seq` like the real writer; unique index keys are claimed first-come, as with IF NOT EXISTS.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from capillaries_provider.engine.ports import BatchTask
from capillaries_provider.expr.keys import build_key
from capillaries_provider.expr.types import FieldType, Value
from capillaries_provider.script.model import TableCreator

Row = dict[str, Value]


def rowid(batch_idx: int, seq: int) -> int:
    return (batch_idx << 32) | seq


def task(node: str, batch_idx: int = 0, run_id: int = 1) -> BatchTask:
    return BatchTask("ks", run_id, node, batch_idx, 1, -(1 << 63), (1 << 63) - 1, "script.json", "")


class MemoryStore:
    def __init__(self) -> None:
        self.tables: dict[tuple[str, int], dict[int, Row]] = {}
        self.indexes: dict[tuple[str, int], dict[str, list[int]]] = {}
        self.index_reads: list[int] = []
        self.row_reads: list[int] = []

    def table(self, name: str, run_id: int = 1) -> dict[int, Row]:
        return self.tables.setdefault((name, run_id), {})

    def index(self, name: str, run_id: int = 1) -> dict[str, list[int]]:
        return self.indexes.setdefault((name, run_id), {})

    # -- DataStore -----------------------------------------------------------------------------------------------

    def read_token_range(
        self,
        ks: str,
        table: str,
        run_id: int,
        fields: Mapping[str, FieldType],
        first_token: int,
        last_token: int,
        rowset_size: int,
    ) -> Iterator[list[Row]]:
        rows = [{f: row[f] for f in fields} for _, row in sorted(self.table(table, run_id).items())]
        for i in range(0, len(rows), rowset_size):
            yield rows[i : i + rowset_size]

    def row_writer(self, ks: str, creator: TableCreator, run_id: int, batch_idx: int) -> MemoryWriter:
        return MemoryWriter(self, creator, run_id, batch_idx)

    def read_index_rowids(self, ks: str, index: str, run_id: int, keys: Sequence[str]) -> dict[str, list[int]]:
        self.index_reads.append(len(keys))
        idx = self.index(index, run_id)
        return {k: sorted(idx[k]) for k in keys if k in idx}

    def read_rows_by_rowid(
        self, ks: str, table: str, run_id: int, fields: Mapping[str, FieldType], rowids: Sequence[int]
    ) -> dict[int, Row]:
        self.row_reads.append(len(rowids))
        data = self.table(table, run_id)
        return {r: {f: data[r][f] for f in fields} for r in rowids if r in data}

    def distinct_writer(self, ks: str, creator: TableCreator, run_id: int, batch_idx: int) -> MemoryDistinctSink:
        return MemoryDistinctSink(self, creator, run_id, batch_idx)


class MemoryWriter:
    def __init__(self, store: MemoryStore, creator: TableCreator, run_id: int, batch_idx: int) -> None:
        self.store, self.creator, self.run_id, self.batch_idx = store, creator, run_id, batch_idx
        self.seq = 0

    def write(self, row: Mapping[str, Value]) -> int:
        rid = rowid(self.batch_idx, self.seq)
        self.seq += 1
        self.put(rid, row, unique_too=True)
        return rid

    def put(self, rid: int, row: Mapping[str, Value], *, unique_too: bool) -> None:
        self.store.table(self.creator.name, self.run_id)[rid] = dict(row)
        for idx in self.creator.indexes.values():
            if idx.unique and not unique_too:
                continue
            key = build_key([row[c.field] for c in idx.components], idx.components)
            entries = self.store.index(idx.name, self.run_id).setdefault(key, [])
            if rid not in entries:
                entries.append(rid)

    def flush(self) -> object:
        return None


class MemoryDistinctSink(MemoryWriter):
    def claim(self, claims: Sequence[tuple[str, int]]) -> list[bool]:
        unique = next(i for i in self.creator.indexes.values() if i.unique)
        index = self.store.index(unique.name, self.run_id)
        out = []
        for key, seq in claims:
            owner = index.setdefault(key, [rowid(self.batch_idx, seq)])
            out.append(owner == [rowid(self.batch_idx, seq)])
        return out

    def write(self, seq: int, row: Mapping[str, Value]) -> None:  # type: ignore[override]
        self.put(rowid(self.batch_idx, seq), row, unique_too=False)
