"""table_lookup_table without storage (spec 6.4): join a page of left rows with the right rows found through an index.

Per page of left rows: build each row's lookup key positionally from the `join_on` values (spec 1.9), read the
index for the page's distinct keys (`idx_read_batch_size` keys per read), read the right rows they point at
(`right_lookup_read_batch_size` rowids per read), drop right rows failing `filter` and rowids without a data row
(orphans), then
- not grouped: one output row per (left, matching right) pair; unmatched left rows of a left join follow, with
  `default_value` for every field that mentions `l.*`;
- grouped: one output row per left row, after all keys: aggregate fields from their accumulator, other fields from
  the last matching right row (evaluated without decimal rounding, spec 2.6); unmatched left rows of a left join
  get `default_value` for aggregate fields.
`having` then decides. Right rows are visited in key order, then ascending rowid, so `string_agg` and "last
value wins" are deterministic (Go's order is random, spec 6.4).

Kept from Go: a grouped left join whose non-aggregate field mentions `l.*` cannot evaluate that field for an
unmatched left row and fails the batch (quirk 19); decimal defaults are in database form (quirk 20), which here
is an ordinary scale-2 Decimal, so `having` can read it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Protocol

from capillaries_provider.engine.row_text import describe_row
from capillaries_provider.expr import (
    Accumulator,
    AggregateSpec,
    CompiledExpr,
    ExprError,
    compile_aggregate,
    compile_expr,
    field_refs,
    is_aggregate_call,
    unparen,
)
from capillaries_provider.expr.keys import KeyComponent, build_key
from capillaries_provider.expr.types import FieldType, Value
from capillaries_provider.script.model import JoinType, Lookup, Node, Script, TableCreator, TableField

Row = Mapping[str, Value]


class LookupReads(Protocol):
    """Reads of the lookup's index and right table (already bound to keyspace, run and fields)."""

    def index_rowids(self, keys: Sequence[str]) -> Mapping[str, Sequence[int]]:
        """Rowids stored under each key; keys without entries may be absent."""
        ...

    def right_rows(self, rowids: Sequence[int]) -> dict[int, Row]:
        """Right data rows by rowid; rowids without a data row are absent."""
        ...


class LookupJoinError(Exception):
    """A lookup page cannot be joined; the message names the field, its expression and the left row."""


@dataclass(frozen=True)
class _Field:
    """How one target field is computed in each situation of spec 6.4."""

    name: str
    text: str
    uses_l: bool
    default: Value
    matched: CompiledExpr | None  # non-grouped pair, or grouped non-aggregate (fed each right row)
    left_only: CompiledExpr | None  # unmatched left row (round-dec 2, vars {r}); None when the field reads l.*
    aggregate: AggregateSpec | None


