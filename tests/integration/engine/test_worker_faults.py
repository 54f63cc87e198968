"""Worker failure modes: SIGKILL mid-batch (redelivery + redo) and stopping a run."""

from __future__ import annotations

import datetime as dt
import json
import signal
from pathlib import Path

import pytest
from cassandra.cluster import Session
from conftest import Env, count_rows, run_finished, stop_worker, wait_for
from pipeline_script import pipeline_doc, write_pipeline

from capillaries_provider.status import NodeBatchStatus, RunStatus
from capillaries_provider.store.workflow import WorkflowStore

BIG_ROWS = 10000


def _big_input(path: Path) -> None:
    lines = ["id,name,price,qty,ts"] + [
        f"{i},n{i},{i % 100}.25,{i % 7 + 1},2024-01-02 03:04:05" for i in range(BIG_ROWS)
    ]
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.fault
def test_worker_killed_mid_batch_redelivers_and_run_completes_exactly(
    private_env: Env, session: Session, keyspace: str, tmp_path: Path
) -> None:
    _big_input(tmp_path / "big.csv")
    doc = pipeline_doc(tmp_path, urls=[str(tmp_path / "big.csv")], read_grace_ms=2000)
    script = tmp_path / "script.json"
    script.write_text(json.dumps(doc))
    first = private_env.start_worker(1)
    try:
        started = private_env.cli(
            "run", "start", "--keyspace", keyspace, "--script", str(script), "--start-nodes", "read"
        )
        assert started.returncode == 0, started.stderr
        wf = WorkflowStore(session, keyspace)

        def batch_started() -> bool:
            return any(e.status is NodeBatchStatus.START for e in wf.read_batch_history(1, "read", 0))

        wait_for(batch_started, 120, "the read batch to start")
        wait_for(lambda: count_rows(session, keyspace, "items_00001") > 0, 120, "the read batch to write rows")
        stop_worker(first, signal.SIGKILL)
    finally:
        if first.poll() is None:
            stop_worker(first, signal.SIGKILL)
    assert not any(e.status is NodeBatchStatus.SUCCESS for e in wf.read_batch_history(1, "read", 0)), (
        "the batch finished before the kill; use a bigger input"
    )
    written_before_redo = count_rows(session, keyspace, "items_00001")
    assert 0 < written_before_redo < BIG_ROWS, "the kill must land while the batch is writing"
    second = private_env.start_worker(1)
    try:
        wait_for(run_finished(session, keyspace, 1), 600, "run 1 to finish after the redelivery")
    finally:
        assert stop_worker(second) == 0
    assert {e.status for e in wf.read_run_history(1)} == {RunStatus.START, RunStatus.COMPLETE}
    assert [e.status for e in wf.read_batch_history(1, "read", 0)] == [NodeBatchStatus.START, NodeBatchStatus.SUCCESS]
    assert count_rows(session, keyspace, "items_00001") == BIG_ROWS
    assert count_rows(session, keyspace, "idx_items_id_to_check_uniq_00001") == BIG_ROWS
    assert count_rows(session, keyspace, "totals_00001") == BIG_ROWS


@pytest.mark.fault
def test_sigterm_lets_the_in_flight_batch_finish_before_exiting(
    private_env: Env, session: Session, keyspace: str, tmp_path: Path
) -> None:
    _big_input(tmp_path / "big.csv")
    script = tmp_path / "script.json"
    script.write_text(json.dumps(pipeline_doc(tmp_path, urls=[str(tmp_path / "big.csv")])))
    worker = private_env.start_worker(1)
    wf = WorkflowStore(session, keyspace)
    try:
        started = private_env.cli(
            "run", "start", "--keyspace", keyspace, "--script", str(script), "--start-nodes", "read"
        )
        assert started.returncode == 0, started.stderr

        def batch_started() -> bool:
            return any(e.status is NodeBatchStatus.START for e in wf.read_batch_history(1, "read", 0))

        wait_for(batch_started, 120, "the read batch to start")
        wait_for(lambda: count_rows(session, keyspace, "items_00001") > 0, 120, "the read batch to write rows")
        written_before_signal = count_rows(session, keyspace, "items_00001")
        signalled = dt.datetime.now(dt.UTC)
        assert stop_worker(worker, signal.SIGTERM, timeout=600) == 0
    finally:
        if worker.poll() is None:
            stop_worker(worker, signal.SIGKILL)
    history = wf.read_batch_history(1, "read", 0)
    assert [e.status for e in history] == [NodeBatchStatus.START, NodeBatchStatus.SUCCESS]
    # The signal hit the batch in flight: part of its rows were written before it, its success came after it.
    assert 0 < written_before_signal < BIG_ROWS, "the SIGTERM must land while the batch is writing"
    assert history[-1].ts > signalled, "the batch finished before the SIGTERM; use a bigger input"
    assert count_rows(session, keyspace, "items_00001") == BIG_ROWS


def test_stopped_run_marks_later_batches_stopreceived(
    private_env: Env, session: Session, keyspace: str, tmp_path: Path
) -> None:
    script = write_pipeline(tmp_path)
    # No worker yet: the run's first batches wait in the queue while the run is stopped.
    started = private_env.cli("run", "start", "--keyspace", keyspace, "--script", str(script), "--start-nodes", "read")
    assert started.returncode == 0, started.stderr
    stopped = private_env.cli("run", "stop", "--keyspace", keyspace, "--run-id", "1")
    assert stopped.returncode == 0, stopped.stderr
    worker = private_env.start_worker(1)
    wf = WorkflowStore(session, keyspace)
    try:

        def all_nodes_stopped() -> bool:
            statuses = {e.script_node: e.status for e in wf.read_node_history(1)}
            return all(statuses.get(n) is NodeBatchStatus.STOPRECEIVED for n in ("read", "calc", "out"))

        wait_for(all_nodes_stopped, 120, "every node to receive the stop")
    finally:
        assert stop_worker(worker) == 0
    for node, batches in (("read", 2), ("calc", 3), ("out", 1)):
        history = wf.read_batch_history(1, node)
        assert sorted(e.batch.batch_idx for e in history) == list(range(batches))
        assert {e.status for e in history} == {NodeBatchStatus.STOPRECEIVED}
    assert count_rows(session, keyspace, "items_00001") == 0
    status = private_env.cli("run", "status", "--keyspace", keyspace)
    assert "run 1: stop" in status.stdout
    assert "read: stopreceived (2/2 batches finished, 0 failed)" in status.stdout
