"""CSV cell conversion (spec 1.5 table); expected values are what Capillaries' Go reader produces."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capillaries_provider.engine.cell_convert import CellConversionError, CellSpec, convert_cell, make_converter
from capillaries_provider.expr.godecimal import decimal_from_float, decimal_from_string, round_half_away
from capillaries_provider.expr.gofmt import sscanf_float, sscanf_int
from capillaries_provider.expr.types import ZERO_TIME, FieldType, Value

S, B, N, F, D, T = (
    FieldType.STRING,
    FieldType.BOOL,
    FieldType.INT,
    FieldType.FLOAT,
    FieldType.DECIMAL2,
    FieldType.DATETIME,
)
LAYOUT = "2006-01-02 15:04:05"


def conv(ft: FieldType, text: str, fmt: str = "", default: str = "") -> Value:
    spec = CellSpec("col_x", ft, fmt, default)
    return convert_cell(make_converter(spec), spec, text, "in.csv", 7)


def fails(ft: FieldType, text: str, fmt: str = "", default: str = "") -> str:
    with pytest.raises(CellConversionError) as e:
        conv(ft, text, fmt, default)
    return str(e.value)


@pytest.mark.parametrize(
    ("ft", "text", "fmt", "default", "expected"),
    [
        # string: only the exact empty string is empty; nothing is trimmed
        (S, "", "", "dflt", "dflt"),
        (S, "", "", "", ""),
        (S, " ", "", "dflt", " "),
        (S, " x ", "", "", " x "),
        # bool
        (B, "true", "", "", True),
        (B, "T", "", "", True),
        (B, "0", "", "", False),
        (B, "", "", "", False),
        (B, "  ", "", "t", True),
        # int
        (N, "42", "", "", 42),
        (N, "-7", "", "", -7),
        (N, "010", "", "", 10),
        (N, "", "", "", 0),
        (N, "\t", "", "7", 7),
        (N, " 5", "%d", "", 5),  # Sscanf skips leading blanks
        (N, "5abc", "%d", "", 5),  # and ignores trailing input
        (N, "id:12", "id:%d", "", 12),
        # float
        (F, "1.5", "", "", 1.5),
        (F, "Inf", "", "", math.inf),
        (F, "0x1p-2", "", "", 0.25),
        (F, "", "", "", 0.0),
        (F, "", "", "-2.5", -2.5),
        (F, " 2.5", "%f", "", 2.5),
        # decimal2: rounded half away from zero
        (D, "1.005", "", "", Decimal("1.01")),
        (D, "-1.005", "", "", Decimal("-1.01")),
        (D, "1.004", "", "", Decimal("1.00")),
        (D, "1e2", "", "", Decimal("100")),
        (D, "", "", "", Decimal(0)),
        (D, "", "", "2.345", Decimal("2.35")),
        (D, "267.8", "%f", "", Decimal("267.80")),
        # ... and with a format it goes through float64: digits beyond float precision are lost
        (D, "12345678901234567.89", "%f", "", Decimal("12345678901234568")),
        (D, "12345678901234567.89", "", "", Decimal("12345678901234567.89")),
        # datetime
        (T, "2018-11-16 04:00:05", LAYOUT, "", dt.datetime(2018, 11, 16, 4, 0, 5, tzinfo=dt.UTC)),
        (T, "", LAYOUT, "", ZERO_TIME),
        (T, " ", LAYOUT, "2000-01-02 03:04:05", dt.datetime(2000, 1, 2, 3, 4, 5, tzinfo=dt.UTC)),
    ],
)
def test_conversions(ft: FieldType, text: str, fmt: str, default: str, expected: Value) -> None:
    got = conv(ft, text, fmt, default)
    assert type(got) is type(expected)
    assert got == expected


def test_nan_float() -> None:
    got = conv(F, "NaN")
    assert isinstance(got, float) and math.isnan(got)


@pytest.mark.parametrize(
    ("ft", "text", "fmt", "default"),
    [
        (B, " true", "", ""),  # no trim for non-empty cells
        (B, "yes", "", ""),
        (N, " 5", "", ""),
        (N, "5 ", "", ""),
        (N, "1_000", "", ""),
        (N, "9223372036854775808", "", ""),
        (N, "1.5", "", ""),
        (N, "abc", "%d", ""),
        (N, "", "", " 7"),  # a non-blank default is parsed as written
        (F, " 1.5", "", ""),
        (D, " 1.5", "", ""),
        (D, "1,5", "", ""),
        (D, "1.5", "%d", ""),  # verb does not suit a float64 scan target
        (T, "2018-11-16", LAYOUT, ""),
        (T, "", LAYOUT, "yesterday"),
    ],
)
def test_conversion_errors(ft: FieldType, text: str, fmt: str, default: str) -> None:
    message = fails(ft, text, fmt, default)
    assert message.startswith("in.csv, line 7, column col_x: ")


def test_format_on_string_or_bool_fails_even_for_empty_cells() -> None:
    assert "do not accept format specifier" in fails(S, "", "%s")
    assert "do not accept format specifier" in fails(B, "", "%t")
    assert "do not accept format specifier" in fails(S, "abc", "%s")


def test_datetime_needs_a_format_only_for_non_empty_cells() -> None:
    assert "need a col_format" in fails(T, "2018-11-16 04:00:05")
    assert conv(T, "") == ZERO_TIME


def test_bad_default_fails_only_when_used() -> None:
    spec = CellSpec("n", N, "", "x")
    convert = make_converter(spec)
    assert convert("3") == 3
    with pytest.raises(ValueError, match="col_default_value 'x'"):
        convert("")


@settings(max_examples=60, deadline=None)
@given(st.from_regex(r"[+-]?[0-9]{1,20}(\.[0-9]{1,20})?", fullmatch=True))
def test_plain_decimal_fast_path_equals_shopspring(text: str) -> None:
    fast = conv(D, text)
    slow = round_half_away(decimal_from_string(text), 2)
    assert isinstance(fast, Decimal)
    assert fast == slow and str(fast) == str(slow)


def test_negative_value_rounding_to_zero_has_no_sign() -> None:
    assert str(conv(D, "-0.001")) == "0.00"


@settings(max_examples=60, deadline=None)
@given(st.from_regex(r"[+-]?[0-9]{1,25}", fullmatch=True))
def test_scan_int_fast_path_equals_sscanf(text: str) -> None:
    try:
        expected: object = sscanf_int(text, "%d")
    except ValueError:
        expected = "error"
    try:
        got: object = conv(N, text, "%d")
    except CellConversionError:
        got = "error"
    assert got == expected


@settings(max_examples=60, deadline=None)
@given(st.from_regex(r"[+-]?[0-9]{1,30}(\.[0-9]{0,30})?", fullmatch=True), st.sampled_from(["%f", "%g", "%e", "%v"]))
def test_scan_float_and_decimal_fast_paths_equal_the_go_ports(text: str, fmt: str) -> None:
    f = sscanf_float(text, fmt)
    assert conv(F, text, fmt) == f
    d = conv(D, text, fmt)
    slow = round_half_away(decimal_from_float(f), 2)
    assert d == slow and str(d) == str(slow)
