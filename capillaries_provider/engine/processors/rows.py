"""Per-row evaluation shared by the processors: `w.fields` / `w.columns`, then `having` (spec 1.6, 1.8, 2.6).

Expressions are compiled once per batch from the script's parse trees (never `eval` of user text). Index keys are
built by the store's RowWriter from the finished row, so every table-writing processor gets them for free.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from capillaries_provider.expr import CompiledExpr, ExprError, Vars, compile_expr, field_refs
from capillaries_provider.expr.types import FieldType, Value
from capillaries_provider.script.model import Expression, FileCreator, Node, Script, TableCreator

Env = Mapping[str, Mapping[str, FieldType]]


class RowEvalError(Exception):
    """A field, column or `having` expression failed for one row; the text names the field and the expression."""


@dataclass(frozen=True)
class _Compiled:
    name: str
    fn: CompiledExpr


def node_env(script: Script, node: Node) -> dict[str, Mapping[str, FieldType]]:
    """Variables visible to a node's target expressions: `r`, plus `l` (lookups) and `p` (custom processors)."""
    env: dict[str, Mapping[str, FieldType]] = {"r": script.reader_fields(node)}
    if node.lookup is not None:
        env["l"] = script.lookup_fields(node)
    if node.custom_processor is not None:
        env["p"] = node.custom_processor.field_types
    return env


def referenced_fields(
    expressions: Iterable[Expression | None], alias: str, known: Mapping[str, FieldType]
) -> dict[str, FieldType]:
    """The `alias.*` fields the expressions use, typed from `known`, in `known`'s order (readers select only these)."""
    used: set[str] = set()
    for e in expressions:
        if e is not None:
            used.update(f for a, f in field_refs(e.ast) if a == alias)
    return {f: t for f, t in known.items() if f in used}


def _compile(expr: Expression, env: Env, *, round_decimals: bool) -> CompiledExpr:
    return compile_expr(expr.ast, env, round_decimals=round_decimals)


class _Having:
    """`w.having`, evaluated in a plain context: no decimal rounding (spec 2.6)."""

    def __init__(self, expr: Expression, types: Mapping[str, FieldType]) -> None:
        self.text = expr.text
        self.fn = _compile(expr, {"w": types}, round_decimals=False)

    @classmethod
    def of(cls, expr: Expression | None, types: Mapping[str, FieldType]) -> _Having | None:
        return None if expr is None else cls(expr, types)

    def passes(self, row: Mapping[str, Value]) -> bool:
        try:
            return bool(self.fn({"w": row}))
        except ExprError as e:
            raise RowEvalError(f"having {self.text!r}: {e.message}") from e


class TableRowBuilder:
    """`w.fields` then `w.having` of a table creator; `build(vars)` returns the row, or None if `having` is false."""

    def __init__(self, creator: TableCreator, env: Env) -> None:
        self.creator = creator
        self._fields = [
            _Compiled(f.name, _compile(f.expression, env, round_decimals=True)) for f in creator.fields.values()
        ]
        self._texts = {f.name: f.expression.text for f in creator.fields.values()}
        self._having = _Having.of(creator.having, creator.field_types)

    @classmethod
    def for_node(cls, script: Script, node: Node) -> TableRowBuilder:
        assert node.table_creator is not None
        return cls(node.table_creator, node_env(script, node))

    def build(self, vars: Vars) -> dict[str, Value] | None:
        row: dict[str, Value] = {}
        for f in self._fields:
            try:
                row[f.name] = f.fn(vars)
            except ExprError as e:
                raise RowEvalError(f"field {f.name} ({self._texts[f.name]!r}): {e.message}") from e
        if self._having is not None and not self._having.passes(row):
            return None
        return row


class FileRowBuilder:
    """`w.columns` then `w.having` of a file creator; `build(vars)` returns the values by column name, or None."""

    def __init__(self, creator: FileCreator, env: Env) -> None:
        self.creator = creator
        self._columns = [_Compiled(c.name, _compile(c.expression, env, round_decimals=True)) for c in creator.columns]
        self._texts = {c.name: c.expression.text for c in creator.columns}
        self._having = _Having.of(creator.having, creator.field_types)

    def build(self, vars: Vars) -> dict[str, Value] | None:
        values: dict[str, Value] = {}
        for c in self._columns:
            try:
                values[c.name] = c.fn(vars)
            except ExprError as e:
                raise RowEvalError(f"column {c.name} ({self._texts[c.name]!r}): {e.message}") from e
        if self._having is not None and not self._having.passes(values):
            return None
        return values
