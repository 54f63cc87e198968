"""Run, node and batch history as `capillaries run history` prints it (Go's get_run/node/batch_history, spec 8.2).

Rows carry every column of the `wf_*` table (Go's node and batch CSV headers name columns its rows lack, quirk
Q14; here header and rows agree), statuses by name, timestamps in the toolbelt's `2006-01-02T15:04:05.000-0700`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence

from capillaries_provider.store.workflow import BatchHistoryEvent, NodeHistoryEvent, RunHistoryEvent

Row = dict[str, str | int]

RUN_COLUMNS: tuple[str, ...] = ("ts", "run_id", "status", "comment")
NODE_COLUMNS: tuple[str, ...] = ("ts", "run_id", "script_node", "written_by_batch_idx", "status", "comment")
BATCH_COLUMNS: tuple[str, ...] = (
    "ts",
    "run_id",
    "script_node",
    "batch_idx",
    "batches_total",
    "status",
    "first_token",
    "last_token",
    "instance",
    "thread",
    "comment",
)
FORMATS = ("table", "csv", "json")


def toolbelt_ts(ts: dt.datetime) -> str:
    """Go's `LogTsFormatUnquoted`: milliseconds and a numeric zone."""
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}" + ts.strftime("%z")


def run_rows(events: Iterable[RunHistoryEvent]) -> list[Row]:
    return [
        {"ts": toolbelt_ts(e.ts), "run_id": e.run_id, "status": e.status.name.lower(), "comment": e.comment}
        for e in events
    ]


def node_rows(events: Iterable[NodeHistoryEvent]) -> list[Row]:
    return [
        {
            "ts": toolbelt_ts(e.ts),
            "run_id": e.run_id,
            "script_node": e.script_node,
            "written_by_batch_idx": e.written_by_batch_idx,
            "status": e.status.label,
            "comment": e.comment,
        }
        for e in events
    ]


def batch_rows(events: Iterable[BatchHistoryEvent]) -> list[Row]:
    return [
        {
            "ts": toolbelt_ts(e.ts),
            "run_id": e.batch.run_id,
            "script_node": e.batch.script_node,
            "batch_idx": e.batch.batch_idx,
            "batches_total": e.batch.batches_total,
            "status": e.status.label,
            "first_token": e.batch.first_token,
            "last_token": e.batch.last_token,
            "instance": e.instance,
            "thread": e.thread,
            "comment": e.comment,
        }
        for e in events
    ]


def _csv_cell(value: str | int) -> str:
    # Go prints fields unquoted, commas in comments turned into ';'; a line break would split the row.
    return str(value).replace(",", ";").replace("\n", " ")


def render(rows: Sequence[Row], columns: Sequence[str], fmt: str) -> str:
    """`json`: a list of objects; `csv`: the toolbelt's unquoted CSV (commas in comments become ';');
    `table`: aligned columns for reading, the last column (comment) unpadded."""
    if fmt == "json":
        return json.dumps(list(rows), indent=1) + "\n"
    if fmt == "csv":
        lines = [",".join(columns)]
        lines += [",".join(_csv_cell(r[c]) for c in columns) for r in rows]
        return "".join(line + "\n" for line in lines)
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}, expected one of: {', '.join(FORMATS)}")
    cells = [list(columns)] + [[str(r[c]) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns) - 1)]
    padded = ("  ".join([*(v.ljust(w) for v, w in zip(line, widths, strict=False)), line[-1]]) for line in cells)
    return "".join(line.rstrip() + "\n" for line in padded)
