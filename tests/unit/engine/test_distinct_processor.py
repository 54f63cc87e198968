"""distinct_table processor over an in-memory store: one row per key across pages and batches, safe retries."""

from __future__ import annotations

import json

import pytest
from memory_store import MemoryStore, task

from capillaries_provider.engine.processors.context import BatchError, BatchJob
from capillaries_provider.engine.processors.registry import processor_for
from capillaries_provider.script.loader import load_script_text
from capillaries_provider.script.model import NodeType, Script


def _script() -> Script:
    fields = {
        "loan_id": {"expression": "r.loan_id", "type": "int"},
        "deal": {"expression": "r.deal", "type": "string"},
    }
    nodes = {
        "read": {
            "type": "file_table",
            "r": {
                "urls": ["p.csv"],
                "columns": {
                    "loan_id": {"col_type": "int", "csv": {"col_idx": 0}},
                    "deal": {"col_type": "string", "csv": {"col_idx": 1}},
                },
            },
            "w": {"name": "payments", "fields": fields},
        },
        "loans": {
            "type": "distinct_table",
            "rerun_policy": "fail",
            "r": {"table": "payments", "rowset_size": 2},
            "w": {
                "name": "loans",
                "fields": fields,
                "indexes": {"idx_loans_loan_id": "unique(loan_id)", "idx_loans_deal_to_check_uniq": "non_unique(deal)"},
            },
        },
    }
    policy = {"is_default": True, "event_priority_order": "run_id", "rules": [{"cmd": "go", "expression": "true"}]}
    return load_script_text(json.dumps({"nodes": nodes, "dependency_policies": {"p": policy}}), fmt="json")


def _run(script: Script, store: object, batch_idx: int = 0) -> None:
    job = BatchJob(task("loans", batch_idx, run_id=2), script, script.nodes["loans"], store, reader_run_id=1)  # type: ignore[arg-type]
    processor_for(NodeType.DISTINCT_TABLE)(job)


def test_distinct_rows_survive_pages_and_retries() -> None:
    script = _script()
    store = MemoryStore()
    creator = script.nodes["read"].table_creator
    assert creator is not None
    w = store.row_writer("ks", creator, 1, 0)
    for loan_id, deal in [(1, "A"), (1, "B"), (2, "A"), (2, "C"), (3, "C")]:
        w.write({"loan_id": loan_id, "deal": deal})
    _run(script, store)
    first = dict(store.table("loans", 2))
    # Pages of 2: [(1,A),(1,B)] -> loan 1 (seq 0); [(2,A),(2,C)] -> loan 2 (seq 1); [(3,C)] -> loan 3 (seq 2).
    assert first == {0: {"loan_id": 1, "deal": "A"}, 1: {"loan_id": 2, "deal": "A"}, 2: {"loan_id": 3, "deal": "C"}}
    assert sorted(len(v) for v in store.index("idx_loans_loan_id", 2).values()) == [1, 1, 1]
    _run(script, store)  # a retry of the same batch
    assert store.table("loans", 2) == first
    assert sorted(len(v) for v in store.index("idx_loans_deal_to_check_uniq", 2).values()) == [1, 2]


def test_a_store_without_distinct_support_fails_clearly() -> None:
    with pytest.raises(BatchError, match="cannot write distinct tables"):
        _run(_script(), object())
