"""Conversions between Capillaries values and what the Cassandra driver writes/reads (spec 3.4).

Writing: decimal2 goes through Go's float64 x 100 rounding (1.005 -> 1.00), datetime is cut to whole
milliseconds (floor, as gocql does). Reading: TIMESTAMP comes back as a UTC-aware datetime, NULL (e.g. Go's zero
time, which gocql writes as an empty value) becomes the type's zero value.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable

from capillaries_provider.expr.godecimal import to_cassandra_decimal
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


def _to_decimal(value: object) -> object:
    if not isinstance(value, decimal.Decimal):
        raise TypeError(f"decimal2 value must be a decimal.Decimal, got {type(value).__name__} {value!r}")
    return to_cassandra_decimal(value)


def _to_timestamp(value: object) -> object:
    if not isinstance(value, dt.datetime):
        raise TypeError(f"datetime value must be a datetime.datetime, got {type(value).__name__} {value!r}")
    return datetime_to_ms(value)


def _identity(value: object) -> object:
    return value


_TO_CASSANDRA: dict[FieldType, Callable[[object], object]] = {
    FieldType.INT: _identity,
    FieldType.FLOAT: _identity,
    FieldType.DECIMAL2: _to_decimal,
    FieldType.STRING: _identity,
    FieldType.BOOL: _identity,
    FieldType.DATETIME: _to_timestamp,
}


def to_cassandra(field_type: FieldType) -> Callable[[object], object]:
    """The function converting a value of `field_type` into what the driver binds."""
    return _TO_CASSANDRA[field_type]


def from_cassandra(field_type: FieldType) -> Callable[[object], Value]:
    """The function turning a value read from a column of `field_type` into a Capillaries value."""
    zero = field_type.zero()
    if field_type is FieldType.DATETIME:
        return lambda v: zero if v is None else _from_timestamp(v)
    return lambda v: zero if v is None else v  # type: ignore[return-value]
