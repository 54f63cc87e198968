"""Graph functions (spec 1.13) and batch splitting (spec 1.14) on small synthetic scripts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from capillaries_provider.expr.types import INT64_MAX, INT64_MIN
from capillaries_provider.script.batches import TokenRange, node_batches, token_ranges
from capillaries_provider.script.graph import (
    affected_nodes,
    children,
    dependency_nodes,
    edges,
    find_cycle,
    parents,
    topological_order,
)
from capillaries_provider.script.loader import load_script_text
from capillaries_provider.script.model import Script

POLICY = {"p": {"is_default": True, "event_priority_order": "run_id(desc)", "rules": []}}


def _file_node(table: str, idx: str | None = None, manual: bool = False) -> dict[str, Any]:
    w: dict[str, Any] = {"name": table, "fields": {"k": {"expression": "r.c", "type": "int"}}}
    if idx:
        w["indexes"] = {idx: "non_unique(k)"}
    node = {
        "type": "file_table",
        "r": {"urls": ["a.csv", "b.csv", "c.csv"], "columns": {"c": {"csv": {"col_idx": 0}, "col_type": "int"}}},
        "w": w,
    }
    if manual:
        node["start_policy"] = "manual"
    return node


def _table_node(src: str, table: str, manual: bool = False, idx: str | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {
        "type": "table_table",
        "r": {"table": src},
        "w": {"name": table, "fields": {"k": {"expression": "r.k", "type": "int"}}},
    }
    if idx:
        node["w"]["indexes"] = {idx: "non_unique(k)"}
    if manual:
        node["start_policy"] = "manual"
    return node


def _lookup_node(src: str, idx: str, table: str, manual: bool = False) -> dict[str, Any]:
    node = _table_node(src, table, manual)
    node["type"] = "table_lookup_table"
    node["l"] = {"index_name": idx, "join_on": "r.k", "join_type": "inner"}
    return node


def _script(nodes: dict[str, Any]) -> Script:
    return load_script_text(json.dumps({"nodes": nodes, "dependency_policies": POLICY}), fmt="json")


@pytest.fixture
def diamond() -> Script:
    """a -> b -> d, a -> c(manual) -> d via lookup on c's index; e reads d."""
    return _script(
        {
            "a": _file_node("ta"),
            "b": _table_node("ta", "tb"),
            "c": _table_node("ta", "tc", manual=True, idx="idx_tc"),
            "d": _lookup_node("tb", "idx_tc", "td"),
            "e": _table_node("td", "te"),
        }
    )


def test_parents_children_edges(diamond: Script) -> None:
    assert dependency_nodes(diamond, diamond.nodes["d"]) == ("b", "c")
    assert dependency_nodes(diamond, diamond.nodes["a"]) == (None, None)
    assert parents(diamond, "d") == ("b", "c")
    assert children(diamond, "a") == ("b", "c")
    assert edges(diamond) == [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("d", "e")]


def test_affected_nodes_stop_at_manual_nodes(diamond: Script) -> None:
    # c is manual, so d (a child of c) is manual too even though it is also reachable through auto b
    assert affected_nodes(diamond, ["a"]) == ("a", "b")
    # starting at the manual node itself runs it and its auto descendants
    assert affected_nodes(diamond, ["c"]) == ("c", "d", "e")
    # a manual start node does not make its children manual
    assert affected_nodes(diamond, ["a", "c"]) == ("a", "c", "b", "d", "e")


def test_manual_propagates_through_non_start_manual_parent() -> None:
    s = _script(
        {
            "a": _file_node("ta"),
            "m": _table_node("ta", "tm", manual=True),
            "x": _table_node("tm", "tx"),
            "y": _table_node("tx", "ty"),
        }
    )
    assert affected_nodes(s, ["a"]) == ("a",)
    # m is a start node: its children are not manual because of it
    assert affected_nodes(s, ["m"]) == ("m", "x", "y")
    assert affected_nodes(s, ["a", "m"]) == ("a", "m", "x", "y")


def test_manual_parent_reached_later_still_propagates() -> None:
    """x is reached first via auto parent b, later via manual m: Go's unbounded DFS marks it manual."""
    s = _script(
        {
            "a": _file_node("ta", "idx_ta"),
            "b": _table_node("ta", "tb"),
            "m": _table_node("ta", "tm", manual=True, idx="idx_tm"),
            "x": _lookup_node("tb", "idx_tm", "tx"),
            "u": _lookup_node("tb", "idx_ta", "tu"),
        }
    )
    assert affected_nodes(s, ["a"]) == ("a", "b", "u")


def test_unknown_start_node() -> None:
    s = _script({"a": _file_node("ta")})
    with pytest.raises(KeyError, match="nope"):
        affected_nodes(s, ["nope"])


def test_topological_order_follows_script_order_on_ties(diamond: Script) -> None:
    assert topological_order(diamond) == ("a", "b", "c", "d", "e")
    assert find_cycle(diamond) is None


def test_token_ranges_worked_example_n10() -> None:
    r = token_ranges(10)
    assert len(r) == 10
    assert r[0] == TokenRange(-9223372036854775808, -7378697629483820649)
    assert r[4] == TokenRange(-1844674407370955168, -9)
    assert r[5] == TokenRange(-8, 1844674407370955151)
    assert r[9] == TokenRange(7378697629483820632, 9223372036854775807)
    assert r[1].last_token - r[1].first_token + 1 == 1844674407370955160


@pytest.mark.parametrize("n", [2, 3, 7, 10, 100, 32767])
def test_token_ranges_cover_the_whole_space_contiguously(n: int) -> None:
    r = token_ranges(n)
    assert r[0].first_token == INT64_MIN and r[-1].last_token == INT64_MAX
    assert all(a.last_token + 1 == b.first_token for a, b in zip(r, r[1:], strict=False))


def test_token_ranges_n3_uses_truncating_division() -> None:
    # Go: MaxInt64/3 = 3074457345618258602, MinInt64/3 = -3074457345618258602 (floor would give ...603)
    w = 3074457345618258602 * 2
    assert token_ranges(3)[0] == TokenRange(INT64_MIN, INT64_MIN + w - 1)


def test_single_batch_and_invalid_count() -> None:
    assert token_ranges(1) == (TokenRange(INT64_MIN, INT64_MAX),)
    with pytest.raises(ValueError):
        token_ranges(0)


def test_node_batches(diamond: Script) -> None:
    assert node_batches(diamond.nodes["a"]) == (TokenRange(0, 0), TokenRange(1, 1), TokenRange(2, 2))
    assert node_batches(diamond.nodes["b"]) == (TokenRange(INT64_MIN, INT64_MAX),)
