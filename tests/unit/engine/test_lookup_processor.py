"""table_lookup_table processor over an in-memory data store: pages, batched reads, output table."""

from __future__ import annotations

from decimal import Decimal

import pytest
from lookup_fixtures import LEFT, RIGHT, lookup_node, lookup_script
from memory_store import MemoryStore, task

from capillaries_provider.engine.processors.context import BatchError, BatchJob
from capillaries_provider.engine.processors.registry import processor_for
from capillaries_provider.script.model import NodeType, Script

IDX = "idx_items_to_check_uniq_order_id"


def _store(script: Script) -> MemoryStore:
    store = MemoryStore()
    orders = script.nodes["read_orders"].table_creator
    items = script.nodes["read_items"].table_creator
    assert orders is not None and items is not None
    w = store.row_writer("ks", orders, 1, 0)
    for row in LEFT:
        w.write(row)
    w = store.row_writer("ks", items, 1, 0)
    for row in RIGHT.values():
        w.write(row)
    return store


def _node(group: bool, **lookup: object) -> dict[str, object]:
    fields = {
        "order_id": {"expression": "r.order_id", "type": "string"},
        "region": {"expression": "r.region", "type": "string"},
    }
    if group:
        fields["total"] = {"expression": "sum(l.price)", "type": "decimal2", "default_value": "-1"}
    else:
        fields["product"] = {"expression": "l.product", "type": "string", "default_value": "none"}
    node = lookup_node({"index_name": IDX, "join_on": "r.order_id", "group": group, **lookup}, fields)
    node["r"] = {"table": "orders", "rowset_size": 2}
    return node


def test_registry_finds_the_processor() -> None:
    assert processor_for(NodeType.TABLE_LOOKUP_TABLE).__name__ == "run_table_lookup_table"


def test_non_grouped_left_join_writes_pairs_and_unmatched_rows() -> None:
    script = lookup_script({"n": _node(False, join_type="left")})
    store = _store(script)
    job = BatchJob(task("n", run_id=2), script, script.nodes["n"], store, reader_run_id=1, lookup_run_id=1)
    stats = processor_for(NodeType.TABLE_LOOKUP_TABLE)(job)
    rows = sorted(tuple(r.values()) for r in store.table("t_n", 2).values())
    assert rows == [
        ("o1", "EU", "ink"),
        ("o1", "EU", "pen"),
        ("o1", "XX", "ink"),
        ("o1", "XX", "pen"),
        ("o2", "US", "none"),
        ("o3", "EU", "cap"),
    ]
    assert (stats.rows_read, stats.rows_written) == (4, 6)
    # Two left pages of 2 rows: one index read and one right-row read per page, never one per row.
    assert store.index_reads == [2, 2]
    assert store.row_reads == [2, 3]  # page 1: o1 -> 2 rowids (o2 has none); page 2: o3 -> 1, o1 -> 2


def test_grouped_inner_join_one_row_per_matched_left_row() -> None:
    script = lookup_script({"n": _node(True, join_type="inner")})
    store = _store(script)
    job = BatchJob(task("n", run_id=2), script, script.nodes["n"], store, reader_run_id=1, lookup_run_id=1)
    processor_for(NodeType.TABLE_LOOKUP_TABLE)(job)
    rows = sorted(tuple(r.values()) for r in store.table("t_n", 2).values())
    assert rows == [("o1", "EU", Decimal("11.25")), ("o1", "XX", Decimal("11.25")), ("o3", "EU", Decimal("3.00"))]


def test_join_errors_fail_the_batch_naming_the_tables() -> None:
    node = lookup_node(
        {"index_name": IDX, "join_on": "r.order_id", "join_type": "inner"},
        {"bad": {"expression": "l.qty / (l.qty - l.qty)", "type": "int"}},
    )
    script = lookup_script({"n": node})
    store = _store(script)
    job = BatchJob(task("n", run_id=2), script, script.nodes["n"], store, reader_run_id=1, lookup_run_id=1)
    with pytest.raises(BatchError, match=r"orders_00001 \+ items_00001: node n: field bad"):
        processor_for(NodeType.TABLE_LOOKUP_TABLE)(job)
