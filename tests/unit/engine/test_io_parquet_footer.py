"""Footer patching: the Thrift compact codec must reproduce real footers byte for byte before we trust edits."""

from __future__ import annotations

import struct
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from capillaries_provider.engine.parquet_footer import FooterError, _Reader, _Writer, patch_footer
from tests.conftest import CONFORMANCE, needs_shared

FILES = sorted(CONFORMANCE.rglob("*.parquet")) if CONFORMANCE.is_dir() else []


def footer(path: Path) -> bytes:
    data = path.read_bytes()
    (length,) = struct.unpack("<I", data[-8:-4])
    return data[-8 - length : -8]


@needs_shared(CONFORMANCE)
@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_codec_reencodes_real_footers_identically(path: Path) -> None:
    raw = footer(path)
    reader = _Reader(raw)
    meta = reader.struct()
    assert reader.pos == len(raw)
    writer = _Writer()
    writer.struct(meta)
    assert bytes(writer.out) == raw


def test_patch_sets_creator_and_int64_decimal_precision_only(tmp_path: Path) -> None:
    path = tmp_path / "f.parquet"
    table = pa.table(
        {
            "d": pa.array([Decimal("288.79"), None], pa.decimal128(17, 2)),
            "wide": pa.array([Decimal("1.5"), Decimal("2")], pa.decimal128(30, 4)),
            "s": ["a", "b"],
        }
    )
    pq.write_table(table, path, store_decimal_as_integer=True, store_schema=False)
    patch_footer(path, "capillaries", 2)
    pf = pq.ParquetFile(path)
    assert pf.metadata.created_by == "capillaries"
    cols = {pf.schema.column(i).name: pf.schema.column(i) for i in range(3)}
    assert (cols["d"].physical_type, cols["d"].precision, cols["d"].scale) == ("INT64", 2, 2)
    assert "precision=2" in str(cols["d"].logical_type)
    assert (cols["wide"].physical_type, cols["wide"].precision) == ("FIXED_LEN_BYTE_ARRAY", 30)
    assert pq.read_table(path).to_pylist() == [
        {"d": Decimal("288.79"), "wide": Decimal("1.5000"), "s": "a"},
        {"d": None, "wide": Decimal("2.0000"), "s": "b"},
    ]


def test_not_a_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    path.write_bytes(b"hello world, definitely not parquet")
    with pytest.raises(FooterError, match="not a parquet file"):
        patch_footer(path, "capillaries", 2)
