"""A later run started at a downstream node reads the earlier run's table (dependency policy, spec 5.5/5.7)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from cassandra.cluster import Session
from conftest import Env, count_rows
from pipeline_script import EXPECTED_OUTPUT, write_pipeline

from capillaries_provider.store.session import keyspace_exists


def _tables(session: Session, ks: str) -> set[str]:
    rows = session.execute("SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s", (ks,))
    return {r["table_name"] for r in rows}


def _start_and_wait(env: Env, keyspace: str, script: Path, start_node: str) -> subprocess.CompletedProcess[str]:
    return env.cli(
        "run", "start", "--keyspace", keyspace, "--script", str(script), "--start-nodes", start_node,
        "--wait", "--timeout", "120",
    )  # fmt: skip


def test_second_run_reads_first_runs_table(
    env: Env, worker: subprocess.Popen[bytes], session: Session, keyspace: str, tmp_path: Path
) -> None:
    script = write_pipeline(tmp_path, calc_manual=True)
    first = _start_and_wait(env, keyspace, script, "read")
    assert first.returncode == 0, first.stderr
    assert keyspace_exists(session, keyspace)
    assert "calc" not in first.stdout  # manual: not affected by run 1
    assert not (tmp_path / "out").exists()

    second = _start_and_wait(env, keyspace, script, "calc")
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines()[0] == "2"
    tables = _tables(session, keyspace)
    assert {"items_00001", "totals_00002"} <= tables
    assert "items_00002" not in tables and "totals_00001" not in tables
    assert count_rows(session, keyspace, "totals_00002") == 4
    assert (tmp_path / "out" / "totals_00000.csv").read_bytes() == EXPECTED_OUTPUT


def test_downstream_run_without_upstream_run_fails_with_a_recorded_reason(
    env: Env, worker: subprocess.Popen[bytes], keyspace: str, tmp_path: Path
) -> None:
    script = write_pipeline(tmp_path, calc_manual=True)
    done = _start_and_wait(env, keyspace, script, "calc")
    assert done.returncode == 1
    assert "dependency node(s) read were not affected by any run" in done.stderr
