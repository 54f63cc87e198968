"""Dependency-policy evaluation (spec 5.5) with the standard policy shipped in every sample script (spec 1.11)."""

from __future__ import annotations

import json

import pytest

from capillaries_provider.script.loader import load_script_text
from capillaries_provider.script.model import DependencyCmd, DependencyPolicy
from capillaries_provider.script.policy import (
    NODE_FAIL,
    NODE_NONE,
    NODE_START,
    NODE_SUCCESS,
    RUN_COMPLETE,
    RUN_NONE,
    RUN_START,
    RUN_STOP,
    NodeRunStatus,
    PolicyChecker,
    PolicyDecision,
    combine,
)

CUR, OTHER = "nrs.run_is_current == true", "nrs.run_is_current == false"
START_OR_NONE = "(nrs.run_status == wfmodel.RunStart || nrs.run_status == wfmodel.RunNone)"
STANDARD_RULES = [
    ("go", f"{CUR} && nrs.run_status == wfmodel.RunStart && nrs.node_status == wfmodel.NodeBatchSuccess"),
    ("wait", f"{CUR} && {START_OR_NONE} && nrs.node_status == wfmodel.NodeBatchNone"),
    ("wait", f"{CUR} && {START_OR_NONE} && nrs.node_status == wfmodel.NodeBatchStart"),
    ("nogo", f"{CUR} && nrs.run_status == wfmodel.RunStart && nrs.node_status == wfmodel.NodeBatchFail"),
    ("go", f"{OTHER} && nrs.run_status == wfmodel.RunStart && nrs.node_status == wfmodel.NodeBatchSuccess"),
    ("wait", f"{OTHER} && {START_OR_NONE} && nrs.node_status == wfmodel.NodeBatchNone"),
    ("wait", f"{OTHER} && {START_OR_NONE} && nrs.node_status == wfmodel.NodeBatchStart"),
    ("go", f"{OTHER} && nrs.run_status == wfmodel.RunComplete && nrs.node_status == wfmodel.NodeBatchSuccess"),
    ("nogo", f"{OTHER} && nrs.run_status == wfmodel.RunComplete && nrs.node_status == wfmodel.NodeBatchFail"),
    ("nogo", f"{OTHER} && nrs.run_status == wfmodel.RunStop"),
]


def _policy(order: str = "run_is_current(desc), run_id(desc)") -> DependencyPolicy:
    doc = {
        "nodes": {
            "a": {
                "type": "file_table",
                "r": {"urls": ["x.csv"], "columns": {"c": {"col_type": "int"}}},
                "w": {"name": "t", "fields": {"c": {"expression": "r.c", "type": "int"}}},
            }
        },
        "dependency_policies": {
            "std": {
                "is_default": True,
                "event_priority_order": order,
                "rules": [{"cmd": c, "expression": e} for c, e in STANDARD_RULES],
            }
        },
    }
    return load_script_text(json.dumps(doc), fmt="json").default_policy


@pytest.fixture(scope="module")
def checker() -> PolicyChecker:
    return PolicyChecker(_policy())


def cur(run_id: int, run_status: int, node_status: int) -> NodeRunStatus:
    return NodeRunStatus(run_id, True, run_status, node_status)


def old(run_id: int, run_status: int, node_status: int) -> NodeRunStatus:
    return NodeRunStatus(run_id, False, run_status, node_status)


GO, WAIT, NOGO = DependencyCmd.GO, DependencyCmd.WAIT, DependencyCmd.NOGO


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        # dependency affected in the current run: its state in this run decides
        ([old(1, RUN_COMPLETE, NODE_SUCCESS), cur(2, RUN_START, NODE_SUCCESS)], (GO, 2)),
        ([old(1, RUN_COMPLETE, NODE_SUCCESS), cur(2, RUN_START, NODE_NONE)], (WAIT, 2)),
        ([cur(2, RUN_NONE, NODE_START)], (WAIT, 2)),
        ([old(1, RUN_COMPLETE, NODE_SUCCESS), cur(2, RUN_START, NODE_FAIL)], (NOGO, 2)),
        # not affected now: the most recent other run decides, no fallback to older ones
        ([old(1, RUN_COMPLETE, NODE_SUCCESS), old(2, RUN_COMPLETE, NODE_SUCCESS)], (GO, 2)),
        ([old(1, RUN_COMPLETE, NODE_SUCCESS), old(2, RUN_COMPLETE, NODE_FAIL)], (NOGO, 2)),
        ([old(1, RUN_COMPLETE, NODE_SUCCESS), old(2, RUN_STOP, NODE_SUCCESS)], (NOGO, 2)),
        ([old(1, RUN_COMPLETE, NODE_SUCCESS), old(2, RUN_START, NODE_START)], (WAIT, 2)),
        ([old(1, RUN_COMPLETE, NODE_SUCCESS), old(2, RUN_START, NODE_SUCCESS)], (GO, 2)),
        # a newer run (id 5 > current 3) that re-ran the dependency comes before older ones
        ([old(1, RUN_COMPLETE, NODE_SUCCESS), old(5, RUN_START, NODE_NONE)], (WAIT, 5)),
        # an entry matching no rule (node none in a completed run) is skipped
        ([old(1, RUN_COMPLETE, NODE_SUCCESS), old(2, RUN_COMPLETE, NODE_NONE)], (GO, 1)),
    ],
)
def test_standard_policy(checker: PolicyChecker, entries: list[NodeRunStatus], expected: tuple) -> None:
    d = checker.decide(entries)
    assert (d.cmd, d.run_id) == expected and d.matched


def test_no_rule_matches_waits_on_first_entry(checker: PolicyChecker) -> None:
    d = checker.decide([old(1, RUN_COMPLETE, NODE_NONE), old(3, RUN_COMPLETE, NODE_START)])
    assert d == PolicyDecision(WAIT, 3, matched=False)


def test_no_entries_is_an_error(checker: PolicyChecker) -> None:
    with pytest.raises(ValueError, match="not affected by any run"):
        checker.decide([])


def test_event_priority_order_changes_the_winner() -> None:
    # ascending run id: the oldest run is considered first
    asc = PolicyChecker(_policy("run_id"))
    d = asc.decide([old(2, RUN_COMPLETE, NODE_FAIL), old(1, RUN_COMPLETE, NODE_SUCCESS)])
    assert (d.cmd, d.run_id) == (GO, 1)


def test_sort_key_orders_current_first_then_newest(checker: PolicyChecker) -> None:
    entries = [old(1, 0, 0), old(10, 0, 0), cur(3, 0, 0), old(2, 0, 0)]
    assert [e.run_id for e in sorted(entries, key=checker.sort_key)] == [3, 10, 2, 1]


def test_combine() -> None:
    go, wait, nogo = PolicyDecision(GO, 1), PolicyDecision(WAIT, 1), PolicyDecision(NOGO, 1)
    assert combine([]) is GO
    assert combine([go, go]) is GO
    assert combine([go, wait]) is WAIT
    assert combine([wait, nogo]) is NOGO
