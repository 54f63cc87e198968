"""A small script with lookup nodes over two tables, and in-memory index/right-table fakes, for lookup tests."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from capillaries_provider.expr.keys import build_key
from capillaries_provider.expr.types import Value
from capillaries_provider.script.loader import load_script_text
from capillaries_provider.script.model import Script

Row = Mapping[str, Value]


def _col(idx: int, col_type: str) -> dict[str, Any]:
    return {"col_type": col_type, "csv": {"col_idx": idx}}


def _fields(**exprs: tuple[str, str] | tuple[str, str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, spec in exprs.items():
        out[name] = {"expression": spec[0], "type": spec[1]}
        if len(spec) == 3:
            out[name]["default_value"] = spec[2]
    return out


def lookup_node(lookup: dict[str, Any], fields: dict[str, Any], having: str = "") -> dict[str, Any]:
    w: dict[str, Any] = {"name": "", "fields": fields}
    if having:
        w["having"] = having
    return {"type": "table_lookup_table", "r": {"table": "orders"}, "l": lookup, "w": w}


def lookup_script(extra_nodes: Mapping[str, dict[str, Any]]) -> Script:
    """orders(order_id, region) and items(order_id, product, price, qty) with two indexes, plus `extra_nodes`."""
    nodes: dict[str, Any] = {
        "read_orders": {
            "type": "file_table",
            "r": {"urls": ["orders.csv"], "columns": {"c_id": _col(0, "string"), "c_region": _col(1, "string")}},
            "w": {"name": "orders", "fields": _fields(order_id=("r.c_id", "string"), region=("r.c_region", "string"))},
        },
        "read_items": {
            "type": "file_table",
            "r": {
                "urls": ["items.csv"],
                "columns": {
                    "c_id": _col(0, "string"),
                    "c_product": _col(1, "string"),
                    "c_price": _col(2, "decimal2"),
                    "c_qty": _col(3, "int"),
                },
            },
            "w": {
                "name": "items",
                "fields": _fields(
                    order_id=("r.c_id", "string"),
                    product=("r.c_product", "string"),
                    price=("r.c_price", "decimal2"),
                    qty=("r.c_qty", "int"),
                ),
                "indexes": {
                    "idx_items_to_check_uniq_order_id": "non_unique(order_id)",
                    "idx_items_to_check_uniq_order_product": "non_unique(order_id, product)",
                },
            },
        },
    }
    for name, node in extra_nodes.items():
        node = json.loads(json.dumps(node))
        node["w"]["name"] = f"t_{name}"
        nodes[name] = node
    script = {
        "nodes": nodes,
        "dependency_policies": {
            "std": {
                "is_default": True,
                "event_priority_order": "run_is_current(desc), run_id(desc)",
                "rules": [{"cmd": "go", "expression": "nrs.run_is_current == true"}],
            }
        },
    }
    return load_script_text(json.dumps(script), fmt="json", file="lookup_test.json")


LEFT: list[dict[str, Value]] = [
    {"order_id": "o1", "region": "EU"},
    {"order_id": "o2", "region": "US"},
    {"order_id": "o3", "region": "EU"},
    {"order_id": "o1", "region": "XX"},
]

RIGHT: dict[int, dict[str, Value]] = {
    10: {"order_id": "o1", "product": "pen", "price": Decimal("10.00"), "qty": 2},
    11: {"order_id": "o1", "product": "ink", "price": Decimal("1.25"), "qty": 5},
    12: {"order_id": "o3", "product": "cap", "price": Decimal("3.00"), "qty": 0},
    13: {"order_id": "o9", "product": "zzz", "price": Decimal("1.00"), "qty": 1},
}


class FakeLookupReads:
    """Index key -> rowids and right rows by rowid, counting the reads so tests can check the batching."""

    def __init__(self, index: Mapping[str, list[int]], rows: Mapping[int, Row]) -> None:
        self.index = index
        self.rows = rows
        self.index_calls: list[list[str]] = []
        self.row_calls: list[list[int]] = []

    def index_rowids(self, keys: Sequence[str]) -> dict[str, list[int]]:
        self.index_calls.append(list(keys))
        return {k: list(self.index[k]) for k in keys if k in self.index}

    def right_rows(self, rowids: Sequence[int]) -> dict[int, Row]:
        self.row_calls.append(list(rowids))
        return {r: self.rows[r] for r in rowids if r in self.rows}


def order_id_reads(script: Script) -> FakeLookupReads:
    """The order_id index over RIGHT, plus orphan rowid 99 under o1 (rowids listed out of order on purpose)."""
    _, idx = script.index("idx_items_to_check_uniq_order_id")
    index: dict[str, list[int]] = {}
    for rowid in (11, 10, 12, 13):
        index.setdefault(build_key([RIGHT[rowid]["order_id"]], idx.components), []).append(rowid)
    index[build_key(["o1"], idx.components)].append(99)
    return FakeLookupReads(index, RIGHT)
