"""Expressions can reach only the whitelisted Capillaries built-ins (spec 2.5), never Python.

User text is parsed by our Go-subset parser and compiled from our AST (DESIGN invariant): Python names such as
`__import__`, attribute access on values, dunder selectors and calls of anything outside the built-in table must be
rejected at check time, with the position of the offending part, and nothing in the package may hand text to
`eval`/`exec`/`compile`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from capillaries_provider.expr import ExprError, ExprSyntaxError, ExprTypeError, FieldType, check, compile_expr, parse

PACKAGE = Path(__file__).resolve().parents[2] / "capillaries_provider"
ENV = {"r": {"price": FieldType.FLOAT, "name": FieldType.STRING}}

# (expression, error class, message fragment, position of the offending part in the expression)
HOSTILE = [
    ('__import__("os")', ExprTypeError, "unknown function __import__()", 0),
    ('__import__("os").system("id")', ExprTypeError, "call of a non-function", 0),
    ('math.Sqrt(__import__("os"))', ExprTypeError, "unknown function __import__()", 10),
    ('fmt.Sprintf("%s", eval("1"))', ExprTypeError, "unknown function eval()", 18),
    ('exec("x=1")', ExprTypeError, "unknown function exec()", 0),
    ('compile("1", "", "eval")', ExprTypeError, "unknown function compile()", 0),
    ('open("/etc/passwd")', ExprTypeError, "unknown function open()", 0),
    ('getattr(r, "name")', ExprTypeError, "unknown function getattr()", 0),
    ("globals()", ExprTypeError, "unknown function globals()", 0),
    ('print("x")', ExprTypeError, "unknown function print()", 0),
    ('os.system("id")', ExprTypeError, "unknown function os.system()", 0),
    ("decimal2.__call__(1)", ExprTypeError, "unknown function decimal2.__call__()", 0),
    ("r.__class__", ExprTypeError, "unknown field r.__class__", 0),
    ("r.__dict__", ExprTypeError, "unknown field r.__dict__", 0),
    ("fmt.__dict__", ExprTypeError, "unknown field fmt.__dict__", 0),
    ("len.__self__", ExprTypeError, "unknown field len.__self__", 0),
    ("__builtins__.open", ExprTypeError, "unknown field __builtins__.open", 0),
    ("len(__builtins__)", ExprTypeError, "plain identifier __builtins__ is not allowed", 4),
    ("r.name.__class__", ExprTypeError, "selector .__class__ on a non-identifier", 7),
    ("r.name.__len__", ExprTypeError, "selector .__len__ on a non-identifier", 7),
    ("r.price.real", ExprTypeError, "selector .real on a non-identifier", 8),
    ("(1).__class__", ExprTypeError, "selector .__class__ on a non-identifier", 4),
    ("strings.ToUpper.__globals__", ExprTypeError, "selector .__globals__ on a non-identifier", 16),
    ("fmt.Sprintf.__code__", ExprTypeError, "selector .__code__ on a non-identifier", 12),
    ("r.name.upper()", ExprTypeError, "call of a non-function", 0),
    ('"abc".upper()', ExprTypeError, "call of a non-function", 0),
    ('strings.ReplaceAll(r.name, "a", "b").__len__()', ExprTypeError, "call of a non-function", 0),
    ('r["name"]', ExprSyntaxError, "index and slice expressions are not supported", 1),
    ("r.name[0]", ExprSyntaxError, "index and slice expressions are not supported", 6),
    ("[x for x in r]", ExprSyntaxError, "composite literals are not supported", 0),
    ("func() int { return 1 }()", ExprSyntaxError, "function literals are not supported", 0),
    ("lambda: 1", ExprSyntaxError, "expected EOF, found ':'", 6),
    ("x := 1", ExprSyntaxError, "expected EOF, found ':='", 2),
    ("r.name; 1", ExprSyntaxError, "expected EOF, found ';'", 6),
    ("type(r)", ExprSyntaxError, "expected operand, found 'type'", 0),
]


@pytest.mark.parametrize(("text", "error", "fragment", "pos"), HOSTILE, ids=[c[0] for c in HOSTILE])
def test_hostile_expression_is_rejected_with_its_position(
    text: str, error: type[ExprError], fragment: str, pos: int
) -> None:
    with pytest.raises(error) as raised:
        check(parse(text), ENV)
    message = str(raised.value)
    assert fragment in message
    assert f"(at position {pos} in expression {text!r})" in message


@pytest.mark.parametrize("text", [c[0] for c in HOSTILE if c[1] is ExprTypeError])
def test_compiling_skips_no_check(text: str) -> None:
    """compile_expr type-checks itself: a caller that forgets `check` still cannot build a callable."""
    with pytest.raises(ExprTypeError):
        compile_expr(parse(text), ENV, round_decimals=False)


def test_whitelisted_builtins_still_work_next_to_the_rejections() -> None:
    """The guard is the built-in table, not a blanket ban: Go results as oracle."""
    fn = compile_expr(
        parse('strings.ReplaceAll(fmt.Sprintf("%s:%d", r.name, int(r.price)), "a", "_")'), ENV, round_decimals=False
    )
    assert fn({"r": {"name": "banana", "price": -7.9}}) == "b_n_n_:-7"


def test_hostile_text_inside_string_literals_is_only_data() -> None:
    fn = compile_expr(parse("fmt.Sprintf(\"%s\", \"__import__('os').system('id')\")"), ENV, round_decimals=False)
    assert fn({"r": {}}) == "__import__('os').system('id')"


# The only places where Python code is built at run time, and why each is safe:
# - expr/compiler.py compiles source generated from our checked AST; user text is bound as constants (tested below);
# - engine/pycalc/child_main.py runs the user's py_calc code, which is Python by design, in a separate process
#   with a time and memory limit and a scrubbed environment.
ALLOWED_DYNAMIC_CODE = {"expr/compiler.py", "engine/pycalc/child_main.py"}


def _dynamic_code_calls(path: Path) -> list[str]:
    """Calls of eval/exec/compile/__import__ as plain names (the ways text could become code)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        is_name_call = isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        if is_name_call and node.func.id in {"eval", "exec", "compile", "__import__"}:
            found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.func.id}()")
    return found


def test_dynamic_code_exists_only_where_it_is_reviewed() -> None:
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 50  # the walk really covers the package
    offenders = [
        hit for m in modules for hit in _dynamic_code_calls(m) if hit.split(":")[0] not in ALLOWED_DYNAMIC_CODE
    ]
    assert offenders == []
    assert {hit.split(":")[0] for m in modules for hit in _dynamic_code_calls(m)} == ALLOWED_DYNAMIC_CODE


def test_user_text_never_enters_generated_python_source(monkeypatch: pytest.MonkeyPatch) -> None:
    """Field names and literal contents reach the generated function as bound constants, not as source text."""
    import capillaries_provider.expr.compiler as compiler

    sources: list[str] = []

    def spy(source: str, filename: str, mode: str) -> object:
        sources.append(source)
        return compile(source, filename, mode)

    monkeypatch.setattr(compiler, "compile", spy, raising=False)
    env = {"r": {"system": FieldType.STRING, "evil_name": FieldType.INT}}
    text = 'fmt.Sprintf("%s%d", strings.ReplaceAll(r.system, "__import__(\'os\')", "x"), r.evil_name + 12345)'
    fn = compile_expr(parse(text), env, round_decimals=False)
    assert fn({"r": {"system": "a__import__('os')b", "evil_name": 1}}) == "axb12346"
    assert len(sources) == 1
    for user_text in ("system", "evil_name", "__import__", "12345", "%s%d"):
        assert user_text not in sources[0]
