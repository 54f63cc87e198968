"""A small file_table -> table_table -> table_file script used by the engine integration tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from capillaries_provider.script.loader import load_script
from capillaries_provider.script.model import Script

INPUTS = {
    "in0.csv": "id,name,price,qty,ts\n1,apple,1.25,3,2024-01-02 03:04:05\n2,Pear,0.40,10,2024-02-03 04:05:06\n"
    "3,kiwi,2.005,1,2024-03-04 05:06:07\n",
    "in1.csv": "id,name,price,qty,ts\n4,fig,10,0,2024-04-05 06:07:08\n5,plum,3.33,2,2024-05-06 07:08:09\n",
}

# Go oracle: decimal2 cells are Round(2) half away from zero (2.005 -> 2.01); qty 0 fails `having`; totals are
# decimal products rounded to 2 places; top order total(desc); header ends CRLF, rows LF.
EXPECTED_OUTPUT = (
    b"id,label,total,day\r\n"
    b"5,plum-2,6.66,2024-05-06\n"
    b"2,Pear-10,4.00,2024-02-03\n"
    b"1,apple-3,3.75,2024-01-02\n"
    b"3,kiwi-1,2.01,2024-03-04\n"
)

_CUR = "nrs.run_is_current == true"
_OTHER = "nrs.run_is_current == false"
_START_OR_NONE = "(nrs.run_status == wfmodel.RunStart || nrs.run_status == wfmodel.RunNone)"
STANDARD_POLICY = {
    "is_default": True,
    "event_priority_order": "run_is_current(desc), run_id(desc)",
    "rules": [
        {"cmd": c, "expression": e}
        for c, e in [
            ("go", f"{_CUR} && nrs.run_status == wfmodel.RunStart && nrs.node_status == wfmodel.NodeBatchSuccess"),
            ("wait", f"{_CUR} && {_START_OR_NONE} && nrs.node_status == wfmodel.NodeBatchNone"),
            ("wait", f"{_CUR} && {_START_OR_NONE} && nrs.node_status == wfmodel.NodeBatchStart"),
            ("nogo", f"{_CUR} && nrs.run_status == wfmodel.RunStart && nrs.node_status == wfmodel.NodeBatchFail"),
            ("go", f"{_OTHER} && nrs.run_status == wfmodel.RunStart && nrs.node_status == wfmodel.NodeBatchSuccess"),
            ("wait", f"{_OTHER} && {_START_OR_NONE} && nrs.node_status == wfmodel.NodeBatchNone"),
            ("wait", f"{_OTHER} && {_START_OR_NONE} && nrs.node_status == wfmodel.NodeBatchStart"),
            ("go", f"{_OTHER} && nrs.run_status == wfmodel.RunComplete && nrs.node_status == wfmodel.NodeBatchSuccess"),
            ("nogo", f"{_OTHER} && nrs.run_status == wfmodel.RunComplete && nrs.node_status == wfmodel.NodeBatchFail"),
            ("nogo", f"{_OTHER} && nrs.run_status == wfmodel.RunStop"),
        ]
    ],
}


def _out_col(name: str, fmt: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "string" if name != "id" else "int",
        "expression": f"r.{name}",
        "csv": {"header": name, "format": fmt},
    }


def pipeline_doc(
    data_dir: Path, *, calc_manual: bool = False, urls: list[str] | None = None, read_grace_ms: int = 60000
) -> dict[str, Any]:
    """read (file_table, 2 files) -> calc (table_table, 3 batches) -> out (table_file, top by total desc)."""
    columns = {
        "id": {"col_type": "int", "csv": {"col_hdr": "id", "col_format": "%d"}},
        "name": {"col_type": "string", "csv": {"col_hdr": "name"}},
        "price": {"col_type": "decimal2", "csv": {"col_hdr": "price"}},
        "qty": {"col_type": "int", "csv": {"col_hdr": "qty"}},
        "ts": {"col_type": "datetime", "csv": {"col_hdr": "ts", "col_format": "2006-01-02 15:04:05"}},
    }
    read_fields = {
        n: {"expression": f"r.{n}", "type": t}
        for n, t in (("id", "int"), ("name", "string"), ("price", "decimal2"), ("qty", "int"), ("ts", "datetime"))
    }
    calc_fields = {
        "id": {"expression": "r.id", "type": "int"},
        "label": {"expression": 'fmt.Sprintf("%s-%d", r.name, r.qty)', "type": "string"},
        "total": {"expression": "r.price * decimal2(r.qty)", "type": "decimal2"},
        "day": {"expression": 'time.Format(r.ts, "2006-01-02")', "type": "string"},
    }
    calc: dict[str, Any] = {
        "type": "table_table",
        "r": {"table": "items", "expected_batches_total": 3, "rowset_size": 2},
        "w": {"name": "totals", "fields": calc_fields},
    }
    if calc_manual:
        calc["start_policy"] = "manual"
    out_columns = [
        _out_col("id", "%d"),
        _out_col("label", "%s"),
        {"name": "total", "type": "decimal2", "expression": "r.total", "csv": {"header": "total", "format": "%s"}},
        _out_col("day", "%s"),
    ]
    return {
        "nodes": {
            "read": {
                "type": "file_table",
                "max_batch_processing_time": read_grace_ms,
                "r": {
                    "urls": urls or [str(data_dir / name) for name in INPUTS],
                    "csv": {"hdr_line_idx": 0, "first_data_line_idx": 1},
                    "columns": columns,
                },
                "w": {
                    "name": "items",
                    "having": "w.qty > 0",
                    "fields": read_fields,
                    "indexes": {"idx_items_id_to_check_uniq": "unique(id)"},
                },
            },
            "calc": calc,
            "out": {
                "type": "table_file",
                "r": {"table": "totals"},
                "w": {
                    "url_template": str(data_dir / "out" / "totals_{batch_idx}.csv"),
                    "top": {"order": "total(desc)"},
                    "columns": out_columns,
                },
            },
        },
        "dependency_policies": {"std": STANDARD_POLICY},
    }


def write_pipeline(data_dir: Path, **kw: Any) -> Path:
    """Write the inputs and the script into `data_dir`; returns the script path."""
    for name, text in INPUTS.items():
        (data_dir / name).write_text(text)
    path = data_dir / "script.json"
    path.write_text(json.dumps(pipeline_doc(data_dir, **kw), indent=1))
    return path


def load(path: Path) -> Script:
    return load_script(str(path))
