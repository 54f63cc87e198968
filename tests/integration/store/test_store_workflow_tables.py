"""Workflow tables against a real Cassandra: exact schema, run counter, status rows, refresh."""

from __future__ import annotations

import threading

import pytest
from cassandra.cluster import Session

from capillaries_provider.status import NodeBatchStatus, RunStatus
from capillaries_provider.store.workflow import BatchRef, RunProperties, WorkflowStore

pytestmark = pytest.mark.integration

# Spec 3.2, column -> CQL type, and the primary key (partition key first, then clustering columns).
EXPECTED = {
    "wf_batch_history": (
        {
            "ts": "timestamp",
            "run_id": "int",
            "script_node": "text",
            "batch_idx": "int",
            "batches_total": "int",
            "status": "tinyint",
            "first_token": "bigint",
            "last_token": "bigint",
            "instance": "text",
            "thread": "bigint",
            "comment": "text",
        },
        ["run_id", "script_node", "batch_idx", "status"],
    ),
    "wf_node_history": (
        {
            "ts": "timestamp",
            "run_id": "int",
            "script_node": "text",
            "written_by_batch_idx": "int",
            "status": "tinyint",
            "comment": "text",
        },
        ["run_id", "script_node", "written_by_batch_idx", "status"],
    ),
    "wf_run_history": (
        {"ts": "timestamp", "run_id": "int", "status": "tinyint", "comment": "text"},
        ["run_id", "status"],
    ),
    "wf_run_properties": (
        {
            "run_id": "int",
            "start_nodes": "text",
            "affected_nodes": "text",
            "script_url": "text",
            "script_params_url": "text",
            "run_description": "text",
        },
        ["run_id"],
    ),
    "wf_run_counter": ({"ks": "text", "last_run": "int"}, ["ks"]),
}


def test_workflow_tables_have_capillaries_schema(session: Session, wf: WorkflowStore) -> None:
    rows = session.execute(
        "SELECT table_name, column_name, type, kind, position FROM system_schema.columns WHERE keyspace_name = %s",
        (wf.ks,),
    ).all()
    actual: dict[str, dict[str, str]] = {}
    keys: dict[str, list[tuple[int, int, str]]] = {}
    for r in rows:
        actual.setdefault(r["table_name"], {})[r["column_name"]] = r["type"]
        if r["kind"] in ("partition_key", "clustering"):
            order = 0 if r["kind"] == "partition_key" else 1
            keys.setdefault(r["table_name"], []).append((order, r["position"], r["column_name"]))
    assert set(actual) == set(EXPECTED)
    for table, (columns, pk) in EXPECTED.items():
        assert actual[table] == columns, table
        assert [c for _, _, c in sorted(keys[table])] == pk, table
    partition = {r["table_name"] for r in rows if r["kind"] == "partition_key"}
    assert partition == set(EXPECTED)
    # Exactly one partition key column per table (the first key column).
    assert sum(1 for r in rows if r["kind"] == "partition_key") == len(EXPECTED)
    # create_tables is idempotent and keeps the counter.
    wf.create_tables()
    assert wf.next_run_id() == 1
    wf.create_tables()
    assert wf.next_run_id() == 2


def test_run_counter_concurrent_callers_get_distinct_ids(session: Session, wf: WorkflowStore) -> None:
    results: list[int] = []
    lock = threading.Lock()

    def allocate() -> None:
        store = WorkflowStore(session, wf.ks)
        for _ in range(3):
            rid = store.next_run_id()
            with lock:
                results.append(rid)

    threads = [threading.Thread(target=allocate) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == list(range(1, 13))
    assert wf.next_run_id() == 13


def test_run_properties_and_run_status_first_writer_wins(wf: WorkflowStore) -> None:
    props = RunProperties(1, ("read_orders",), ("read_orders", "totals"), "file:///s.json", "file:///p.json", "t")
    assert wf.write_run_properties(props)
    assert not wf.write_run_properties(RunProperties(1, ("x",), ("x",), "u", "p", "other"))
    assert wf.read_run_properties(1) == props
    assert wf.read_run_properties(2) is None
    assert wf.read_all_run_properties() == [props]

    assert wf.run_status(1) == RunStatus.NONE
    assert wf.set_run_status(1, RunStatus.START, "api.StartRun")
    assert not wf.set_run_status(1, RunStatus.START, "again")
    assert wf.run_status(1) == RunStatus.START
    assert wf.set_run_status(1, RunStatus.STOP, "stopped by operator")
    history = wf.read_run_history(1)
    assert [(e.status, e.comment) for e in history] == [
        (RunStatus.START, "api.StartRun"),
        (RunStatus.STOP, "stopped by operator"),
    ]
    assert wf.run_status(1) == RunStatus.STOP


def test_refresh_marks_node_then_run_complete(wf: WorkflowStore) -> None:
    wf.write_run_properties(RunProperties(1, ("a",), ("a", "b"), "s", "p", "d"))
    wf.set_run_status(1, RunStatus.START, "api.StartRun")
    a = [BatchRef(1, "a", i, 2, i, i) for i in range(2)]
    b = [BatchRef(1, "b", 0, 1, -(2**63), 2**63 - 1)]
    for ref in a + b:
        wf.set_node_status(1, ref.script_node, ref.batch_idx, NodeBatchStatus.START, "started")
        wf.set_batch_status(ref, NodeBatchStatus.START, "", "host/test/01-01T00:00:00.000", 7)

    wf.set_batch_status(a[0], NodeBatchStatus.SUCCESS, "stats", "host/test/x", 7)
    assert wf.refresh_node_and_run_status(1, "a", 0).node_status is None
    assert wf.batch_status(1, "a", 0).status == NodeBatchStatus.SUCCESS  # type: ignore[union-attr]
    assert wf.batch_status(1, "a", 1).status == NodeBatchStatus.START  # type: ignore[union-attr]
    assert wf.batch_status(1, "a", 5) is None

    wf.set_batch_status(a[1], NodeBatchStatus.FAIL, "boom", "host/test/x", 8)
    outcome = wf.refresh_node_and_run_status(1, "a", 1)
    assert outcome.node_status == NodeBatchStatus.FAIL and not outcome.run_completed
    assert wf.run_status(1) == RunStatus.START

    wf.set_batch_status(b[0], NodeBatchStatus.SUCCESS, "ok", "host/test/x", 9)
    outcome = wf.refresh_node_and_run_status(1, "b", 0)
    assert outcome.node_status == NodeBatchStatus.SUCCESS and outcome.run_completed
    complete = [e for e in wf.read_run_history(1) if e.status == RunStatus.COMPLETE]
    assert [e.comment for e in complete] == ['{"a":"fail","b":"success"}']
    # A second refresh is harmless: the run-complete row keeps its first comment.
    assert wf.refresh_node_and_run_status(1, "b", 0).run_completed
    assert len([e for e in wf.read_run_history(1) if e.status == RunStatus.COMPLETE]) == 1

    history = wf.read_batch_history(1, "a")
    assert {(e.batch.batch_idx, e.status) for e in history} == {
        (0, NodeBatchStatus.START),
        (0, NodeBatchStatus.SUCCESS),
        (1, NodeBatchStatus.START),
        (1, NodeBatchStatus.FAIL),
    }
    whole_run = wf.read_batch_history(1)
    assert len(whole_run) == 6 and {e.batch.script_node for e in whole_run} == {"a", "b"}
    failed = [e for e in history if e.status == NodeBatchStatus.FAIL][0]
    assert (failed.comment, failed.thread, failed.instance) == ("boom", 8, "host/test/x")
    assert failed.batch == a[1]
