"""The multi-node script of the fault suite, its generated inputs and the Python oracle of its outputs.

read (file_table, one batch per input file, unique index) -> calc (table_table, many token-range batches) ->
out (table_file, one CSV per batch); read -> dump (table_file). Small batches and a short grace period make a
run long enough to be hit by faults and let redelivered batches be redone quickly.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

FILES = 20
ROWS_PER_FILE = 250
CALC_BATCHES = 12
OUT_BATCHES = 3
GRACE_MS = 4000

_CUR = "nrs.run_is_current == true"
_SN = "(nrs.run_status == wfmodel.RunStart || nrs.run_status == wfmodel.RunNone)"
STANDARD_POLICY = {
    "is_default": True,
    "event_priority_order": "run_is_current(desc), run_id(desc)",
    "rules": [
        {"cmd": c, "expression": e}
        for c, e in [
            ("go", f"{_CUR} && nrs.run_status == wfmodel.RunStart && nrs.node_status == wfmodel.NodeBatchSuccess"),
            ("wait", f"{_CUR} && {_SN} && nrs.node_status == wfmodel.NodeBatchNone"),
            ("wait", f"{_CUR} && {_SN} && nrs.node_status == wfmodel.NodeBatchStart"),
            ("nogo", f"{_CUR} && nrs.run_status == wfmodel.RunStart && nrs.node_status == wfmodel.NodeBatchFail"),
            ("nogo", "nrs.run_is_current == false && nrs.run_status == wfmodel.RunStop"),
        ]
    ],
}


def row(i: int) -> tuple[int, str, int, Decimal]:
    """Input row i: id, name, qty, price (prices have two decimals, so products need no rounding)."""
    return i, f"item{i:05d}", i % 7 + 1, Decimal(i % 1000) / 100 + Decimal("0.05")


def write_inputs(folder: Path, files: int = FILES) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    urls = []
    for f in range(files):
        lines = ["id,name,qty,price"]
        for i in range(f * ROWS_PER_FILE, (f + 1) * ROWS_PER_FILE):
            rid, name, qty, price = row(i)
            lines.append(f"{rid},{name},{qty},{price}")
        path = folder / f"in_{f}.csv"
        path.write_text("\n".join(lines) + "\n")
        urls.append(str(path))
    return urls


def expected_totals() -> list[str]:
    """Oracle for the `out` files: `id,label,total` data lines, sorted (Go: decimal2 CSV cells are StringFixed(2))."""
    lines = []
    for i in range(FILES * ROWS_PER_FILE):
        rid, name, qty, price = row(i)
        lines.append(f"{rid},{name}-{qty},{price * qty:.2f}")
    return sorted(lines)


def _column(name: str, type_: str, fmt: str) -> dict[str, Any]:
    return {"name": name, "expression": f"r.{name}", "type": type_, "csv": {"header": name, "format": fmt}}


def script_doc(urls: list[str], out: Path) -> dict[str, Any]:
    columns = {
        "col_id": {"col_type": "int", "csv": {"col_hdr": "id", "col_format": "%d"}},
        "col_name": {"col_type": "string", "csv": {"col_hdr": "name"}},
        "col_qty": {"col_type": "int", "csv": {"col_hdr": "qty"}},
        "col_price": {"col_type": "decimal2", "csv": {"col_hdr": "price"}},
    }
    return {
        "nodes": {
            "read": {
                "type": "file_table",
                "max_batch_processing_time": GRACE_MS,
                "r": {"urls": urls, "csv": {"hdr_line_idx": 0, "first_data_line_idx": 1}, "columns": columns},
                "w": {
                    "name": "items",
                    "fields": {
                        "id": {"expression": "r.col_id", "type": "int"},
                        "name": {"expression": "r.col_name", "type": "string"},
                        "qty": {"expression": "r.col_qty", "type": "int"},
                        "price": {"expression": "r.col_price", "type": "decimal2"},
                    },
                    "indexes": {"idx_items_id_to_check_uniq": "unique(id)"},
                },
            },
            "calc": {
                "type": "table_table",
                "max_batch_processing_time": GRACE_MS,
                "r": {"table": "items", "expected_batches_total": CALC_BATCHES, "rowset_size": 50},
                "w": {
                    "name": "totals",
                    "fields": {
                        "id": {"expression": "r.id", "type": "int"},
                        "label": {"expression": 'fmt.Sprintf("%s-%d", r.name, r.qty)', "type": "string"},
                        "total": {"expression": "r.price * decimal2(r.qty)", "type": "decimal2"},
                    },
                },
            },
            "out": {
                "type": "table_file",
                "max_batch_processing_time": GRACE_MS,
                "r": {"table": "totals", "expected_batches_total": OUT_BATCHES},
                "w": {
                    "url_template": str(out / "totals_{batch_idx}.csv"),
                    "columns": [
                        _column("id", "int", "%d"),
                        _column("label", "string", "%s"),
                        _column("total", "decimal2", "%s"),
                    ],
                },
            },
            "dump": {
                "type": "table_file",
                "max_batch_processing_time": GRACE_MS,
                "r": {"table": "items"},
                "w": {
                    "url_template": str(out / "items_{batch_idx}.csv"),
                    "columns": [_column("id", "int", "%d"), _column("name", "string", "%s")],
                },
            },
        },
        "dependency_policies": {"std": STANDARD_POLICY},
    }


def write_script(folder: Path, out: Path, files: int = FILES) -> Path:
    """Inputs under folder/in (one batch per file), the script at folder/script.json writing into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    path = folder / "script.json"
    path.write_text(json.dumps(script_doc(write_inputs(folder / "in", files), out), indent=1))
    return path


def output_lines(out: Path, prefix: str) -> list[str]:
    """Data lines of every `<prefix>_*.csv` batch file, sorted (batch files are merged, headers checked)."""
    lines: list[str] = []
    for f in sorted(out.glob(f"{prefix}_*.csv")):
        header, *data = f.read_bytes().decode().split("\n")
        assert header.endswith("\r"), f"{f}: Go's CSV writer ends the header with CRLF"
        lines.extend(line for line in data if line)
    return sorted(lines)
