"""Textual script-parameter substitution (spec 1.1), applied to the raw script text before it is parsed.

Capillaries substitutes parameters as text, not as values in the parsed tree, so a parameter can form part of any
string (`"{dir_in}/file.csv"`) or, for numbers/bools/string lists, replace a whole quoted JSON string
(`"{n|number}"` -> `10`). We reproduce that exactly, with two deliberate fixes recorded in docs/compatibility.md:
`{run_id}` is kept for runtime like `{batch_idx}`, and an empty string list is a clear error instead of a crash.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from capillaries_provider.expr.types import INT64_MAX, INT64_MIN
from capillaries_provider.script.errors import Problem, ScriptError, ScriptValidationError
from capillaries_provider.script.limits import MAX_DOCUMENT_BYTES

# Reserved parameters: replaced only in file-writer url templates at processing time (see runtime_url).
BATCH_IDX_REF = "{batch_idx|string}"
RUN_ID_REF = "{run_id|string}"
RESERVED_REFS = frozenset({BATCH_IDX_REF, RUN_ID_REF})

_NAME = r"[a-zA-Z0-9_]+"
_UNTYPED = re.compile(r"\{[ ]*(" + _NAME + r")[ ]*\}")
_TYPED = re.compile(r"\{[ ]*(" + _NAME + r")[ ]*\|[ ]*(string|number|bool|stringlist)[ ]*\}")
_NUMBER_OR_BOOL = re.compile(r"\{" + _NAME + r"\|(?:number|bool)\}")
_REPLACEABLE = re.compile(r'"\{(' + _NAME + r')\|(number|bool|stringlist)\}"|\{(' + _NAME + r")\|string\}")
_LEFTOVER = re.compile(r"\{(" + _NAME + r")\|(string|number|bool)\}")


def normalize_refs(text: str) -> str:
    """Rewrite `{ name }` to `{name|string}` and `{ name | type }` to `{name|type}`, as Go does first."""
    text = _UNTYPED.sub(r"{\1|string}", text)
    return _TYPED.sub(r"{\1|\2}", text)


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def _render(value: object, kind: str) -> str | None:
    """The replacement text for one reference, or None when the value's type does not fit the reference."""
    if kind == "string":
        return value.replace("\n", "\\n") if isinstance(value, str) else None
    if kind == "bool":
        return ("true" if value else "false") if isinstance(value, bool) else None
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        f = float(value)  # Go decodes every JSON number into a float64 first
        if f.is_integer() and INT64_MIN <= f <= INT64_MAX:
            return f"{int(f):d}"
        return f"{f:f}"
    # stringlist: items are quoted but not escaped, as in Go
    if not isinstance(value, list):
        return None
    return "[" + ",".join(f'"{v}"' for v in value) + "]"


def _check_param_values(params: Mapping[str, object], file: str) -> list[ScriptError]:
    errors = []
    for name, value in params.items():
        if value is None or isinstance(value, dict) or not isinstance(value, str | bool | int | float | list):
            errors.append(
                ScriptError(
                    f"param {name!r} has unsupported type {type(value).__name__}; "
                    "expected string, number, bool or list of strings",
                    file=file,
                    problem=Problem.PARAMS,
                )
            )
        elif isinstance(value, list) and not all(isinstance(v, str) for v in value):
            errors.append(ScriptError(f"param {name!r} must be a list of strings", file=file, problem=Problem.PARAMS))
        elif _refers_to(value, name):
            errors.append(
                ScriptError(
                    f"param {name!r} refers to itself: values are substituted once, "
                    "so a reference inside a value is never resolved",
                    file=file,
                    problem=Problem.PARAMS,
                )
            )
        elif isinstance(value, list) and not value:
            errors.append(
                ScriptError(
                    f"param {name!r} is an empty list; a stringlist needs at least one item",
                    file=file,
                    problem=Problem.PARAMS,
                )
            )
    return errors


def _refers_to(value: object, name: str) -> bool:
    """Whether a string (or string list) value holds `{name}` or `{name|type}`: a self-reference never resolves."""
    texts = value if isinstance(value, list) else [value]
    return any(m.group(1) == name for t in texts if isinstance(t, str) for m in _LEFTOVER.finditer(normalize_refs(t)))


def substitute(text: str, params: Mapping[str, object] | None, *, file: str = "") -> str:
    """Apply spec 1.1's substitution to raw script text; raise ScriptValidationError listing every problem."""
    text = normalize_refs(text)
    errors: list[ScriptError] = []
    for m in _NUMBER_OR_BOOL.finditer(text):
        before = text[m.start() - 1] if m.start() > 0 else ""
        after = text[m.end()] if m.end() < len(text) else ""
        if before != '"' or after != '"':
            errors.append(
                ScriptError(
                    f"{m.group(0)}: extra characters between curly braces and double quotes; "
                    f'number and bool params must be written exactly as "{m.group(0)}"',
                    file=file,
                    key=f"line {_line_of(text, m.start())}",
                    problem=Problem.PARAMS,
                )
            )
    params = params or {}
    errors.extend(_check_param_values(params, file))
    if errors:
        raise ScriptValidationError(errors)

    size = len(text)

    def replace(m: re.Match[str]) -> str:
        nonlocal size
        name, kind = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), "string")
        if name not in params:
            return m.group(0)
        rendered = _render(params[name], kind)
        if rendered is None:
            return m.group(0)
        size += len(rendered) - len(m.group(0))
        if size > MAX_DOCUMENT_BYTES:
            message = f"substituting params makes the script longer than the limit of {MAX_DOCUMENT_BYTES:,} bytes"
            raise ScriptValidationError([ScriptError(message, file=file, problem=Problem.PARAMS)])
        return rendered

    out = _REPLACEABLE.sub(replace, text)
    for m in _LEFTOVER.finditer(out):
        if m.group(0) in RESERVED_REFS:
            continue
        name, kind = m.group(1), m.group(2)
        hint = (
            f" (param {name!r} is a {_json_kind(params[name])}, not a {kind})" if name in params else " (no such param)"
        )
        errors.append(
            ScriptError(
                f"unresolved parameter reference {m.group(0)}{hint}",
                file=file,
                key=f"line {_line_of(out, m.start())}",
                problem=Problem.PARAMS,
            )
        )
    if errors:
        raise ScriptValidationError(errors)
    return out


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "stringlist"
    return "string"


def runtime_url(url_template: str, *, batch_idx: int, run_id: int) -> str:
    """Fill the reserved runtime params of a file-writer url template (`%05d`, as Go formats them)."""
    return url_template.replace(BATCH_IDX_REF, f"{batch_idx:05d}").replace(RUN_ID_REF, f"{run_id:05d}")
