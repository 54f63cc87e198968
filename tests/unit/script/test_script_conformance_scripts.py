"""Every script+params pair of the conformance suite loads and validates, and affected nodes match case.json.

The scripts are loaded as they are (params substituted, nothing staged: paths need not exist). Oracle: the
`affected_nodes` lists recorded from the Go implementation's runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from capillaries_provider.script.batches import node_batches
from capillaries_provider.script.graph import affected_nodes, parents, topological_order
from capillaries_provider.script.loader import load_script
from capillaries_provider.script.model import Script
from tests.conftest import CONFORMANCE, needs_shared


def _variants() -> list[tuple[str, str, Path, Path | None, list[dict[str, Any]]]]:
    out = []
    for case_json in sorted(CONFORMANCE.glob("*/case.json")):
        case = json.loads(case_json.read_text())
        staged = {s["dst"]: case_json.parent / s["src"] for s in case["stage"]}
        for vname, v in case.get("variants", {}).items():
            params = staged[v["params"]] if v.get("params") else None
            out.append((case["case"], vname, staged[v["script"]], params, v["runs"]))
    return out


VARIANTS = _variants() if CONFORMANCE.is_dir() else []
pytestmark = needs_shared(CONFORMANCE)


@pytest.mark.parametrize(
    ("case", "variant", "script", "params", "runs"), VARIANTS, ids=[f"{v[0]}-{v[1]}" for v in VARIANTS]
)
def test_conformance_script_loads_and_affected_nodes_match(
    case: str, variant: str, script: Path, params: Path | None, runs: list[dict[str, Any]]
) -> None:
    loaded = load_script(str(script), str(params) if params else None)
    assert loaded.nodes
    for run in runs:
        got = affected_nodes(loaded, run["start_nodes"])
        assert sorted(got) == sorted(run["affected_nodes"]), f"run {run['run_id']}"
        assert len(got) == len(set(got))
        assert list(got[: len(run["start_nodes"])]) == run["start_nodes"]
    _assert_topological(loaded)


def _assert_topological(script: Script) -> None:
    order = topological_order(script)
    assert sorted(order) == sorted(script.nodes)
    pos = {n: i for i, n in enumerate(order)}
    for n in order:
        assert all(pos[p] < pos[n] for p in parents(script, n))
        assert node_batches(script.nodes[n])


def test_lookup_quicktest_details() -> None:
    """Spot checks of the YAML script: params typed by reference, defaults, index components, top order."""
    base = CONFORMANCE / "lookup_quicktest/test/data/cfg/lookup"
    script = load_script(str(base / "script_quick.yaml"), str(base / "script_params_quick_fs_multi.yaml"))
    inner = script.nodes["order_item_date_inner"]
    assert inner.start_policy.value == "manual"
    assert inner.table_reader is not None and inner.table_reader.expected_batches_total == 10
    left = script.nodes["order_item_date_left_outer"].table_creator
    assert left is not None
    assert left.fields["order_item_id"].default_value == 999
    assert str(left.fields["value"].default_value) == "999.00"
    owner, idx = script.index("idx_order_items_order_id")
    assert owner.name == "read_order_items" and not idx.unique
    top = script.nodes["file_order_date_value_grouped_inner"].file_creator
    assert top is not None and top.top is not None
    assert [c.desc for c in top.top.order] == [True, True, True]
    assert top.top.limit == 5_000_000
