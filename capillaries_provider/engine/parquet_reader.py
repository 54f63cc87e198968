"""Parquet input with Capillaries' type mapping (spec 1.5, "Parquet reading").

Capillaries ignores the script's `col_type` for Parquet and *guesses* the type from the file schema, turns nulls
into Go zero values and reads decimals without rounding. pyarrow does the decoding; this module only maps the
schema and converts one record batch at a time, so memory is bounded by the batch size, not the file size.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from capillaries_provider.engine.file_errors import FileReadError
from capillaries_provider.expr.types import ZERO_TIME, FieldType, Value, wrap_int64

DEFAULT_BATCH_ROWS = 10_000

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)


class ParquetReadError(FileReadError):
    """A Parquet file or column Capillaries cannot read; the message names the file (and column/row)."""


@dataclass(frozen=True)
class ParquetColumnInfo:
    """What the reader needs to know about one top-level Parquet column."""

    name: str
    field_type: FieldType
    physical_type: str
    scale: int = 0
    type_length: int = 0  # FIXED_LEN_BYTE_ARRAY width in bytes
    time_unit: str = ""  # "ms", "us", "ns" for timestamps, "d" for DATE


def _logical(col: Any) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(col.logical_type.to_json())
    return result


def guess_column_type(col: Any) -> ParquetColumnInfo:
    """Map a `pyarrow.parquet.ColumnSchema` to its Capillaries type, in Capillaries' rule order.

    Raises ParquetReadError for anything Capillaries does not support (nested, NANOS timestamps, wide decimals...).
    """
    phys = col.physical_type
    logical = _logical(col)
    ltype = logical.get("Type", "None")
    converted = col.converted_type
    name = col.name
    if phys == "BYTE_ARRAY" and (ltype == "String" or converted == "UTF8"):
        return ParquetColumnInfo(name, FieldType.STRING, phys)
    if ltype == "Decimal" or converted == "DECIMAL":
        precision, scale = col.precision, col.scale
        if -20 < scale < 20 and (
            (phys in ("INT32", "INT64") and precision < 18) or (phys == "FIXED_LEN_BYTE_ARRAY" and precision <= 38)
        ):
            return ParquetColumnInfo(name, FieldType.DECIMAL2, phys, scale=scale, type_length=col.length)
        raise ParquetReadError(f"unsupported decimal column {name!r}: {phys} precision {precision} scale {scale}")
    if phys == "INT96":
        return ParquetColumnInfo(name, FieldType.DATETIME, phys, time_unit="us")
    if ltype == "Timestamp" or converted in ("TIMESTAMP_MILLIS", "TIMESTAMP_MICROS"):
        unit = {"milliseconds": "ms", "microseconds": "us"}.get(logical.get("timeUnit", ""), "")
        if not unit:
            unit = {"TIMESTAMP_MILLIS": "ms", "TIMESTAMP_MICROS": "us"}.get(converted, "")
        if phys in ("INT32", "INT64") and unit:
            return ParquetColumnInfo(name, FieldType.DATETIME, phys, time_unit=unit)
        raise ParquetReadError(f"unsupported timestamp column {name!r}: {col.logical_type}")
    if phys == "INT32" and (ltype == "Date" or converted == "DATE"):
        return ParquetColumnInfo(name, FieldType.DATETIME, phys, time_unit="d")
    if (
        phys in ("INT32", "INT64")
        and ltype in ("None", "Int")
        and converted in ("NONE", "INT_8", "INT_16", "INT_32", "INT_64", "UINT_8", "UINT_16", "UINT_32", "UINT_64")
    ):
        return ParquetColumnInfo(name, FieldType.INT, phys)
    if phys in ("FLOAT", "DOUBLE") and ltype == "None":
        return ParquetColumnInfo(name, FieldType.FLOAT, phys)
    if phys == "BOOLEAN" and ltype == "None":
        return ParquetColumnInfo(name, FieldType.BOOL, phys)
    raise ParquetReadError(
        f"unsupported parquet column {name!r}: physical {phys}, logical {col.logical_type}, converted {converted}"
    )


def open_parquet(path: str | Path | IO[bytes], source: str | None = None) -> pq.ParquetFile:
    """Open for streaming (a path, or a seekable stream read by ranges); INT96 is decoded at microsecond precision
    so far dates do not overflow nanoseconds."""
    try:
        return pq.ParquetFile(path, coerce_int96_timestamp_unit="us")
    except (OSError, pa.ArrowException) as e:
        raise ParquetReadError(f"cannot open parquet file {source or path}: {e}") from e


def schema_columns(pf: pq.ParquetFile, source: str) -> dict[str, Any]:
    """Top-level leaf columns by name (nested columns are not readable by Capillaries and are left out)."""
    result: dict[str, Any] = {}
    for i in range(len(pf.schema)):
        col = pf.schema.column(i)
        if col.max_repetition_level == 0 and col.path == col.name:
            result[col.name] = col
    return result


def column_infos(pf: pq.ParquetFile, parquet_names: list[str], source: str) -> dict[str, ParquetColumnInfo]:
    """Guess the type of each requested Parquet column; a missing column is an error naming the file."""
    available = schema_columns(pf, source)
    infos: dict[str, ParquetColumnInfo] = {}
    for pname in parquet_names:
        if pname not in available:
            raise ParquetReadError(f"{source}: column {pname!r} not found in parquet file (top-level columns only)")
        try:
            infos[pname] = guess_column_type(available[pname])
        except ParquetReadError as e:
            raise ParquetReadError(f"{source}: {e}") from e
    return infos


def go_flba_unscaled(unscaled: int, length: int) -> int:
    """The int64 Capillaries gets from a FIXED_LEN_BYTE_ARRAY decimal (spec 1.5 quirk, kept for equal values).

    Only the last 8 big-endian bytes are used; a shorter array is sign-padded with 0xFF when its first byte has
    bit 0x10 set (Go tests 0x10 instead of 0x80).
    """
    raw = unscaled.to_bytes(length, "big", signed=True)
    if length >= 8:
        return int.from_bytes(raw[-8:], "big", signed=True)
    pad = b"\xff" if raw[0] & 0x10 else b"\x00"
    return int.from_bytes(pad * (8 - length) + raw, "big", signed=True)


def _unit_delta(unit: str) -> Callable[[int], _dt.timedelta]:
    if unit == "ms":
        return lambda v: _dt.timedelta(milliseconds=v)
    if unit == "us":
        return lambda v: _dt.timedelta(microseconds=v)
    if unit == "ns":
        return lambda v: _dt.timedelta(microseconds=v // 1000)
    if unit == "s":
        return lambda v: _dt.timedelta(seconds=v)
    return lambda v: _dt.timedelta(days=v)


def _datetimes(arr: pa.Array) -> list[Value]:
    t = arr.type
    if pa.types.is_date32(t):
        ints, unit = arr.cast(pa.int32()), "d"
    elif pa.types.is_timestamp(t):
        ints, unit = arr.cast(pa.int64()), t.unit
    else:
        raise ParquetReadError(f"unexpected arrow type {t} for a datetime column")
    delta = _unit_delta(unit)
    return [ZERO_TIME if v is None else _EPOCH + delta(v) for v in ints.to_pylist()]


def _decimals(arr: pa.Array, info: ParquetColumnInfo) -> list[Value]:
    values = arr.to_pylist()
    if info.physical_type != "FIXED_LEN_BYTE_ARRAY":
        return [Decimal(0) if v is None else v for v in values]
    out: list[Value] = []
    for v in values:
        if v is None:
            out.append(Decimal(0))
            continue
        unscaled = int(v.scaleb(info.scale))
        go = go_flba_unscaled(unscaled, info.type_length)
        out.append(v if go == unscaled else Decimal(go).scaleb(-info.scale))
    return out


def arrow_values(arr: pa.Array, info: ParquetColumnInfo) -> list[Value]:
    """Convert one Arrow column chunk into Capillaries values; nulls become Go zero values."""
    ft = info.field_type
    if ft is FieldType.STRING:
        return arr.fill_null("").to_pylist()
    if ft is FieldType.INT:
        ints = arr.fill_null(0).to_pylist()
        return [wrap_int64(v) for v in ints] if pa.types.is_uint64(arr.type) else ints
    if ft is FieldType.FLOAT:
        return arr.fill_null(0.0).to_pylist()
    if ft is FieldType.BOOL:
        return arr.fill_null(False).to_pylist()
    if ft is FieldType.DECIMAL2:
        return _decimals(arr, info)
    return _datetimes(arr)


def _column_values(
    batch: pa.RecordBatch, pname: str, info: ParquetColumnInfo, source: str, first_row: int
) -> list[Value]:
    try:
        return arrow_values(batch.column(pname), info)
    except (ValueError, OverflowError, pa.ArrowException) as e:
        last = first_row + batch.num_rows - 1
        raise ParquetReadError(f"{source}: column {pname!r}, rows {first_row}..{last}: {e}") from e


def iter_parquet_rows(
    path: str | Path | IO[bytes],
    columns: Mapping[str, str],
    batch_rows: int = DEFAULT_BATCH_ROWS,
    source: str | None = None,
) -> Iterator[tuple[int, dict[str, Value]]]:
    """Stream `(row_number, {capillaries_column: value})` reading only the Parquet columns in `columns`.

    `columns` maps a Capillaries column name to its Parquet column name (`parquet.col_name`); row numbers are
    0-based positions in the file. Values have the types guessed from the file schema (see `guess_column_type`).
    """
    source = source or str(path)
    with open_parquet(path, source) as pf:
        parquet_names = list(dict.fromkeys(columns.values()))
        infos = column_infos(pf, parquet_names, source)
        out_names = list(columns)
        row = 0
        try:
            batches = pf.iter_batches(batch_size=batch_rows, columns=parquet_names, use_threads=False)
            for batch in batches:
                by_parquet = {pname: _column_values(batch, pname, infos[pname], source, row) for pname in parquet_names}
                lists = [by_parquet[columns[n]] for n in out_names]
                for values in zip(*lists, strict=True):
                    yield row, dict(zip(out_names, values, strict=True))
                    row += 1
        except (OSError, pa.ArrowException, OverflowError) as e:
            raise ParquetReadError(f"{source}: cannot read parquet data near row {row}: {e}") from e
