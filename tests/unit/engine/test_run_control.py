"""Run start/stop and the self-driving enqueue rule, over the in-memory backend."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from batch_fakes import KS, FakeBackend, csv_int_reader, int_fields, make_script

from capillaries_provider.engine.dependency import decide
from capillaries_provider.engine.ports import BatchTask, Driver, NodeRunEntry
from capillaries_provider.engine.run import ready_nodes, start_run, stop_run
from capillaries_provider.script.model import DependencyCmd, Script
from capillaries_provider.status import NodeBatchStatus, RunStatus


def script() -> Script:
    """a -> b -> d (a table_file); c (manual) also reads a."""
    out_col = {"name": "x", "type": "int", "expression": "r.x", "csv": {"header": "x", "format": "%d"}}
    return make_script(
        {
            "a": {
                "type": "file_table",
                "r": csv_int_reader(["1.csv", "2.csv", "3.csv"]),
                "w": {"name": "ta", "fields": int_fields(x="r.c")},
            },
            "b": {
                "type": "table_table",
                "r": {"table": "ta", "expected_batches_total": 4},
                "w": {"name": "tb", "fields": int_fields(x="r.x")},
            },
            "c": {
                "type": "table_table",
                "start_policy": "manual",
                "r": {"table": "ta"},
                "w": {"name": "tc", "fields": int_fields(x="r.x")},
            },
            "d": {
                "type": "table_file",
                "r": {"table": "tb"},
                "w": {"url_template": "out_{batch_idx}.csv", "columns": [out_col]},
            },
        }
    )


def test_ready_nodes_wait_for_affected_parents_only() -> None:
    s = script()
    affected = ("a", "b", "d")
    assert ready_nodes(s, affected, {}) == ["a"]
    assert ready_nodes(s, affected, {"a": NodeBatchStatus.START}) == ["a"]
    assert ready_nodes(s, affected, {"a": NodeBatchStatus.SUCCESS}) == ["b"]
    # A failed parent still releases the child, whose batches then record nogo.
    assert ready_nodes(s, affected, {"a": NodeBatchStatus.FAIL, "b": NodeBatchStatus.START}) == ["b"]
    assert ready_nodes(s, affected, {"a": NodeBatchStatus.SUCCESS, "b": NodeBatchStatus.SUCCESS}) == ["d"]
    # c's parent a is not affected in a run started at c: c is ready at once.
    assert ready_nodes(s, ("c",), {}) == ["c"]


def test_start_run_creates_affected_tables_and_enqueues_roots_only() -> None:
    be = FakeBackend({})
    run_id = start_run(
        be, script(), ks=KS, script_url="s.json", script_params_url="", start_nodes=["a"], description="t"
    )
    assert run_id == 1
    assert be.affected[1] == ("a", "b", "d")  # c is manual
    assert sorted(be.tables) == ["ta_00001", "tb_00001"]
    assert be.run_status(KS, 1) is RunStatus.START
    assert [(t.target_node, t.batch_idx, t.first_token, t.last_token) for t in be.published] == [
        ("a", 0, 0, 0),
        ("a", 1, 1, 1),
        ("a", 2, 2, 2),
    ]
    assert all(t.batches_total == 3 for t in be.published)


def test_run_whose_first_batches_cannot_be_sent_is_recorded_stopped() -> None:
    class BrokerDown(FakeBackend):
        def publish(self, tasks: Sequence[BatchTask]) -> None:
            raise ConnectionError("broker down")

    be = BrokerDown({})
    with pytest.raises(ConnectionError):
        start_run(be, script(), ks=KS, script_url="s.json", script_params_url="", start_nodes=["a"], description="")
    assert be.run_status(KS, 1) is RunStatus.STOP
    assert "could not enqueue the first batches: broker down" in be.run_history(1)[-1].comment


def test_airflow_driven_run_enqueues_nothing_at_start() -> None:
    be = FakeBackend({})
    start_run(
        be,
        script(),
        ks=KS,
        script_url="s.json",
        script_params_url="",
        start_nodes=["a"],
        description="t",
        driver=Driver.AIRFLOW,
    )
    assert be.published == []


def test_stop_run_records_stop() -> None:
    be = FakeBackend({1: ("a",)})
    be.set_run_status(KS, 1, RunStatus.START, "")
    stop_run(be, ks=KS, run_id=1, comment="enough")
    assert be.run_status(KS, 1) is RunStatus.STOP


def _entry(run_id: int, current: bool, run: RunStatus, node: NodeBatchStatus) -> NodeRunEntry:
    return NodeRunEntry(run_id, current, run, node)


def test_standard_policy_prefers_current_run_then_newest_other_run() -> None:
    s = script()
    b = s.nodes["b"]
    # Current run 3 has a succeeded: read run 3's table even though run 2 also succeeded.
    entries = {
        "a": [
            _entry(2, False, RunStatus.COMPLETE, NodeBatchStatus.SUCCESS),
            _entry(3, True, RunStatus.START, NodeBatchStatus.SUCCESS),
        ]
    }
    d = decide(s, b, entries)
    assert (d.cmd, d.reader_run_id) == (DependencyCmd.GO, 3)
    # Not affected in the current run: the newest other run decides (2 over 1).
    entries = {
        "a": [
            _entry(1, False, RunStatus.COMPLETE, NodeBatchStatus.SUCCESS),
            _entry(2, False, RunStatus.COMPLETE, NodeBatchStatus.SUCCESS),
        ]
    }
    assert (decide(s, b, entries).cmd, decide(s, b, entries).reader_run_id) == (DependencyCmd.GO, 2)
    # The newest other run was stopped: nogo, no fallback to run 1 (spec 5.5).
    entries["a"].append(_entry(4, False, RunStatus.STOP, NodeBatchStatus.SUCCESS))
    assert decide(s, b, entries).cmd is DependencyCmd.NOGO
    # A completed run where the node never ran matches no rule and is skipped.
    entries = {
        "a": [
            _entry(1, False, RunStatus.COMPLETE, NodeBatchStatus.SUCCESS),
            _entry(2, False, RunStatus.COMPLETE, NodeBatchStatus.NONE),
        ]
    }
    assert (decide(s, b, entries).cmd, decide(s, b, entries).reader_run_id) == (DependencyCmd.GO, 1)


def test_file_node_always_goes_with_run_ids_zero() -> None:
    s = script()
    d = decide(s, s.nodes["a"], {})
    assert (d.cmd, d.reader_run_id, d.lookup_run_id) == (DependencyCmd.GO, 0, 0)
