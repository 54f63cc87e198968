"""table_lookup_table on real Cassandra: index reads batched per page, grouped and non-grouped joins."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from cassandra.cluster import Session
from processor_script import ITEMS, ORDERS, batch_task, processor_script, rows_of

from capillaries_provider.config import amqp_settings, cassandra_settings
from capillaries_provider.engine.processors.context import BatchJob
from capillaries_provider.engine.processors.registry import processor_for
from capillaries_provider.script.model import NodeType, Script
from capillaries_provider.worker.backend import CassandraBackend

IDX = "idx_items_order_id_to_check_uniq"


@pytest.fixture
def backend(session: Session) -> Iterator[CassandraBackend]:
    b = CassandraBackend(cassandra_settings(), amqp_settings(), session=session)
    yield b


def _load_inputs(backend: CassandraBackend, ks: str, script: Script) -> None:
    backend.ensure_keyspace(ks)
    creators = [n.table_creator for n in script.nodes.values() if n.table_creator is not None]
    for run_id in (1, 2):
        backend.create_run_tables(ks, run_id, creators)
    for node, rows in (("read_orders", ORDERS), ("read_items", ITEMS)):
        creator = script.nodes[node].table_creator
        assert creator is not None
        writer = backend.row_writer(ks, creator, 1, 0)
        for row in rows:
            writer.write(row)
        writer.flush()


def test_grouped_and_plain_lookups(backend: CassandraBackend, session: Session, keyspace: str) -> None:
    lookup = {"index_name": IDX, "join_on": "r.order_id", "join_type": "left", "idx_read_batch_size": 1}
    script = processor_script(
        {
            "plain": {
                "type": "table_lookup_table",
                "r": {"table": "orders", "rowset_size": 2},
                "l": {**lookup, "filter": "l.qty > 0"},
                "w": {
                    "name": "plain",
                    "fields": {
                        "order_id": {"expression": "r.order_id", "type": "string"},
                        "region": {"expression": "r.region", "type": "string"},
                        "product": {"expression": "l.product", "type": "string", "default_value": "none"},
                        "third": {"expression": "l.price / 3", "type": "decimal2", "default_value": "1.005"},
                    },
                },
            },
            "grouped": {
                "type": "table_lookup_table",
                "r": {"table": "orders"},
                "l": {**lookup, "group": True, "right_lookup_read_batch_size": 1},
                "w": {
                    "name": "grouped",
                    "fields": {
                        "order_id": {"expression": "r.order_id", "type": "string"},
                        "region": {"expression": "r.region", "type": "string"},
                        "total": {"expression": "sum(l.price)", "type": "decimal2"},
                        "products": {"expression": 'string_agg(l.product, ",")', "type": "string"},
                        "n": {"expression": "count()", "type": "int", "default_value": "-1"},
                    },
                },
            },
        }
    )
    _load_inputs(backend, keyspace, script)
    for node in ("plain", "grouped"):
        job = BatchJob(batch_task(keyspace, node, 2), script, script.nodes[node], backend, 1, 1)
        processor_for(NodeType.TABLE_LOOKUP_TABLE)(job)
    assert rows_of(session, keyspace, "plain_00002", ["order_id", "region", "product", "third"]) == [
        ("o1", "EU", "ink", Decimal("0.42")),
        ("o1", "EU", "pen", Decimal("3.33")),
        ("o1", "XX", "ink", Decimal("0.42")),
        ("o1", "XX", "pen", Decimal("3.33")),
        ("o2", "US", "none", Decimal("1.00")),  # default 1.005 -> round(100.4999...) -> 1.00
        ("o3", "EU", "none", Decimal("1.00")),  # its only item fails the filter
    ]
    assert rows_of(session, keyspace, "grouped_00002", ["order_id", "region", "total", "products", "n"]) == [
        ("o1", "EU", Decimal("11.25"), "pen,ink", 2),  # right rows in rowid (= write) order
        ("o1", "XX", Decimal("11.25"), "pen,ink", 2),
        ("o2", "US", Decimal("0.00"), "", -1),
        ("o3", "EU", Decimal("3.10"), "cap", 1),
    ]
