"""Values across the py_calc boundary, with the conversions of Go's generated program (spec 7.1).

Inputs: Go wrote each `r.*` value as a Python literal; we send a type tag and the text Go would have printed, and
the child rebuilds the same Python value: int `%d`; float `%f` (6 decimals, so precision is lost as in Go);
decimal `String()` (whole values become Python ints, quirk 22); string with Python escape processing; datetime as
the string `2006-01-02T15:04:05.000-07:00`. Two deliberate fixes: bools arrive as Python bools (Go wrote
`TRUE`/`FALSE`, a NameError), and non-finite floats arrive as inf/nan (Go wrote `+Inf`/`NaN`, a NameError).

Results: Go read `json.dumps` output into float64/string/bool and converted by declared type; NaN/Infinity are
not JSON to Go, a wrong JSON type is an error.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from capillaries_provider.expr import gotime
from capillaries_provider.expr.godecimal import decimal_from_float, decimal_string, round_half_away
from capillaries_provider.expr.types import INT64_MIN, FieldType, Value

DATETIME_LAYOUT = "2006-01-02T15:04:05.000-07:00"

_TAGS = {
    FieldType.INT: "i",
    FieldType.FLOAT: "f",
    FieldType.DECIMAL2: "d",
    FieldType.STRING: "s",
    FieldType.BOOL: "b",
    FieldType.DATETIME: "t",
}


def type_tag(field_type: FieldType) -> str:
    return _TAGS[field_type]


def _encode_float(v: Value) -> Any:
    assert isinstance(v, float)
    return f"{v:f}"  # Python's %f equals Go's for finite values; inf/nan become "inf"/"nan" (see module doc)


def _encode_decimal(v: Value) -> Any:
    assert isinstance(v, Decimal)
    return decimal_string(v)


def _encode_datetime(v: Value) -> Any:
    assert isinstance(v, dt.datetime)
    return gotime.format(v, DATETIME_LAYOUT)


def _same(v: Value) -> Any:
    return v


_ENCODERS: dict[FieldType, Callable[[Value], Any]] = {
    FieldType.INT: _same,
    FieldType.FLOAT: _encode_float,
    FieldType.DECIMAL2: _encode_decimal,
    FieldType.STRING: _same,
    FieldType.BOOL: _same,
    FieldType.DATETIME: _encode_datetime,
}


def encoder(field_type: FieldType) -> Callable[[Value], Any]:
    """The function turning a value of `field_type` into its wire form (see `type_tag`)."""
    return _ENCODERS[field_type]


class ResultError(ValueError):
    """A calculated value that Go would have rejected; the message says what was expected."""


def _reject_constant(name: str) -> Any:
    raise ResultError(f"{name} is not valid JSON (Go cannot read NaN or Infinity)")


def _go_json_float(text: str) -> float:
    f = float(text)
    if math.isinf(f):
        raise ResultError(f"number {text} is out of the float64 range")
    return f


def parse_result_json(text: str) -> dict[str, Any]:
    """Decode the child's `json.dumps` of one row the way Go's encoding/json would (numbers -> float64)."""
    value = json.loads(text, parse_constant=_reject_constant, parse_float=_go_json_float, parse_int=_go_json_float)
    if not isinstance(value, dict):
        raise ResultError("the calculated values are not a JSON object")
    return value


def _number(v: Any, field_type: FieldType) -> float:
    if isinstance(v, bool) or not isinstance(v, float):
        raise ResultError(f"expected a number for a {field_type.value} field, got {_json_kind(v)} {v!r}")
    return v


def _to_int(v: Any) -> Value:
    f = _number(v, FieldType.INT)
    if not -(2.0**63) <= f < 2.0**63:
        return INT64_MIN  # Go's float64 -> int64 conversion out of range (amd64 gives 0x8000000000000000)
    return int(f)


def _to_float(v: Any) -> Value:
    return _number(v, FieldType.FLOAT)


def _to_decimal(v: Any) -> Value:
    return round_half_away(decimal_from_float(_number(v, FieldType.DECIMAL2)), 2)


def _to_string(v: Any) -> Value:
    if not isinstance(v, str):
        raise ResultError(f"expected a string for a string field, got {_json_kind(v)} {v!r}")
    return v


def _to_bool(v: Any) -> Value:
    if not isinstance(v, bool):
        raise ResultError(f"expected true/false for a bool field, got {_json_kind(v)} {v!r}")
    return v


def _to_datetime(v: Any) -> Value:
    if not isinstance(v, str):
        raise ResultError(f"expected a datetime string for a datetime field, got {_json_kind(v)} {v!r}")
    try:
        return gotime.parse(DATETIME_LAYOUT, v)
    except ValueError as e:
        raise ResultError(
            f"datetime {v!r} does not match {DATETIME_LAYOUT} (exactly 3 fractional digits and a +hh:mm offset, "
            f"e.g. dt.isoformat(timespec='milliseconds') of an aware datetime): {e}"
        ) from e


_DECODERS: dict[FieldType, Callable[[Any], Value]] = {
    FieldType.INT: _to_int,
    FieldType.FLOAT: _to_float,
    FieldType.DECIMAL2: _to_decimal,
    FieldType.STRING: _to_string,
    FieldType.BOOL: _to_bool,
    FieldType.DATETIME: _to_datetime,
}


def convert_result(field_type: FieldType, value: Any) -> Value:
    """The Capillaries value of one decoded JSON result for a field of `field_type` (ResultError if impossible)."""
    return _DECODERS[field_type](value)


def convert_results(types: Mapping[str, FieldType], text: str) -> tuple[dict[str, Value], str, str]:
    """All calculated values of one row; on failure returns ({}, field, message) naming the field at fault."""
    try:
        raw = parse_result_json(text)
    except (ResultError, ValueError) as e:
        return {}, "", f"cannot read the calculated values: {e}"
    out: dict[str, Value] = {}
    for name, field_type in types.items():
        if name not in raw:
            return {}, name, f"no value was returned for p.{name}"
        try:
            out[name] = convert_result(field_type, raw[name])
        except ResultError as e:
            return {}, name, str(e)
    return out, "", ""


def _json_kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"
