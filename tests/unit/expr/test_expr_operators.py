"""Operator semantics of compiled expressions with Go's results as the oracle (spec 2.3)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capillaries_provider.expr import ExprRuntimeError, FieldType, Value, compile_expr, parse

F = FieldType
I64_MIN = -(2**63)
I64_MAX = 2**63 - 1
ENV: Mapping[str, Mapping[str, FieldType]] = {
    "r": {
        "a": F.INT,
        "b": F.INT,
        "x": F.FLOAT,
        "y": F.FLOAT,
        "d": F.DECIMAL2,
        "e": F.DECIMAL2,
        "s": F.STRING,
        "u": F.STRING,
        "p": F.BOOL,
        "q": F.BOOL,
        "t": F.DATETIME,
        "t2": F.DATETIME,
    }
}


def ev(text: str, round_decimals: bool = False, **r: Value) -> Value:
    return compile_expr(parse(text), ENV, round_decimals=round_decimals)({"r": r})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-7 / 2", -3),
        ("7 / -2", -3),
        ("-7 % 3", -1),
        ("7 % -3", 1),
        ("-7 % -3", -1),
        ("7 / 2", 3),
        ("2 * 3 + 4", 10),
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("10 - 2 - 3", 5),
        ("100 / 10 / 5", 2),
        ("9223372036854775807 + 1", I64_MIN),
        ("-9223372036854775807 - 2", I64_MAX),
        ("9223372036854775807 * 2", -2),
        ("4611686018427387904 * 2", I64_MIN),
        ("-(9223372036854775807 + 1)", I64_MIN),  # negating MinInt64 wraps to itself
        ("(-9223372036854775807 - 1) / -1", I64_MIN),
        ("(-9223372036854775807 - 1) % -1", 0),
        ("-0", 0),
    ],
)
def test_int_arithmetic(text: str, expected: int) -> None:
    assert ev(text) == expected


@pytest.mark.parametrize("text", ["r.a / 0", "r.a % 0", "1 / (r.a - r.a)"])
def test_int_divide_by_zero_is_a_runtime_error(text: str) -> None:
    with pytest.raises(ExprRuntimeError, match="integer divide by zero") as info:
        ev(text, a=5)
    assert info.value.text == text


def test_runtime_error_format_names_the_expression() -> None:
    with pytest.raises(ExprRuntimeError) as info:
        ev("r.a / r.b", a=1, b=0)
    assert info.value.format() == "cannot evaluate expression: integer divide by zero\n  r.a / r.b"
    assert "'r.a / r.b'" in str(info.value)


def _go_div(a: int, b: int) -> int:
    """Reference: Go int64 division truncates toward zero, then wraps."""
    q = abs(a) // abs(b)
    q = q if (a >= 0) == (b >= 0) else -q
    return (q + 2**63) % 2**64 - 2**63


def _go_mod(a: int, b: int) -> int:
    r = abs(a) % abs(b)
    return r if a >= 0 else -r


def _wrap(v: int) -> int:
    return (v + 2**63) % 2**64 - 2**63


INT64 = st.integers(min_value=I64_MIN, max_value=I64_MAX)


@given(INT64, INT64)
def test_int64_arithmetic_matches_reference(a: int, b: int) -> None:
    fns = {op: compile_expr(parse(f"r.a {op} r.b"), ENV, round_decimals=False) for op in "+-*"}
    row = {"r": {"a": a, "b": b}}
    assert fns["+"](row) == _wrap(a + b)
    assert fns["-"](row) == _wrap(a - b)
    assert fns["*"](row) == _wrap(a * b)
    if b != 0:
        assert ev("r.a / r.b", a=a, b=b) == _go_div(a, b)
        assert ev("r.a % r.b", a=a, b=b) == _go_mod(a, b)
        # Go identity: (a / b) * b + a % b == a (with wrap-around)
        assert _wrap(_go_div(a, b) * b + _go_mod(a, b)) == a
    assert ev("-r.a", a=a) == _wrap(-a)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.5 * 2.0 + 1.0", 4.0),
        ("0.1 + 0.2", 0.30000000000000004),
        ("7.0 / 2", 3.5),
        ("1 + 0.5", 1.5),  # int promoted to float
        ("1.0 / 0", math.inf),
        ("-1.0 / 0", -math.inf),
        ("1e308 * 10.0", math.inf),
    ],
)
def test_float_arithmetic(text: str, expected: float) -> None:
    assert ev(text) == expected


def test_float_division_by_zero_and_signed_zero() -> None:
    assert math.isnan(ev("r.x / r.y", x=0.0, y=0.0))  # type: ignore[arg-type]
    assert ev("r.x / r.y", x=1.0, y=-0.0) == -math.inf
    assert ev("r.x / r.y", x=-2.0, y=-0.0) == math.inf


def test_float_beats_decimal_and_converts_exactly_rounded() -> None:
    got = ev("r.d * r.x", d=Decimal("0.1"), x=3.0)
    assert got == 0.1 * 3.0 == 0.30000000000000004
    assert isinstance(got, float)
    assert ev("r.a + r.x", a=2**53 + 1, x=0.0) == 9007199254740992.0


@pytest.mark.parametrize(
    ("text", "round_decimals", "expected"),
    [
        ("decimal2(1) / decimal2(3)", True, "0.33"),
        ("decimal2(1) / decimal2(3)", False, "0.3333333333333333"),
        ("decimal2(2) / decimal2(3)", False, "0.6666666666666667"),
        ("decimal2(-2) / decimal2(3)", False, "-0.6666666666666667"),
        ("r.d + r.e", True, "3.01"),  # 1.005 + 2.0 = 3.005 -> half away from zero
        ("r.d + r.e", False, "3.005"),
        ("r.d * r.e", False, "2.010"),
        ("r.d - r.e", True, "-1.00"),  # -0.995 -> -1.00
        ("r.d * 2", True, "2.01"),  # int promoted to decimal
        ("-r.d", True, "-1.005"),  # unary minus is not rounded
        ("123456789012345678901234567890.5 * 2", False, None),  # float literal: float result
        ("9223372036854775808 * 3", False, "27670116110564327424"),  # exact, no 28-digit context
        ("r.d - r.d", False, "0.000"),
    ],
)
def test_decimal_arithmetic(text: str, round_decimals: bool, expected: str | None) -> None:
    got = ev(text, round_decimals, d=Decimal("1.005"), e=Decimal("2"))
    if expected is None:
        assert isinstance(got, float)
    else:
        assert isinstance(got, Decimal)
        assert str(got) == expected


def test_decimal_division_rounds_twice() -> None:
    # 0.004999999999999999_95 -> 16 places: 0.0050000000000000 -> 2 places: 0.01 (a single rounding gives 0.00)
    got = ev("r.d / r.e", True, d=Decimal("0.0004999999999999999995"), e=Decimal("0.1"))
    assert got == Decimal("0.01")


def test_decimal_division_by_zero() -> None:
    with pytest.raises(ExprRuntimeError, match="decimal division by 0"):
        ev("r.d / r.e", d=Decimal(1), e=Decimal(0))


def test_string_concatenation() -> None:
    assert ev('r.s + "-" + r.u', s="a", u="b") == "a-b"
    assert ev('"[" + r.s + "]"', s="x") == "[x]"


@pytest.mark.parametrize(
    ("text", "s", "u", "expected"),
    [
        ("r.s < r.u", "abc", "abd", True),
        ("r.s < r.u", "Z", "a", True),  # byte-wise
        ("r.s < r.u", "é", "z", False),  # UTF-8 bytes 0xC3 > 'z'
        ("r.s == r.u", '"abc"', "abc", True),  # quotes trimmed on both sides
        ('r.s == "abc"', '""abc""', "", True),
        ("r.s == r.u", 'a\\"b', 'a"b', False),  # left \" -> \ , right \" -> "
        ("r.s == r.u", 'a\\"b', 'a\\"b', False),
        ("r.s == r.u", 'a\\"b', "a\\b", True),
        ("r.u == r.s", 'a\\"b', 'a"b', True),  # sides swapped: now the \" is on the right
        ("r.s == r.u", 'a"b', 'a\\"b', True),
        ("r.s != r.u", "x", "y", True),
        ("r.s >= r.u", "b", "a", True),
        ("r.s <= r.u", "", "", True),
    ],
)
def test_string_comparison_quirk(text: str, s: str, u: str, expected: bool) -> None:
    assert ev(text, s=s, u=u) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 < 2", True),
        ("2 <= 2", True),
        ("1 == 1.0", True),
        ("3 > 2.5", True),
        ("r.d == 1", True),
        ("r.d > r.x", False),  # decimal 1 vs float 1.5 compared as floats
        ("9007199254740993 == 9007199254740992.0", True),  # int converted to float64 first
        ("r.p == r.q", False),
        ("r.p != r.q", True),
        ("r.t < r.t2", True),
        ("r.t == r.t2", False),
    ],
)
def test_comparisons(text: str, expected: bool) -> None:
    t = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    got = ev(text, d=Decimal(1), x=1.5, p=True, q=False, t=t, t2=t + dt.timedelta(microseconds=1))
    assert got is expected


def test_datetime_equality_is_by_instant() -> None:
    t = dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)
    other = t.astimezone(dt.timezone(dt.timedelta(hours=2), "X"))
    assert ev("r.t == r.t2", t=t, t2=other) is True


def test_nan_comparisons() -> None:
    assert ev("r.x == r.x", x=math.nan) is False
    assert ev("r.x != r.x", x=math.nan) is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true && false", False),
        ("true || false", True),
        ("!true", False),
        ("!(1 > 2) && 2 > 1", True),
        ("false || false || true", True),
    ],
)
def test_logic(text: str, expected: bool) -> None:
    assert ev(text) is expected


def test_logic_does_not_short_circuit() -> None:
    # Go evaluates both sides, so the error on the right surfaces even though the left decides.
    with pytest.raises(ExprRuntimeError, match="integer divide by zero"):
        ev("false && r.a / r.b > 0", a=1, b=0)
    with pytest.raises(ExprRuntimeError, match="integer divide by zero"):
        ev("true || r.a / r.b > 0", a=1, b=0)


def test_missing_variable_is_a_runtime_error() -> None:
    fn = compile_expr(parse("r.a + l.b"), {"r": {"a": F.INT}, "l": {"b": F.INT}}, round_decimals=False)
    assert fn({"r": {"a": 1}, "l": {"b": 2}}) == 3
    with pytest.raises(ExprRuntimeError, match="no value for 'l'"):
        fn({"r": {"a": 1}})


def test_literal_quirks_in_evaluation() -> None:
    assert ev('"a\\tb"') == "a\\tb"
    assert ev("010 + 1") == 11
    assert ev("-9223372036854775808") == Decimal("-9223372036854775808")  # literal overflowed into a decimal


def test_wfmodel_constants_evaluate() -> None:
    env = {"nrs": {"run_status": F.INT, "node_status": F.INT}}
    fn = compile_expr(
        parse("nrs.run_status == wfmodel.RunComplete && nrs.node_status == wfmodel.NodeBatchRunStopReceived"),
        env,
        round_decimals=False,
        allow_wfmodel=True,
    )
    assert fn({"nrs": {"run_status": 2, "node_status": 104}}) is True
    assert fn({"nrs": {"run_status": 1, "node_status": 104}}) is False


def test_plain_identifiers_read_the_empty_alias() -> None:
    fn = compile_expr(parse("x * 2"), {"": {"x": F.INT}}, round_decimals=False, allow_plain_idents=True)
    assert fn({"": {"x": 21}}) == 42


def test_root_string_literal_can_keep_its_quotes() -> None:
    fn = compile_expr(parse('"abc"'), {}, round_decimals=False, keep_root_string_quotes=True)
    assert fn({}) == '"abc"'
    assert compile_expr(parse('"abc"'), {}, round_decimals=False)({}) == "abc"


def test_long_and_deeply_nested_expressions_compile() -> None:
    assert ev("+".join(["r.a"] * 300), a=1) == 300
    assert ev("(" * 60 + "r.a" + " + 1)" * 60, a=1) == 61
    assert ev("int.iif(r.a > 0, " * 40 + "r.b" + ", 2)" * 40, a=1, b=7) == 7


def test_compiled_functions_are_cached_per_text_types_and_options() -> None:
    text = "r.a * 2"
    first = compile_expr(parse(text), ENV, round_decimals=False)
    assert compile_expr(parse(text), ENV, round_decimals=False) is first
    assert compile_expr(parse(text), ENV, round_decimals=True) is not first
    as_float = compile_expr(parse(text), {"r": {"a": F.FLOAT}}, round_decimals=False)
    assert as_float({"r": {"a": 1.5}}) == 3.0
    assert first({"r": {"a": 9223372036854775807}}) == -2


def test_user_text_is_data_never_code() -> None:
    # Literals travel as bound constants, so quotes, newlines or Python syntax inside them stay inert text.
    payload = '"); __import__("os").system("false"); ("'
    assert ev(f"`{payload}` + r.s", s="!") == payload + "!"
    assert ev('r.s + "\\n\\"x"', s="a") == 'a\\n\\"x'
    fn = compile_expr(parse("r.__class__ + r.s"), {"r": {"__class__": F.STRING, "s": F.STRING}}, round_decimals=False)
    assert fn({"r": {"__class__": "a", "s": "b"}}) == "ab"


_DECIMALS = st.decimals(min_value=-(10**12), max_value=10**12, places=4, allow_nan=False, allow_infinity=False)


def _half_away(d: Decimal, places: int) -> Decimal:
    """Reference rounding: Python's ROUND_HALF_UP is half away from zero."""
    from decimal import ROUND_HALF_UP, Context

    return d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP, context=Context(prec=200))


@given(_DECIMALS, _DECIMALS)
def test_decimal_arithmetic_matches_reference(a: Decimal, b: Decimal) -> None:
    from decimal import Context

    exact = Context(prec=200)
    row = {"r": {"d": a, "e": b}}
    for op, ref in (("+", exact.add(a, b)), ("-", exact.subtract(a, b)), ("*", exact.multiply(a, b))):
        plain = compile_expr(parse(f"r.d {op} r.e"), ENV, round_decimals=False)(row)
        rounded = compile_expr(parse(f"r.d {op} r.e"), ENV, round_decimals=True)(row)
        assert plain == ref
        assert rounded == _half_away(ref, 2)
    if b != 0:
        quotient = _half_away(exact.divide(a, b), 16)
        assert compile_expr(parse("r.d / r.e"), ENV, round_decimals=False)(row) == quotient
        assert compile_expr(parse("r.d / r.e"), ENV, round_decimals=True)(row) == _half_away(quotient, 2)