@dataclass(frozen=True)
class LookupJoin:
    """A table_lookup_table node compiled for joining pages; build it with `for_node`."""

    node: str
    lookup: Lookup
    components: tuple[KeyComponent, ...]
    creator: TableCreator
    fields: tuple[_Field, ...]
    having: CompiledExpr | None
    filter: CompiledExpr | None
    left_fields: dict[str, FieldType]
    right_fields: dict[str, FieldType]

    @classmethod
    def for_node(cls, script: Script, node: Node) -> LookupJoin:
        lookup, creator = node.lookup, node.table_creator
        assert lookup is not None and creator is not None
        _, index = script.index(lookup.index_name)
        left_types = script.reader_fields(node)
        right_types = script.lookup_fields(node)
        return cls.build(node.name, lookup, index.components, creator, left_types, right_types)

    @classmethod
    def build(
        cls,
        node: str,
        lookup: Lookup,
        components: Sequence[KeyComponent],
        creator: TableCreator,
        left_types: Mapping[str, FieldType],
        right_types: Mapping[str, FieldType],
    ) -> LookupJoin:
        if len(lookup.join_on) != len(components):
            raise LookupJoinError(
                f"node {node}: join_on has {len(lookup.join_on)} fields, index {lookup.index_name} has "
                f"{len(components)} components"
            )
        env = {"r": left_types, "l": right_types}
        fields = tuple(_compile_field(f, env, lookup.group) for f in creator.fields.values())
        having = None
        if creator.having is not None:
            having = compile_expr(creator.having.ast, {"w": creator.field_types}, round_decimals=False)
        filt = None
        if lookup.filter is not None:
            filt = compile_expr(lookup.filter.ast, {"l": right_types}, round_decimals=False)
        used: dict[str, set[str]] = {"r": set(lookup.join_on), "l": set()}
        for expr in [f.expression for f in creator.fields.values()] + ([lookup.filter] if lookup.filter else []):
            for alias, name in field_refs(expr.ast):
                used.setdefault(alias, set()).add(name)
        return cls(
            node=node,
            lookup=lookup,
            components=tuple(components),
            creator=creator,
            fields=fields,
            having=having,
            filter=filt,
            left_fields={f: t for f, t in left_types.items() if f in used["r"]},
            right_fields={f: t for f, t in right_types.items() if f in used["l"]},
        )

    # -- joining ---------------------------------------------------------------------------------------------------

    def left_key(self, left: Row) -> str:
        """The lookup key of a left row, built positionally from the `join_on` values (spec 1.9)."""
        try:
            return build_key([left[f] for f in self.lookup.join_on], self.components)
        except (KeyError, TypeError, ValueError) as e:
            raise LookupJoinError(
                f"node {self.node}: cannot build the lookup key of left row {describe_row(left)}: {e}"
            ) from e

    def join_page(self, left_rows: Sequence[Row], reads: LookupReads) -> Iterator[dict[str, Value]]:
        """Output rows (after `having`) for one page of left rows."""
        by_key: dict[str, list[int]] = {}
        for i, left in enumerate(left_rows):
            by_key.setdefault(self.left_key(left), []).append(i)
        found = [False] * len(left_rows)
        groups: dict[int, _Group] = {}
        for left_idx, right in self._matches(by_key, reads):
            found[left_idx] = True
            left = left_rows[left_idx]
            if self.lookup.group:
                group = groups.get(left_idx)
                if group is None:
                    group = groups[left_idx] = _Group(self.fields)
                self._feed(group, left, right)
            else:
                out = self._pair_row(left, right)
                if out is not None:
                    yield out
        for i, left in enumerate(left_rows):
            if self.lookup.group and found[i]:
                out = self._grouped_row(left, groups[i])
            elif not found[i] and self.lookup.join_type is JoinType.LEFT:
                out = self._unmatched_row(left)
            else:
                continue
            if out is not None:
                yield out

    def _matches(self, by_key: Mapping[str, list[int]], reads: LookupReads) -> Iterator[tuple[int, Row]]:
        """(left row index, right row) for every right row that passes the filter, in key then rowid order."""
        keys = list(by_key)
        key_chunk = self.lookup.idx_read_batch_size
        rowid_chunk = self.lookup.right_lookup_read_batch_size
        for k in range(0, len(keys), key_chunk):
            chunk = keys[k : k + key_chunk]
            rowids = reads.index_rowids(chunk)
            # Generated, not listed: a chunk's keys can hold millions of rowids, and a (rowid, key) tuple per rowid
            # would cost eight times the rowids themselves.
            pairs = ((rowid, key) for key in chunk for rowid in sorted(rowids.get(key, ())))
            while part := list(islice(pairs, rowid_chunk)):
                rows = reads.right_rows([rowid for rowid, _ in part])
                for rowid, key in part:
                    right = rows.get(rowid)
                    if right is None or not self._passes_filter(right):
                        continue
                    for left_idx in by_key[key]:
                        yield left_idx, right

    def _passes_filter(self, right: Row) -> bool:
        if self.filter is None:
            return True
        try:
            return bool(self.filter({"l": right}))
        except ExprError as e:
            assert self.lookup.filter is not None
            raise LookupJoinError(
                f"node {self.node}: filter {self.lookup.filter.text!r} failed for right row "
                f"{describe_row(right)}: {e.message}"
            ) from e

    def _pair_row(self, left: Row, right: Row) -> dict[str, Value] | None:
        vars = {"r": left, "l": right}
        row = {f.name: self._eval(f, f.matched, vars, left) for f in self.fields}  # type: ignore[arg-type]
        return self._having(row)

    def _feed(self, group: _Group, left: Row, right: Row) -> None:
        vars = {"r": left, "l": right}
        for f in self.fields:
            if f.aggregate is not None:
                try:
                    group.accumulators[f.name].add(vars)
                except ExprError as e:
                    raise self._field_error(f, left, e) from e
            else:
                group.last[f.name] = self._eval(f, f.matched, vars, left)  # type: ignore[arg-type]

    def _grouped_row(self, left: Row, group: _Group) -> dict[str, Value] | None:
        row: dict[str, Value] = {}
        for f in self.fields:
            field_type = self.creator.fields[f.name].type
            if f.aggregate is not None:
                row[f.name] = group.accumulators[f.name].result()
            else:
                row[f.name] = group.last.get(f.name, field_type.zero())
        return self._having(row)

    def _unmatched_row(self, left: Row) -> dict[str, Value] | None:
        row: dict[str, Value] = {}
        vars = {"r": left}
        for f in self.fields:
            if f.aggregate is not None or (f.uses_l and not self.lookup.group):
                row[f.name] = f.default
            elif f.left_only is None:
                raise LookupJoinError(
                    f"node {self.node}: field {f.name} ({f.text!r}) reads l.* but is not an aggregate, so it has no "
                    f"value for left row {describe_row(left)}, which has no match in this grouped left join (as in "
                    "Capillaries); use an aggregate or move the field to a non-grouped lookup"
                )
            else:
                row[f.name] = self._eval(f, f.left_only, vars, left)
        return self._having(row)

    def _eval(self, f: _Field, fn: CompiledExpr, vars: Mapping[str, Row], left: Row) -> Value:
        try:
            return fn(vars)
        except ExprError as e:
            raise self._field_error(f, left, e) from e

    def _field_error(self, f: _Field, left: Row, e: ExprError) -> LookupJoinError:
        return LookupJoinError(
            f"node {self.node}: field {f.name} ({f.text!r}) for left row {describe_row(left)}: {e.message}"
        )

    def _having(self, row: dict[str, Value]) -> dict[str, Value] | None:
        if self.having is None:
            return row
        try:
            return row if self.having({"w": row}) else None
        except ExprError as e:
            assert self.creator.having is not None
            raise LookupJoinError(
                f"node {self.node}: having {self.creator.having.text!r} failed for row {describe_row(row)}: {e.message}"
            ) from e


class _Group:
    """Per-left-row state of a grouped lookup: one accumulator per aggregate field, last value of the others."""

    __slots__ = ("accumulators", "last")

    def __init__(self, fields: Sequence[_Field]) -> None:
        self.accumulators: dict[str, Accumulator] = {f.name: f.aggregate.new() for f in fields if f.aggregate}
        self.last: dict[str, Value] = {}


def _compile_field(f: TableField, env: Mapping[str, Mapping[str, FieldType]], group: bool) -> _Field:
    tree = f.expression.ast
    uses_l = any(alias == "l" for alias, _ in field_refs(tree))
    if group and is_aggregate_call(unparen(tree)):
        return _Field(f.name, f.expression.text, uses_l, f.default_value, None, None, compile_aggregate(tree, env))
    left_only = None if uses_l else compile_expr(tree, {"r": env["r"]}, round_decimals=True)
    matched = compile_expr(
        tree,
        env,
        round_decimals=not group,
        # A bare string literal keeps its quotes in a grouped lookup's non-aggregate field (spec 2.7 quirk).
        keep_root_string_quotes=group,
    )
    return _Field(f.name, f.expression.text, uses_l, f.default_value, matched, left_only, None)
