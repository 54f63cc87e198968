"""Data and index table DDL (spec 3.3)."""

from __future__ import annotations

import pytest

from capillaries_provider.expr.keys import KeyComponent
from capillaries_provider.expr.types import FieldType
from capillaries_provider.store.tables import IndexSpec, TableSpec, run_table_name, run_tables_ddl

ORDERS = TableSpec(
    "orders",
    {"order_id": FieldType.INT, "amount": FieldType.DECIMAL2, "placed": FieldType.DATETIME, "note": FieldType.STRING},
    (
        IndexSpec("idx_orders_id", True, (KeyComponent("order_id", FieldType.INT),)),
        IndexSpec("idx_orders_note", False, (KeyComponent("note", FieldType.STRING),)),
    ),
    table_options="WITH compaction = {'class': 'SizeTieredCompactionStrategy'}",
)


def test_run_table_name() -> None:
    assert run_table_name("orders", 3) == "orders_00003"
    assert run_table_name("idx_x", 12345) == "idx_x_12345"


def test_ddl_of_a_run() -> None:
    assert run_tables_ddl("ks1", 3, [ORDERS]) == [
        "CREATE TABLE IF NOT EXISTS ks1.orders_00003 ( rowid BIGINT, batch_idx BIGINT, order_id BIGINT,"
        " amount DECIMAL, placed TIMESTAMP, note TEXT, PRIMARY KEY((rowid)))"
        " WITH compaction = {'class': 'SizeTieredCompactionStrategy'}",
        "CREATE TABLE IF NOT EXISTS ks1.idx_orders_id_00003 ( key TEXT, rowid BIGINT, PRIMARY KEY((key)))"
        " WITH compaction = {'class': 'SizeTieredCompactionStrategy'}",
        "CREATE TABLE IF NOT EXISTS ks1.idx_orders_note_00003 ( key TEXT, rowid BIGINT, PRIMARY KEY((key), rowid))"
        " WITH compaction = {'class': 'SizeTieredCompactionStrategy'}",
    ]


def test_every_type_maps_to_its_cql_type() -> None:
    spec = TableSpec("t", {f"f_{t.value}": t for t in FieldType})
    assert run_tables_ddl("ks", 1, [spec]) == [
        "CREATE TABLE IF NOT EXISTS ks.t_00001 ( rowid BIGINT, batch_idx BIGINT, f_int BIGINT, f_float DOUBLE,"
        " f_decimal2 DECIMAL, f_string TEXT, f_bool BOOLEAN, f_datetime TIMESTAMP, PRIMARY KEY((rowid)))"
    ]


def test_names_are_checked_before_they_reach_cql() -> None:
    with pytest.raises(ValueError, match="invalid table name"):
        TableSpec("orders; DROP KEYSPACE x", {})
    with pytest.raises(ValueError, match="invalid field name"):
        TableSpec("t", {"a b": FieldType.INT})
    with pytest.raises(ValueError, match="collides with a built-in column"):
        TableSpec("t", {"rowid": FieldType.INT})
    with pytest.raises(ValueError, match="invalid keyspace name"):
        run_tables_ddl("system_x", 1, [])
