"""table_custom_tfm_table on real Cassandra: py_calc through the worker's child-process pool, and tagging."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from cassandra.cluster import Session
from processor_script import ITEMS, batch_task, processor_script, rows_of

from capillaries_provider.config import amqp_settings, cassandra_settings
from capillaries_provider.engine.processors.context import BatchJob
from capillaries_provider.engine.processors.registry import processor_for
from capillaries_provider.script.model import NodeType
from capillaries_provider.worker.backend import CassandraBackend

CODE = """def taxed(price, qty):
    return price * qty * 1.1

def shout(s):
    return s.upper()
"""


def test_py_calc_and_tagging_nodes(session: Session, keyspace: str, tmp_path: Path) -> None:
    code = tmp_path / "calc.py"
    code.write_text(CODE)
    script = processor_script(
        {
            "calc": {
                "type": "table_custom_tfm_table",
                "custom_proc_type": "py_calc",
                "r": {"table": "items", "rowset_size": 3},
                "p": {
                    "python_code_urls": [str(code)],
                    "calculated_fields": {
                        "total": {"expression": "taxed(r.price, r.qty)", "type": "decimal2"},
                        "loud": {"expression": "shout(r.product)", "type": "string"},
                    },
                },
                "w": {
                    "name": "calculated",
                    "fields": {
                        "product": {"expression": "r.product", "type": "string"},
                        "total": {"expression": "p.total", "type": "decimal2"},
                        "loud": {"expression": "p.loud", "type": "string"},
                    },
                },
            },
            "tag": {
                "type": "table_custom_tfm_table",
                "custom_proc_type": "tag_and_denormalize",
                "r": {"table": "items"},
                "p": {"tag_field_name": "tag", "tag_criteria": {"o1": 'r.order_id == "o1"', "many": "r.qty > 1"}},
                "w": {
                    "name": "tagged",
                    "fields": {
                        "tag": {"expression": "p.tag", "type": "string"},
                        "product": {"expression": "r.product", "type": "string"},
                    },
                },
            },
        }
    )
    backend = CassandraBackend(cassandra_settings(), amqp_settings(), session=session)
    backend.ensure_keyspace(keyspace)
    creators = [n.table_creator for n in script.nodes.values() if n.table_creator is not None]
    for run_id in (1, 2):
        backend.create_run_tables(keyspace, run_id, creators)
    items = script.nodes["read_items"].table_creator
    assert items is not None
    writer = backend.row_writer(keyspace, items, 1, 0)
    for row in ITEMS:
        writer.write(row)
    writer.flush()
    for node in ("calc", "tag"):
        job = BatchJob(batch_task(keyspace, node, 2), script, script.nodes[node], backend, reader_run_id=1)
        processor_for(NodeType.TABLE_CUSTOM_TFM_TABLE)(job)
    # 10.00 reaches Python as int 10: 10*2*1.1 = 22.0; 1.25*5*1.1 = 6.875 -> 6.88; 3.1*0*1.1 = 0.0; 1*1*1.1 = 1.1
    assert rows_of(session, keyspace, "calculated_00002", ["product", "total", "loud"]) == [
        ("cap", Decimal("0.00"), "CAP"),
        ("ink", Decimal("6.88"), "INK"),
        ("pen", Decimal("22.00"), "PEN"),
        ("zzz", Decimal("1.10"), "ZZZ"),
    ]
    assert rows_of(session, keyspace, "tagged_00002", ["tag", "product"]) == [
        ("many", "ink"),
        ("many", "pen"),
        ("o1", "ink"),
        ("o1", "pen"),
    ]
