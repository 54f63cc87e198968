"""A 100-node script parses into a DAG in under a second (the dag-processor re-parses every file every 30 s)."""

from __future__ import annotations

import importlib.util
import json
import statistics
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_dag_parse.py"


def test_hundred_node_script_parses_and_builds_in_under_a_second(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("bench_dag_parse", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    path = tmp_path / "script.json"
    path.write_text(json.dumps(bench.generated_script(100)))
    times = bench.parse_seconds(path, rounds=3)
    assert statistics.median(times) < bench.BUDGET_S


def test_generated_script_has_the_requested_shape(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("bench_dag_parse", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    path = tmp_path / "script.json"
    path.write_text(json.dumps(bench.generated_script(100)))

    import pendulum

    from capillaries_provider import CapillariesDag

    dag = CapillariesDag(
        dag_id="shape", script_path=str(path), keyspace="k", start_date=pendulum.datetime(2026, 1, 1, tz="UTC")
    )
    assert len(dag.tasks) == 102
    assert dag.get_task("n099").upstream_task_ids == {"n049"}
    assert dag.max_active_tasks == 100
