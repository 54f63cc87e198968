"""`capillaries run history` reads run, node and batch history from a real keyspace."""

from __future__ import annotations

import json

import pytest

from capillaries_provider.cli.main import main
from capillaries_provider.store.workflow import BatchRef, NodeBatchStatus, RunProperties, RunStatus, WorkflowStore


def _one_run(wf: WorkflowStore) -> None:
    wf.write_run_properties(RunProperties(1, ("read",), ("read",), "/s.json", "", "test"))
    wf.set_run_status(1, RunStatus.START, "started")
    for idx in (0, 1):
        ref = BatchRef(1, "read", idx, 2, idx * 10, idx * 10 + 9)
        wf.set_node_status(1, "read", idx, NodeBatchStatus.START, "")
        wf.set_batch_status(ref, NodeBatchStatus.START, "", "host/capi_worker/x", 1)
        wf.set_batch_status(ref, NodeBatchStatus.SUCCESS, "ok, done", "host/capi_worker/x", 1)
        wf.refresh_node_and_run_status(1, "read", idx)


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    assert main(["run", "history", *args, "--format", "json"]) == 0
    rows: list[dict[str, object]] = json.loads(capsys.readouterr().out)
    return rows


def test_run_node_and_batch_history(wf: WorkflowStore, capsys: pytest.CaptureFixture[str]) -> None:
    _one_run(wf)
    ks = wf.ks
    assert [r["status"] for r in _json(capsys, "--keyspace", ks)] == ["start", "complete"]
    nodes = _json(capsys, "--keyspace", ks, "--run-id", "1")
    assert [(r["script_node"], r["status"]) for r in nodes] == [("read", "start"), ("read", "success")]
    batches = _json(capsys, "--keyspace", ks, "--run-id", "1", "--node", "read")
    assert sorted((r["batch_idx"], r["status"]) for r in batches) == [
        (0, "start"),
        (0, "success"),
        (1, "start"),
        (1, "success"),
    ]
    assert main(["run", "history", "--keyspace", ks, "--run-id", "1", "--node", "read", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split(",") == [
        *("ts", "run_id", "script_node", "batch_idx", "batches_total", "status"),
        *("first_token", "last_token", "instance", "thread", "comment"),
    ]
    assert len(lines) == 5 and any(line.endswith(",success,10,19,host/capi_worker/x,1,ok; done") for line in lines)


def test_history_errors_name_the_keyspace_and_run(wf: WorkflowStore, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "history", "--keyspace", wf.ks, "--run-id", "7"]) == 2
    assert f"run 7 does not exist in keyspace {wf.ks}" in capsys.readouterr().err
    assert main(["run", "history", "--keyspace", wf.ks, "--node", "read"]) == 2
    assert "--node needs exactly one --run-id" in capsys.readouterr().err
    assert main(["run", "history", "--keyspace", "no_such_ks_for_history"]) == 2
    assert "keyspace no_such_ks_for_history does not exist" in capsys.readouterr().err
