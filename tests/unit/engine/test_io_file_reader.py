"""CSV file reading (name/idx modes, header and data line indexes) and the proto round trip through the writer."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from capillaries_provider.engine.cell_convert import CellConversionError
from capillaries_provider.engine.compare import exact_lines_ws
from capillaries_provider.engine.csv_records import CsvFormatError
from capillaries_provider.engine.csv_writer import CsvFileWriter
from capillaries_provider.engine.file_errors import FileReadError
from capillaries_provider.engine.file_reader import CsvColumn, CsvLayoutError, iter_csv_rows
from capillaries_provider.expr.types import FieldType, Value
from tests.conftest import CONFORMANCE, needs_shared

PROTO = CONFORMANCE / "proto_file_reader_creator_quicktest"
PRODUCTS_CSV = PROTO / "test/data/in/proto_file_reader_creator/products.csv"


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    return path


def rows(
    path: Path, columns: list[CsvColumn], hdr: int = 0, first: int = 0, sep: str = ","
) -> list[tuple[int, dict[str, Value]]]:
    return list(iter_csv_rows(path, columns, hdr, first, sep))


def test_name_mode_last_duplicate_header_wins(tmp_path: Path) -> None:
    path = write(tmp_path, b"id,x,id\n1,a,2\n")
    cols = [CsvColumn("c_id", FieldType.INT, col_hdr="id"), CsvColumn("c_x", FieldType.STRING, col_hdr="x")]
    assert rows(path, cols, 0, 1) == [(2, {"c_id": 2, "c_x": "a"})]


def test_name_mode_header_line_index_counts_records(tmp_path: Path) -> None:
    path = write(tmp_path, b"junk\n\nid\n5\n6\n")
    cols = [CsvColumn("n", FieldType.INT, col_hdr="id")]
    assert rows(path, cols, 1, 2) == [(4, {"n": 5}), (5, {"n": 6})]


def test_name_mode_missing_header_and_bom(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbfid,x\n1,2\n")
    with pytest.raises(CsvLayoutError, match=r"in.csv, line 1: header line has no column\(s\) \['id'\]"):
        rows(path, [CsvColumn("n", FieldType.INT, col_hdr="id")], 0, 1)


def test_idx_mode_skips_header_only_through_first_data_line(tmp_path: Path) -> None:
    path = write(tmp_path, b"a\tb\n1\t2\n3\t4\n")
    cols = [CsvColumn("second", FieldType.INT, col_idx=1), CsvColumn("first", FieldType.STRING, col_idx=0)]
    assert rows(path, cols, 0, 1, "\t") == [(2, {"second": 2, "first": "1"}), (3, {"second": 4, "first": "3"})]
    with pytest.raises(CellConversionError, match="in.csv, line 1, column second"):
        rows(path, cols, 0, 0, "\t")  # header is data when first_data_line_idx is 0


def test_idx_beyond_record_width_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = write(tmp_path, b"1,2\n")
    with pytest.raises(CsvLayoutError, match="line 1, column c: col_idx 5 is beyond the 2 fields"):
        rows(path, [CsvColumn("c", FieldType.INT, col_idx=5)])


def test_wrong_field_count_propagates(tmp_path: Path) -> None:
    path = write(tmp_path, b"1,2\n3\n")
    with pytest.raises(CsvFormatError, match="in.csv: record on line 2: wrong number of fields"):
        rows(path, [CsvColumn("c", FieldType.INT, col_idx=0)])


def test_every_reader_error_is_a_file_read_error(tmp_path: Path) -> None:
    assert all(issubclass(e, FileReadError) for e in (CsvFormatError, CsvLayoutError, CellConversionError))


def test_quoted_cells_convert(tmp_path: Path) -> None:
    path = write(tmp_path, b'name,amount\r\n"Smith, J","1.5"\r\n')
    cols = [CsvColumn("n", FieldType.STRING, col_hdr="name"), CsvColumn("a", FieldType.DECIMAL2, col_hdr="amount")]
    assert rows(path, cols, 0, 1) == [(2, {"n": "Smith, J", "a": Decimal("1.50")})]


@needs_shared(PRODUCTS_CSV)
def test_proto_products_csv_round_trip(tmp_path: Path) -> None:
    """read_file (script_csv.json `r`) -> table fields -> write_file (`w`): output equals input (exact_lines_ws)."""
    script = json.loads((PROTO / "generated/script_csv.json").read_text())
    r = script["nodes"]["read_file"]["r"]
    cols = [
        CsvColumn(
            name,
            FieldType.parse(c["col_type"]),
            col_hdr=c["csv"]["col_hdr"],
            col_format=c["csv"].get("col_format", ""),
            default_value=c.get("col_default_value", ""),
        )
        for name, c in r["columns"].items()
    ]
    csv_settings = r["csv"]
    read = rows(
        PRODUCTS_CSV, cols, csv_settings["hdr_line_idx"], csv_settings["first_data_line_idx"], csv_settings["separator"]
    )
    assert len(read) == 48
    first = read[0][1]
    assert first["col_shipping_date"] == dt.datetime(2018, 11, 16, 4, 0, 5, tzinfo=dt.UTC)
    assert (
        first["col_price"] == Decimal("288.79") and first["col_weight"] == 65.13 and first["col_discontinued"] is False
    )
    # w.fields of read_file are `r.col_<x>` renamed to <x>; write_file columns are `r.<x>`.
    table = [{name.removeprefix("col_"): v for name, v in row.items()} for _, row in read]
    w = script["nodes"]["write_file"]["w"]
    out = tmp_path / "products.csv"
    with CsvFileWriter(
        out, [(c["csv"]["header"], c["csv"]["format"]) for c in w["columns"]], w["csv"]["separator"]
    ) as writer:
        for row in sorted(table, key=lambda t: t["id"]):  # top.order col_id(asc)
            writer.write_row([row[c["expression"].removeprefix("r.")] for c in w["columns"]])
    assert exact_lines_ws(out, PRODUCTS_CSV).ok
    expected = PRODUCTS_CSV.read_bytes()
    # Byte-exact apart from the header terminator: Capillaries writes CRLF there, the checked-in input has LF.
    assert out.read_bytes() == expected.replace(b"\n", b"\r\n", 1)
