"""Parse time of a Capillaries DAG: load + validate a generated 100-node script and build its Airflow DAG.

Run: `.venv/bin/python bench/bench_dag_parse.py [nodes]`. What the dag-processor pays per DAG file parse, without
the one-time `import airflow` cost: the script load (cache cleared each round) plus the DAG build, median of 5.
Exit code 1 when the median exceeds the 1 s budget; `make bench` runs it with the other micro benchmarks. The
budget is checked here only: tests assert behaviour (`tests/airflow/test_airflow_large_script_dag.py`), not time.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BUDGET_S = 1.0
POLICY = {
    "default": {
        "is_default": True,
        "event_priority_order": "run_is_current(desc), run_id(desc)",
        "rules": [
            {"cmd": "go", "expression": "nrs.run_is_current == true && nrs.node_status == wfmodel.NodeBatchSuccess"},
            {"cmd": "wait", "expression": "nrs.run_is_current == true && nrs.node_status == wfmodel.NodeBatchStart"},
        ],
    }
}


def generated_script(nodes: int) -> dict[str, Any]:
    """One file reader feeding a binary tree of table_table nodes: every node but the root has one parent."""
    out: dict[str, Any] = {
        "n000": {
            "type": "file_table",
            "desc": "read the input",
            "r": {
                "urls": ["/data/in.csv"],
                "csv": {"hdr_line_idx": 0, "first_data_line_idx": 1},
                "columns": {
                    "col_id": {"csv": {"col_hdr": "id", "col_format": "%d"}, "col_type": "int"},
                    "col_v": {"csv": {"col_hdr": "v", "col_format": "%f"}, "col_type": "decimal2"},
                },
            },
            "w": {
                "name": "t000",
                "fields": {
                    "id": {"expression": "r.col_id", "type": "int"},
                    "v": {"expression": "r.col_v", "type": "decimal2"},
                },
            },
        }
    }
    for i in range(1, nodes):
        parent = (i - 1) // 2
        out[f"n{i:03d}"] = {
            "type": "table_table",
            "desc": f"step {i}",
            "r": {"table": f"t{parent:03d}", "expected_batches_total": 4},
            "w": {
                "name": f"t{i:03d}",
                "having": "w.v > decimal2(0)",
                "fields": {
                    "id": {"expression": "r.id + 1", "type": "int"},
                    "v": {"expression": "r.v * decimal2(1.01)", "type": "decimal2"},
                },
            },
        }
    return {"nodes": out, "dependency_policies": POLICY}


def parse_seconds(script_path: Path, rounds: int = 5) -> list[float]:
    """Wall seconds of load + build per round, with the script cache cleared before each round."""
    import pendulum

    from capillaries_provider import CapillariesDag
    from capillaries_provider.operators import script_cache

    times = []
    for i in range(rounds):
        script_cache._CACHE.clear()
        started = time.perf_counter()
        CapillariesDag(
            dag_id=f"bench_{i}",
            script_path=str(script_path),
            keyspace="bench",
            schedule=None,
            start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        )
        times.append(time.perf_counter() - started)
    return times


def main() -> int:
    nodes = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "script.json"
        path.write_text(json.dumps(generated_script(nodes)))
        import_started = time.perf_counter()
        import capillaries_provider.dag  # noqa: F401  (one-time Airflow import, reported separately)

        import_s = time.perf_counter() - import_started
        times = parse_seconds(path)
    median = statistics.median(times)
    print(f"{nodes} nodes: parse+build median {median:.3f} s (min {min(times):.3f}, max {max(times):.3f});")
    print(f"first import of airflow + provider {import_s:.1f} s (once per process)")
    return 0 if median < BUDGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
