"""`capillaries table-cql` prints what a run start creates, in Go's `get_table_cql` layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from capillaries_provider.cli.main import main
from capillaries_provider.cli.table_cql_cmd import tables_cql
from capillaries_provider.script.loader import load_script

DATA = Path(__file__).parents[1] / "script" / "data"
SCRIPT = str(DATA / "valid_small.json")
PARAMS = str(DATA / "valid_small_params.json")


def test_workflow_then_affected_node_tables(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["table-cql", "--script", SCRIPT, "--params", PARAMS, "--keyspace", "ks1", "--run-id", "3"]
    assert main([*args, "--start-nodes", "read_orders"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "-- Workflow"
    assert lines[1].startswith("CREATE TABLE IF NOT EXISTS ks1.wf_batch_history (ts timestamp, run_id int,")
    assert "INSERT INTO ks1.wf_run_counter (ks, last_run) VALUES ('ks1', 0) IF NOT EXISTS;" in lines
    assert all(line.startswith("--") or line.endswith(";") for line in lines)
    i = lines.index("-- read_orders")
    assert lines[i + 1] == (
        "CREATE TABLE IF NOT EXISTS ks1.orders_00003 ( rowid BIGINT, batch_idx BIGINT, id BIGINT, name TEXT,"
        " amount DECIMAL, PRIMARY KEY((rowid)));"
    )
    assert lines[i + 2] == (
        "CREATE TABLE IF NOT EXISTS ks1.idx_orders_id_to_check_uniq_00003 ( key TEXT, rowid BIGINT,"
        " PRIMARY KEY((key)));"
    )
    # read_items is not downstream of read_orders: no tables for it.
    assert "-- read_items" not in lines
    assert "-- file_totals" not in lines  # table_file creates no table


def test_bad_input_names_the_problem(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    script = load_script(SCRIPT, PARAMS)
    with pytest.raises(ValueError, match="start node.*not in script .*valid_small.json: nope"):
        tables_cql(script, "ks1", 1, ["nope"])
    with pytest.raises(ValueError, match="run id must be 1 or more"):
        tables_cql(script, "ks1", 0, ["read_orders"])
    with pytest.raises(ValueError, match="keyspace"):
        tables_cql(script, "system_x", 1, ["read_orders"])
    assert main(["table-cql", "--script", str(tmp_path / "no.json"), "--keyspace", "k", "--start-nodes", "a"]) == 2
    assert "cannot load script" in capsys.readouterr().err
