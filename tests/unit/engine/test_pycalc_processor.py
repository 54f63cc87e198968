"""table_custom_tfm_table processor: py_calc and tag_and_denormalize over an in-memory store."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from memory_store import MemoryStore, task

from capillaries_provider.engine.processors.context import BatchError, BatchJob
from capillaries_provider.engine.processors.registry import processor_for
from capillaries_provider.script.loader import load_script_text
from capillaries_provider.script.model import NodeType, Script

CODE = """def with_tax(v):
    return v * 1.2

def label(name, qty):
    if qty < 0:
        raise ValueError("negative quantity")
    return name.upper() + ":" + str(qty)
"""


def _script(p: dict[str, Any], proc_type: str, w_fields: dict[str, Any]) -> Script:
    fields = {
        "name": {"expression": "r.name", "type": "string"},
        "qty": {"expression": "r.qty", "type": "int"},
        "price": {"expression": "r.price", "type": "decimal2"},
    }
    nodes = {
        "read": {
            "type": "file_table",
            "r": {
                "urls": ["x.csv"],
                "columns": {
                    "name": {"col_type": "string", "csv": {"col_idx": 0}},
                    "qty": {"col_type": "int", "csv": {"col_idx": 1}},
                    "price": {"col_type": "decimal2", "csv": {"col_idx": 2}},
                },
            },
            "w": {"name": "items", "fields": fields},
        },
        "calc": {
            "type": "table_custom_tfm_table",
            "custom_proc_type": proc_type,
            "r": {"table": "items", "rowset_size": 2},
            "p": p,
            "w": {"name": "out", "fields": w_fields},
        },
    }
    policy = {"is_default": True, "event_priority_order": "run_id", "rules": [{"cmd": "go", "expression": "true"}]}
    return load_script_text(json.dumps({"nodes": nodes, "dependency_policies": {"p": policy}}), fmt="json")


def _run(script: Script, rows: list[dict[str, Any]]) -> MemoryStore:
    store = MemoryStore()
    creator = script.nodes["read"].table_creator
    assert creator is not None
    w = store.row_writer("ks", creator, 1, 0)
    for row in rows:
        w.write(row)
    job = BatchJob(task("calc", run_id=2), script, script.nodes["calc"], store, reader_run_id=1)
    processor_for(NodeType.TABLE_CUSTOM_TFM_TABLE)(job)
    return store


ROWS = [
    {"name": "pen", "qty": 2, "price": Decimal("10.00")},
    {"name": "ink", "qty": 5, "price": Decimal("1.25")},
    {"name": "cap", "qty": 1, "price": Decimal("3.10")},
]


def _py_calc_script(tmp_path: Path) -> Script:
    code = tmp_path / "calc.py"
    code.write_text(CODE)
    p = {
        "python_code_urls": [str(code)],
        "calculated_fields": {
            "taxed": {"expression": "with_tax(r.price)", "type": "decimal2"},
            "tag": {"expression": "label(r.name, r.qty)", "type": "string"},
        },
    }
    w = {
        "name": {"expression": "r.name", "type": "string"},
        "taxed": {"expression": "p.taxed", "type": "decimal2"},
        "tag": {"expression": "p.tag", "type": "string"},
    }
    return _script(p, "py_calc", w)


def test_py_calc_node_writes_calculated_fields(tmp_path: Path) -> None:
    store = _run(_py_calc_script(tmp_path), ROWS)
    got = sorted(tuple(r.values()) for r in store.table("out", 2).values())
    # 10.00 arrives as Python int 10 (Go renders decimals with String()): 10 * 1.2 = 12.0; 1.25 * 1.2 = 1.5;
    # 3.1 * 1.2 = 3.7199999999999998 -> NewFromFloat 3.72.
    assert got == [
        ("cap", Decimal("3.72"), "CAP:1"),
        ("ink", Decimal("1.50"), "INK:5"),
        ("pen", Decimal("12.00"), "PEN:2"),
    ]


def test_py_calc_row_failure_fails_the_batch_with_row_field_and_formula(tmp_path: Path) -> None:
    rows = [*ROWS, {"name": "bad", "qty": -1, "price": Decimal("1.00")}]
    with pytest.raises(BatchError) as err:
        _run(_py_calc_script(tmp_path), rows)
    text = str(err.value)
    # Pages of 2 rows: the second page (cap, bad) fails; rows are numbered within the batch.
    assert "items_00001: node calc: py_calc failed for 1 of 2 rows:\nrow 3 {name='bad', qty=-1" in text
    assert "p.tag = label(r.name, r.qty): ValueError: negative quantity" in text
    assert 'File "<python_code_urls>", line 6, in label' in text


def test_tag_and_denormalize_node_writes_one_row_per_tag() -> None:
    p = {"tag_field_name": "size", "tag_criteria": {"many": "r.qty > 1", "cheap": "r.price < 5", "none": "false"}}
    w = {"size": {"expression": "p.size", "type": "string"}, "name": {"expression": "r.name", "type": "string"}}
    store = _run(_script(p, "tag_and_denormalize", w), ROWS)
    got = sorted(tuple(r.values()) for r in store.table("out", 2).values())
    assert got == [("cheap", "cap"), ("cheap", "ink"), ("many", "ink"), ("many", "pen")]
