"""Built-in functions of compiled expressions, Go results as the oracle (spec 2.5)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capillaries_provider.expr import ExprRuntimeError, FieldType, Value, compile_expr, parse
from capillaries_provider.expr.compiler import python_format
from capillaries_provider.expr.godecimal import decimal_string
from capillaries_provider.expr.gofmt import sprintf

F = FieldType
UTC = dt.UTC
ENV: Mapping[str, Mapping[str, FieldType]] = {
    "r": {
        "a": F.INT,
        "b": F.INT,
        "x": F.FLOAT,
        "d": F.DECIMAL2,
        "s": F.STRING,
        "u": F.STRING,
        "p": F.BOOL,
        "t": F.DATETIME,
        "t2": F.DATETIME,
    }
}


def ev(text: str, round_decimals: bool = True, **r: Value) -> Value:
    return compile_expr(parse(text), ENV, round_decimals=round_decimals)({"r": r})


def test_len_counts_utf8_bytes_as_go_int() -> None:
    assert ev("len(r.s)", s="héllo") == 6
    assert ev("len(r.s)", s="") == 0
    assert ev("len(r.s) + 1", s="日本") == 7


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("string(1e21)", "1e+21"),
        ("string(123456.0)", "123456"),
        ("string(1000000.0)", "1e+06"),
        ("string(1234567.0)", "1.234567e+06"),
        ("string(0.00001)", "1e-05"),
        ("string(0.1 + 0.2)", "0.30000000000000004"),
        ("string(-42)", "-42"),
        ("string(true)", "true"),
        ("string(r.d)", "1.1"),
        ('string(decimal2("12.00"))', "12"),
        ("string(len(r.s))", "3"),
        ("string(time.Date(2024, time.March, 5, 6, 7, 8, 0, time.UTC))", "2024-03-05 06:07:08 +0000 UTC"),
    ],
)
def test_string_is_go_percent_v(text: str, expected: str) -> None:
    assert ev(text, d=Decimal("1.10"), s="abc") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('int("42")', 42),
        ('int("-9223372036854775808")', -(2**63)),
        ("int(true)", 1),
        ("int(false)", 0),
        ("int(-2.7)", -2),
        ("int(2.7)", 2),
        ("int(1e19)", -(2**63)),  # out of range float -> MinInt64 (amd64)
        ("int(r.d)", -2),  # IntPart truncates
        ("int(len(r.s))", 3),
        ('float("1.5")', 1.5),
        ('float("1e3")', 1000.0),
        ("float(true)", 1.0),
        ("float(7)", 7.0),
        ("float(r.d)", -2.75),
    ],
)
def test_int_and_float_conversions(text: str, expected: object) -> None:
    got = ev(text, d=Decimal("-2.75"), s="abc")
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('decimal2("1.234")', "1.234"),  # not rounded
        ("decimal2(0.1)", "0.1"),  # shortest repr, not the binary expansion
        ("decimal2(1.005)", "1.005"),
        ("decimal2(true)", "1"),
        ("decimal2(5)", "5"),
        ("decimal2(r.d)", "1.239"),
        ("decimal2(1e21)", "1000000000000000000000"),
    ],
)
def test_decimal2_conversion_is_not_rounded(text: str, expected: str) -> None:
    got = ev(text, d=Decimal("1.239"))
    assert isinstance(got, Decimal)
    assert decimal_string(got) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('int("4x")', 'strconv.ParseInt: parsing "4x": invalid syntax'),
        ('int("9223372036854775808")', "value out of range"),
        ('int(" 1")', "invalid syntax"),
        ('float("abc")', 'strconv.ParseFloat: parsing "abc": invalid syntax'),
        ('decimal2("1.2.3")', "can't convert 1.2.3 to decimal"),
    ],
)
def test_conversion_errors(text: str, message: str) -> None:
    with pytest.raises(ExprRuntimeError, match=message.replace(".", r"\.").replace("(", r"\(")):
        ev(text)


def test_iif_variants() -> None:
    t1 = dt.datetime(2020, 1, 1, tzinfo=UTC)
    t2 = dt.datetime(2021, 1, 1, tzinfo=UTC)
    assert ev("int.iif(r.a > 0, r.a, -r.a)", a=-5) == 5
    assert ev("int.iif(r.a > 0, r.a, -r.a)", a=5) == 5
    assert ev("float.iif(r.p, 1.5, 2.5)", p=False) == 2.5
    assert ev("decimal2.iif(r.p, r.d, decimal2(0))", p=True, d=Decimal("3.14")) == Decimal("3.14")
    assert ev('string.iif(r.p, "y", "n")', p=True) == "y"
    assert ev("time.iif(r.p, r.t, r.t2)", p=False, t=t1, t2=t2) == t2


def test_iif_evaluates_both_branches() -> None:
    with pytest.raises(ExprRuntimeError, match="integer divide by zero"):
        ev("int.iif(true, 1, r.a / r.b)", a=1, b=0)
    with pytest.raises(ExprRuntimeError, match="invalid syntax"):
        ev('int.iif(false, int("x"), 2)')


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("math.Sqrt(2)", 1.4142135623730951),
        ("math.Sqrt(r.d)", 1.5),
        ("math.Round(2.5)", 3.0),
        ("math.Round(-2.5)", -3.0),
        ("math.Round(0.49999999999999994)", 0.0),
        ("math.Round(r.d)", 2.0),
        ("math.Round(1.23456 * 1000) / 1000", 1.235),
        ("math.Round(4503599627370497.0)", 4503599627370497.0),
    ],
)
def test_math(text: str, expected: float) -> None:
    assert ev(text, d=Decimal("2.25")) == expected


def test_math_special_values() -> None:
    assert math.isnan(ev("math.Sqrt(-1.0)"))  # type: ignore[arg-type]
    neg_zero = ev("math.Round(-0.4)")
    assert neg_zero == 0.0 and math.copysign(1.0, neg_zero) == -1.0  # type: ignore[arg-type]
    assert ev("math.Round(r.x)", x=math.inf) == math.inf


def test_time_parse_and_format() -> None:
    assert ev('time.Parse("2006-01-02", r.s)', s="2024-03-05") == dt.datetime(2024, 3, 5, tzinfo=UTC)
    t = dt.datetime(2024, 3, 5, 14, 7, 9, tzinfo=UTC)
    assert ev('time.Format(r.t, "2006-01-02T15:04:05 Mon Jan")', t=t) == "2024-03-05T14:07:09 Tue Mar"
    with pytest.raises(ExprRuntimeError, match="cannot parse"):
        ev('time.Parse("2006-01-02", r.s)', s="05/03/2024")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("time.Date(2024, time.March, 5, 6, 7, 8, 9000, time.UTC)", dt.datetime(2024, 3, 5, 6, 7, 8, 9, tzinfo=UTC)),
        ("time.Date(2023, time.February, 29, 25, 0, 0, 0, time.UTC)", dt.datetime(2023, 3, 2, 1, tzinfo=UTC)),
        ("time.Date(2024, time.January, 0, 0, 0, 0, 0, time.UTC)", dt.datetime(2023, 12, 31, tzinfo=UTC)),
        ("time.Date(2024, time.December, 31, 23, 59, 60, 0, time.UTC)", dt.datetime(2025, 1, 1, tzinfo=UTC)),
        ("time.Date(2024, time.May, 1, 0, -1, 0, 0, time.UTC)", dt.datetime(2024, 4, 30, 23, 59, tzinfo=UTC)),
        (
            'time.Date(2024, time.January, 1, 0, 0, 0, 0, time.FixedZone("EST", -18000))',
            dt.datetime(2024, 1, 1, 5, tzinfo=UTC),
        ),
    ],
)
def test_time_date_normalises(text: str, expected: dt.datetime) -> None:
    got = ev(text)
    assert isinstance(got, dt.datetime)
    assert got == expected


def test_fixed_zone_keeps_name_and_offset() -> None:
    got = ev('time.Date(2024, time.July, 1, 12, 0, 0, 0, time.FixedZone("XYZ", 5400))')
    assert isinstance(got, dt.datetime)
    assert got.tzname() == "XYZ"
    assert got.utcoffset() == dt.timedelta(seconds=5400)
    assert got.hour == 12


def test_time_now_is_aware_and_current() -> None:
    got = ev("time.Now()")
    assert isinstance(got, dt.datetime)
    assert got.tzinfo is not None
    assert abs((dt.datetime.now(UTC) - got).total_seconds()) < 5


@pytest.mark.parametrize(
    ("text", "t", "expected"),
    [
        ("time.Unix(r.t)", dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC), 1),
        ("time.Unix(r.t)", dt.datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC), -1),  # floored
        ("time.UnixMilli(r.t)", dt.datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC), -500),
        ("time.UnixMilli(r.t)", dt.datetime(2024, 1, 1, 0, 0, 0, 123999, tzinfo=UTC), 1704067200123),
    ],
)
def test_unix(text: str, t: dt.datetime, expected: int) -> None:
    assert ev(text, t=t) == expected


def test_diff_milli_truncates_and_saturates_like_go_duration() -> None:
    t = dt.datetime(2024, 1, 1, tzinfo=UTC)
    assert ev("time.DiffMilli(r.t, r.t2)", t=t + dt.timedelta(microseconds=1500999), t2=t) == 1500
    assert ev("time.DiffMilli(r.t, r.t2)", t=t, t2=t + dt.timedelta(microseconds=1500999)) == -1500
    zero = dt.datetime(1, 1, 1, tzinfo=UTC)
    assert ev("time.DiffMilli(r.t, r.t2)", t=t, t2=zero) == 9223372036854
    assert ev("time.DiffMilli(r.t, r.t2)", t=zero, t2=t) == -9223372036854


def test_before_after() -> None:
    t = dt.datetime(2024, 1, 1, tzinfo=UTC)
    later = t + dt.timedelta(seconds=1)
    assert ev("time.Before(r.t, r.t2)", t=t, t2=later) is True
    assert ev("time.After(r.t, r.t2)", t=t, t2=later) is False
    assert ev("time.Before(r.t, r.t2)", t=t, t2=t) is False


@pytest.mark.parametrize(
    ("pattern", "s", "expected"),
    [
        (r"^\d+$", "123", True),
        (r"^\d+$", "12a", False),
        ("b", "abc", True),  # unanchored search
        ("^b", "abc", False),
        (r"\pL+", "é", True),
        ("(?i)ABC", "xabcx", True),
        ("a.c", "a\nc", False),  # . does not match newline
    ],
)
def test_re_match_string(pattern: str, s: str, expected: bool) -> None:
    assert ev(f"re.MatchString(`{pattern}`, r.s)", s=s) is expected
    assert ev("re.MatchString(r.u, r.s)", u=pattern, s=s) is expected


def test_re_pattern_in_double_quotes_keeps_backslashes() -> None:
    # No escape processing: "a\\.b" is the RE2 pattern a\\.b (a literal backslash, then any char).
    assert ev('re.MatchString("a\\\\.b", r.s)', s="a\\xb") is True
    assert ev('re.MatchString("a\\\\.b", r.s)', s="a.b") is False


def test_re_invalid_pattern_fails_at_evaluation() -> None:
    fn = compile_expr(parse('re.MatchString("(", r.s)'), ENV, round_decimals=False)
    with pytest.raises(ExprRuntimeError, match="error parsing regexp: missing \\)"):
        fn({"r": {"s": "x"}})


def test_strings_replace_all() -> None:
    assert ev('strings.ReplaceAll(r.s, "a", "bb")', s="aXa") == "bbXbb"
    assert ev('strings.ReplaceAll(r.s, "", "-")', s="abc") == "-a-b-c-"
    assert ev('strings.ReplaceAll(r.s, "zz", "-")', s="abc") == "abc"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('fmt.Sprintf("%s-%05d", r.s, r.a)', "k-00042"),
        ('fmt.Sprintf("%05d", -r.a)', "-0042"),
        ('fmt.Sprintf("%v", 1e21)', "1e+21"),
        ('fmt.Sprintf("%.2f", 3.14159)', "3.14"),
        ('fmt.Sprintf("%f", 2.5)', "2.500000"),
        ('fmt.Sprintf("%d %d", r.a)', "42 %!d(MISSING)"),
        ('fmt.Sprintf("%d", r.a, 2)', "42%!(EXTRA int64=2)"),
        ('fmt.Sprintf("%s|%v", r.d, r.d)', "1.5|1.5"),
        ('fmt.Sprintf("[%5s|%-5s]", r.s, r.s)', "[    k|k    ]"),
        ('fmt.Sprintf("%x %X", 255, 255)', "ff FF"),
        ('fmt.Sprintf("%t", r.p)', "true"),
        ('fmt.Sprintf("%q", r.s)', '"k"'),
        ('fmt.Sprintf("%d", r.s)', "%!d(string=k)"),
        ('fmt.Sprintf("100%% %s", r.s)', "100% k"),
        ('fmt.Sprintf(`"%s|%d"`, r.s, r.a)', '"k|42"'),
        ('fmt.Sprintf("%.2s", "héllo")', "hé"),
        ('fmt.Sprintf("%3d|%-3d|", len(r.s), 7)', "  1|7  |"),
    ],
)
def test_sprintf(text: str, expected: str) -> None:
    assert ev(text, s="k", a=42, d=Decimal("1.50"), p=True) == expected


@pytest.mark.parametrize(
    ("fmt", "types", "expected"),
    [
        ("%s-%05d", ["string", "int"], "%s-%05d"),
        ("%v/%v", ["string", "int"], "%s/%d"),
        ("%-8.3s%%", ["string"], "%-8.3s%%"),
        ("%05s", ["string"], None),  # Go pads strings with zeros, Python with spaces
        ("%d", ["string"], None),
        ("%f", ["float"], None),
        ("%d %d", ["int"], None),
        ("%d", ["int", "int"], None),
        ("%+d", ["int"], None),
        ("%[1]d", ["int"], None),
        ("%", [], None),
        ("%.3d", ["int"], None),
        ("%1000000d", ["int"], None),
    ],
)
def test_python_format_fast_path_is_conservative(fmt: str, types: list[str], expected: str | None) -> None:
    from capillaries_provider.expr import ExprType

    assert python_format(fmt, [ExprType(t) for t in types]) == expected


_FORMAT_PIECES = st.sampled_from(["%s", "%v", "%d", "%5s", "%-4s", "%.2s", "%07d", "%-6d", "%3v", "|", "x", "%%", "é"])


@given(
    st.lists(_FORMAT_PIECES, max_size=6),
    st.lists(st.one_of(st.text(max_size=8), st.integers(min_value=-(2**63), max_value=2**63 - 1)), max_size=4),
)
def test_fast_path_equals_gofmt(pieces: list[str], args: list[str | int]) -> None:
    from capillaries_provider.expr import ExprType

    fmt = "".join(pieces)
    types = [ExprType.STRING if isinstance(a, str) else ExprType.INT for a in args]
    py_fmt = python_format(fmt, types)
    if py_fmt is not None:
        assert py_fmt % tuple(args) == sprintf(fmt, args)


def test_time_date_out_of_supported_years_names_the_limit() -> None:
    import datetime as dt

    import pytest

    from capillaries_provider.expr.builtins import time_date

    with pytest.raises(ValueError, match=r"time.Date: year 10000 is outside 1..9999"):
        time_date(10000, 1, 1, 0, 0, 0, 0, dt.UTC)
    with pytest.raises(ValueError, match=r"time.Date: the date falls outside years 1..9999"):
        time_date(9999, 12, 31, 24 * 400, 0, 0, 0, dt.UTC)


def test_fixed_zone_offset_limit_is_explicit() -> None:
    import pytest

    from capillaries_provider.expr.builtins import fixed_zone

    assert fixed_zone("X", 86399).utcoffset(None).total_seconds() == 86399
    with pytest.raises(ValueError, match=r"time.FixedZone: offset 86400 s is outside the supported ±86399 s"):
        fixed_zone("X", 86400)
