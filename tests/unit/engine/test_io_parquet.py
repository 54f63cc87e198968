"""Parquet reading (type guessing, zero values, decimal quirks) and writing (Capillaries' output schema)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from capillaries_provider.engine.compare import parquet_logical
from capillaries_provider.engine.parquet_reader import (
    ParquetReadError,
    go_flba_unscaled,
    guess_column_type,
    iter_parquet_rows,
    open_parquet,
    schema_columns,
)
from capillaries_provider.engine.parquet_writer import ParquetFileWriter, ParquetWriteError, arrow_codec
from capillaries_provider.expr.types import ZERO_TIME, FieldType, Value
from tests.conftest import CONFORMANCE, needs_shared

UTC = dt.UTC
SAMPLES = CONFORMANCE / "parquet_reader_samples/test/data/parquet"
PRODUCTS = CONFORMANCE / "proto_file_reader_creator_quicktest/test/data/in/proto_file_reader_creator/products.parquet"

needs_samples = needs_shared(SAMPLES)
needs_products = needs_shared(PRODUCTS)


def read_all(path: Path, names: list[str]) -> list[dict[str, Value]]:
    return [row for _, row in iter_parquet_rows(path, {n: n for n in names})]


def types_of(path: Path) -> dict[str, FieldType | str]:
    pf = open_parquet(path)
    out: dict[str, FieldType | str] = {}
    for name, col in schema_columns(pf, str(path)).items():
        try:
            out[name] = guess_column_type(col).field_type
        except ParquetReadError:
            out[name] = "unsupported"
    return out


# ---- reader: every sample file --------------------------------------------------------------------------------

SAMPLE_FILES = sorted(SAMPLES.rglob("*.parquet")) if SAMPLES.is_dir() else []


@needs_samples
@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_every_sample_reads_without_crashing(path: Path) -> None:
    supported = [n for n, t in types_of(path).items() if t != "unsupported"]
    rows = read_all(path, supported)
    assert len(rows) == pq.ParquetFile(path).metadata.num_rows


@needs_samples
def test_sample_type_guessing() -> None:
    assert types_of(SAMPLES / "datetime/datetime_int32date_int96.parquet") == {
        "DateTypeChecker": FieldType.DATETIME,
        "TimestampTypeChecker": FieldType.DATETIME,
    }
    assert types_of(SAMPLES / "decimal/decimal_fixed_len_16.parquet") == {
        "id": FieldType.INT,
        "decimal": FieldType.DECIMAL2,
    }
    assert types_of(SAMPLES / "empty/empty_int32_bad_converted.parquet")["Value"] == "unsupported"
    tiny = types_of(SAMPLES / "multi/alltypes_tiny_pages.parquet")
    assert tiny["tinyint_col"] is FieldType.INT  # INT32 with Int(8) logical type
    assert tiny["float_col"] is FieldType.FLOAT
    assert tiny["bool_col"] is FieldType.BOOL
    assert tiny["date_string_col"] is FieldType.STRING
    assert tiny["timestamp_col"] is FieldType.DATETIME


@needs_samples
def test_sample_values_and_nulls_become_zero_values() -> None:
    rows = read_all(SAMPLES / "datetime/datetime_int32date_int96.parquet", ["DateTypeChecker", "TimestampTypeChecker"])
    assert rows[0] == {
        "DateTypeChecker": dt.datetime(2017, 1, 1, tzinfo=UTC),
        "TimestampTypeChecker": dt.datetime(2017, 1, 1, tzinfo=UTC),
    }
    assert rows[2] == {"DateTypeChecker": ZERO_TIME, "TimestampTypeChecker": ZERO_TIME}
    (micros,) = read_all(SAMPLES / "datetime/datetime_int64_micros.parquet", ["Time"])[:1]
    assert micros["Time"] == dt.datetime(2018, 2, 28, 4, 33, 14, 360000, tzinfo=UTC)
    assert read_all(SAMPLES / "empty/double_single_nan.parquet", ["mycol"]) == [{"mycol": 0.0}]
    bools = [
        r["datatype_boolean"]
        for r in read_all(SAMPLES / "empty/null_and_boolean_rle_encoding.parquet", ["datatype_boolean"])
    ]
    assert bools[:6] == [True, False, False, True, True, False]  # null -> false
    assert read_all(SAMPLES / "empty/empty_type_empty_int32.parquet", ["value"]) == []


@needs_samples
def test_sample_decimals_are_not_rounded() -> None:
    (row,) = read_all(SAMPLES / "decimal/decimal_fixed_len_16.parquet", ["decimal"])
    assert row["decimal"] == Decimal("1.2")
    fixed9 = [r["FixedLen"] for r in read_all(SAMPLES / "decimal/decimal_fixed_len_9.parquet", ["FixedLen"])]
    assert fixed9 == [Decimal("1.1111111111111112"), Decimal("2.2222222222222223")]
    for name in ("decimal_int32", "decimal_int64", "decimal_fixed_len_6", "decimal_fixed_len_11"):
        values = [r["value"] for r in read_all(SAMPLES / f"decimal/{name}.parquet", ["value"])]
        assert values == [Decimal(i) for i in range(1, 25)], name


@needs_samples
def test_unsupported_and_missing_columns_name_the_file() -> None:
    path = SAMPLES / "empty/empty_int32_bad_converted.parquet"
    with pytest.raises(ParquetReadError, match="empty_int32_bad_converted.parquet.*'Value'"):
        read_all(path, ["Value"])
    with pytest.raises(ParquetReadError, match="'nope' not found"):
        read_all(path, ["nope"])


def test_flba_decimal_quirk() -> None:
    # 3 bytes 10 00 00: Go tests bit 0x10 (not 0x80) and sign-pads with FF.
    assert go_flba_unscaled(0x100000, 3) == int.from_bytes(b"\xff" * 5 + b"\x10\x00\x00", "big", signed=True)
    assert go_flba_unscaled(0x0F0000, 3) == 0x0F0000
    # 0xEF.. is negative but lacks bit 0x10: padded with zeros, so it turns positive.
    assert go_flba_unscaled(-0x110000, 3) == 0xEF0000
    assert go_flba_unscaled(-5, 8) == -5
    # 16 bytes: only the last 8 count.
    assert go_flba_unscaled((1 << 64) + 5, 16) == 5


def test_flba_quirk_applied_when_reading(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    table = pa.table({"d": pa.array([Decimal("2684354.56"), Decimal("1.50")], pa.decimal128(9, 2))})
    pq.write_table(table, path)
    assert pq.ParquetFile(path).schema.column(0).physical_type == "FIXED_LEN_BYTE_ARRAY"
    values = [r["d"] for r in read_all(path, ["d"])]
    # 268435456 = 10 00 00 00 in 4 bytes -> sign-extended as negative by Go.
    assert go_flba_unscaled(268435456, 4) < 0
    assert values == [Decimal(go_flba_unscaled(268435456, 4)) / 100, Decimal("1.50")]


def test_reader_maps_requested_names_and_reads_only_those(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"A": [1, None], "B": ["x", None], "C": [1.5, 2.5]}), path)
    rows = list(iter_parquet_rows(path, {"col_b": "B", "col_a": "A", "col_a2": "A"}, batch_rows=1))
    assert rows == [(0, {"col_b": "x", "col_a": 1, "col_a2": 1}), (1, {"col_b": "", "col_a": 0, "col_a2": 0})]


# ---- writer ------------------------------------------------------------------------------------------------------

ALL_COLUMNS = [
    ("s", FieldType.STRING),
    ("i", FieldType.INT),
    ("f", FieldType.FLOAT),
    ("b", FieldType.BOOL),
    ("d", FieldType.DECIMAL2),
    ("t", FieldType.DATETIME),
]


@pytest.mark.parametrize("codec", ["gzip", "snappy", "uncompressed"])
def test_round_trip_every_type(tmp_path: Path, codec: str) -> None:
    path = tmp_path / "out.parquet"
    rows: list[list[Value]] = [
        ["héllo, world", -(1 << 63), 0.1, True, Decimal("288.79"), dt.datetime(2018, 11, 16, 4, 0, 5, tzinfo=UTC)],
        ["", 5, float("inf"), False, Decimal("-1.239"), ZERO_TIME],
        ["x", (1 << 63) - 1, -0.0, True, Decimal("1.999"), dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)],
    ]
    with ParquetFileWriter(path, ALL_COLUMNS, codec, rows_per_group=2) as w:
        for row in rows:
            w.write_row(row)
    back = read_all(path, [n for n, _ in ALL_COLUMNS])
    assert back[0] == dict(zip("sifbdt", rows[0], strict=True))
    # decimal2 is IntPart(v*100): truncated toward zero; the zero time is written as null and read back as zero.
    assert back[1] == {"s": "", "i": 5, "f": float("inf"), "b": False, "d": Decimal("-1.23"), "t": ZERO_TIME}
    # datetime keeps milliseconds only (floor, like Go's UnixMilli).
    assert back[2]["d"] == Decimal("1.99")
    assert back[2]["t"] == dt.datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
    pf = pq.ParquetFile(path)
    assert pf.metadata.num_row_groups == 2
    assert pf.metadata.row_group(0).column(0).compression == {"gzip": "GZIP", "snappy": "SNAPPY"}.get(
        codec, "UNCOMPRESSED"
    )
    raw = pq.read_table(path)
    assert raw.column("t").null_count == 1


def test_writer_schema(tmp_path: Path) -> None:
    path = tmp_path / "out.parquet"
    with ParquetFileWriter(path, ALL_COLUMNS) as w:
        w.write_row(["a", 1, 1.0, True, Decimal("1"), ZERO_TIME])
    schema = pq.ParquetFile(path).schema
    cols = {schema.column(i).name: schema.column(i) for i in range(len(schema))}
    assert {n: c.physical_type for n, c in cols.items()} == {
        "s": "BYTE_ARRAY",
        "i": "INT64",
        "f": "DOUBLE",
        "b": "BOOLEAN",
        "d": "INT64",
        "t": "INT64",
    }
    assert cols["d"].logical_type.type == "DECIMAL" and (cols["d"].precision, cols["d"].scale) == (2, 2)
    assert pq.ParquetFile(path).metadata.created_by == "capillaries"
    assert "milliseconds" in str(cols["t"].logical_type)
    assert all(c.max_definition_level == 1 for c in cols.values())  # OPTIONAL
    assert [guess_column_type(c).field_type for c in cols.values()] == [ft for _, ft in ALL_COLUMNS]


def test_writer_errors_name_file_column_and_row(tmp_path: Path) -> None:
    path = tmp_path / "bad.parquet"
    w = ParquetFileWriter(path, [("n", FieldType.INT)])
    w.write_row([1])
    w.write_row(["two"])
    with pytest.raises(ParquetWriteError, match=r"bad.parquet: cannot write column 'n' \(int\) at row 1"):
        w.close()


def test_codec_names() -> None:
    assert arrow_codec("uncompressed") == "none"
    with pytest.raises(ValueError, match="unsupported parquet codec"):
        arrow_codec("lz4")


@needs_products
def test_proto_products_parquet_round_trip(tmp_path: Path) -> None:
    cols = [
        ("id", FieldType.STRING),
        ("sku", FieldType.INT),
        ("shipping_date", FieldType.DATETIME),
        ("price", FieldType.DECIMAL2),
        ("weight", FieldType.FLOAT),
        ("discontinued", FieldType.BOOL),
    ]
    out = tmp_path / "products.parquet"
    with ParquetFileWriter(out, cols, "gzip") as w:
        for _, row in iter_parquet_rows(PRODUCTS, {n: n for n, _ in cols}):
            w.write_row([row[n] for n, _ in cols])
    assert parquet_logical(out, PRODUCTS).ok
    first = read_all(PRODUCTS, ["id", "price", "shipping_date"])[0]
    assert first == {
        "id": "03457f3cf3b220091acd47a44e0a5e6a",
        "price": Decimal("288.79"),
        "shipping_date": dt.datetime(2018, 11, 16, 4, 0, 5, tzinfo=UTC),
    }


def test_out_of_range_datetime_names_file_column_and_rows(tmp_path: Path) -> None:
    path = tmp_path / "far.parquet"
    far = 300_000_000_000_000_000  # microseconds: beyond year 9999, which Python datetimes cannot hold
    pq.write_table(pa.table({"t": pa.array([0, far], pa.timestamp("us"))}), path)
    with pytest.raises(ParquetReadError, match=r"far.parquet: column 't', rows 0..1"):
        read_all(path, ["t"])


def test_empty_output_is_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.parquet"
    with ParquetFileWriter(path, ALL_COLUMNS):
        pass
    pf = pq.ParquetFile(path)
    assert pf.metadata.num_rows == 0 and pf.metadata.created_by == "capillaries"
    assert read_all(path, [n for n, _ in ALL_COLUMNS]) == []
