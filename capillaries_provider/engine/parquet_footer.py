"""Rewrite two Parquet footer fields pyarrow cannot set, so our files carry what Capillaries' writer puts there.

Capillaries writes `created_by = "capillaries"` and decimal2 columns as INT64 DECIMAL(precision 2, scale 2).
pyarrow has no option for `created_by` and stores INT64 decimals only for precision 10..18, so the writer produces
precision 17 and this module patches the footer afterwards: the footer (Thrift compact protocol `FileMetaData`)
is decoded generically, the two fields are changed and it is re-encoded in place. Data pages are untouched
(their offsets point before the footer), so the file stays valid whatever the footer's new length.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_MAGIC = b"PAR1"

# Thrift compact protocol type ids.
_TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(1, 13)

# parquet.thrift ids.
_FMD_SCHEMA, _FMD_CREATED_BY = 2, 6
_SE_TYPE, _SE_CONVERTED, _SE_PRECISION, _SE_LOGICAL = 1, 6, 8, 10
_TYPE_INT64, _CONVERTED_DECIMAL, _LOGICAL_DECIMAL, _DECIMAL_PRECISION = 2, 5, 5, 2


class FooterError(ValueError):
    """The footer is not a Parquet footer this codec understands."""


@dataclass
class _Field:
    fid: int
    ftype: int
    value: Any


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        shift = result = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def value(self, ftype: int) -> Any:
        if ftype in (_TRUE, _FALSE):
            return self.byte()  # only inside collections; struct booleans live in the type nibble
        if ftype == _BYTE:
            return self.byte()
        if ftype in (_I16, _I32, _I64):
            return self.zigzag()
        if ftype == _DOUBLE:
            raw = self.data[self.pos : self.pos + 8]
            self.pos += 8
            return raw
        if ftype == _BINARY:
            n = self.varint()
            raw = self.data[self.pos : self.pos + n]
            self.pos += n
            return raw
        if ftype in (_LIST, _SET):
            head = self.byte()
            size, etype = head >> 4, head & 0x0F
            if size == 15:
                size = self.varint()
            return etype, [self.value(etype) for _ in range(size)]
        if ftype == _MAP:
            size = self.varint()
            if size == 0:
                return 0, 0, []
            kv = self.byte()
            kt, vt = kv >> 4, kv & 0x0F
            return kt, vt, [(self.value(kt), self.value(vt)) for _ in range(size)]
        if ftype == _STRUCT:
            return self.struct()
        raise FooterError(f"unknown thrift compact type {ftype} at byte {self.pos}")

    def struct(self) -> list[_Field]:
        fields: list[_Field] = []
        last = 0
        while True:
            head = self.byte()
            if head == 0:
                return fields
            ftype, delta = head & 0x0F, head >> 4
            fid = last + delta if delta else self.zigzag()
            value = None if ftype in (_TRUE, _FALSE) else self.value(ftype)
            fields.append(_Field(fid, ftype, value))
            last = fid


class _Writer:
    def __init__(self) -> None:
        self.out = bytearray()

    def varint(self, n: int) -> None:
        while True:
            if n < 0x80:
                self.out.append(n)
                return
            self.out.append((n & 0x7F) | 0x80)
            n >>= 7

    def zigzag(self, n: int) -> None:
        self.varint((n << 1) ^ (n >> 63))

    def value(self, ftype: int, value: Any) -> None:
        if ftype in (_TRUE, _FALSE, _BYTE):
            self.out.append(value)
        elif ftype in (_I16, _I32, _I64):
            self.zigzag(value)
        elif ftype == _DOUBLE:
            self.out += value
        elif ftype == _BINARY:
            self.varint(len(value))
            self.out += value
        elif ftype in (_LIST, _SET):
            etype, items = value
            if len(items) < 15:
                self.out.append((len(items) << 4) | etype)
            else:
                self.out.append(0xF0 | etype)
                self.varint(len(items))
            for item in items:
                self.value(etype, item)
        elif ftype == _MAP:
            kt, vt, items = value
            self.varint(len(items))
            if items:
                self.out.append((kt << 4) | vt)
                for k, v in items:
                    self.value(kt, k)
                    self.value(vt, v)
        elif ftype == _STRUCT:
            self.struct(value)
        else:
            raise FooterError(f"unknown thrift compact type {ftype}")

    def struct(self, fields: list[_Field]) -> None:
        last = 0
        for f in fields:
            delta = f.fid - last
            if 0 < delta <= 15:
                self.out.append((delta << 4) | f.ftype)
            else:
                self.out.append(f.ftype)
                self.zigzag(f.fid)
            if f.ftype not in (_TRUE, _FALSE):
                self.value(f.ftype, f.value)
            last = f.fid
        self.out.append(0)


def _get(fields: list[_Field], fid: int) -> _Field | None:
    return next((f for f in fields if f.fid == fid), None)


def _set(fields: list[_Field], fid: int, ftype: int, value: Any) -> None:
    existing = _get(fields, fid)
    if existing is not None:
        existing.ftype, existing.value = ftype, value
        return
    fields.append(_Field(fid, ftype, value))
    fields.sort(key=lambda f: f.fid)


def _patch_decimal(element: list[_Field], precision: int) -> None:
    ptype, converted = _get(element, _SE_TYPE), _get(element, _SE_CONVERTED)
    if ptype is None or ptype.value != _TYPE_INT64 or converted is None or converted.value != _CONVERTED_DECIMAL:
        return
    _set(element, _SE_PRECISION, _I32, precision)
    logical = _get(element, _SE_LOGICAL)
    if logical is not None:
        decimal = _get(logical.value, _LOGICAL_DECIMAL)
        if decimal is not None:
            _set(decimal.value, _DECIMAL_PRECISION, _I32, precision)


def patch_footer(path: str | Path, created_by: str, int64_decimal_precision: int) -> None:
    """Set `created_by` and the precision of every INT64 DECIMAL column in the footer of a closed Parquet file."""
    with open(path, "r+b") as f:
        f.seek(-8, 2)
        tail = f.read(8)
        if tail[4:] != _MAGIC:
            raise FooterError(f"{path}: not a parquet file")
        (length,) = struct.unpack("<I", tail[:4])
        end = f.tell() - 8
        f.seek(end - length)
        reader = _Reader(f.read(length))
        meta = reader.struct()
        if reader.pos != length:
            raise FooterError(f"{path}: footer has {length - reader.pos} unread bytes")
        schema = _get(meta, _FMD_SCHEMA)
        if schema is None:
            raise FooterError(f"{path}: footer has no schema")
        for element in schema.value[1]:
            _patch_decimal(element, int64_decimal_precision)
        _set(meta, _FMD_CREATED_BY, _BINARY, created_by.encode())
        writer = _Writer()
        writer.struct(meta)
        f.seek(end - length)
        f.write(bytes(writer.out) + struct.pack("<I", len(writer.out)) + _MAGIC)
        f.truncate()
