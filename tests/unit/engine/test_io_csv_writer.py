"""CSV writer output bytes (spec 1.8); expected strings are Go fmt / Capillaries output."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capillaries_provider.engine.csv_writer import CsvFileWriter, fixed2, format_csv_value, header_line, make_formatter
from capillaries_provider.expr.godecimal import string_fixed
from capillaries_provider.expr.types import Value

T0 = dt.datetime(2018, 11, 16, 4, 0, 5, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        (42, "%d", "42"),
        (-42, "%d", "-42"),
        (42, "%05d", "00042"),
        (-42, "%05d", "-0042"),
        ("abc", "%10s", "       abc"),
        ("abc", "%s", "abc"),
        (1.5, "%f", "1.500000"),
        (2.675, "%.2f", "2.67"),  # correctly rounded from the binary value
        (65.13, "%.3f", "65.130"),
        (True, "%t", "true"),
        (False, "%t", "false"),
        (Decimal("267.8"), "%s", "267.80"),
        (Decimal("1.005"), "%s", "1.01"),  # StringFixed(2): half away from zero
        (Decimal("-1.005"), "%s", "-1.01"),
        (Decimal("5"), "%10s", "      5.00"),
        (Decimal("12.3"), "%f", "%!f(string=12.30)"),
        (5, "%s", "%!s(int64=5)"),
        (1.5, "%d", "%!d(float64=1.5)"),
        (5, "", "%!(EXTRA int64=5)"),
        (T0, "2006-01-02 15:04:05", "2018-11-16 04:00:05"),
        (T0, "", ""),
        ("a,b", "%s", '"a,b"'),  # comma quoting, inner quotes not escaped
        ('say "hi", ok', "%s", '"say "hi", ok"'),
        (1234567.5, "%v", "1.2345675e+06"),
        (float("inf"), "%f", "+Inf"),
        (float("nan"), "%.2f", "NaN"),
    ],
)
def test_cell_formatting(value: Value, fmt: str, expected: str) -> None:
    assert format_csv_value(value, fmt) == expected
    assert make_formatter(fmt)(value) == expected


def test_header_line() -> None:
    assert header_line(["id", "a,b", "c"], "\t") == 'id\t"a,b"\tc\r\n'


def test_file_layout_header_crlf_rows_lf(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with CsvFileWriter(path, [("id", "%05d"), ("name", "%s"), ("amount", "%s")], ",") as w:
        w.write_row([7, "x,y", Decimal("3.1")])
        w.write_row([8, "é", Decimal("-0.005")])
    assert path.read_bytes() == 'id,name,amount\r\n00007,"x,y",3.10\n00008,é,-0.01\n'.encode()


def test_header_written_even_without_rows_and_chunked_rows(tmp_path: Path) -> None:
    path = tmp_path / "out.tsv"
    with CsvFileWriter(path, [("n", "%d")], "\t") as w:
        pass
    assert path.read_bytes() == b"n\r\n"
    with CsvFileWriter(path, [("n", "%d"), ("m", "%d")], "\t") as w:
        for i in range(2500):
            w.write_row([i, -i])
    lines = path.read_bytes().split(b"\n")
    assert len(lines) == 2502 and lines[2500] == b"2499\t-2499" and lines[-1] == b""


@pytest.mark.parametrize(
    ("value", "fmt", "expected"),
    [
        ("abc", "%-6s", "abc   "),
        ("é", "%3s", "  é"),  # width counts runes
        ("a,b", "%5s", '"  a,b"'),
        (Decimal("-0.001"), "%6s", "  0.00"),
        (Decimal("1E+3"), "%-9s", "1000.00  "),
        ("abc", "%.2s", "ab"),
        ("abc", "%05s", "00abc"),  # Go pads strings with zeros too
    ],
)
def test_padded_string_formats(value: Value, fmt: str, expected: str) -> None:
    assert make_formatter(fmt)(value) == expected
    assert format_csv_value(value, fmt) == expected


def test_datetime_cache_keeps_zones_apart() -> None:
    f = make_formatter("15:04 MST")
    utc = dt.datetime(2020, 1, 1, 12, 0, tzinfo=dt.UTC)
    plus2 = utc.astimezone(dt.timezone(dt.timedelta(hours=2)))
    assert utc == plus2
    assert f(utc) == "12:00 UTC"
    assert f(plus2) == format_csv_value(plus2, "15:04 MST") != f(utc)


@settings(max_examples=60, deadline=None)
@given(st.decimals(allow_nan=False, allow_infinity=False, places=None))
def test_fixed2_equals_shopspring_string_fixed(d: Decimal) -> None:
    assert fixed2(d) == string_fixed(d, 2)
