"""Output comparisons of the conformance suite (conformance/INDEX.md, "Compare modes").

Upstream checks CSV outputs with `diff -b` (after sorting for unordered outputs) and Parquet outputs with
`capiparquet diff`; these functions reproduce those verdicts so the conformance harness and the unit tests agree.
Each returns a `CompareResult` whose message points at the first difference.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

from capillaries_provider.engine.parquet_reader import (
    ParquetReadError,
    guess_column_type,
    iter_parquet_rows,
    open_parquet,
    schema_columns,
)
from capillaries_provider.expr.types import Value

_WS_RUN = re.compile(rb"[ \t\v\f\r]+")
_SHOW = 200


@dataclass(frozen=True)
class CompareResult:
    """Verdict of one comparison; `message` says where the first difference is (empty when equal)."""

    ok: bool
    message: str = ""

    def __bool__(self) -> bool:
        return self.ok


def _lines(data: bytes) -> list[bytes]:
    """Lines without their `\\n`; a missing final newline is not a difference."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def _ws_normal(line: bytes) -> bytes:
    """GNU `diff -b`: runs of blanks are equal and trailing blanks (incl. CR) do not count; leading ones do."""
    return _WS_RUN.sub(b" ", line).rstrip(b" ")


def _show(line: bytes | None) -> str:
    if line is None:
        return "<end of file>"
    text = line.decode("utf-8", "backslashreplace")
    return repr(text if len(text) <= _SHOW else text[:_SHOW] + "...")


def compare_lines_ws(produced: Sequence[bytes], expected: Sequence[bytes], what: str = "") -> CompareResult:
    """`exact_lines_ws` over already split lines."""
    for n, (p, e) in enumerate(zip_longest(produced, expected), start=1):
        if p is None or e is None or _ws_normal(p) != _ws_normal(e):
            return CompareResult(
                False,
                f"{what}line {n} differs: produced {_show(p)}, expected {_show(e)} "
                f"({len(produced)} vs {len(expected)} lines)",
            )
    return CompareResult(True)


def exact_lines_ws(produced: str | Path, expected: str | Path) -> CompareResult:
    """Line by line, order-sensitive, whitespace-normalised like `diff -b`."""
    return compare_lines_ws(
        _lines(Path(produced).read_bytes()), _lines(Path(expected).read_bytes()), f"{produced} vs {expected}: "
    )


def merge_batches_sort_data(produced: Sequence[str | Path], expected: str | Path) -> CompareResult:
    """Per-batch CSV files: header taken once from the first file, all data lines sorted byte-wise, then
    `exact_lines_ws` against the (already sorted) baseline."""
    if not produced:
        return CompareResult(False, "no produced files")
    header: list[bytes] = []
    data: list[bytes] = []
    for i, path in enumerate(produced):
        lines = _lines(Path(path).read_bytes())
        if i == 0:
            header = lines[:1]
        data.extend(lines[1:])
    data.sort()
    names = " + ".join(str(p) for p in produced)
    return compare_lines_ws(header + data, _lines(Path(expected).read_bytes()), f"{names} vs {expected}: ")


def sort_all_lines_bytewise(produced: str | Path, expected: str | Path) -> CompareResult:
    """`LC_ALL=C sort` of the whole produced file (header included), then `exact_lines_ws` against the baseline."""
    lines = sorted(_lines(Path(produced).read_bytes()))
    return compare_lines_ws(lines, _lines(Path(expected).read_bytes()), f"sorted {produced} vs {expected}: ")


def _rows(path: str | Path, names: list[str]) -> Iterator[tuple[int, dict[str, Value]]]:
    return iter_parquet_rows(path, {n: n for n in names})


def parquet_logical(produced: str | Path, expected: str | Path) -> CompareResult:
    """`capiparquet diff`: same column names in order, same Capillaries type per column, same row count, and
    row-by-row equal values in file order (decimals by value, datetimes by instant, floats with `==`, so NaN
    never equals NaN)."""
    try:
        with open_parquet(produced) as pf_p, open_parquet(expected) as pf_e:
            cols_p, cols_e = schema_columns(pf_p, str(produced)), schema_columns(pf_e, str(expected))
            types_p = {n: guess_column_type(c).field_type for n, c in cols_p.items()}
            types_e = {n: guess_column_type(c).field_type for n, c in cols_e.items()}
            rows_p, rows_e = pf_p.metadata.num_rows, pf_e.metadata.num_rows
        if list(cols_p) != list(cols_e):
            return CompareResult(False, f"column names differ: produced {list(cols_p)}, expected {list(cols_e)}")
        for name, tp in types_p.items():
            if tp is not types_e[name]:
                return CompareResult(
                    False, f"column {name!r}: produced type {tp.value}, expected {types_e[name].value}"
                )
        if rows_p != rows_e:
            return CompareResult(False, f"row count differs: produced {rows_p}, expected {rows_e}")
        names = list(cols_p)
        for (row, vp), (_, ve) in zip(_rows(produced, names), _rows(expected, names), strict=True):
            for name in names:
                if vp[name] != ve[name]:
                    return CompareResult(
                        False, f"row {row}, column {name!r}: produced {vp[name]!r}, expected {ve[name]!r}"
                    )
    except ParquetReadError as e:
        return CompareResult(False, str(e))
    return CompareResult(True)
