"""A py_calc node ready to run pages of rows through a child process (spec 7.1).

As in Go, one failing row fails the whole page with every row error listed; a page that cannot run at all (code
that does not compile or raises at module level) fails with the Python diagnostics and nearby source lines.
Unlike Go, each message names the node, the row (by its key fields), the field and its formula.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from capillaries_provider.engine.pycalc.errors import PyCalcError
from capillaries_provider.engine.pycalc.pool import PyCalcPool
from capillaries_provider.engine.pycalc.translate import PyCalcField, translate_fields
from capillaries_provider.engine.pycalc.values import convert_results, encoder, type_tag
from capillaries_provider.engine.row_text import describe_row
from capillaries_provider.expr.types import FieldType, Value
from capillaries_provider.script.model import PyCalcDef

Row = Mapping[str, Value]
RowLabel = Callable[[Row], str]
MAX_LISTED_ROW_ERRORS = 10
# How long past a row's time budget the parent waits before killing a child that ignored the interruption.
KILL_GRACE_S = 5.0
_SOURCE_CONTEXT_LINES = 5
_CODE_LINE = re.compile(r'File "<python_code_urls>", line (\d+)')
_CHILD_FRAME = re.compile(r'^  File ".*child_main\.py", line \d+, in \w+$')


def default_row_label(row: Row) -> str:
    """A short description of a row: its first few fields, values truncated."""
    return describe_row(row)


def key_fields_label(fields: Sequence[str]) -> RowLabel:
    """A row label made of the given key fields (e.g. the fields of the node's unique index)."""
    names = tuple(fields)
    return lambda row: describe_row(row, names)


class PyCalcProgram:
    """User code + calculated fields in calculation order + the `r.*` fields sent to Python, for one node."""

    def __init__(self, node: str, code: str, fields: Sequence[PyCalcField], reader_types: Mapping[str, FieldType]):
        self.node = node
        self.code = code
        self.fields = tuple(fields)
        self.reader_types = dict(reader_types)
        self.output_types = {f.name: f.type for f in self.fields}
        self._formulas = {f.name: f.formula for f in self.fields}
        self._encoders = [(name, encoder(t)) for name, t in self.reader_types.items()]
        self._r_fields = [[name, type_tag(t)] for name, t in self.reader_types.items()]

    @classmethod
    def build(cls, node: str, proc: PyCalcDef, code: str, reader_types: Mapping[str, FieldType]) -> PyCalcProgram:
        """Check the expressions against the code (spec 7.1 load-time rules) and translate them."""
        try:
            fields = translate_fields(proc, code)
        except PyCalcError as e:
            raise PyCalcError(f"node {node}: {e}") from e
        return cls(node, code, fields, reader_types)

    def request(self, rows: Sequence[Row], row_timeout_s: float) -> dict[str, Any]:
        """The child request for one page."""
        try:
            values = [[enc(row[name]) for name, enc in self._encoders] for row in rows]
        except KeyError as e:
            raise PyCalcError(f"node {self.node}: py_calc input row has no field r.{e.args[0]}") from e
        return {
            "code": self.code,
            "fields": [[f.name, f.python] for f in self.fields],
            "r_fields": self._r_fields,
            "rows": values,
            "row_timeout_s": row_timeout_s,
        }

    def calculate(
        self,
        pool: PyCalcPool,
        rows: Sequence[Row],
        *,
        timeout_s: float | None = None,
        row_label: RowLabel = default_row_label,
        row_offset: int = 0,
    ) -> list[dict[str, Value]]:
        """The `p.*` values of every row, in row order; PyCalcError (or PyCalcTimeoutError) otherwise.

        `timeout_s` bounds each row (default: the pool's execution_timeout): the child interrupts an overrunning
        row, which then fails like any raising row; a child that does not stop is killed KILL_GRACE_S later.
        `row_offset` is the batch position of the first row, so that errors number rows within the batch.
        """
        if not rows:
            return []
        timeout = timeout_s if timeout_s is not None else pool.settings.execution_timeout_ms / 1000
        try:
            answer = pool.run(self.request(rows, timeout), timeout + KILL_GRACE_S)
        except PyCalcError as e:
            raise type(e)(f"node {self.node}: {e} ({len(rows)} rows)") from e
        if "error" in answer:
            raise PyCalcError(self._page_error(str(answer["error"]), str(answer.get("message", ""))))
        results = answer.get("rows")
        if not isinstance(results, list) or len(results) != len(rows):
            raise PyCalcError(f"node {self.node}: py_calc child returned a malformed answer")
        out: list[dict[str, Value]] = []
        errors: list[str] = []
        for i, (row, result) in enumerate(zip(rows, results, strict=True), start=row_offset):
            if result[0] == 0:
                values, field, message = convert_results(self.output_types, result[1])
                if not message:
                    out.append(values)
                    continue
                errors.append(self._row_error(i, row, row_label, field, message, ""))
            else:
                errors.append(self._row_error(i, row, row_label, result[1], "", result[2]))
        if errors:
            raise PyCalcError(self._rows_error(errors, len(rows)))
        return out

    # -- messages ------------------------------------------------------------------------------------------------

    def _row_error(self, i: int, row: Row, label: RowLabel, field: str, message: str, tb: str) -> str:
        where = f"row {i} {label(row)}"
        if field:
            where += f", p.{field} = {self._formulas.get(field, '?')}"
        elif tb:
            where += ", encoding the results with json.dumps"
        if tb:
            lines = [ln for ln in tb.strip().splitlines() if ln.strip()]
            message = lines[-1] if lines else "unknown error"
            detail = _user_traceback(tb)
            return f"{where}: {message}" + (f"\n{detail}" if detail else "")
        return f"{where}: {message}"

    def _rows_error(self, errors: list[str], total: int) -> str:
        listed = errors[:MAX_LISTED_ROW_ERRORS]
        more = len(errors) - len(listed)
        text = "\n".join(listed) + (f"\n... and {more} more failing rows" if more else "")
        return f"node {self.node}: py_calc failed for {len(errors)} of {total} rows:\n{text}"

    def _page_error(self, kind: str, message: str) -> str:
        what = {
            "compile": "the Python code or a calculated-field expression does not compile",
            "code": "the Python code raised while loading (module level)",
        }.get(kind, f"py_calc failed ({kind})")
        cleaned = _without_child_frames(message.strip().splitlines())
        return f"node {self.node}: {what}:\n" + "\n".join(cleaned) + self._source_context(message)

    def _source_context(self, message: str) -> str:
        found = _CODE_LINE.findall(message)
        if not found:
            return ""
        line = int(found[-1])
        lines = self.code.splitlines()
        lo, hi = max(1, line - _SOURCE_CONTEXT_LINES), min(len(lines), line + _SOURCE_CONTEXT_LINES)
        shown = "\n".join(f"{'>' if n == line else ' '}{n:5d}: {lines[n - 1]}" for n in range(lo, hi + 1))
        return f"\nsource (python_code_urls concatenated):\n{shown}"


def _user_traceback(tb: str) -> str:
    """The frames of a row traceback (header and final error line dropped) that belong to the user's code."""
    return "\n".join(_without_child_frames(tb.rstrip().splitlines()[1:-1]))


def _without_child_frames(lines: list[str]) -> list[str]:
    """Traceback lines minus the frames of our child program (they say nothing about the user's code)."""
    kept: list[str] = []
    in_child = False
    for ln in lines:
        if ln.startswith("  File "):
            in_child = bool(_CHILD_FRAME.match(ln))
        elif not ln.startswith("    "):
            in_child = False
        if not in_child:
            kept.append(ln)
    return kept
