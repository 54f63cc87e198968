"""shopspring/decimal behaviour; every expected value below was printed by Go with shopspring/decimal v1.4.0."""

from __future__ import annotations

from decimal import Decimal

import pytest

from capillaries_provider.expr.godecimal import (
    decimal_div,
    decimal_from_float,
    decimal_from_string,
    decimal_string,
    parquet_decimal_unscaled,
    round_half_away,
    string_fixed,
    to_cassandra_decimal,
)

# input | String() | StringFixed(2) | Round(1) | Round(-1) | IntPart(v*100) | Cassandra form | exponent
ROWS = [
    ("1.005", "1.005", "1.01", "1", "0", 100, "1", -3),
    ("12.30", "12.3", "12.30", "12.3", "10", 1230, "12.3", -2),
    ("-12.345", "-12.345", "-12.35", "-12.3", "-10", -1234, "-12.35", -3),
    ("0.5", "0.5", "0.50", "0.5", "0", 50, "0.5", -1),
    ("-0.05", "-0.05", "-0.05", "-0.1", "0", -5, "-0.05", -2),
    ("1e5", "100000", "100000.00", "100000", "100000", 10000000, "100000", 5),
    ("1.5E-3", "0.0015", "0.00", "0", "0", 0, "0", -4),
    ("-1.2e+2", "-120", "-120.00", "-120", "-120", -12000, "-120", 1),
    (".5", "0.5", "0.50", "0.5", "0", 50, "0.5", -1),
    ("5.", "5", "5.00", "5", "10", 500, "5", 0),
    ("+7", "7", "7.00", "7", "10", 700, "7", 0),
    (
        "99999999999999999999.999",
        "99999999999999999999.999",
        "100000000000000000000.00",
        "100000000000000000000",
        "100000000000000000000",
        1864712049423024127,
        "-92233720368547758.08",
        -3,
    ),
    ("0", "0", "0.00", "0", "0", 0, "0", 0),
    ("-0", "0", "0.00", "0", "0", 0, "0", 0),
    ("2.675", "2.675", "2.68", "2.7", "0", 267, "2.68", -3),
    ("-2.675", "-2.675", "-2.68", "-2.7", "0", -267, "-2.68", -3),
    ("1.345", "1.345", "1.35", "1.3", "0", 134, "1.35", -3),
]


@pytest.mark.parametrize(("text", "string", "fixed2", "round1", "round_m1", "parquet", "cassandra", "exp"), ROWS)
def test_from_string_and_renderings(
    text: str, string: str, fixed2: str, round1: str, round_m1: str, parquet: int, cassandra: str, exp: int
) -> None:
    d = decimal_from_string(text)
    assert decimal_string(d) == string
    assert string_fixed(d, 2) == fixed2
    assert decimal_string(round_half_away(d, 1)) == round1
    assert decimal_string(round_half_away(d, -1)) == round_m1
    assert parquet_decimal_unscaled(d) == parquet
    assert decimal_string(to_cassandra_decimal(d)) == cassandra
    assert d.as_tuple().exponent == exp


def test_cassandra_form_has_scale_two() -> None:
    # 1.005*100 is 100.49999999999999 in float64, so Go's math.Round gives 100 -> 1.00 (spec 3.4).
    assert str(to_cassandra_decimal(Decimal("1.005"))) == "1.00"
    assert str(to_cassandra_decimal(Decimal("-7"))) == "-7.00"


@pytest.mark.parametrize(
    ("a", "b", "quotient"),
    [
        ("1.005", "3", "0.335"),
        ("12.30", "7", "1.7571428571428571"),
        ("-12.345", "-7", "1.7635714285714286"),
        ("-0.05", "1", "-0.05"),
        ("1e5", "-3", "-33333.3333333333333333"),
        ("1.5E-3", "7", "0.0002142857142857"),
        (".5", "3", "0.1666666666666667"),
        ("5.", "3", "1.6666666666666667"),
        ("2", "-3", "-0.6666666666666667"),
        ("123456789012345678901234567890", "-7", "-17636684144620811271604938270"),
    ],
)
def test_division_rounds_half_away_to_16_places(a: str, b: str, quotient: str) -> None:
    q = decimal_div(decimal_from_string(a), decimal_from_string(b))
    assert decimal_string(q) == quotient
    assert q.as_tuple().exponent == -16


def test_division_by_zero_is_go_panic_text() -> None:
    with pytest.raises(ZeroDivisionError, match="^decimal division by 0$"):
        decimal_div(Decimal("1"), Decimal("0.00"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "can't convert abc to decimal"),
        ("1.2.3", "can't convert 1.2.3 to decimal: too many .s"),
        ("1e", "can't convert 1e to decimal: exponent is not numeric"),
        ("1ex", "can't convert 1ex to decimal: exponent is not numeric"),
        ("-", "can't convert - to decimal"),
        ("1_000", "can't convert 1_000 to decimal"),
        (" 5", "can't convert  5 to decimal"),
        ("", "can't convert  to decimal"),
        ("NaN", "can't convert NaN to decimal"),
        ("1e99999999999", "can't convert 1e99999999999 to decimal: fractional part too long"),
    ],
)
def test_from_string_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        decimal_from_string(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("value", "string", "exp", "round2"),
    [
        (100.0, "100", 2, "100"),
        (1.5, "1.5", -1, "1.5"),
        (0.1 + 0.2, "0.30000000000000004", -17, "0.3"),
        (1e21, "1000000000000000000000", 21, "1000000000000000000000"),
        (-123.456, "-123.456", -3, "-123.46"),
        (1.005, "1.005", -3, "1.01"),
        (0.0, "0", 0, "0"),
        (-0.0, "0", 0, "0"),
        (2.5e-7, "0.00000025", -8, "0"),
    ],
)
def test_from_float_uses_shortest_repr(value: float, string: str, exp: int, round2: str) -> None:
    d = decimal_from_float(value)
    assert decimal_string(d) == string
    assert d.as_tuple().exponent == exp
    assert decimal_string(round_half_away(d, 2)) == round2


def test_from_float_rejects_specials() -> None:
    with pytest.raises(ValueError):
        decimal_from_float(float("inf"))
