"""Capillaries field types and their Python value representations.

Shared by every layer: the expression compiler, the script model, storage and file I/O all agree on these.

| Capillaries type | Python value                         | Cassandra |
|------------------|--------------------------------------|-----------|
| int              | int, always inside int64 (wrapped)   | BIGINT    |
| float            | float                                | DOUBLE    |
| decimal2         | decimal.Decimal (arbitrary precision)| DECIMAL   |
| string           | str                                  | TEXT      |
| bool             | bool                                 | BOOLEAN   |
| datetime         | timezone-aware datetime.datetime     | TIMESTAMP |
"""

from __future__ import annotations

import datetime as _dt
import decimal
import enum

Value = int | float | decimal.Decimal | str | bool | _dt.datetime

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1

# Go's zero time: 0001-01-01 00:00:00 UTC.
ZERO_TIME = _dt.datetime(1, 1, 1, tzinfo=_dt.UTC)


class FieldType(enum.Enum):
    """The six Capillaries field types; `.value` is the spelling used in scripts."""

    INT = "int"
    FLOAT = "float"
    DECIMAL2 = "decimal2"
    STRING = "string"
    BOOL = "bool"
    DATETIME = "datetime"

    @classmethod
    def parse(cls, name: str) -> FieldType:
        """Return the type named `name` as written in a script; ValueError names the allowed spellings."""
        for t in cls:
            if t.value == name:
                return t
        allowed = ", ".join(t.value for t in cls)
        raise ValueError(f"unknown field type {name!r}, expected one of: {allowed}")

    @property
    def cql(self) -> str:
        """The Cassandra column type (spec 3.3)."""
        return _CQL[self]

    def zero(self) -> Value:
        """Go's zero value of the type: what a missing value becomes (there is no NULL)."""
        return _ZERO[self]


_CQL = {
    FieldType.INT: "BIGINT",
    FieldType.FLOAT: "DOUBLE",
    FieldType.DECIMAL2: "DECIMAL",
    FieldType.STRING: "TEXT",
    FieldType.BOOL: "BOOLEAN",
    FieldType.DATETIME: "TIMESTAMP",
}

_ZERO: dict[FieldType, Value] = {
    FieldType.INT: 0,
    FieldType.FLOAT: 0.0,
    FieldType.DECIMAL2: decimal.Decimal(0),
    FieldType.STRING: "",
    FieldType.BOOL: False,
    FieldType.DATETIME: ZERO_TIME,
}


def wrap_int64(v: int) -> int:
    """Wrap an arbitrary Python int into int64 the way Go's two's-complement arithmetic does."""
    return ((v + (1 << 63)) & ((1 << 64) - 1)) - (1 << 63)
