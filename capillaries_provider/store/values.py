"""Conversions between Capillaries values and what the Cassandra driver writes/reads (spec 3.4).

Writing: decimal2 goes through Go's float64 x 100 rounding (1.005 -> 1.00), datetime is cut to whole
milliseconds (floor, as gocql does). Reading: TIMESTAMP comes back as a UTC-aware datetime, NULL (e.g. Go's zero
time, which gocql writes as an empty value) becomes the type's zero value.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable

from cassandra.marshal import double_pack, int32_pack, int64_pack, varint_pack
from cassandra.query import BoundStatement, PreparedStatement

from capillaries_provider.expr.godecimal import to_cassandra_cents
from capillaries_provider.expr.types import FieldType, Value

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MS = dt.timedelta(milliseconds=1)


def datetime_to_ms(value: dt.datetime) -> int:
    """Milliseconds since the Unix epoch, sub-millisecond part dropped toward the past (Go: sec*1e3 + nsec/1e6)."""
    if value.tzinfo is None:
        raise TypeError(f"datetime {value!r} has no time zone; Capillaries datetimes are time-zone aware")
    return (value - _EPOCH) // _MS


def ms_to_datetime(ms: int) -> dt.datetime:
    return _EPOCH + ms * _MS


def _from_timestamp(value: object) -> Value:
    # The driver builds the datetime through a float number of seconds, which can be a few microseconds off for
    # dates far from 1970; stored values are whole milliseconds, so round to the nearest one.
    assert isinstance(value, dt.datetime)
    aware = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
    return ms_to_datetime(round((aware - _EPOCH) / _MS))


def _int_bytes(value: object) -> bytes:
    if not isinstance(value, int):
        raise TypeError(f"int value must be an int, got {type(value).__name__} {value!r}")
    return int64_pack(value)


def _float_bytes(value: object) -> bytes:
    if not isinstance(value, float | int):
        raise TypeError(f"float value must be a float, got {type(value).__name__} {value!r}")
    return double_pack(value)


def _decimal_bytes(value: object) -> bytes:
    if not isinstance(value, decimal.Decimal):
        raise TypeError(f"decimal2 value must be a decimal.Decimal, got {type(value).__name__} {value!r}")
    return _SCALE_2 + varint_pack(to_cassandra_cents(value))


def _string_bytes(value: object) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"string value must be a str, got {type(value).__name__} {value!r}")
    return value.encode("utf-8")


def _bool_bytes(value: object) -> bytes:
    if not isinstance(value, bool):
        raise TypeError(f"bool value must be a bool, got {type(value).__name__} {value!r}")
    return b"\x01" if value else b"\x00"


def _timestamp_bytes(value: object) -> bytes:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"datetime value must be a datetime.datetime, got {type(value).__name__} {value!r}")
    return int64_pack(datetime_to_ms(value))


_SCALE_2 = int32_pack(2)
_TO_CQL_BYTES: dict[FieldType, Callable[[object], bytes]] = {
    FieldType.INT: _int_bytes,
    FieldType.FLOAT: _float_bytes,
    FieldType.DECIMAL2: _decimal_bytes,
    FieldType.STRING: _string_bytes,
    FieldType.BOOL: _bool_bytes,
    FieldType.DATETIME: _timestamp_bytes,
}


def to_cql_bytes(field_type: FieldType) -> Callable[[object], bytes]:
    """The function serializing a value of `field_type` for its column (tables.py's CQL type), as Go writes it.

    decimal2 is stored as Go rounds it (`to_cassandra_cents`), datetime as whole milliseconds. Serializing here
    and binding the bytes (`bind_bytes`) skips the driver's per-value type dispatch in `bind()`, about half the
    cost of binding a load row.
    """
    return _TO_CQL_BYTES[field_type]


def bind_bytes(prepared: PreparedStatement, values: list[bytes]) -> BoundStatement:
    """`prepared.bind(...)` for values already serialized, in the order of the statement's markers."""
    statement = BoundStatement(prepared)
    statement.values = values
    return statement


def from_cassandra(field_type: FieldType) -> Callable[[object], Value]:
    """The function turning a value read from a column of `field_type` into a Capillaries value."""
    zero = field_type.zero()
    if field_type is FieldType.DATETIME:
        return lambda v: zero if v is None else _from_timestamp(v)
    return lambda v: zero if v is None else v  # type: ignore[return-value]
