"""Pure workflow decisions (spec 5.3, 5.5, 5.6) without Cassandra."""

from __future__ import annotations

import datetime as dt
import socket

import pytest

from capillaries_provider.status import NodeBatchStatus, RunStatus
from capillaries_provider.store.errors import StoreError
from capillaries_provider.store.workflow import (
    BatchHistoryEvent,
    BatchRef,
    NodeHistoryEvent,
    RunHistoryEvent,
    decide_node_status,
    decide_run_completion,
    dominant_run_status,
    instance_id,
    latest_batch_event,
    latest_run_status,
    node_statuses,
)

S = NodeBatchStatus
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def at(sec: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=sec)


def batch(idx: int, status: NodeBatchStatus, sec: int, total: int = 3) -> BatchHistoryEvent:
    return BatchHistoryEvent(at(sec), BatchRef(1, "n", idx, total, idx, idx), status, "i", 1, "")


def test_all_batches_success_gives_success() -> None:
    events = [batch(i, S.START, i) for i in range(3)] + [batch(i, S.SUCCESS, 10 + i) for i in range(3)]
    assert decide_node_status(events) == S.SUCCESS


def test_any_fail_gives_fail_even_with_stop() -> None:
    events = [batch(0, S.SUCCESS, 1), batch(1, S.STOPRECEIVED, 2), batch(2, S.FAIL, 3)]
    assert decide_node_status(events) == S.FAIL


def test_stop_without_fail_gives_stopreceived() -> None:
    events = [batch(0, S.SUCCESS, 1), batch(1, S.STOPRECEIVED, 2), batch(2, S.SUCCESS, 3)]
    assert decide_node_status(events) == S.STOPRECEIVED


def test_partial_gives_nothing() -> None:
    assert decide_node_status([batch(0, S.SUCCESS, 1), batch(1, S.SUCCESS, 2), batch(2, S.START, 3)]) is None
    assert decide_node_status([batch(0, S.SUCCESS, 1), batch(1, S.SUCCESS, 2)]) is None
    assert decide_node_status([]) is None


def test_a_batch_with_start_after_success_still_counts_as_finished() -> None:
    # "finished" = any terminal row exists for the batch (spec 5.6), regardless of later start rows.
    events = [batch(0, S.SUCCESS, 1, total=1), batch(0, S.START, 5, total=1)]
    assert decide_node_status(events) == S.SUCCESS


def test_batches_total_disagreement_is_an_error() -> None:
    with pytest.raises(StoreError, match="batches_total"):
        decide_node_status([batch(0, S.SUCCESS, 1, total=3), batch(1, S.SUCCESS, 2, total=4)])


def test_run_completion() -> None:
    assert decide_run_completion(["b", "a"], {"a": S.SUCCESS, "b": S.FAIL}) == '{"a":"success","b":"fail"}'
    assert decide_run_completion(["a"], {"a": S.SUCCESS}) == '{"a":"success"}'
    assert decide_run_completion(["a", "b"], {"a": S.SUCCESS}) is None  # b none
    assert decide_run_completion(["a", "b"], {"a": S.SUCCESS, "b": S.START}) is None
    assert decide_run_completion(["a", "b"], {"a": S.SUCCESS, "b": S.STOPRECEIVED}) is None
    assert decide_run_completion([], {}) is None


def test_run_status_latest_vs_dominant() -> None:
    events = [RunHistoryEvent(at(1), 1, RunStatus.START, ""), RunHistoryEvent(at(3), 1, RunStatus.STOP, "")]
    events.append(RunHistoryEvent(at(5), 1, RunStatus.COMPLETE, ""))
    assert latest_run_status(events) == RunStatus.COMPLETE
    assert dominant_run_status(events) == RunStatus.STOP
    assert dominant_run_status(events[:1]) == RunStatus.START
    assert latest_run_status([]) == RunStatus.NONE
    assert dominant_run_status([]) == RunStatus.NONE


def node(sec: int, status: NodeBatchStatus, by: int = 0, run: int = 1, name: str = "n") -> NodeHistoryEvent:
    return NodeHistoryEvent(at(sec), run, name, by, status, "")


def test_node_status_latest_event_wins() -> None:
    events = [node(1, S.START, 0), node(2, S.START, 1), node(5, S.SUCCESS, 1), node(3, S.SUCCESS, 0)]
    assert node_statuses(events) == {(1, "n"): S.SUCCESS}
    # A batch restarted after the node succeeded: the earliest start is kept, so success still wins.
    assert node_statuses(events + [node(9, S.START, 2)]) == {(1, "n"): S.SUCCESS}
    # Fail written after success wins.
    assert node_statuses(events + [node(9, S.FAIL, 2)]) == {(1, "n"): S.FAIL}


def test_node_status_stopreceived_is_sticky() -> None:
    events = [node(1, S.START), node(2, S.STOPRECEIVED, 1), node(3, S.SUCCESS, 2)]
    assert node_statuses(events) == {(1, "n"): S.STOPRECEIVED}


def test_node_status_per_run_and_node() -> None:
    events = [node(1, S.START, run=1), node(2, S.SUCCESS, run=2), node(3, S.START, name="m")]
    assert node_statuses(events) == {(1, "n"): S.START, (2, "n"): S.SUCCESS, (1, "m"): S.START}


def test_latest_batch_event() -> None:
    events = [batch(0, S.START, 1), batch(0, S.FAIL, 4), batch(0, S.SUCCESS, 2)]
    assert latest_batch_event(events) == events[1]
    assert latest_batch_event([]) is None


def test_instance_id_format() -> None:
    started = dt.datetime(2026, 3, 4, 5, 6, 7, 89000, tzinfo=dt.UTC)
    assert instance_id("capi_daemon", started) == f"{socket.gethostname()}/capi_daemon/03-04T05:06:07.089"
