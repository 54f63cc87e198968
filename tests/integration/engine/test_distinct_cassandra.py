"""distinct_table on real Cassandra: LWT key claims across batches, identical tables after a retry."""

from __future__ import annotations

from cassandra.cluster import Session
from processor_script import ITEMS, batch_task, processor_script, rows_of

from capillaries_provider.config import amqp_settings, cassandra_settings
from capillaries_provider.engine.processors.context import BatchJob
from capillaries_provider.engine.processors.registry import processor_for
from capillaries_provider.script.model import NodeType
from capillaries_provider.worker.backend import CassandraBackend


def test_distinct_keeps_one_row_per_key_and_retries_are_idempotent(session: Session, keyspace: str) -> None:
    script = processor_script(
        {
            "distinct_orders": {
                "type": "distinct_table",
                "rerun_policy": "fail",
                "r": {"table": "items", "rowset_size": 2, "expected_batches_total": 2},
                "w": {
                    "name": "order_ids",
                    "fields": {
                        "order_id": {"expression": "r.order_id", "type": "string"},
                        "product": {"expression": "r.product", "type": "string"},
                    },
                    "indexes": {"idx_order_ids_order_id": "unique(order_id)"},
                },
            }
        }
    )
    backend = CassandraBackend(cassandra_settings(), amqp_settings(), session=session)
    backend.ensure_keyspace(keyspace)
    creators = [n.table_creator for n in script.nodes.values() if n.table_creator is not None]
    backend.create_run_tables(keyspace, 1, creators)
    backend.create_run_tables(keyspace, 2, creators)
    items = script.nodes["read_items"].table_creator
    assert items is not None
    writer = backend.row_writer(keyspace, items, 1, 0)
    for row in ITEMS:
        writer.write(row)
    writer.flush()

    node = script.nodes["distinct_orders"]
    for attempt in range(2):  # the second pass is a retry of the same batch
        job = BatchJob(batch_task(keyspace, "distinct_orders", 2), script, node, backend, reader_run_id=1)
        processor_for(NodeType.DISTINCT_TABLE)(job)
        rows = rows_of(session, keyspace, "order_ids_00002", ["order_id", "product"])
        # Items in rowid order: (o1, pen), (o1, ink) | (o3, cap), (o9, zzz): o1 keeps its first row.
        assert rows == [("o1", "pen"), ("o3", "cap"), ("o9", "zzz")], attempt
        index = rows_of(session, keyspace, "idx_order_ids_order_id_00002", ["key", "rowid"])
        assert len(index) == 3

    other_batch = BatchJob(batch_task(keyspace, "distinct_orders", 2, batch_idx=1), script, node, backend, 1)
    processor_for(NodeType.DISTINCT_TABLE)(other_batch)  # same keys from another batch: all already claimed
    assert len(rows_of(session, keyspace, "order_ids_00002", ["order_id"])) == 3
