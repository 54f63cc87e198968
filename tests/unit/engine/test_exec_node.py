"""exec_node (Go's toolbelt exec_node): one node's batches through the worker's state machine, no queue."""

from __future__ import annotations

from pathlib import Path

import pytest
from batch_fakes import KS, FakeBackend, csv_int_reader, int_fields, make_script

from capillaries_provider.engine.exec_node import ExecNodeError, exec_node
from capillaries_provider.engine.ports import Driver
from capillaries_provider.script.model import Script
from capillaries_provider.status import NodeBatchStatus, RunStatus


def script(tmp: Path) -> Script:
    return make_script(
        {
            "read": {
                "type": "file_table",
                "r": csv_int_reader([f"{tmp}/a.csv", f"{tmp}/b.csv"]),
                "w": {"name": "t1", "fields": int_fields(c="r.c")},
            },
            "calc": {
                "type": "table_table",
                "r": {"table": "t1"},
                "w": {"name": "t2", "fields": int_fields(c2="r.c * 2")},
            },
        }
    )


def run_statuses(be: FakeBackend, run_id: int) -> list[RunStatus]:
    return [e.status for e in be.run_history(run_id)]


def test_runs_every_batch_in_process_and_enqueues_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("1\n2\n")
    (tmp_path / "b.csv").write_text("3\n")
    s, be = script(tmp_path), FakeBackend({})
    seen: list[int] = []
    result = exec_node(
        be, s, "read", ks=KS, script_url="s.json", script_params_url="", on_batch=lambda t, o: seen.append(t.batch_idx)
    )
    assert (result.run_id, seen, result.failed) == (1, [0, 1], [])
    assert [o.recorded for _, o in result.outcomes] == [NodeBatchStatus.SUCCESS, NodeBatchStatus.SUCCESS]
    assert be.published == [] and be.driver is Driver.EXEC_NODE
    assert be.affected[1] == ("read", "calc")  # the node's affected nodes, as in Go
    assert sorted(r["c"] for r in be.tables["t1_00001"].rows) == [1, 2, 3]
    assert "calc" not in be.node_statuses(KS, 1)  # downstream nodes are not run
    assert run_statuses(be, 1) == [RunStatus.START, RunStatus.COMPLETE]
    # The downstream node in a run of its own reads run 1, through the usual dependency check.
    calc = exec_node(be, s, "calc", ks=KS, script_url="s.json", script_params_url="")
    assert calc.run_id == 2
    assert sorted(r["c2"] for r in be.tables["t2_00002"].rows) == [2, 4, 6]


def test_failed_batches_do_not_stop_it_but_a_wait_does(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("x\n")
    (tmp_path / "b.csv").write_text("4\n")
    s, be = script(tmp_path), FakeBackend({})
    result = exec_node(be, s, "read", ks=KS, script_url="s.json", script_params_url="")
    assert [o.recorded for _, o in result.outcomes] == [NodeBatchStatus.FAIL, NodeBatchStatus.SUCCESS]
    assert len(result.failed) == 1 and "a.csv" in result.failed[0][1].detail
    assert be.run_history(1)[-1].comment == "capillaries exec-node read: 2 batches, 1 failed"
    waiting = FakeBackend({1: ("read", "calc")})
    waiting.set_run_status(KS, 1, RunStatus.START, "")
    with pytest.raises(ExecNodeError, match=f"{KS}/2/calc/0: dependencies not ready"):
        exec_node(waiting, s, "calc", ks=KS, script_url="s.json", script_params_url="")


def test_run_ids_and_nodes_are_checked(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("1\n")
    (tmp_path / "b.csv").write_text("2\n")
    s, be = script(tmp_path), FakeBackend({})
    with pytest.raises(ExecNodeError, match="node nope is not in script s.json"):
        exec_node(be, s, "nope", ks=KS, script_url="s.json", script_params_url="")
    with pytest.raises(ExecNodeError, match=f"run 7 does not exist in keyspace {KS}; leave out the run id"):
        exec_node(be, s, "read", ks=KS, run_id=7, script_url="s.json", script_params_url="")
    exec_node(be, s, "read", ks=KS, script_url="s.json", script_params_url="")
    with pytest.raises(ExecNodeError, match=f"run 1 in {KS} is complete; exec-node can only add to a started run"):
        exec_node(be, s, "read", ks=KS, run_id=1, script_url="s.json", script_params_url="")
    be.affected[5] = ("calc",)
    be.set_run_status(KS, 5, RunStatus.START, "")
    with pytest.raises(ExecNodeError, match="node read is not among the affected nodes of run 5: calc"):
        exec_node(be, s, "read", ks=KS, run_id=5, script_url="s.json", script_params_url="")
