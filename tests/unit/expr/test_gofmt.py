"""Go fmt/strconv behaviour. Every expected string was printed by Go 1.26 (fmt.Sprintf, strconv, fmt.Sscanf)."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from capillaries_provider.expr.godecimal import decimal_from_string as D
from capillaries_provider.expr.gofmt import (
    format_float,
    format_v,
    parse_bool,
    parse_float,
    parse_int,
    sprintf,
    sscanf_float,
    sscanf_int,
)

INF = math.inf
NAN = math.nan


def T(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


SPRINTF_CASES: list[tuple[str, list[object], str]] = [
    ("%d", [5], "5"),
    ("%05d", [-42], "-0042"),
    ("%x|%X|%o|%b|%#x|%#o|%08b", [255, 255, 255, 255, 255, 255, 255], "ff|FF|377|11111111|0xff|0377|11111111"),
    ("%c|%q|%U|%#U", [128512, 128512, 128512, 128512], "😀|'😀'|U+1F600|U+1F600 '😀'"),
    ("%+d|% d|%-5d|%5d|%.3d|%.0d", [7, 7, 7, 7, 7, 0], "+7| 7|7    |    7|007|"),
    ("%d", [-9223372036854775808], "-9223372036854775808"),
    ("%s", [5], "%!s(int64=5)"),
    ("%d", [1.5], "%!d(float64=1.5)"),
    ("%f", [], "%!f(MISSING)"),
    ("", [5], "%!(EXTRA int64=5)"),
    ("%d", [1, 2], "1%!(EXTRA int64=2)"),
    ("abc%", [], "abc%!(NOVERB)"),
    ("%!", [1], "%!!(int64=1)"),
    ("%z", [5], "%!z(int64=5)"),
    ("%t", ["x"], "%!t(string=x)"),
    ("%d", [True], "%!d(bool=true)"),
    ("%[2]d %[1]d", [1, 2], "2 1"),
    ("%[3]d", [1], "%!d(BADINDEX)"),
    ("%*d|%-*d|%.*f", [5, 1, 5, 2, 2, 3.14159], "    1|2    |3.14"),
    ("%*d", ["x", 1], "%!(BADWIDTH)1"),
    (
        "%f|%.2f|%.0f|%8.3f|%-8.2f|%+.1f|%08.2f|% f",
        [3.14159, 3.14159, 3.14159, 3.14159, 3.14159, 3.14159, 3.14159, 3.14159],
        "3.141590|3.14|3|   3.142|3.14    |+3.1|00003.14| 3.141590",
    ),
    (
        "%e|%E|%.3e|%g|%G|%.3g|%#g|%#.3g",
        [1234567.891, 1234567.891, 1234567.891, 1234567.891, 1234567.891, 1234567.891, 1234567.891, 1234567.891],
        "1.234568e+06|1.234568E+06|1.235e+06|1.234567891e+06|1.234567891E+06|1.23e+06|1.234567891e+06|1.23e+06",
    ),
    (
        "%v %v %v %v %v %v %v %v %v",
        [123456.0, 1000000.0, 1234567.0, 1e-05, 0.0001, 1e21, 1e20, 100.0, 0.1],
        "123456 1e+06 1.234567e+06 1e-05 0.0001 1e+21 1e+20 100 0.1",
    ),
    ("%v|%f|%5.1f|%+v|%08v", [INF, INF, INF, INF, INF], "+Inf|+Inf| +Inf|+Inf|    +Inf"),
    ("%v|%f|% f|%+f|%08f", [NAN, NAN, NAN, NAN, NAN], "NaN|NaN| NaN|+NaN|     NaN"),
    ("%v|%.2f|%g", [-0.0, -0.0, -0.0], "-0|-0.00|-0"),
    ("%b|%x|%X|%.2x|%#v", [1.0, 1.0, 1.0, 1.0, 1000000.0], "4503599627370496p-52|0x1p+00|0X1P+00|0x1.00p+00|1e+06"),
    ("%.3f|%.2f|%.1f|%.0f|%.0f|%.0f", [2.0005, 0.125, 0.25, 0.5, 1.5, 2.5], "2.001|0.12|0.2|0|2|2"),
    (
        "%s|%q|%x|% x|%#x|%X|%10s|%-10s|%.2s|%5.1s|%#q|%+q",
        ["héllo", "héllo", "héllo", "héllo", "héllo", "héllo", "héllo", "héllo", "héllo", "héllo", "a`b", "日本\n"],
        'héllo|"héllo"|68c3a96c6c6f|68 c3 a9 6c 6c 6f|0x68c3a96c6c6f|68C3A96C6C6F|'
        '     héllo|héllo     |hé|    h|"a`b"|"\\u65e5\\u672c\\n"',
    ),
    ("%q", ['tab\there "quoted" \\ \x01 \x7f'], '"tab\\there \\"quoted\\" \\\\ \\x01 \\x7f"'),
    ("%v|%s|%10v|%-7v|%5.2v", ["abc", "abc", "abc", "abc", "abc"], "abc|abc|       abc|abc    |   ab"),
    ("%t|%v|%6t|%-6t|%s", [True, True, True, False, False], "true|true|  true|false |%!s(bool=false)"),
    (
        "%s|%v|%10s|%-8s|%q|%x",
        [D("12.30"), D("12.30"), D("12.30"), D("12.30"), D("12.30"), D("12.30")],
        '12.3|12.3|      12.3|12.3    |"12.3"|31322e33',
    ),
    ("%s %s %s %s %s", [D("1.10"), D("12.00"), D("-0.5"), D("1e3"), D("0")], "1.1 12 -0.5 1000 0"),
    ("%f", [D("12.30")], "{%!f(*big.Int=&{false [1230]}) %!f(int32=-2)}"),
    ("%.2f", [D("12.30")], "{%!f(*big.Int=&{false [1230]}) %!f(int32=-02)}"),
    ("%08.3f", [D("12.30")], "{%!f(*big.Int=&{000false [    1230]}) %!f(int32=    -002)}"),
    ("%t", [D("100")], "{%!t(*big.Int=&{false [100]}) %!t(int32=0)}"),
    (
        "%e|%g",
        [D("-1.5"), D("-1.5")],
        "{%!e(*big.Int=&{true [15]}) %!e(int32=-1)}|{%!g(*big.Int=&{true [15]}) %!g(int32=-1)}",
    ),
    (
        "%f",
        [D("123456789012345678901234567890.5")],
        "{%!f(*big.Int=&{false [11711269222405794873 66926059427]}) %!f(int32=-1)}",
    ),
    ("%!(EXTRA)%v", [], "%!!(MISSING)(EXTRA)%!v(MISSING)"),
    ("x", [D("5"), "a", False, 2.5], "x%!(EXTRA decimal.Decimal=5, string=a, bool=false, float64=2.5)"),
    (
        "%v|%s|%q",
        [T("2020-01-02T03:04:05Z"), T("2020-01-02T03:04:05Z"), T("2020-01-02T03:04:05Z")],
        '2020-01-02 03:04:05 +0000 UTC|2020-01-02 03:04:05 +0000 UTC|"2020-01-02 03:04:05 +0000 UTC"',
    ),
    ("%v", [T("2020-01-02T03:04:05.123456Z")], "2020-01-02 03:04:05.123456 +0000 UTC"),
    ("%v", [T("0001-01-01T00:00:00Z")], "0001-01-01 00:00:00 +0000 UTC"),
    ("%d", [T("2020-01-02T03:04:05.5Z")], "{500000000 63713531045 0}"),
    ("%f", [T("2020-01-02T03:04:05Z")], "{%!f(uint64=0) %!f(int64=63713531045) %!f(*time.Location=<nil>)}"),
    ("%#v", [T("2020-01-02T03:04:05.5Z")], "time.Date(2020, time.January, 2, 3, 4, 5, 500000000, time.UTC)"),
    (
        "%T %T %T %T %T %T",
        [1, 1.0, "a", True, D("1"), T("2020-01-02T03:04:05Z")],
        "int64 float64 string bool decimal.Decimal time.Time",
    ),
    ("%p", [1], "%!p(int64=1)"),
    ("%5%|%-5%", [], "%|%"),
    ("%.*d", [-1, 5], "%!(BADPREC)5"),
]


@pytest.mark.parametrize(("fmt", "args", "expected"), SPRINTF_CASES)
def test_sprintf_matches_go(fmt: str, args: list[object], expected: str) -> None:
    assert sprintf(fmt, args) == expected


def test_decimal_numeric_verb_prints_struct_with_stand_in_pointer() -> None:
    # Go prints the *big.Int heap address here (e.g. {824633786368 -2}); we print a fixed stand-in address.
    assert sprintf("%d", [D("12.30")]) == "{824633786368 -2}"
    assert sprintf("%#v", [D("12.30")]) == "decimal.Decimal{value:(*big.Int)(0xc000010000), exp:-2}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5, "5"),
        (-9223372036854775808, "-9223372036854775808"),
        (1e21, "1e+21"),
        (123456.0, "123456"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (1e-5, "1e-05"),
        (0.0001, "0.0001"),
        (INF, "+Inf"),
        (-INF, "-Inf"),
        (NAN, "NaN"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        ("a b", "a b"),
        (True, "true"),
        (D("12.300"), "12.3"),
        (T("2020-01-02T03:04:05.5Z"), "2020-01-02 03:04:05.5 +0000 UTC"),
    ],
)
def test_format_v(value: object, expected: str) -> None:
    assert format_v(value) == expected


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_v_float_round_trips_and_switches_to_exponent_like_go(x: float) -> None:
    text = format_v(x)
    assert float(text) == x
    if x == 0:
        assert text == ("-0" if math.copysign(1, x) < 0 else "0")
        return
    # Go %v = %g with shortest digits: exponent form iff the decimal exponent is < -4 or >= 6,
    # with at least two exponent digits.
    exponent = Decimal(repr(x)).adjusted()
    assert ("e" in text) == (exponent < -4 or exponent >= 6)
    if "e" in text:
        assert re.fullmatch(r"-?[0-9](\.[0-9]+)?e[+-][0-9]{2,3}", text)
        assert int(text.split("e")[1]) == exponent


@pytest.mark.parametrize(
    ("verb", "prec", "expected"),
    [("e", -1, "1.5e+00"), ("f", -1, "1.5"), ("g", 3, "1.5"), ("G", -1, "1.5"), ("b", -1, "6755399441055744p-52")],
)
def test_format_float_modes(verb: str, prec: int, expected: str) -> None:
    assert format_float(1.5, verb, prec) == expected


def _outcome(fn: Callable[..., object], *args: str) -> str:
    try:
        result = fn(*args)
    except ValueError as exc:
        return "ERR " + str(exc)
    if isinstance(result, bool):
        return "true" if result else "false"
    if isinstance(result, float):
        return format_float(result, "g", -1)
    return str(result)


PARSE_INT_CASES = [
    ("99999999999999999999x", 'ERR strconv.ParseInt: parsing "99999999999999999999x": value out of range'),
    ("9999999999999999999x", 'ERR strconv.ParseInt: parsing "9999999999999999999x": invalid syntax'),
    ("0", "0"),
    ("-5", "-5"),
    ("+5", "5"),
    (" 5", 'ERR strconv.ParseInt: parsing " 5": invalid syntax'),
    ("5 ", 'ERR strconv.ParseInt: parsing "5 ": invalid syntax'),
    ("1_000", 'ERR strconv.ParseInt: parsing "1_000": invalid syntax'),
    ("0x1F", 'ERR strconv.ParseInt: parsing "0x1F": invalid syntax'),
    ("010", "10"),
    ("9223372036854775807", "9223372036854775807"),
    ("9223372036854775808", 'ERR strconv.ParseInt: parsing "9223372036854775808": value out of range'),
    ("-9223372036854775808", "-9223372036854775808"),
    ("-9223372036854775809", 'ERR strconv.ParseInt: parsing "-9223372036854775809": value out of range'),
    ("", 'ERR strconv.ParseInt: parsing "": invalid syntax'),
    ("12a", 'ERR strconv.ParseInt: parsing "12a": invalid syntax'),
]

PARSE_FLOAT_CASES = [
    ("1.5", "1.5"),
    (".5", "0.5"),
    ("5.", "5"),
    (".", 'ERR strconv.ParseFloat: parsing ".": invalid syntax'),
    ("1e5", "100000"),
    ("1e", 'ERR strconv.ParseFloat: parsing "1e": invalid syntax'),
    ("1e-400", "0"),
    ("1e400", 'ERR strconv.ParseFloat: parsing "1e400": value out of range'),
    ("-1e400", 'ERR strconv.ParseFloat: parsing "-1e400": value out of range'),
    ("inf", "+Inf"),
    ("+Inf", "+Inf"),
    ("-infinity", "-Inf"),
    ("infin", 'ERR strconv.ParseFloat: parsing "infin": invalid syntax'),
    ("nan", "NaN"),
    ("NaN", "NaN"),
    ("+nan", 'ERR strconv.ParseFloat: parsing "+nan": invalid syntax'),
    ("0x1p-2", "0.25"),
    ("0x1.8p1", "3"),
    ("0x1.8", 'ERR strconv.ParseFloat: parsing "0x1.8": invalid syntax'),
    ("0x_1p1", "2"),
    ("1_000", "1000"),
    ("1__0", 'ERR strconv.ParseFloat: parsing "1__0": invalid syntax'),
    ("_1", 'ERR strconv.ParseFloat: parsing "_1": invalid syntax'),
    ("1.7976931348623159e308", 'ERR strconv.ParseFloat: parsing "1.7976931348623159e308": value out of range'),
    ("4.9e-324", "5e-324"),
    (" 1.5", 'ERR strconv.ParseFloat: parsing " 1.5": invalid syntax'),
    ("1,5", 'ERR strconv.ParseFloat: parsing "1,5": invalid syntax'),
]

PARSE_BOOL_CASES = [
    ("1", "true"),
    ("t", "true"),
    ("T", "true"),
    ("TRUE", "true"),
    ("true", "true"),
    ("True", "true"),
    ("0", "false"),
    ("f", "false"),
    ("F", "false"),
    ("FALSE", "false"),
    ("false", "false"),
    ("False", "false"),
    ("yes", 'ERR strconv.ParseBool: parsing "yes": invalid syntax'),
    ("tRUE", 'ERR strconv.ParseBool: parsing "tRUE": invalid syntax'),
    ("", 'ERR strconv.ParseBool: parsing "": invalid syntax'),
    (" true", 'ERR strconv.ParseBool: parsing " true": invalid syntax'),
]


@pytest.mark.parametrize(("text", "expected"), PARSE_INT_CASES)
def test_parse_int(text: str, expected: str) -> None:
    assert _outcome(parse_int, text) == expected


@pytest.mark.parametrize(("text", "expected"), PARSE_FLOAT_CASES)
def test_parse_float(text: str, expected: str) -> None:
    assert _outcome(parse_float, text) == expected


@pytest.mark.parametrize(("text", "expected"), PARSE_BOOL_CASES)
def test_parse_bool(text: str, expected: str) -> None:
    assert _outcome(parse_bool, text) == expected


SSCANF_INT_CASES = [
    ("A", "%c", "65"),
    (" A", "%c", "32"),
    ("é", "%c", "233"),
    ("U+1F600", "%U", "128512"),
    ("1F600", "%U", "ERR"),
    ("5", "%d", "5"),
    (" 5", "%d", "5"),
    ("  -12xyz", "%d", "-12"),
    ("+7", "%d", "7"),
    ("0x1F", "%v", "31"),
    ("010", "%v", "8"),
    ("1_000", "%v", "1000"),
    ("1_000", "%d", "1"),
    ("ff", "%x", "255"),
    ("FF", "%X", "255"),
    ("17", "%o", "15"),
    ("101", "%b", "5"),
    ("$12", "$%d", "12"),
    ("$ 12", "$%d", "12"),
    ("12", "$%d", "ERR"),
    ("id: 42", "id: %d", "42"),
    ("id:42", "id: %d", "ERR"),
    ("12345", "%2d", "12"),
    ("12.5", "%d", "12"),
    ("abc", "%d", "ERR"),
    ("5", "%f", "ERR"),
    ("5", "%s", "ERR"),
    ("5", "%d%d", "ERR"),
    ("5", "abc", "ERR"),
    ("99999999999999999999", "%d", "ERR"),
    ("5%", "%d%%", "5"),
    ("5", "%", "ERR"),
]

SSCANF_FLOAT_CASES = [
    ("12.5", "%f", "12.5"),
    (" 12.5", "%f", "12.5"),
    ("-1.5e3xyz", "%g", "-1500"),
    ("1e3", "%e", "1000"),
    ("12.5", "%v", "12.5"),
    ("$12.50", "$%f", "12.5"),
    ("12.5", "%d", "ERR"),
    ("12.5", "%s", "ERR"),
    ("nan", "%f", "NaN"),
    ("-Inf", "%f", "-Inf"),
    ("0x1p4", "%f", "16"),
    ("1.5p2", "%f", "6"),
    ("1_000.5", "%f", "1000.5"),
    ("12,345", "%f", "12"),
    ("12345.5", "%3f", "123"),
    ("abc", "%f", "ERR"),
    (".5", "%f", "0.5"),
    ("5.", "%f", "5"),
]


def _scan_outcome(fn: Callable[[str, str], object], text: str, fmt: str) -> str:
    # Go's Sscanf error texts are not part of our contract; only success/failure and the value are.
    outcome = _outcome(fn, text, fmt)
    return "ERR" if outcome.startswith("ERR") else outcome


@pytest.mark.parametrize(("text", "fmt", "expected"), SSCANF_INT_CASES)
def test_sscanf_int(text: str, fmt: str, expected: str) -> None:
    assert _scan_outcome(sscanf_int, text, fmt) == expected


@pytest.mark.parametrize(("text", "fmt", "expected"), SSCANF_FLOAT_CASES)
def test_sscanf_float(text: str, fmt: str, expected: str) -> None:
    assert _scan_outcome(sscanf_float, text, fmt) == expected
