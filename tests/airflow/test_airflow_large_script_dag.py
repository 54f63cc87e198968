"""The 100-node script of bench/bench_dag_parse.py builds the DAG it describes; how fast is the benchmark's concern
(timing assertions live in bench/ only: on a shared CI machine wall-clock budgets fail for reasons of their own)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pendulum

from capillaries_provider import CapillariesDag

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_dag_parse.py"


def test_hundred_node_script_builds_one_task_per_node_wired_like_the_script(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("bench_dag_parse", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    path = tmp_path / "script.json"
    path.write_text(json.dumps(bench.generated_script(100)))

    dag = CapillariesDag(
        dag_id="shape", script_path=str(path), keyspace="k", start_date=pendulum.datetime(2026, 1, 1, tz="UTC")
    )
    assert len(dag.tasks) == 102
    assert dag.get_task("n099").upstream_task_ids == {"n049"}
    assert dag.max_active_tasks == 100
