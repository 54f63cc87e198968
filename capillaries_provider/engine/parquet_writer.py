"""Parquet output of table_file nodes (spec 1.8, "Parquet output").

Column types follow Capillaries: every column OPTIONAL; string BYTE_ARRAY/UTF8, int INT64, float DOUBLE, bool
BOOLEAN, decimal2 INT64 DECIMAL(precision 2, scale 2) holding IntPart(v*100) (truncation, not rounding),
datetime INT64 TIMESTAMP(MILLIS, UTC) with Go's zero time written as null; the footer says created_by
"capillaries". Rows are buffered and flushed as a row group every `rows_per_group` rows, so memory stays bounded
(Go keeps a single row group; readers see the same rows).

pyarrow stores INT64 decimals only for precision 10..18 and cannot set `created_by`, so the file is written with
precision 17 and the footer is patched on close (`parquet_footer`).
"""

from __future__ import annotations

import datetime as _dt
import struct
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from capillaries_provider.engine.file_errors import FileWriteError
from capillaries_provider.engine.parquet_footer import patch_footer
from capillaries_provider.expr.godecimal import parquet_decimal_unscaled
from capillaries_provider.expr.types import ZERO_TIME, FieldType, Value

if TYPE_CHECKING:
    from capillaries_provider.script.model import FileCreator

ARROW_DECIMAL_PRECISION = 17  # what pyarrow writes: INT64 storage needs precision 10..18
DECIMAL_PRECISION = 2  # what Capillaries declares (and what the footer says after the patch)
CREATED_BY = "capillaries"
DEFAULT_ROWS_PER_GROUP = 25_000
_CODECS = {"gzip": "gzip", "snappy": "snappy", "uncompressed": "none"}
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_MS = _dt.timedelta(milliseconds=1)

_ARROW_TYPES: dict[FieldType, pa.DataType] = {
    FieldType.STRING: pa.string(),
    FieldType.INT: pa.int64(),
    FieldType.FLOAT: pa.float64(),
    FieldType.BOOL: pa.bool_(),
    FieldType.DECIMAL2: pa.decimal128(ARROW_DECIMAL_PRECISION, 2),
    FieldType.DATETIME: pa.timestamp("ms", tz="UTC"),
}


class ParquetWriteError(FileWriteError):
    """A value that cannot be written; the message names the file, the column and the row."""


def arrow_codec(codec: str) -> str:
    """pyarrow's name for a Capillaries `parquet.codec` (gzip | snappy | uncompressed)."""
    try:
        return _CODECS[codec]
    except KeyError:
        raise ValueError(f"unsupported parquet codec {codec!r}, expected gzip, snappy or uncompressed") from None


def _decimal_array(values: Sequence[Value]) -> pa.Array:
    """decimal128 built from IntPart(v*100) directly, because Go stores that int64 even beyond the precision.

    A decimal128 slot is a little-endian 128-bit integer: the int64 followed by its sign extension.
    """
    words: list[int] = []
    for v in values:
        unscaled = parquet_decimal_unscaled(v)  # type: ignore[arg-type]
        words += (unscaled, -1 if unscaled < 0 else 0)
    buffer = pa.py_buffer(struct.pack(f"<{len(words)}q", *words))
    return pa.Array.from_buffers(_ARROW_TYPES[FieldType.DECIMAL2], len(values), [None, buffer])


def _millis(t: _dt.datetime) -> int | None:
    """Go UnixMilli (floor), or None for the zero time which Capillaries writes as null."""
    if t == ZERO_TIME:
        return None
    return (t - _EPOCH) // _MS


def column_array(values: Sequence[Value], field_type: FieldType) -> pa.Array:
    """One Arrow column holding `values` as Capillaries writes them."""
    if field_type is FieldType.DECIMAL2:
        if not all(isinstance(v, Decimal) for v in values):
            raise TypeError("decimal2 column got a non-decimal value")
        return _decimal_array(values)
    if field_type is FieldType.DATETIME:
        return pa.array([_millis(v) for v in values], pa.int64()).cast(_ARROW_TYPES[field_type])  # type: ignore[arg-type]
    if field_type is FieldType.INT and any(isinstance(v, bool) for v in values):
        raise TypeError("int column got a bool value")
    return pa.array(values, _ARROW_TYPES[field_type])


class ParquetFileWriter:
    """Streams rows into a Parquet file; use as a context manager (the file is only valid after close)."""

    def __init__(
        self,
        path: str | Path,
        columns: Sequence[tuple[str, FieldType]],
        codec: str = "gzip",
        rows_per_group: int = DEFAULT_ROWS_PER_GROUP,
    ) -> None:
        self._path = str(path)
        self._names = [name for name, _ in columns]
        self._types = [ft for _, ft in columns]
        self._schema = pa.schema([pa.field(name, _ARROW_TYPES[ft], nullable=True) for name, ft in columns])
        self._writer = pq.ParquetWriter(
            self._path,
            self._schema,
            compression=arrow_codec(codec),
            store_decimal_as_integer=True,
            store_schema=False,  # no ARROW:schema metadata: the Parquet schema alone describes the file, as in Go
        )
        self._rows: list[Sequence[Value]] = []
        self._rows_per_group = rows_per_group
        self._written = 0

    @classmethod
    def for_creator(cls, path: str | Path, creator: FileCreator) -> ParquetFileWriter:
        """A writer for a table_file node's `w` (column names from `parquet.column_name`)."""
        return cls(path, [(c.parquet_column_name, c.type) for c in creator.columns], creator.parquet_codec)

    def write_row(self, values: Sequence[Value]) -> None:
        """Queue one row (values in column order); a full buffer becomes a row group."""
        self._rows.append(values)
        if len(self._rows) >= self._rows_per_group:
            self.flush()

    def flush(self) -> None:
        """Write buffered rows as one row group."""
        if not self._rows:
            return
        arrays = []
        for i, (name, ft) in enumerate(zip(self._names, self._types, strict=True)):
            column = [row[i] for row in self._rows]
            try:
                arrays.append(column_array(column, ft))
            except (TypeError, ValueError, OverflowError, pa.ArrowException) as e:
                bad = _first_bad_row(column, ft)
                raise ParquetWriteError(
                    f"{self._path}: cannot write column {name!r} ({ft.value}) at row {self._written + bad}: {e}"
                ) from e
        self._writer.write_table(pa.Table.from_arrays(arrays, schema=self._schema))
        self._written += len(self._rows)
        self._rows = []

    def close(self) -> None:
        """Flush the remaining rows, write the footer and give it Capillaries' creator and decimal precision."""
        try:
            self.flush()
        finally:
            self._writer.close()
        patch_footer(self._path, CREATED_BY, DECIMAL_PRECISION)

    def __enter__(self) -> ParquetFileWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self._writer.close()


def _first_bad_row(column: Sequence[Value], field_type: FieldType) -> int:
    """Position of the first value that fails alone (for the error message); 0 when none does."""
    for i, v in enumerate(column):
        try:
            column_array([v], field_type)
        except (TypeError, ValueError, OverflowError, pa.ArrowException):
            return i
    return 0
