"""From a py_calc node definition to what the child runs: user code, Python expressions, checked calls (spec 7.1).

Kept exactly as Go does it, quirks included: the expression text is translated by plain text replacement of
`r.` -> `r_` and `p.` -> `p_` (which also hits e.g. `str.lower` -> `st` + `r_lower`), and every function an
expression calls must be a top-level `def` found by Go's regex with the same number of parameters (so defs with
defaults, `*args` or annotations are not recognised), or one of a few built-ins called with one argument.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from capillaries_provider.engine.pycalc.errors import PyCalcError
from capillaries_provider.expr.ast import Call, Expr, Ident, callee_name, walk
from capillaries_provider.expr.types import FieldType
from capillaries_provider.script.fetch import Fetcher
from capillaries_provider.script.model import PyCalcDef

ALLOWED_BUILTINS = frozenset({"str", "int", "float", "round", "len", "bool", "abs"})
# Go: `^def[ ]+<name>[ ]*\(<args>\)[ ]*:` with args made of letters, digits, `_ , . ( ) ' "`, blanks and tabs.
_DEF = re.compile(r"^def[ ]+([A-Za-z_][A-Za-z0-9_]*)[ ]*\(([A-Za-z0-9_,.()'\" \t]*)\)[ ]*:", re.MULTILINE)


@dataclass(frozen=True)
class PyCalcField:
    """One calculated field: its declared type, the formula as written and its Python translation."""

    name: str
    type: FieldType
    formula: str
    python: str


def python_expression(formula: str) -> str:
    """Go's translation of a calculated-field expression: textual `r.` -> `r_` and `p.` -> `p_`."""
    return formula.replace("r.", "r_").replace("p.", "p_")


def load_python_code(urls: Iterable[str], fetcher: Fetcher) -> str:
    """The concatenated `python_code_urls`, each followed by a newline, as Go builds the program."""
    parts: list[str] = []
    for url in urls:
        data = fetcher.read_bytes(url)
        try:
            parts.append(data.decode("utf-8") + "\n")
        except UnicodeDecodeError as e:
            raise PyCalcError(f"py_calc code {url} is not valid UTF-8 (byte {e.start})") from e
    return "".join(parts)


def def_arities(code: str) -> dict[str, set[int]]:
    """Top-level function names Go's regex finds in the code, with the parameter counts seen for each."""
    found: dict[str, set[int]] = {}
    for m in _DEF.finditer(code):
        args = m.group(2).strip()
        found.setdefault(m.group(1), set()).add(len(args.split(",")) if args else 0)
    return found


def check_calls(fields: Iterable[tuple[str, Expr]], code: str) -> list[str]:
    """Problems with the functions called by the calculated fields (empty when all calls resolve)."""
    defs = def_arities(code)
    problems: list[str] = []
    for name, tree in fields:
        for node in walk(tree):
            if not isinstance(node, Call):
                continue
            callee = callee_name(node)
            nargs = len(node.args)
            if isinstance(node.func, Ident) and callee in ALLOWED_BUILTINS and nargs == 1:
                continue
            if isinstance(node.func, Ident) and callee is not None and nargs in defs.get(callee, set()):
                continue
            shown = callee or node.src[node.func.pos : node.func.end]
            seen = defs.get(callee or "")
            hint = (
                f"the code defines {callee}() with {' or '.join(str(n) for n in sorted(seen))} parameter(s)"
                if seen
                else "no top-level `def` with that name was found in python_code_urls"
            )
            problems.append(
                f"p.{name}: {shown}() is called with {nargs} argument(s) but {hint} "
                f"(allowed built-ins: {', '.join(sorted(ALLOWED_BUILTINS))} with one argument)"
            )
    return problems


def translate_fields(proc: PyCalcDef, code: str) -> tuple[PyCalcField, ...]:
    """The calculated fields in calculation order, checked against the code; PyCalcError lists every problem."""
    fields = [proc.calculated_fields[name] for name in proc.calc_order]
    problems = check_calls(((f.name, f.expression.ast) for f in fields), code)
    if problems:
        raise PyCalcError("py_calc expressions call unknown functions: " + "; ".join(problems))
    return tuple(PyCalcField(f.name, f.type, f.expression.text, python_expression(f.expression.text)) for f in fields)
