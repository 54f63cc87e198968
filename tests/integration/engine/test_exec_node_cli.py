"""`capillaries exec-node` runs nodes of the shop-orders example against real Cassandra with no worker and no
queue; `capillaries run history` then shows those runs, their nodes and batches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cassandra.cluster import Session
from conftest import count_rows

from capillaries_provider.cli.main import main
from tests.conftest import SHOP_ORDERS, write_shop_orders_params

SCRIPT = str(SHOP_ORDERS / "script.json")


def _exec(capsys: pytest.CaptureFixture[str], ks: str, params: Path, node: str, *extra: str) -> tuple[int, str, str]:
    code = main(["exec-node", "--keyspace", ks, "--script", SCRIPT, "--params", str(params), "--node", node, *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def _history(capsys: pytest.CaptureFixture[str], ks: str, *args: str) -> list[dict[str, object]]:
    assert main(["run", "history", "--keyspace", ks, *args, "--format", "json"]) == 0
    rows: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return rows


def test_exec_node_then_history(
    session: Session, keyspace: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params = write_shop_orders_params(tmp_path / "params.json", tmp_path / "out")
    code, out, err = _exec(capsys, keyspace, params, "read_orders")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("batch 1/2: success: elapsed: ") and lines[1].startswith("batch 2/2: success")
    assert lines[2].startswith("run 1, elapsed ")
    assert _exec(capsys, keyspace, params, "read_customers")[0] == 0
    # The lookup node reads runs 1 and 2 through the dependency policy, as a worker would.
    code, out, err = _exec(capsys, keyspace, params, "customer_totals")
    assert code == 0, err
    assert out.splitlines()[-1].startswith("run 3, elapsed ")
    assert count_rows(session, keyspace, "customer_totals_00003") > 0
    assert not (tmp_path / "out").exists()  # downstream file writers were not run

    runs = _history(capsys, keyspace)
    assert [(r["run_id"], r["status"]) for r in runs] == [
        (1, "start"),
        (1, "complete"),
        (2, "start"),
        (2, "complete"),
        (3, "start"),
        (3, "complete"),
    ]
    assert runs[-1]["comment"] == "capillaries exec-node customer_totals: 2 batches, 0 failed"
    nodes = _history(capsys, keyspace, "--run-id", "1", "--run-id", "3")
    assert [(n["run_id"], n["script_node"], n["status"]) for n in nodes] == [
        (1, "read_orders", "start"),
        (1, "read_orders", "success"),
        (3, "customer_totals", "start"),
        (3, "customer_totals", "success"),
    ]
    batches = _history(capsys, keyspace, "--run-id", "1", "--node", "read_orders")
    assert sorted((b["batch_idx"], b["status"]) for b in batches) == [
        (0, "start"),
        (0, "success"),
        (1, "start"),
        (1, "success"),
    ]
    assert {b["batches_total"] for b in batches} == {2}

    code, _, err = _exec(capsys, keyspace, params, "customer_totals", "--run-id", "3")
    assert code == 1
    assert f"run 3 in {keyspace} is complete; exec-node can only add to a started run" in err
    code, _, err = _exec(capsys, keyspace, params, "no_such_node")
    assert code == 2 and "node no_such_node is not in script" in err
