"""A script for processor integration tests: orders and items tables, plus lookup/distinct/custom nodes under test."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from capillaries_provider.engine.ports import BatchTask
from capillaries_provider.expr.types import Value
from capillaries_provider.script.loader import load_script_text
from capillaries_provider.script.model import Script

ORDERS: list[dict[str, Value]] = [
    {"order_id": "o1", "region": "EU"},
    {"order_id": "o2", "region": "US"},
    {"order_id": "o3", "region": "EU"},
    {"order_id": "o1", "region": "XX"},
]
ITEMS: list[dict[str, Value]] = [
    {"order_id": "o1", "product": "pen", "price": Decimal("10.00"), "qty": 2},
    {"order_id": "o1", "product": "ink", "price": Decimal("1.25"), "qty": 5},
    {"order_id": "o3", "product": "cap", "price": Decimal("3.10"), "qty": 0},
    {"order_id": "o9", "product": "zzz", "price": Decimal("1.00"), "qty": 1},
]


def _columns(types: Mapping[str, str]) -> dict[str, Any]:
    return {name: {"col_type": t, "csv": {"col_idx": i}} for i, (name, t) in enumerate(types.items())}


def _fields(types: Mapping[str, str]) -> dict[str, Any]:
    return {name: {"expression": f"r.{name}", "type": t} for name, t in types.items()}


def processor_script(nodes: Mapping[str, dict[str, Any]]) -> Script:
    orders = {"order_id": "string", "region": "string"}
    items = {"order_id": "string", "product": "string", "price": "decimal2", "qty": "int"}
    all_nodes: dict[str, Any] = {
        "read_orders": {
            "type": "file_table",
            "r": {"urls": ["orders.csv"], "columns": _columns(orders)},
            "w": {"name": "orders", "fields": _fields(orders)},
        },
        "read_items": {
            "type": "file_table",
            "r": {"urls": ["items.csv"], "columns": _columns(items)},
            "w": {
                "name": "items",
                "fields": _fields(items),
                "indexes": {"idx_items_order_id_to_check_uniq": "non_unique(order_id)"},
            },
        },
        **nodes,
    }
    policy = {"is_default": True, "event_priority_order": "run_id", "rules": [{"cmd": "go", "expression": "true"}]}
    doc = {"nodes": all_nodes, "dependency_policies": {"p": policy}}
    return load_script_text(json.dumps(doc), fmt="json", file="processor_test.json")


def batch_task(ks: str, node: str, run_id: int, batch_idx: int = 0, batches_total: int = 1) -> BatchTask:
    return BatchTask(ks, run_id, node, batch_idx, batches_total, -(1 << 63), (1 << 63) - 1, "processor_test.json", "")


def rows_of(session: Any, ks: str, table: str, columns: Sequence[str]) -> list[tuple[Any, ...]]:
    cols = ", ".join(columns)
    return sorted(tuple(r[c] for c in columns) for r in session.execute(f"SELECT {cols} FROM {ks}.{table}"))
