"""Conformance comparison modes (conformance/INDEX.md): `diff -b` lines, merged batches, whole-file sort."""

from __future__ import annotations

import datetime as dt
import random
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from capillaries_provider.engine.compare import (
    exact_lines_ws,
    merge_batches_sort_data,
    parquet_logical,
    sort_all_lines_bytewise,
)
from capillaries_provider.engine.parquet_writer import ParquetFileWriter
from capillaries_provider.expr.types import FieldType, Value


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_exact_lines_ws_like_diff_b(tmp_path: Path) -> None:
    exp = write(tmp_path / "e.csv", b"a,b\n1  2\tx\n")
    assert exact_lines_ws(write(tmp_path / "p1", b"a,b\r\n1 2 x  \n"), exp).ok  # CR, runs, trailing blanks
    assert exact_lines_ws(write(tmp_path / "p2", b"a,b\n1\t2 x"), exp).ok  # missing final newline
    leading = exact_lines_ws(write(tmp_path / "p3", b"a,b\n 1 2 x\n"), exp)  # leading blank matters
    assert not leading.ok and "line 2" in leading.message
    assert not exact_lines_ws(write(tmp_path / "p4", b"a,b\n12 x\n"), exp).ok  # blank vs none differs
    short = exact_lines_ws(write(tmp_path / "p5", b"a,b\n"), exp)
    assert not short.ok and "<end of file>" in short.message
    assert not exact_lines_ws(write(tmp_path / "p6", b"a,b\n1 2 x\n\n"), exp).ok  # extra empty line


def test_merge_batches_sort_data(tmp_path: Path) -> None:
    b0 = write(tmp_path / "x_00000.csv", b"h1,h2\r\nb,2\nB,1\n")
    b1 = write(tmp_path / "x_00001.csv", b"h1,h2\r\na,3\n")
    baseline = write(tmp_path / "base.csv", b"h1,h2\nB,1\na,3\nb,2\n")  # byte order: 'B' < 'a' < 'b'
    assert merge_batches_sort_data([b0, b1], baseline).ok
    assert not merge_batches_sort_data([b0], baseline).ok
    assert not merge_batches_sort_data([], baseline).ok


def test_sort_all_lines_bytewise_includes_header(tmp_path: Path) -> None:
    produced = write(tmp_path / "p.tsv", b"tag\tproduct_id\r\nboat\t1\nTV\t2\n")
    baseline = write(tmp_path / "b.tsv", b"TV\t2\nboat\t1\ntag\tproduct_id\n")
    assert sort_all_lines_bytewise(produced, baseline).ok
    assert not exact_lines_ws(produced, baseline).ok


COLS = [("name", FieldType.STRING), ("amount", FieldType.DECIMAL2), ("ts", FieldType.DATETIME), ("x", FieldType.FLOAT)]
T0 = dt.datetime(2020, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def parquet(path: Path, rows: list[list[Value]], cols: list[tuple[str, FieldType]] = COLS) -> Path:
    with ParquetFileWriter(path, cols) as w:
        for row in rows:
            w.write_row(row)
    return path


def test_parquet_logical(tmp_path: Path) -> None:
    base = parquet(tmp_path / "e.parquet", [["a", Decimal("1.50"), T0, 0.1], ["b", Decimal("2"), T0, 0.2]])
    same = parquet(tmp_path / "p.parquet", [["a", Decimal("1.5"), T0, 0.1], ["b", Decimal("2.00"), T0, 0.2]])
    assert parquet_logical(same, base).ok  # decimals by value, codec/encoding irrelevant
    diff_val = parquet(
        tmp_path / "v.parquet", [["a", Decimal("1.5"), T0, 0.1], ["b", Decimal("2"), T0, 0.30000000000000004]]
    )
    res = parquet_logical(diff_val, base)
    assert not res.ok and "row 1, column 'x'" in res.message
    order = parquet(tmp_path / "o.parquet", [["b", Decimal("2"), T0, 0.2], ["a", Decimal("1.5"), T0, 0.1]])
    assert not parquet_logical(order, base).ok  # file order matters
    fewer = parquet(tmp_path / "f.parquet", [["a", Decimal("1.5"), T0, 0.1]])
    assert "row count" in parquet_logical(fewer, base).message
    renamed = [
        ("name", FieldType.STRING),
        ("amt", FieldType.DECIMAL2),
        ("ts", FieldType.DATETIME),
        ("x", FieldType.FLOAT),
    ]
    other = parquet(tmp_path / "r.parquet", [["a", Decimal("1.5"), T0, 0.1]], renamed)
    assert "column names differ" in parquet_logical(other, base).message
    retyped = [
        ("name", FieldType.STRING),
        ("amount", FieldType.FLOAT),
        ("ts", FieldType.DATETIME),
        ("x", FieldType.FLOAT),
    ]
    typed = parquet(tmp_path / "t.parquet", [["a", 1.5, T0, 0.1], ["b", 2.0, T0, 0.2]], retyped)
    assert "produced type float, expected decimal2" in parquet_logical(typed, base).message
    nan = parquet(tmp_path / "n.parquet", [["a", Decimal("1.5"), T0, float("nan")]])
    assert not parquet_logical(nan, nan).ok  # Go compares floats with !=


@pytest.mark.skipif(shutil.which("diff") is None, reason="GNU diff not installed")
def test_exact_lines_ws_agrees_with_gnu_diff_b(tmp_path: Path) -> None:
    rng = random.Random(5)
    alphabet = [b"a", b"b", b" ", b"  ", b"\t", b"\r", b"\n", b"\n", b"\r\n", b"\x0b", b"\x0c"]
    left, right = tmp_path / "a", tmp_path / "b"
    disagreements = []
    for _ in range(300):
        a = b"".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
        if rng.random() < 0.6:  # mostly whitespace perturbations of the same text
            b = a.replace(b" ", rng.choice([b" ", b"  ", b"\t", b""]), 1).replace(
                b"\r", rng.choice([b"", b"\r", b" "]), 1
            )
        else:
            b = b"".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
        left.write_bytes(a)
        right.write_bytes(b)
        gnu = subprocess.run(["diff", "-b", str(left), str(right)], capture_output=True, check=False).returncode == 0
        if exact_lines_ws(left, right).ok != gnu:
            disagreements.append((a, b, gnu))
    assert not disagreements, disagreements[:5]
