"""file_table input: one file (= one batch) turned into a stream of typed rows (spec 1.5).

CSV goes through the Go-compatible tokenizer and the per-cell converters; Parquet through pyarrow record batches.
Both yield `(line_or_row_number, {column: value})` one row at a time, so a batch of any size runs in bounded
memory, and every error names the file, the line (CSV: physical line, Parquet: 0-based row) and the column.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from capillaries_provider.engine.cell_convert import CellSpec, Converter, convert_cell, make_converter
from capillaries_provider.engine.csv_records import iter_csv_file
from capillaries_provider.engine.file_errors import FileReadError
from capillaries_provider.engine.parquet_reader import DEFAULT_BATCH_ROWS, iter_parquet_rows
from capillaries_provider.expr.types import FieldType, Value
from capillaries_provider.script.model import DataFormat, FileReader

Row = dict[str, Value]


class CsvLayoutError(FileReadError):
    """Header or column-index problems (missing header, index beyond the record); names file and line."""


@dataclass(frozen=True)
class CsvColumn:
    """One CSV reader column as plain values (the script model's `FileReaderColumn` maps onto it)."""

    name: str
    field_type: FieldType
    col_idx: int = 0
    col_hdr: str = ""
    col_format: str = ""
    default_value: str = ""

    @property
    def cell_spec(self) -> CellSpec:
        return CellSpec(self.name, self.field_type, self.col_format, self.default_value)


def _resolve_header(columns: Sequence[CsvColumn], header: list[str], source: str, line: int) -> list[int]:
    """Name mode: each column's index is the *last* header cell equal to `col_hdr` (exact match, BOM kept)."""
    positions: dict[str, int] = {}
    for i, text in enumerate(header):
        positions[text] = i
    missing = [c.col_hdr for c in columns if c.col_hdr not in positions]
    if missing:
        raise CsvLayoutError(f"{source}, line {line}: header line has no column(s) {missing}; header is {header}")
    return [positions[c.col_hdr] for c in columns]


def iter_csv_rows(
    path: str | Path | IO[bytes],
    columns: Sequence[CsvColumn],
    hdr_line_idx: int = 0,
    first_data_line_idx: int = 0,
    separator: str = ",",
    source: str | None = None,
) -> Iterator[tuple[int, Row]]:
    """Stream converted data rows of a CSV file as `(physical_line, row)`.

    Record indexes (not physical lines) decide the role of a record: in name mode (any column has `col_hdr`) the
    record at `hdr_line_idx` resolves the column indexes; records at or after `first_data_line_idx` are data.
    In name mode a file without its header line (e.g. empty) is an error.
    """
    source = source or str(path)
    by_header = any(c.col_hdr for c in columns)
    indexes: list[int] | None = None if by_header else [c.col_idx for c in columns]
    names = [c.name for c in columns]
    specs = [c.cell_spec for c in columns]
    converters = [make_converter(s) for s in specs]
    plan = list(zip(names, specs, converters, strict=True))
    for record_idx, (line, fields) in enumerate(iter_csv_file(path, separator, source)):
        if by_header and record_idx == hdr_line_idx:
            indexes = _resolve_header(columns, fields, source, line)
            continue
        if record_idx < first_data_line_idx:
            continue
        if indexes is None:
            raise CsvLayoutError(
                f"{source}, line {line}: data line {record_idx} comes before header line {hdr_line_idx}"
            )
        try:
            row: Row = {name: convert(fields[idx]) for (name, _, convert), idx in zip(plan, indexes, strict=True)}
        except (ValueError, OverflowError, IndexError):
            row = _diagnose(plan, indexes, fields, source, line)
        yield line, row
    if by_header and indexes is None:
        # Go reads such a file as zero rows; an absent header means a truncated or wrong file, so say so.
        raise CsvLayoutError(f"{source}: no header line (record {hdr_line_idx}): the file has fewer records")


def _diagnose(
    plan: list[tuple[str, CellSpec, Converter]], indexes: list[int], fields: list[str], source: str, line: int
) -> Row:
    """Redo a failed row column by column to raise an error naming the column (the fast path does not track it)."""
    row: Row = {}
    for (name, spec, convert), idx in zip(plan, indexes, strict=True):
        if idx >= len(fields):
            raise CsvLayoutError(
                f"{source}, line {line}, column {name}: col_idx {idx} is beyond the {len(fields)} fields of the record"
            )
        row[name] = convert_cell(convert, spec, fields[idx], source, line)
    return row


def csv_columns(reader: FileReader) -> list[CsvColumn]:
    """The model's reader columns as `CsvColumn`s."""
    return [
        CsvColumn(
            name=name,
            field_type=c.type,
            col_idx=c.csv.col_idx,
            col_hdr=c.csv.col_hdr,
            col_format=c.csv.col_format,
            default_value=c.default_value,
        )
        for name, c in reader.columns.items()
    ]


def parquet_columns(reader: FileReader) -> Mapping[str, str]:
    """Capillaries column name -> `parquet.col_name`."""
    return {name: c.parquet_col_name for name, c in reader.columns.items()}


def iter_file_rows(
    path: str | Path | IO[bytes],
    reader: FileReader,
    parquet_batch_rows: int = DEFAULT_BATCH_ROWS,
    source: str | None = None,
) -> Iterator[tuple[int, Row]]:
    """Stream the rows of one file of a file_table node, CSV or Parquet as the reader's format says; `path` is a
    local path or an open seekable binary stream (a remote file) named `source` in messages."""
    if reader.format is DataFormat.PARQUET:
        return iter_parquet_rows(path, parquet_columns(reader), parquet_batch_rows, source)
    settings = reader.csv
    return iter_csv_rows(
        path, csv_columns(reader), settings.hdr_line_idx, settings.first_data_line_idx, settings.separator, source
    )
