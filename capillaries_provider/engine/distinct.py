"""distinct_table without storage (spec 6.3): the unique index decides which row of each key survives.

For each page of source rows: compute the target row and its unique-index key, drop keys already seen in the
page, then claim every remaining key in the unique index for the row's number in the batch (Go: one
`INSERT ... IF NOT EXISTS` per row) and write only the rows that own their key, with their non-unique index
entries. Which source row wins a key across batches depends on who claims first, as in Go.

Retries are safe: rows are numbered in reading order (the token range is read in the same order every time), the
store derives the rowid from the number, and a key already held by the same rowid counts as ours, so a redo
rewrites the same rows and skips the same ones. Unlike Go, a row that loses its key writes nothing at all (Go
still wrote its non-unique index entries, pointing at no data row).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from capillaries_provider.engine.processors.rows import RowEvalError, TableRowBuilder, node_env
from capillaries_provider.expr.keys import build_key
from capillaries_provider.expr.types import Value
from capillaries_provider.script.model import IndexDef, Node, Script, TableCreator

Row = Mapping[str, Value]


class DistinctSink(Protocol):
    """Writes of one distinct_table batch; `seq` numbers the candidate rows of the batch from 0."""

    def claim(self, claims: Sequence[tuple[str, int]]) -> list[bool]:
        """Claim each unique key for row `seq`; True when that row owns the key (now, or from an earlier attempt)."""
        ...

    def write(self, seq: int, row: Row) -> None:
        """Write the data row of `seq` and its non-unique index entries (not the unique one: it is claimed)."""
        ...

    def flush(self) -> object:
        """Wait for every write; raise if any failed."""
        ...


@runtime_checkable
class DistinctStore(Protocol):
    """A data store that can write distinct tables (the worker's store adapter implements it)."""

    def distinct_writer(self, ks: str, creator: TableCreator, run_id: int, batch_idx: int) -> DistinctSink: ...


class DistinctError(Exception):
    """The node is not a valid distinct_table, or a row cannot be evaluated; the message says which."""


class DistinctWriter:
    """Picks the rows of one distinct_table batch page by page; `seq` keeps counting candidates across pages."""

    def __init__(self, node: str, builder: TableRowBuilder, unique: IndexDef) -> None:
        self.node = node
        self.builder = builder
        self.unique = unique
        self.seq = 0

    @classmethod
    def for_node(cls, script: Script, node: Node) -> DistinctWriter:
        creator = node.table_creator
        assert creator is not None
        return cls(node.name, TableRowBuilder(creator, node_env(script, node)), unique_index(node.name, creator))

    def key(self, row: Row) -> str:
        return build_key([row[c.field] for c in self.unique.components], self.unique.components)

    def owned_rows(self, rows: Iterable[Row], sink: DistinctSink) -> list[tuple[int, dict[str, Value]]]:
        """Claim the keys of one page of source rows; the `(seq, row)` pairs whose claim is ours, to write."""
        candidates: dict[str, tuple[int, dict[str, Value]]] = {}
        for source in rows:
            try:
                row = self.builder.build({"r": source})
            except RowEvalError as e:
                raise DistinctError(f"node {self.node}: {e}") from e
            if row is None:
                continue
            try:
                key = self.key(row)
            except (KeyError, TypeError, ValueError) as e:
                raise DistinctError(f"node {self.node}: cannot build the key of {self.unique.name}: {e}") from e
            if key not in candidates:
                candidates[key] = (self.seq, row)
                self.seq += 1
        owned = sink.claim([(key, seq) for key, (seq, _) in candidates.items()])
        return [c for c, mine in zip(candidates.values(), owned, strict=True) if mine]


def unique_index(node: str, creator: TableCreator) -> IndexDef:
    """The one unique index of a distinct_table (spec 6.3); DistinctError when the node breaks the rules."""
    if creator.having is not None:
        raise DistinctError(f"node {node}: distinct_table cannot have a having condition")
    unique = [idx for idx in creator.indexes.values() if idx.unique]
    if len(unique) != 1:
        names = ", ".join(i.name for i in unique) or "none"
        raise DistinctError(f"node {node}: distinct_table needs exactly one unique index, found {names}")
    return unique[0]
