"""Aggregate functions and their quirks (spec 2.7), Go Capillaries results as the oracle."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pytest

from capillaries_provider.expr import (
    ExprRuntimeError,
    ExprType,
    ExprTypeError,
    FieldType,
    Value,
    compile_aggregate,
    contains_aggregate,
    is_aggregate_call,
    parse,
)

F = FieldType
ENV = {
    "r": {"k": F.STRING},
    "l": {"i": F.INT, "f": F.FLOAT, "d": F.DECIMAL2, "s": F.STRING, "b": F.BOOL},
}


def agg(text: str, rows: Sequence[dict[str, Value]]) -> Value:
    acc = compile_aggregate(parse(text), ENV).new()
    for row in rows:
        acc.add({"r": {"k": "left"}, "l": row})
    return acc.result()


def ints(*values: int) -> list[dict[str, Value]]:
    return [{"i": v} for v in values]


def strs(*values: str) -> list[dict[str, Value]]:
    return [{"s": v} for v in values]


def decs(*values: str) -> list[dict[str, Value]]:
    return [{"d": Decimal(v)} for v in values]


def test_count() -> None:
    assert agg("count()", ints(1, 2, 3)) == 3
    assert agg("count()", []) == 0
    assert agg("count_if(l.i > 1)", ints(1, 2, 3)) == 2


def test_sum() -> None:
    assert agg("sum(l.i)", ints(1, -5, 10)) == 6
    assert agg("sum(l.i)", ints(9223372036854775807, 1)) == -9223372036854775808  # int64 wrap
    assert agg("sum(l.f)", [{"f": 0.1}, {"f": 0.2}]) == 0.30000000000000004
    assert agg("sum(l.d)", decs("1.005", "2.001")) == Decimal("3.006")  # exact add, not rounded
    assert agg("sum_if(l.i, l.i > 100)", ints(1, 2)) == 0
    assert agg("sum(l.d)", []) == Decimal(0)


def test_sum_arguments_are_evaluated_with_decimal_rounding() -> None:
    # each l.d * 2 is rounded to 2 places before being added: 2.01 + 0.67
    assert agg("sum(l.d * 2)", decs("1.005", "0.333")) == Decimal("2.68")


def test_avg() -> None:
    assert agg("avg(l.i)", ints(1, 2)) == 1  # floor of 3/2
    assert agg("avg(l.i)", ints(-1, -2)) == -2  # Euclidean (floor) division, not truncation
    assert agg("avg(l.i)", ints(9223372036854775807, 9223372036854775807)) == 9223372036854775807  # big-int sum
    assert agg("avg(l.f)", [{"f": 1.0}, {"f": 2.0}]) == 1.5
    assert agg("avg(l.d)", decs("1", "1", "2")) == Decimal("1.33")  # 1.3333333333333333 then round 2
    assert agg("avg(l.d)", decs("0.005", "0.004")) == Decimal("0.00")  # 0.0045 -> 0.00
    assert agg("avg(l.d)", decs("0.01", "0")) == Decimal("0.01")  # 0.005 -> 0.01 (half away from zero)
    assert agg("avg_if(l.f, l.f > 10)", [{"f": 1.0}]) == 0.0
    assert agg("avg(float(l.i))", ints(1, 2)) == 1.5


def test_min_max_numbers() -> None:
    assert agg("min(l.i)", ints(3, -1, 2)) == -1
    assert agg("max(l.i)", ints(3, -1, 2)) == 3
    assert agg("min(l.f)", [{"f": 1.5}, {"f": -0.5}]) == -0.5
    assert agg("max(l.d)", decs("1.10", "1.2")) == Decimal("1.2")
    assert agg("min(l.d)", decs("1.10", "1.2")) == Decimal("1.10")


def test_min_max_sentinels_leak_when_nothing_matched() -> None:
    assert agg("min_if(l.i, false)", ints(1)) == 9223372036854775807
    assert agg("max_if(l.i, false)", ints(1)) == -9223372036854775808
    assert agg("min_if(l.f, false)", []) == 1.7976931348623157e308  # MaxFloat64
    assert agg("max_if(l.f, false)", []) == -3.4028234663852886e38  # -MaxFloat32 (not -MaxFloat64)
    assert agg("max(l.f)", [{"f": -1e39}]) == -3.4028234663852886e38  # below the sentinel: never accumulated
    dec_min = agg("min_if(l.d, false)", [])
    dec_max = agg("max_if(l.d, false)", [])
    assert dec_min == Decimal("340282350000000000000000000000000000000")
    assert dec_max == Decimal("-340282350000000000000000000000000000000")
    assert agg("min_if(l.s, false)", strs("a")) == ""


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("min(l.s)", ("b", "a", "c"), "a"),
        ("max(l.s)", ("b", "a", "c"), "c"),
        ("min(l.s)", ("b", "", "c"), "c"),  # empty replaces, then counts as unset
        ("min(l.s)", ("b", "c", ""), ""),
        ("min(l.s)", ("", "b", "a"), "a"),
        ("max(l.s)", ("b", "", "a"), "b"),  # max ignores empty values
        ("max(l.s)", ("", "", ""), ""),
        ("min(l.s)", ("Z", "a"), "Z"),  # byte-wise
        ("max(l.s)", ("z", "é"), "é"),
    ],
)
def test_string_min_max_quirk(text: str, values: tuple[str, ...], expected: str) -> None:
    assert agg(text, strs(*values)) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (("a", "b", "c"), "a,b,c"),
        (("", "a", "", "b"), "a,,b"),  # leading empties vanish, later ones double the separator
        (("", ""), ""),
        (("a",), "a"),
        ((), ""),
        (("a", ""), "a,"),
    ],
)
def test_string_agg(values: tuple[str, ...], expected: str) -> None:
    assert agg('string_agg(l.s, ",")', strs(*values)) == expected


def test_string_agg_separator_quotes_trimmed_and_conditional_variant() -> None:
    assert agg('string_agg(l.s, "|")', strs("x", "y")) == "x|y"
    assert agg('string_agg(l.s, "")', strs("x", "y")) == "xy"
    rows: list[dict[str, Value]] = [{"s": "x", "i": 1}, {"s": "y", "i": 0}, {"s": "z", "i": 1}]
    assert agg('string_agg_if(l.s, "-", l.i > 0)', rows) == "x-z"


def test_if_variants_evaluate_the_value_even_when_the_condition_is_false() -> None:
    with pytest.raises(ExprRuntimeError, match="integer divide by zero"):
        agg("sum_if(l.i / 0, false)", ints(1))


def test_accumulators_are_independent() -> None:
    spec = compile_aggregate(parse("sum(l.i)"), ENV)
    a, b = spec.new(), spec.new()
    a.add({"l": {"i": 5}})
    b.add({"l": {"i": 7}})
    a.add({"l": {"i": 1}})
    assert (a.result(), b.result()) == (6, 7)
    assert spec.result_type is ExprType.INT


def test_aggregate_helpers() -> None:
    assert is_aggregate_call(parse("sum(l.i)"))
    assert not is_aggregate_call(parse("sum(l.i) + 1"))
    assert not is_aggregate_call(parse("len(l.s)"))
    assert contains_aggregate(parse("sum(l.i) + 1"))
    assert contains_aggregate(parse("int.iif(true, max(l.i), 0)"))
    assert not contains_aggregate(parse("l.i + 1"))


def test_compile_aggregate_rejects_non_aggregates() -> None:
    with pytest.raises(ExprTypeError, match="not an aggregate"):
        compile_aggregate(parse("l.i + 1"), ENV)
    with pytest.raises(ExprTypeError, match="cannot be nested"):
        compile_aggregate(parse("sum(max(l.i))"), ENV)
