"""file_table -> table_table -> table_file end to end through `capillaries run start --wait` and real workers."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cassandra.cluster import Session
from conftest import Env, count_rows
from pipeline_script import EXPECTED_OUTPUT, load, write_pipeline

from capillaries_provider.config import amqp_settings, cassandra_settings
from capillaries_provider.engine.processors.context import BatchJob
from capillaries_provider.engine.processors.registry import processor_for
from capillaries_provider.engine.run import node_tasks
from capillaries_provider.status import NodeBatchStatus
from capillaries_provider.store.workflow import WorkflowStore
from capillaries_provider.worker.backend import CassandraBackend


def _run(env: Env, ks: str, script: Path, nodes: str) -> subprocess.CompletedProcess[str]:
    return env.cli(
        "run", "start", "--keyspace", ks, "--script", str(script), "--start-nodes", nodes, "--wait", "--timeout", "120"
    )


def test_three_node_types_produce_tables_and_file(
    env: Env, worker: subprocess.Popen[bytes], session: Session, keyspace: str, tmp_path: Path
) -> None:
    script = write_pipeline(tmp_path)
    done = _run(env, keyspace, script, "read")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "1"
    assert count_rows(session, keyspace, "items_00001") == 4  # fig has qty 0
    assert count_rows(session, keyspace, "idx_items_id_to_check_uniq_00001") == 4
    assert count_rows(session, keyspace, "totals_00001") == 4
    assert (tmp_path / "out" / "totals_00000.csv").read_bytes() == EXPECTED_OUTPUT
    wf = WorkflowStore(session, keyspace)
    calc = wf.read_batch_history(1, "calc")
    assert sorted(e.batch.batch_idx for e in calc if e.status is NodeBatchStatus.SUCCESS) == [0, 1, 2]
    read_ok = [e for e in wf.read_batch_history(1, "read") if e.status is NodeBatchStatus.SUCCESS]
    assert sorted(e.comment.split("row_reads: ")[1].split(",")[0] for e in read_ok) == ["2", "3"]

    status = env.cli("run", "status", "--keyspace", keyspace, "--run-id", "1")
    assert status.returncode == 0
    assert "run 1: complete" in status.stdout
    assert "calc: success (3/3 batches finished, 0 failed)" in status.stdout
    history = env.cli("run", "history", "--keyspace", keyspace, "--format", "csv")
    lines = history.stdout.splitlines()
    assert lines[0] == "ts,run_id,status,comment"
    assert [line.split(",")[1:3] for line in lines[1:]] == [["1", "start"], ["1", "complete"]]


def test_batch_processed_twice_gives_identical_tables(
    env: Env, worker: subprocess.Popen[bytes], session: Session, keyspace: str, tmp_path: Path
) -> None:
    script_path = write_pipeline(tmp_path)
    assert _run(env, keyspace, script_path, "read").returncode == 0

    def snapshot() -> dict[str, list[tuple[object, ...]]]:
        tables = ("items_00001", "idx_items_id_to_check_uniq_00001", "totals_00001")
        return {t: sorted(tuple(r.values()) for r in session.execute(f"SELECT * FROM {keyspace}.{t}")) for t in tables}

    before = snapshot()
    script = load(script_path)
    backend = CassandraBackend(cassandra_settings(), amqp_settings())
    try:
        for node, reader_run in (("read", 0), ("calc", 1)):
            for task in node_tasks(
                script, node, ks=keyspace, run_id=1, script_url=str(script_path), script_params_url=""
            ):
                job = BatchJob(
                    task=task, script=script, node=script.nodes[node], data=backend, reader_run_id=reader_run
                )
                processor_for(script.nodes[node].type)(job)
    finally:
        backend.close()
    assert snapshot() == before


def test_failing_batch_makes_run_start_wait_fail_with_the_error(
    env: Env, worker: subprocess.Popen[bytes], keyspace: str, tmp_path: Path
) -> None:
    script = write_pipeline(tmp_path)
    (tmp_path / "in1.csv").write_text("id,name,price,qty,ts\n4,fig,abc,1,2024-04-05 06:07:08\n")
    done = _run(env, keyspace, script, "read")
    assert done.returncode == 1
    assert "failed node(s): read, calc, out" in done.stderr
    assert "in1.csv, line 2, column price" in done.stderr
    assert "dependency nogo" in done.stderr
