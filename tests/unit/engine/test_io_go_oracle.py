"""Differential tests against outputs recorded from real Go (stdlib + shopspring/decimal), see the JSON fixtures'
`about` and `go_source`: CSV tokenizing (encoding/csv, LazyQuotes), cell conversion (spec 1.5 table) and CSV cell
formatting (spec 1.8)."""

from __future__ import annotations

import datetime as dt
import json
import math
import struct
from decimal import Decimal
from pathlib import Path
from typing import Any

from capillaries_provider.engine.cell_convert import CellConversionError, CellSpec, convert_cell, make_converter
from capillaries_provider.engine.csv_records import CsvFormatError, iter_csv_records
from capillaries_provider.engine.csv_writer import format_csv_value, make_formatter
from capillaries_provider.expr.types import FieldType, Value

HERE = Path(__file__).parent
CELLS = json.loads((HERE / "test_io_go_oracle_cells.json").read_text())["cases"]


def canonical(value: Value, ft: FieldType) -> str:
    """The oracle's text for a value (see the Go source in the fixture)."""
    if ft is FieldType.FLOAT:
        assert isinstance(value, float)
        return "nan" if math.isnan(value) else format(struct.unpack("<Q", struct.pack("<d", value))[0], "x")
    if ft is FieldType.BOOL:
        return "true" if value else "false"
    if ft is FieldType.DATETIME:
        assert isinstance(value, dt.datetime)
        t = value.astimezone(dt.UTC)
        frac = f".{t.microsecond:06d}".rstrip("0").rstrip(".")
        return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}{frac}Z"
    return str(value)


def cell_mismatch(case: dict[str, Any]) -> str | None:
    """None when our conversion agrees with Go's recorded result, else a description."""
    ft = FieldType.parse(case["Type"])
    spec = CellSpec("c", ft, case["Format"], case["Default"])
    where = f"{case['Type']} text={case['Text']!r} format={case['Format']!r} default={case['Default']!r}"
    try:
        got = convert_cell(make_converter(spec), spec, case["Text"], "f.csv", 1)
    except CellConversionError as e:
        return None if case["err"] else f"{where}: Go gives {case['value']!r}, we fail: {e}"
    if case["err"]:
        return f"{where}: Go fails ({case['err']}), we give {got!r}"
    if ft is FieldType.DECIMAL2:
        ok = isinstance(got, Decimal) and got == Decimal(case["value"])
    elif ft is FieldType.FLOAT and math.isnan(struct.unpack("<d", struct.pack("<Q", int(case["value"], 16)))[0]):
        ok = canonical(got, ft) == "nan"  # Go's NaN payload differs from Python's; both are NaN
    else:
        ok = canonical(got, ft) == case["value"]
    return None if ok else f"{where}: Go gives {case['value']!r}, we give {got!r}"


def test_cell_conversion_matches_go() -> None:
    assert len(CELLS) > 1000
    mismatches = [m for m in map(cell_mismatch, CELLS) if m]
    assert not mismatches, "\n".join(mismatches[:20])


CSV_CASES = json.loads((HERE / "test_io_go_oracle_csv.json").read_text())["cases"]


def csv_mismatch(case: dict[str, Any]) -> str | None:
    data = case["input"].encode()
    lines = [part + b"\n" for part in data.split(b"\n")]
    lines[-1] = lines[-1][:-1]
    got: list[tuple[int, list[str]]] = []
    error: CsvFormatError | None = None
    try:
        got.extend(iter_csv_records([ln for ln in lines if ln], case["sep"], "t.csv"))
    except CsvFormatError as e:
        error = e
    where = f"sep={case['sep']!r} input={case['input']!r}"
    if [f for _, f in got] != case["records"]:
        return f"{where}: Go records {case['records']}, ours {[f for _, f in got]}"
    if case["err"]:
        if error is None or error.line != case["err_line"] or case["err"] not in str(error):
            return f"{where}: Go error {case['err']!r} (line {case['err_line']}), ours {error}"
        return None
    if error is not None:
        return f"{where}: Go reads it, we fail: {error}"
    if [n for n, _ in got] != case["lines"]:
        return f"{where}: Go record lines {case['lines']}, ours {[n for n, _ in got]}"
    return None


def test_csv_tokenizer_matches_go() -> None:
    assert len(CSV_CASES) > 900
    mismatches = [m for m in map(csv_mismatch, CSV_CASES) if m]
    assert not mismatches, "\n".join(mismatches[:20])


FORMAT_CASES = json.loads((HERE / "test_io_go_oracle_format.json").read_text())["cases"]


def oracle_value(case: dict[str, Any]) -> Value:
    t, v = case["Type"], case["Value"]
    if t == "int":
        return int(v)
    if t == "float":
        result: float = struct.unpack("<d", struct.pack("<Q", int(v, 16)))[0]
        return result
    if t == "decimal2":
        return Decimal(v)
    if t == "bool":
        return v == "true"
    if t == "datetime":
        return dt.datetime.fromisoformat(v)
    return str(v)


def test_csv_cell_formatting_matches_go() -> None:
    assert len(FORMAT_CASES) > 900
    mismatches = []
    for case in FORMAT_CASES:
        value, fmt, expected = oracle_value(case), case["Format"], case["output"]
        for how, got in (
            ("format_csv_value", format_csv_value(value, fmt)),
            ("make_formatter", make_formatter(fmt)(value)),
        ):
            if got != expected:
                mismatches.append(f"{how} {case['Type']} {case['Value']!r} {fmt!r}: Go {expected!r}, ours {got!r}")
    assert not mismatches, "\n".join(mismatches[:20])
