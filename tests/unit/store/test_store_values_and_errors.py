"""Value conversions for Cassandra (spec 3.4); the transient-error classification is tested in test_retry.py."""

from __future__ import annotations

import datetime as dt
import struct
from decimal import Decimal

import pytest
from cassandra.cqltypes import BooleanType, DateType, DecimalType, DoubleType, LongType, UTF8Type

from capillaries_provider.expr.types import ZERO_TIME, FieldType
from capillaries_provider.store.values import datetime_to_ms, from_cassandra, ms_to_datetime, to_cql_bytes

UTC = dt.UTC


def test_datetime_to_ms_drops_sub_milliseconds_toward_the_past() -> None:
    assert datetime_to_ms(dt.datetime(1970, 1, 1, 0, 0, 0, 1999, tzinfo=UTC)) == 1
    # Go: Unix()*1e3 + Nanosecond()/1e6 with a non-negative nanosecond part -> floor, also before 1970.
    assert datetime_to_ms(dt.datetime(1969, 12, 31, 23, 59, 59, 999500, tzinfo=UTC)) == -1
    assert datetime_to_ms(ZERO_TIME) == -62135596800000
    plus5 = dt.timezone(dt.timedelta(hours=5))
    assert datetime_to_ms(dt.datetime(1970, 1, 1, 5, 0, 0, tzinfo=plus5)) == 0
    with pytest.raises(TypeError, match="no time zone"):
        datetime_to_ms(dt.datetime(2020, 1, 1))


def test_cql_bytes_are_what_the_driver_would_bind_for_gos_stored_values() -> None:
    """The oracle is the driver's own serializer applied to the value Go stores (spec 3.4)."""
    cases: list[tuple[FieldType, object, type, object]] = [
        (FieldType.DECIMAL2, Decimal("1.005"), DecimalType, Decimal("1.00")),  # float64(1.005)*100 = 100.4999...
        (FieldType.DECIMAL2, Decimal("2.675"), DecimalType, Decimal("2.68")),
        (FieldType.DECIMAL2, Decimal("-7"), DecimalType, Decimal("-7.00")),
        (FieldType.DECIMAL2, Decimal("0"), DecimalType, Decimal("0.00")),
        (FieldType.DATETIME, dt.datetime(1970, 1, 1, 0, 0, 1, 999, tzinfo=UTC), DateType, 1000),
        (FieldType.DATETIME, ZERO_TIME, DateType, -62135596800000),
        (FieldType.INT, -5, LongType, -5),
        (FieldType.INT, 2**63 - 1, LongType, 2**63 - 1),
        (FieldType.FLOAT, 0.1, DoubleType, 0.1),
        (FieldType.STRING, "żółw", UTF8Type, "żółw"),
        (FieldType.BOOL, True, BooleanType, True),
        (FieldType.BOOL, False, BooleanType, False),
    ]
    for field_type, value, cql_type, stored in cases:
        assert to_cql_bytes(field_type)(value) == cql_type.serialize(stored, 5), (field_type, value)
    assert DecimalType.deserialize(to_cql_bytes(FieldType.DECIMAL2)(Decimal("2.675")), 5) == Decimal("2.68")


def test_cql_bytes_refuse_values_of_the_wrong_type() -> None:
    with pytest.raises(TypeError, match="decimal2 value must be a decimal.Decimal"):
        to_cql_bytes(FieldType.DECIMAL2)(1.5)
    with pytest.raises(TypeError, match="datetime value must be"):
        to_cql_bytes(FieldType.DATETIME)("2020-01-01")
    with pytest.raises(TypeError, match="string value must be a str"):
        to_cql_bytes(FieldType.STRING)(5)
    with pytest.raises(struct.error):
        to_cql_bytes(FieldType.INT)(2**63)


def test_from_cassandra_conversions() -> None:
    # The driver's float-seconds arithmetic can land a few microseconds off a whole millisecond.
    naive = dt.datetime(1, 1, 1, 0, 0, 0, 4)
    assert from_cassandra(FieldType.DATETIME)(naive) == ZERO_TIME
    assert from_cassandra(FieldType.DATETIME)(dt.datetime(2024, 5, 6, 7, 8, 9, 122996)) == dt.datetime(
        2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC
    )
    assert ms_to_datetime(-1) == dt.datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
    for t in FieldType:
        assert from_cassandra(t)(None) == t.zero()
    assert from_cassandra(FieldType.STRING)("x") == "x"
