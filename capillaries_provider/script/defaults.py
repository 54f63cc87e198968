"""Typed `default_value`s of table fields (spec 1.6), parsed once at load time.

Go parses the (whitespace-trimmed) text with strconv per type; decimals go float -> round(f*100) -> scale-2
decimal (the database form, spec quirk 20); datetimes use the layout `2006-01-02T15:04:05.000-07:00`.
"""

from __future__ import annotations

from decimal import Decimal

from capillaries_provider.expr import gotime
from capillaries_provider.expr.godecimal import to_cassandra_decimal
from capillaries_provider.expr.gofmt import parse_bool, parse_float, parse_int
from capillaries_provider.expr.types import FieldType, Value

DEFAULT_VALUE_LAYOUT = "2006-01-02T15:04:05.000-07:00"


def parse_default_value(ftype: FieldType, text: str | None) -> Value:
    """The value an unmatched left-join row gets for a field; absent/empty -> the type's zero value."""
    text = (text or "").strip()
    if ftype is FieldType.STRING:
        return text
    if text == "":
        return to_cassandra_decimal(Decimal(0)) if ftype is FieldType.DECIMAL2 else ftype.zero()
    try:
        if ftype is FieldType.INT:
            return parse_int(text)
        if ftype is FieldType.FLOAT:
            return parse_float(text)
        if ftype is FieldType.BOOL:
            return parse_bool(text)
        if ftype is FieldType.DECIMAL2:
            return to_cassandra_decimal(Decimal(parse_float(text)))
        return gotime.parse(DEFAULT_VALUE_LAYOUT, text)
    except ValueError as e:
        raise ValueError(f"invalid {ftype.value} default_value {text!r}: {e}") from e
