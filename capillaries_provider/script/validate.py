"""Cross-node validation (spec 1.12, after per-node decoding): names, references, field usage, expression types.

Go test-evaluates every expression with dummy values and compares the result's runtime type with the declared
type; the expression checker finds the same type errors statically. Errors are collected, never raised here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from capillaries_provider.expr.ast import field_refs
from capillaries_provider.expr.checker import check
from capillaries_provider.expr.errors import ExprError
from capillaries_provider.expr.types import FieldType
from capillaries_provider.script.decode import DecodeGaps, py_calc_refs
from capillaries_provider.script.errors import ScriptError, caret_detail
from capillaries_provider.script.graph import find_cycle
from capillaries_provider.script.model import (
    NRS_FIELDS,
    Expression,
    Node,
    NodeType,
    PluginProcessorDef,
    PyCalcDef,
    Script,
    TagAndDenormalizeDef,
)

Env = Mapping[str, Mapping[str, FieldType]]
UNIQUENESS_ONLY_MARKER = "to_check_uniq"


class Validator:
    """Runs every cross-node rule over a decoded script, appending to `errors`."""

    def __init__(self, script: Script, errors: list[ScriptError], gaps: DecodeGaps) -> None:
        self.script = script
        self.errors = errors
        self.gaps = gaps
        self.incomplete: frozenset[str] = frozenset()  # of the node being checked, see incomplete_aliases

    def err(self, node: str | None, key: str | None, message: str, detail: str | None = None) -> None:
        self.errors.append(ScriptError(message, file=self.script.file, node=node, key=key, detail=detail))

    def run(self) -> None:
        self.names()
        for node in self.script.nodes.values():
            self.references(node)
            self.expressions(node)
        self.unused_indexes()
        self.policies()
        cycle = find_cycle(self.script)
        if cycle:
            self.err(cycle[0], None, f"nodes depend on each other in a cycle: {' -> '.join(cycle)}")

    # ---- names and references ---------------------------------------------------------------------------------

    def names(self) -> None:
        tables: dict[str, str] = {}
        indexes: dict[str, str] = {}
        for node in self.script.nodes.values():
            creator = node.table_creator
            if creator is None:
                continue
            if creator.name in tables:
                self.err(node.name, "w.name", f"table {creator.name} is also created by node {tables[creator.name]}")
            else:
                tables[creator.name] = node.name
        for node in self.script.nodes.values():
            if node.table_creator is None:
                continue
            for idx in node.table_creator.indexes:
                key = f"w.indexes.{idx}"
                if idx in indexes:
                    self.err(node.name, key, f"index {idx} is also defined by node {indexes[idx]}")
                else:
                    indexes[idx] = node.name
                if idx in tables:
                    self.err(node.name, key, f"index name {idx} is also the name of a table (node {tables[idx]})")

    def references(self, node: Node) -> None:
        script = self.script
        reader_table = node.table_reader.table if node.table_reader is not None else None
        if (
            reader_table is not None
            and reader_table not in script.table_creators
            and reader_table not in self.gaps.tables
        ):
            self.err(node.name, "r.table", f"unknown table {reader_table}: no node creates it")
        if node.dependency_policy and node.dependency_policy not in script.dependency_policies:
            self.err(node.name, "dependency_policy", f"unknown dependency policy {node.dependency_policy}")
        if node.type is NodeType.DISTINCT_TABLE and node.table_creator is not None:
            uniques = [i.name for i in node.table_creator.indexes.values() if i.unique]
            broken = node.table_creator.name in self.gaps.indexes.values()
            if len(uniques) != 1 and not (broken and not uniques):
                self.err(
                    node.name,
                    "w.indexes",
                    f"distinct_table requires exactly one unique index, found {len(uniques)}",
                )
            if node.table_creator.having is not None:
                self.err(node.name, "w.having", "distinct_table does not support having")
        lookup = node.lookup
        if lookup is None:
            return
        if lookup.index_name in self.gaps.indexes:
            return
        if lookup.index_name not in script.index_owners:
            self.err(node.name, "l.index_name", f"unknown index {lookup.index_name}: no node defines it")
            return
        _, index = script.index(lookup.index_name)
        if len(lookup.join_on) != len(index.components):
            self.err(
                node.name,
                "l.join_on",
                f"join_on has {len(lookup.join_on)} field(s) but index {index.name} has "
                f"{len(index.components)} component(s)",
            )
            return
        reader = script.reader_fields(node)
        if "r" in self.incomplete_aliases(node):
            return
        for field, comp in zip(lookup.join_on, index.components, strict=True):
            ftype = reader.get(field)
            if ftype is None:
                self.err(node.name, "l.join_on", f"unknown field r.{field} in join_on")
            elif ftype is not comp.field_type:
                self.err(
                    node.name,
                    "l.join_on",
                    f"r.{field} is {ftype.value} but index {index.name} component {comp.field} is "
                    f"{comp.field_type.value}",
                )

    def unused_indexes(self) -> None:
        used = {n.lookup.index_name for n in self.script.nodes.values() if n.lookup is not None}
        used |= set(self.gaps.lookups.values())
        for node in self.script.nodes.values():
            if node.table_creator is None:
                continue
            for idx in node.table_creator.indexes.values():
                distinct_key = node.type is NodeType.DISTINCT_TABLE and idx.unique
                if idx.name in used or distinct_key or UNIQUENESS_ONLY_MARKER in idx.name:
                    continue
                self.err(
                    node.name,
                    f"w.indexes.{idx.name}",
                    f"index {idx.name} is not used by any lookup; remove it, or put {UNIQUENESS_ONLY_MARKER} "
                    "in its name if it only enforces uniqueness",
                )

    # ---- expressions ------------------------------------------------------------------------------------------

    def check_expr(
        self,
        expr: Expression | None,
        env: Env,
        expected: FieldType,
        node: str | None,
        key: str,
        *,
        allow_aggregates: bool = False,
        allow_wfmodel: bool = False,
    ) -> None:
        error = expression_error(
            expr,
            env,
            expected,
            file=self.script.file,
            node=node,
            key=key,
            allow_aggregates=allow_aggregates,
            allow_wfmodel=allow_wfmodel,
            incomplete=self.incomplete,
        )
        if error is not None:
            self.errors.append(error)

    def incomplete_aliases(self, node: Node) -> frozenset[str]:
        """Aliases whose field list is known to be incomplete because of an error reported elsewhere."""
        gaps, script = self.gaps, self.script
        out = set()
        reader = node.table_reader
        if node.name in gaps.readers or (
            reader is not None and (reader.table in gaps.tables or reader.table not in script.table_creators)
        ):
            out.add("r")
        lookup = node.lookup
        if lookup is not None:
            owner = gaps.indexes.get(lookup.index_name) or script.lookup_table(node)
            if owner is None or owner in gaps.tables:
                out.add("l")
        if node.name in gaps.processor_fields:
            out.add("p")
        if (node.target_table in gaps.tables) or node.name in gaps.file_columns:
            out.add("w")
        return frozenset(out)

    def expressions(self, node: Node) -> None:
        script = self.script
        r = script.reader_fields(node)
        name = node.name
        self.incomplete = self.incomplete_aliases(node)
        creator = node.table_creator
        if creator is not None and name not in self.gaps.lookups and name not in self.gaps.processors:
            env: dict[str, Mapping[str, FieldType]] = {"r": r}
            grouped = False
            if node.lookup is not None:
                env["l"] = self.lookup_fields(node)
                grouped = node.lookup.group
            if node.custom_processor is not None:
                env["p"] = node.custom_processor.field_types
            for f in creator.fields.values():
                self.check_expr(
                    f.expression, env, f.type, name, f"w.fields.{f.name}.expression", allow_aggregates=grouped
                )
        if creator is not None:
            self.check_expr(creator.having, {"w": creator.field_types}, FieldType.BOOL, name, "w.having")
        if node.file_creator is not None:
            for c in node.file_creator.columns:
                self.check_expr(c.expression, {"r": r}, c.type, name, f"w.columns.{c.name}.expression")
            self.check_expr(
                node.file_creator.having, {"w": node.file_creator.field_types}, FieldType.BOOL, name, "w.having"
            )
        if node.lookup is not None:
            self.check_expr(node.lookup.filter, {"l": self.lookup_fields(node)}, FieldType.BOOL, name, "l.filter")
        proc = node.custom_processor
        if isinstance(proc, TagAndDenormalizeDef) and proc.tag_criteria is not None:
            for tag, crit in proc.tag_criteria.items():
                self.check_expr(crit, {"r": r}, FieldType.BOOL, name, f"p.tag_criteria.{tag}")
        if isinstance(proc, PyCalcDef):
            self.py_calc_refs(node, proc, r)
        if isinstance(proc, PluginProcessorDef) and "r" not in self.incomplete:
            for field in sorted(set(proc.settings.reader_fields) - set(r)):
                self.err(name, "p", f"{proc.proc_type}: unknown field r.{field}")
        self.incomplete = frozenset()

    def lookup_fields(self, node: Node) -> Mapping[str, FieldType]:
        """`l.*` fields, also for a lookup on an index whose (already reported) definition is broken."""
        assert node.lookup is not None
        table = self.gaps.indexes.get(node.lookup.index_name)
        if table is not None and table in self.script.table_creators:
            return self.script.creator_of(table).table_creator.field_types  # type: ignore[union-attr]
        return self.script.lookup_fields(node)

    def py_calc_refs(self, node: Node, proc: PyCalcDef, r: Mapping[str, FieldType]) -> None:
        """py_calc expressions are Python, not Go: only their r.*/p.* references are checked (spec 7.1)."""
        for f in proc.calculated_fields.values():
            key = f"p.calculated_fields.{f.name}.expression"
            for alias, field in sorted(py_calc_refs(f.expression)):
                known = r if alias == "r" else proc.calculated_fields if alias == "p" else None
                if known is None:
                    self.err(node.name, key, f"unknown field {alias}.{field}: py_calc may use only r.* and p.*")
                elif field not in known and alias not in self.incomplete:
                    self.err(node.name, key, f"unknown field {alias}.{field}")

    # ---- dependency policies ----------------------------------------------------------------------------------

    def policies(self) -> None:
        env = {"nrs": NRS_FIELDS}
        for p in self.script.dependency_policies.values():
            for i, rule in enumerate(p.rules):
                key = f"dependency_policies.{p.name}.rules[{i}].expression"
                self.check_expr(rule.expression, env, FieldType.BOOL, None, key, allow_wfmodel=True)


def expression_error(
    expr: Expression | None,
    env: Env,
    expected: FieldType,
    *,
    file: str,
    node: str | None,
    key: str,
    allow_aggregates: bool = False,
    allow_wfmodel: bool = False,
    incomplete: Collection[str] = (),
) -> ScriptError | None:
    """Type-check one expression against `env`; the error (with caret) if it is wrong or not of `expected` type.

    Expressions that use a field missing from an `incomplete` alias are skipped: the field's own definition
    failed and was reported already.
    """
    if expr is None or expr.parsed is None:
        return None  # absent, or its syntax error is already reported
    if incomplete and any(a in incomplete and f not in env.get(a, {}) for a, f in field_refs(expr.parsed)):
        return None
    try:
        got = check(expr.parsed, env, allow_aggregates=allow_aggregates, allow_wfmodel=allow_wfmodel)
    except ExprError as e:
        return ScriptError(e.message, file=file, node=node, key=key, detail=caret_detail(e.text or expr.text, e.pos))
    if not got.matches(expected):
        message = f"expression type {got.value} does not match declared type {expected.value}"
        return ScriptError(message, file=file, node=node, key=key, detail=caret_detail(expr.text, 0))
    return None


def validate(script: Script, errors: list[ScriptError], gaps: DecodeGaps | None = None) -> None:
    """Append every cross-node problem of `script` to `errors`; `gaps` are parts the decoder already reported."""
    Validator(script, errors, gaps or DecodeGaps()).run()
