"""distinct_table logic (spec 6.3) against an in-memory unique index with IF NOT EXISTS semantics."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from capillaries_provider.engine.distinct import DistinctError, DistinctWriter, unique_index
from capillaries_provider.expr import parse
from capillaries_provider.expr.types import Value
from capillaries_provider.script.loader import load_script_text
from capillaries_provider.script.model import Expression, Script


def _script() -> Script:
    w: dict[str, Any] = {
        "name": "loans",
        "fields": {
            "loan_id": {"expression": "r.loan_id", "type": "int"},
            "deal": {"expression": "r.deal", "type": "string"},
        },
        "indexes": {
            "idx_loans_loan_id": "unique(loan_id)",
            "idx_loans_deal_to_check_uniq": "non_unique(deal)",
        },
    }
    nodes = {
        "read_payments": {
            "type": "file_table",
            "r": {
                "urls": ["p.csv"],
                "columns": {
                    "c_loan": {"col_type": "int", "csv": {"col_idx": 0}},
                    "c_deal": {"col_type": "string", "csv": {"col_idx": 1}},
                },
            },
            "w": {
                "name": "payments",
                "fields": {
                    "loan_id": {"expression": "r.c_loan", "type": "int"},
                    "deal": {"expression": "r.c_deal", "type": "string"},
                },
            },
        },
        "distinct_loans": {"type": "distinct_table", "rerun_policy": "fail", "r": {"table": "payments"}, "w": w},
    }
    policy = {"is_default": True, "event_priority_order": "run_id", "rules": [{"cmd": "go", "expression": "true"}]}
    doc = {"nodes": nodes, "dependency_policies": {"p": policy}}
    return load_script_text(json.dumps(doc), fmt="json", file="distinct_test.json")


class FakeUniqueStore:
    """Unique index key -> rowid (first claim wins) and data rows by rowid; rowid = batch << 32 | seq."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.data: dict[int, dict[str, Value]] = {}
        self.claim_calls = 0

    def sink(self, batch_idx: int, *, crash_before_writes: bool = False) -> FakeSink:
        return FakeSink(self, batch_idx, crash_before_writes)


class FakeSink:
    def __init__(self, store: FakeUniqueStore, batch_idx: int, crash: bool) -> None:
        self.store = store
        self.batch_idx = batch_idx
        self.crash = crash

    def rowid(self, seq: int) -> int:
        return (self.batch_idx << 32) | seq

    def claim(self, claims: Sequence[tuple[str, int]]) -> list[bool]:
        self.store.claim_calls += 1
        owned = [self.store.index.setdefault(key, self.rowid(seq)) == self.rowid(seq) for key, seq in claims]
        if self.crash:
            raise ConnectionError("worker died after claiming")
        return owned

    def write(self, seq: int, row: Mapping[str, Value]) -> None:
        self.store.data[self.rowid(seq)] = dict(row)

    def flush(self) -> None:
        return None


PAGES: list[list[dict[str, Value]]] = [
    [{"loan_id": 1, "deal": "A"}, {"loan_id": 1, "deal": "B"}, {"loan_id": 2, "deal": "A"}],
    [{"loan_id": 2, "deal": "C"}, {"loan_id": 3, "deal": "C"}],
]


def _run(script: Script, store: FakeUniqueStore, batch_idx: int, pages: list[list[dict[str, Value]]]) -> int:
    writer = DistinctWriter.for_node(script, script.nodes["distinct_loans"])
    sink = store.sink(batch_idx)
    return sum(_write(writer.owned_rows(page, sink), sink) for page in pages)


def _write(owned: list[tuple[int, dict[str, Value]]], sink: FakeSink) -> int:
    """What the processor skeleton does with the owned rows of a page."""
    for seq, row in owned:
        sink.write(seq, row)
    return len(owned)


def test_one_row_per_key_first_claim_wins() -> None:
    store = FakeUniqueStore()
    assert _run(_script(), store, 0, PAGES) == 3
    # Page 1: loan 1 keeps its first row (deal A, seq 0), loan 2 gets seq 1. Page 2: loan 2 again (seq 2) loses
    # its claim, loan 3 gets seq 3.
    assert store.data == {
        0: {"loan_id": 1, "deal": "A"},
        1: {"loan_id": 2, "deal": "A"},
        3: {"loan_id": 3, "deal": "C"},
    }
    assert store.claim_calls == 2  # one batched claim per page, not one round trip per row


def test_retry_of_the_same_batch_rewrites_the_same_rows() -> None:
    store = FakeUniqueStore()
    _run(_script(), store, 0, PAGES)
    before = (dict(store.index), dict(store.data))
    assert _run(_script(), store, 0, PAGES) == 3
    assert (store.index, store.data) == before


def test_retry_after_a_crash_between_claim_and_write_writes_the_rows() -> None:
    script = _script()
    store = FakeUniqueStore()
    writer = DistinctWriter.for_node(script, script.nodes["distinct_loans"])
    with pytest.raises(ConnectionError):
        sink = store.sink(0, crash_before_writes=True)
        _write(writer.owned_rows(PAGES[0], sink), sink)
    assert store.data == {} and len(store.index) == 2
    assert _run(script, store, 0, PAGES) == 3
    assert sorted(r["loan_id"] for r in store.data.values()) == [1, 2, 3]


def test_a_later_batch_skips_keys_owned_by_another_batch() -> None:
    store = FakeUniqueStore()
    _run(_script(), store, 0, PAGES[:1])
    assert _run(_script(), store, 1, [[{"loan_id": 2, "deal": "Z"}, {"loan_id": 4, "deal": "Z"}]]) == 1
    assert store.data[(1 << 32) | 1] == {"loan_id": 4, "deal": "Z"}
    assert [r for r in store.data.values() if r["loan_id"] == 2] == [{"loan_id": 2, "deal": "A"}]


def test_node_rules_are_checked_when_the_batch_runs() -> None:
    script = _script()
    creator = script.nodes["distinct_loans"].table_creator
    assert creator is not None
    assert unique_index("distinct_loans", creator).name == "idx_loans_loan_id"
    no_unique = dataclasses.replace(
        creator, indexes={n: dataclasses.replace(i, unique=False) for n, i in creator.indexes.items()}
    )
    with pytest.raises(DistinctError, match="needs exactly one unique index, found none"):
        unique_index("distinct_loans", no_unique)
    having = script.nodes["distinct_loans"].table_creator
    assert having is not None
    with_having = dataclasses.replace(having, having=Expression("w.loan_id > 0", parse("w.loan_id > 0")))
    with pytest.raises(DistinctError, match="cannot have a having condition"):
        unique_index("distinct_loans", with_having)
