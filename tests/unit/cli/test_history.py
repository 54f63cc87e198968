"""History rows and renderings of `capillaries run history` (pure; the Cassandra side is in tests/integration)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from capillaries_provider.cli.history import (
    BATCH_COLUMNS,
    NODE_COLUMNS,
    RUN_COLUMNS,
    batch_rows,
    node_rows,
    render,
    run_rows,
    toolbelt_ts,
)
from capillaries_provider.cli.main import build_parser
from capillaries_provider.store.workflow import (
    BatchHistoryEvent,
    BatchRef,
    NodeBatchStatus,
    NodeHistoryEvent,
    RunHistoryEvent,
    RunStatus,
    distinct_node_events,
)

T0 = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_toolbelt_timestamp() -> None:
    assert toolbelt_ts(T0) == "2026-01-02T03:04:05.678+0000"


def test_run_rows_csv_replaces_commas_in_comments() -> None:
    rows = run_rows([RunHistoryEvent(T0, 1, RunStatus.COMPLETE, '{"a":"success","b":"success"}')])
    assert render(rows, RUN_COLUMNS, "csv") == (
        'ts,run_id,status,comment\n2026-01-02T03:04:05.678+0000,1,complete,{"a":"success";"b":"success"}\n'
    )


def test_node_history_keeps_first_start_and_last_finish_per_node() -> None:
    events = [
        NodeHistoryEvent(at(0), 1, "read", 0, NodeBatchStatus.START, ""),
        NodeHistoryEvent(at(1), 1, "read", 1, NodeBatchStatus.START, ""),
        NodeHistoryEvent(at(2), 1, "read", 1, NodeBatchStatus.SUCCESS, "all 2 batches finished: 2 success"),
        NodeHistoryEvent(at(3), 1, "read", 0, NodeBatchStatus.SUCCESS, "all 2 batches finished: 2 success"),
    ]
    rows = node_rows(distinct_node_events(events))
    assert [(r["written_by_batch_idx"], r["status"]) for r in rows] == [(0, "start"), (0, "success")]
    assert json.loads(render(rows, NODE_COLUMNS, "json"))[1]["comment"] == "all 2 batches finished: 2 success"


def test_batch_rows_table_is_aligned_with_a_header() -> None:
    ref = BatchRef(2, "calc", 0, 1, -9223372036854775808, 9223372036854775807)
    rows = batch_rows(
        [
            BatchHistoryEvent(at(0), ref, NodeBatchStatus.START, "host/capi_worker/01-02T03:04:05.000", 7, ""),
            BatchHistoryEvent(at(1), ref, NodeBatchStatus.FAIL, "host/capi_worker/01-02T03:04:05.000", 7, "boom"),
        ]
    )
    lines = render(rows, BATCH_COLUMNS, "table").splitlines()
    assert lines[0].split() == list(BATCH_COLUMNS)
    assert lines[2].split()[1:6] == ["2", "calc", "0", "1", "fail"]
    assert lines[2].endswith("  boom")
    assert len({line.index("calc") for line in lines[1:]}) == 1
    assert render(rows, BATCH_COLUMNS, "csv").splitlines()[0] == ",".join(BATCH_COLUMNS)
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        render(rows, BATCH_COLUMNS, "xml")


def test_history_arguments() -> None:
    args = build_parser().parse_args(["run", "history", "--keyspace", "k", "--run-id", "2", "--node", "n"])
    assert (args.run_ids, args.node, args.format) == ([2], "n", "table")
    assert build_parser().parse_args(["run", "history", "--keyspace", "k"]).run_ids is None
