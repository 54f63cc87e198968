"""Time to load and validate a generated 100-node script (target: < 0.3 s, median of 5 runs).

Run: `.venv/bin/python bench/bench_script_load.py [nodes]`. The script mixes every node type the way real
scripts do: file readers, table-to-table steps with arithmetic, grouped lookups with aggregates, distinct
tables and file writers, each with several fields and indexes, so that parsing, type checking and cross-node
validation are all exercised.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any

from capillaries_provider.script.loader import load_script_text

TARGET_SECONDS = 0.3
POLICY = {
    "std": {
        "is_default": True,
        "event_priority_order": "run_is_current(desc), run_id(desc)",
        "rules": [
            {
                "cmd": "go",
                "expression": "nrs.run_is_current == true && nrs.run_status == wfmodel.RunStart && "
                "nrs.node_status == wfmodel.NodeBatchSuccess",
            },
            {"cmd": "nogo", "expression": "nrs.run_is_current == false && nrs.run_status == wfmodel.RunStop"},
        ],
    }
}
FIELDS = {
    "id": ("int", "r.id"),
    "name": ("string", 'strings.ReplaceAll(r.name, "a", "b") + "_x"'),
    "amount": ("decimal2", "r.amount * decimal2(1.1) + r.amount"),
    "ratio": ("float", "math.Round(float(r.amount) / 3.0 * 100) / 100"),
    "ts": ("datetime", "r.ts"),
    "flag": ("bool", "r.id > 10 && len(r.name) > 0"),
}


def _writer(table: str) -> dict[str, Any]:
    return {
        "name": table,
        "having": "w.id >= 0 && w.flag == true",
        "fields": {f: {"expression": e, "type": t} for f, (t, e) in FIELDS.items()},
        "indexes": {f"idx_{table}_name_to_check_uniq": "unique(name(32), id)"},
    }


def generate(n_nodes: int) -> dict[str, Any]:
    """A script of `n_nodes` nodes in chains of 5: file -> table -> lookup (grouped) -> distinct -> file."""
    nodes: dict[str, Any] = {}
    for chain in range(n_nodes // 5):
        t = f"c{chain}"
        cols = {
            "id": ("int", {"col_hdr": "id", "col_format": "%d"}),
            "name": ("string", {"col_hdr": "name"}),
            "amount": ("decimal2", {"col_hdr": "amount", "col_format": "%f"}),
            "ts": ("datetime", {"col_hdr": "ts", "col_format": "2006-01-02 15:04:05"}),
        }
        reader_fields = {
            "id": ("int", "r.id"),
            "name": ("string", "r.name"),
            "amount": ("decimal2", "r.amount"),
            "ratio": ("float", "float(r.amount)"),
            "ts": ("datetime", "r.ts"),
            "flag": ("bool", "r.id > 0"),
        }
        w = _writer(f"{t}_in")
        w["fields"] = {f: {"expression": e, "type": ty} for f, (ty, e) in reader_fields.items()}
        w["indexes"] = {f"idx_{t}_in_id": "non_unique(id)"}
        nodes[f"{t}_read"] = {
            "type": "file_table",
            "r": {
                "urls": [f"{{dir_in}}/{t}_{i}.csv" for i in range(3)],
                "csv": {"hdr_line_idx": 0, "first_data_line_idx": 1},
                "columns": {f"{c}": {"col_type": ty, "csv": csv} for c, (ty, csv) in cols.items()},
            },
            "w": w,
        }
        nodes[f"{t}_calc"] = {"type": "table_table", "r": {"table": f"{t}_in", "expected_batches_total": 10}}
        nodes[f"{t}_calc"]["w"] = _writer(f"{t}_calc")
        nodes[f"{t}_join"] = {
            "type": "table_lookup_table",
            "r": {"table": f"{t}_calc", "expected_batches_total": 10},
            "l": {"index_name": f"idx_{t}_in_id", "join_on": "r.id", "group": True, "join_type": "left"},
            "w": {
                "name": f"{t}_join",
                "fields": {
                    "id": {"expression": "r.id", "type": "int"},
                    "total": {"expression": "sum(l.amount)", "type": "decimal2"},
                    "n": {"expression": "count_if(l.flag)", "type": "int"},
                    "names": {"expression": 'string_agg(l.name, ",")', "type": "string"},
                },
            },
        }
        nodes[f"{t}_distinct"] = {
            "type": "distinct_table",
            "rerun_policy": "fail",
            "r": {"table": f"{t}_calc"},
            "w": {
                "name": f"{t}_distinct",
                "fields": {"name": {"expression": "r.name", "type": "string"}},
                "indexes": {f"idx_{t}_distinct_name": "unique(name)"},
            },
        }
        nodes[f"{t}_file"] = {
            "type": "table_file",
            "r": {"table": f"{t}_join"},
            "w": {
                "url_template": f"{{dir_out}}/{t}_{{batch_idx}}.csv",
                "top": {"order": "total(desc), id"},
                "having": "w.total > 0",
                "columns": [
                    {"name": "id", "expression": "r.id", "type": "int", "csv": {"header": "id", "format": "%d"}},
                    {
                        "name": "total",
                        "expression": "r.total",
                        "type": "decimal2",
                        "csv": {"header": "t", "format": "%s"},
                    },
                    {
                        "name": "names",
                        "expression": "r.names",
                        "type": "string",
                        "csv": {"header": "n", "format": "%s"},
                    },
                ],
            },
        }
    return {"nodes": nodes, "dependency_policies": POLICY}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    text = json.dumps(generate(n), indent=2)
    params = {"dir_in": "/data/in", "dir_out": "/data/out"}
    times = []
    script = None
    for _ in range(5):
        t0 = time.perf_counter()
        script = load_script_text(text, fmt="json", params=params)
        times.append(time.perf_counter() - t0)
    assert script is not None
    med = statistics.median(times)
    print(
        f"{len(script.nodes)} nodes, {len(text) // 1024} KiB: load+validate median {med * 1000:.1f} ms "
        f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}); target < {TARGET_SECONDS * 1000:.0f} ms: "
        f"{'OK' if med < TARGET_SECONDS else 'SLOW'}"
    )


if __name__ == "__main__":
    main()
