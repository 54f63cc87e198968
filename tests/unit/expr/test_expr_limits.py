"""Expression limits: length and nesting are refused with a position, flat chains of any allowed length work."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from capillaries_provider.expr import compile_expr, parse
from capillaries_provider.expr.errors import ExprRuntimeError, ExprSyntaxError
from capillaries_provider.expr.gofmt import MAX_FORMATTED_CHARS, sprintf
from capillaries_provider.expr.parser import MAX_EXPRESSION_CHARS, MAX_EXPRESSION_NESTING
from capillaries_provider.expr.types import FieldType as F

N = MAX_EXPRESSION_NESTING


def _value(text: str, **fields: object) -> object:
    env = {"r": {k: F.INT if isinstance(v, int) else F.STRING for k, v in fields.items()}}
    return compile_expr(parse(text), env, round_decimals=False)({"r": fields})


def test_an_expression_longer_than_the_limit_is_refused_before_tokenizing() -> None:
    text = "r.a+" * (MAX_EXPRESSION_CHARS // 4) + "r.a"
    with pytest.raises(ExprSyntaxError, match=f"more than the limit of {MAX_EXPRESSION_CHARS:,}") as e:
        parse(text)
    assert e.value.pos == MAX_EXPRESSION_CHARS
    assert len(e.value.format()) < 1000  # the caret line shows a window of the text, not all of it


def test_the_longest_flat_chain_checks_compiles_and_evaluates_without_recursion() -> None:
    terms = MAX_EXPRESSION_CHARS // 4
    assert _value("+".join(["r.a"] * terms), a=1) == terms
    assert _value("+".join(["r.s"] * terms), s="x") == "x" * terms


@pytest.mark.parametrize(
    ("nest", "innermost"),
    [
        (lambda t, n: "(" * n + t + ")" * n, "r.a"),
        (lambda t, n: "- " * n + t, "r.a"),
        (lambda t, n: "int.iif(r.a > 0, " * n + t + ", 2)" * n, "r.a"),
        (lambda t, n: "(r.a + " * n + t + ")" * n, "r.a"),
    ],
    ids=["parentheses", "unary", "call-arguments", "mixed"],
)
def test_nesting_up_to_the_limit_works_and_one_more_is_refused_at_its_place(
    nest: Callable[[str, int], str], innermost: str
) -> None:
    _value(nest(innermost, N), a=1)
    text = nest(innermost, N + 1)
    with pytest.raises(ExprSyntaxError, match=f"nested more than {N} levels deep") as e:
        parse(text)
    assert 0 < e.value.pos < len(text)


def test_limits_hold_from_a_deep_caller_stack() -> None:
    """The dag-processor and the worker call the loader from deep stacks: the nesting limit keeps a margin."""

    def deep(levels: int) -> object:
        return deep(levels - 1) if levels else _value("(" * N + "r.a + 1" + ")" * N, a=1)

    assert deep(sys.getrecursionlimit() // 2) == 2


def test_sprintf_width_beyond_go_bound_prints_go_markers() -> None:
    assert sprintf("%999999999d", [1]) == "%!(NOVERB)%!(EXTRA int64=1)"
    assert sprintf("%*d", [2_000_000, 1]) == "%!(BADWIDTH)1"


def test_one_formatted_value_is_bounded() -> None:
    width = 999_999
    verbs = MAX_FORMATTED_CHARS // width + 1
    text = 'fmt.Sprintf("' + f"%{width}d" * verbs + '", ' + ", ".join(["1"] * verbs) + ")"
    with pytest.raises(ExprRuntimeError, match=f"longer than the limit of {MAX_FORMATTED_CHARS:,} characters"):
        _value(text)
    assert len(_value('fmt.Sprintf("%999999d", 1)')) == width  # type: ignore[arg-type]
