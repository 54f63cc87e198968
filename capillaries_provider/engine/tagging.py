"""tag_and_denormalize (spec 7.2): one output row per (input row, tag whose criterion is true).

Criteria are Go bool expressions over `r.*`, inline (`tag_criteria`) or in a JSON file (`tag_criteria_url`, read
and validated by script/external.py when the node runs, verbatim: no parameter substitution). Each is checked and
compiled once; they run in a plain context (no decimal rounding, spec 2.6). Tags are tried in the order they are
written (Go: random map order).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from capillaries_provider.engine.row_text import describe_row
from capillaries_provider.expr import CompiledExpr, ExprError, check, compile_expr, field_refs
from capillaries_provider.expr.types import FieldType, Value
from capillaries_provider.script.external import tag_criteria
from capillaries_provider.script.fetch import Fetcher
from capillaries_provider.script.model import Expression, Node, Script, TagAndDenormalizeDef

Row = Mapping[str, Value]


class TaggingError(Exception):
    """Criteria cannot be loaded/compiled, or a criterion fails for a row; the message names tag and row."""


@dataclass(frozen=True)
class _Criterion:
    tag: str
    text: str
    fn: CompiledExpr


class Tagger:
    """The compiled criteria of one node; `tags(row)` lists the tags of a row, `denormalize` yields the var maps."""

    def __init__(self, node: str, tag_field: str, criteria: Mapping[str, Expression], reader: Mapping[str, FieldType]):
        self.node = node
        self.tag_field = tag_field
        env = {"r": reader}
        compiled: list[_Criterion] = []
        used: set[str] = set()
        for tag, expr in criteria.items():
            try:
                result = check(expr.ast, env)
                if not result.matches(FieldType.BOOL):
                    raise TaggingError(f"node {node}: tag {tag!r}: criterion {expr.text!r} must be a bool expression")
                compiled.append(_Criterion(tag, expr.text, compile_expr(expr.ast, env, round_decimals=False)))
            except ExprError as e:
                raise TaggingError(f"node {node}: tag {tag!r}: criterion {expr.text!r}: {e.message}") from e
            used.update(name for alias, name in field_refs(expr.ast) if alias == "r")
        self._criteria = tuple(compiled)
        self.reader_fields = {f: t for f, t in reader.items() if f in used}

    @classmethod
    def for_node(cls, script: Script, node: Node, fetcher: Fetcher) -> Tagger:
        """The node's criteria: inline, or read (and validated) from `tag_criteria_url` now."""
        proc = node.custom_processor
        assert isinstance(proc, TagAndDenormalizeDef)
        criteria = tag_criteria(script, node, fetcher=fetcher)
        return cls(node.name, proc.tag_field_name, criteria, script.reader_fields(node))

    def tags(self, row: Row) -> list[str]:
        """The tags whose criterion is true for `row`, in criteria order."""
        vars = {"r": row}
        out: list[str] = []
        for c in self._criteria:
            try:
                matched = c.fn(vars)
            except ExprError as e:
                raise TaggingError(
                    f"node {self.node}: tag {c.tag!r}: criterion {c.text!r} failed for row {describe_row(row)}: "
                    f"{e.message}"
                ) from e
            if matched is True:
                out.append(c.tag)
        return out

    def denormalize(self, row: Row) -> Iterator[dict[str, Mapping[str, Value]]]:
        """`{r: row, p: {tag_field: tag}}` for every matching tag (0..N per row)."""
        for tag in self.tags(row):
            yield {"r": row, "p": {self.tag_field: tag}}
