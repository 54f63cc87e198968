"""Values across the py_calc boundary: Go's literal rendering of inputs and JSON conversions of results (7.1)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from capillaries_provider.engine.pycalc.values import ResultError, convert_result, convert_results, encoder
from capillaries_provider.expr.types import INT64_MIN, FieldType

UTC = dt.UTC


def test_inputs_are_rendered_like_go_literals() -> None:
    assert encoder(FieldType.FLOAT)(1 / 3) == "0.333333"  # Go %f: 6 decimals, precision lost
    assert encoder(FieldType.DECIMAL2)(Decimal("12.30")) == "12.3"  # String(): trailing zeros dropped
    assert encoder(FieldType.DECIMAL2)(Decimal("10.00")) == "10"  # ... so a whole value is a Python int
    assert encoder(FieldType.DECIMAL2)(Decimal("-0.50")) == "-0.5"
    assert encoder(FieldType.DATETIME)(dt.datetime(2020, 1, 30, 20, 43, 11, tzinfo=UTC)) == (
        "2020-01-30T20:43:11.000+00:00"
    )
    assert encoder(FieldType.DATETIME)(dt.datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00.000+00:00"
    assert encoder(FieldType.INT)(-5) == -5
    assert encoder(FieldType.BOOL)(True) is True
    assert encoder(FieldType.STRING)("it's") == "it's"


def test_int_results_go_through_float64_and_truncate() -> None:
    assert convert_result(FieldType.INT, 3.99) == 3
    assert convert_result(FieldType.INT, -3.99) == -3
    assert convert_result(FieldType.INT, 2.0**53 + 1) == 2**53  # float64 precision, as Go
    assert convert_result(FieldType.INT, 1e300) == INT64_MIN  # out of int64 range: amd64's 0x8000000000000000


def test_decimal_results_are_rounded_half_away_from_zero_from_the_shortest_float() -> None:
    assert convert_result(FieldType.DECIMAL2, 111.95) == Decimal("111.95")
    assert convert_result(FieldType.DECIMAL2, 12.43888888888889) == Decimal("12.44")
    assert convert_result(FieldType.DECIMAL2, 2.675) == Decimal("2.68")  # NewFromFloat(2.675) is exactly 2.675
    assert convert_result(FieldType.DECIMAL2, -0.125) == Decimal("-0.13")


def test_datetime_results_need_millis_and_a_colon_offset() -> None:
    got = convert_result(FieldType.DATETIME, "2020-02-03T23:59:59.999+00:00")
    assert got == dt.datetime(2020, 2, 3, 23, 59, 59, 999000, tzinfo=UTC)
    shifted = convert_result(FieldType.DATETIME, "2020-02-03T23:59:59.000+02:00")
    assert isinstance(shifted, dt.datetime)
    assert shifted.astimezone(UTC) == dt.datetime(2020, 2, 3, 21, 59, 59, tzinfo=UTC)
    for bad in ("2020-02-03T23:59:59+00:00", "2020-02-03T23:59:59.000Z", "2020-02-03T23:59:59.000000+00:00"):
        with pytest.raises(ResultError, match="does not match 2006-01-02T15:04:05.000-07:00"):
            convert_result(FieldType.DATETIME, bad)


@pytest.mark.parametrize(
    ("field_type", "value"),
    [
        (FieldType.INT, True),
        (FieldType.INT, "5"),
        (FieldType.FLOAT, None),
        (FieldType.STRING, 5.0),
        (FieldType.BOOL, 1.0),
        (FieldType.DECIMAL2, "1.5"),
        (FieldType.DATETIME, 5.0),
    ],
)
def test_wrong_json_types_are_errors(field_type: FieldType, value: object) -> None:
    with pytest.raises(ResultError, match="expected"):
        convert_result(field_type, value)


def test_row_conversion_names_the_field_and_rejects_nan_and_missing_keys() -> None:
    types = {"a": FieldType.FLOAT, "b": FieldType.BOOL}
    assert convert_results(types, '{"a": 1, "b": true}') == ({"a": 1.0, "b": True}, "", "")
    values, field, message = convert_results(types, '{"a": NaN, "b": true}')
    assert values == {} and "NaN is not valid JSON" in message
    values, field, message = convert_results(types, '{"a": 1e999, "b": true}')
    assert "out of the float64 range" in message
    assert convert_results(types, '{"a": 1}')[1:] == ("b", "no value was returned for p.b")
    assert convert_results(types, '{"a": 1, "b": 0}')[1] == "b"
