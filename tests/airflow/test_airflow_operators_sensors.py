"""Operator and sensor decisions with fake XCom, hook and store: skipping, deferring, success and failure."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from capillaries_provider.status import RunStatus
from capillaries_provider.store.workflow import BatchHistoryEvent

RUN = {
    "keyspace": "ks",
    "run_id": 4,
    "start_nodes": ["b"],
    "affected_nodes": ["b", "c"],
    "script_path": "/s.json",
    "params_path": "",
}


class FakeTI:
    def __init__(self, data: Any) -> None:
        self.data = data
        self.pulled: list[str] = []

    def xcom_pull(self, task_ids: str) -> Any:
        self.pulled.append(task_ids)
        return self.data


def test_node_task_is_skipped_when_the_run_does_not_affect_its_node() -> None:
    from airflow.sdk.exceptions import AirflowSkipException

    from capillaries_provider.operators.node import CapillariesNodeOperator

    op = CapillariesNodeOperator(task_id="a", node="a", start_run_task_id="grp.start_run")
    ti = FakeTI(RUN)
    with pytest.raises(AirflowSkipException, match="node a is not affected by run ks/4 \\(start nodes: b\\)"):
        op.execute({"ti": ti})  # type: ignore[arg-type]
    assert ti.pulled == ["grp.start_run"]


def test_node_task_without_run_information_fails_clearly() -> None:
    from airflow.sdk.exceptions import AirflowException

    from capillaries_provider.operators.node import CapillariesNodeOperator

    op = CapillariesNodeOperator(task_id="a", node="a", start_run_task_id="start_run")
    with pytest.raises(AirflowException, match="task start_run has no run information"):
        op.execute({"ti": FakeTI(None)})  # type: ignore[arg-type]


def test_node_task_resumes_with_the_trigger_outcome() -> None:
    from airflow.sdk.exceptions import AirflowException

    from capillaries_provider.operators.node import CapillariesNodeOperator

    op = CapillariesNodeOperator(task_id="b", node="b", start_run_task_id="start_run")
    ok = {"status": "success", "message": "node b of run ks/4 succeeded: batches 2/2 done"}
    assert op.execute_complete({}, ok) == ok  # type: ignore[arg-type]
    # dag.test() resumes a task the trigger already ended, with the task state as the event.
    assert op.execute_complete({}, "success") is None  # type: ignore[arg-type]
    with pytest.raises(AirflowException, match="^node b of run ks/4 failed: batch 1: boom$"):
        op.execute_complete({}, {"status": "failed", "message": "node b of run ks/4 failed: batch 1: boom"})  # type: ignore[arg-type]


class FakeStore:
    def __init__(self, history: list[BatchHistoryEvent], status: RunStatus) -> None:
        self.history = history
        self.status = status

    def read_batch_history(self, run_id: int, node: str) -> list[BatchHistoryEvent]:
        return self.history

    def run_status(self, run_id: int) -> RunStatus:
        return self.status


@pytest.fixture
def fake_cassandra(monkeypatch: pytest.MonkeyPatch) -> dict[str, FakeStore]:
    """Sensors see `holder["store"]` instead of Cassandra."""
    from capillaries_provider.sensors import capillaries as sensors

    holder: dict[str, FakeStore] = {}

    class FakeHook:
        def __init__(self, **kwargs: Any) -> None:
            pass

        @contextlib.contextmanager
        def session(self) -> Iterator[object]:
            yield object()

    monkeypatch.setattr(sensors, "CapillariesHook", FakeHook)
    monkeypatch.setattr(sensors, "WorkflowStore", lambda session, ks: holder["store"])
    return holder


def _events(*statuses: int) -> list[BatchHistoryEvent]:
    import datetime as dt

    from capillaries_provider.status import NodeBatchStatus
    from capillaries_provider.store.workflow import BatchRef

    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return [
        BatchHistoryEvent(
            ts=t0 + dt.timedelta(seconds=i),
            batch=BatchRef(4, "b", i, len(statuses), i, i),
            status=NodeBatchStatus(s),
            instance="w",
            thread=0,
            comment="bad row" if s == 3 else "",
        )
        for i, s in enumerate(statuses)
    ]


def test_node_sensor_pokes_until_done_and_fails_on_a_failed_batch(fake_cassandra: dict[str, FakeStore]) -> None:
    from airflow.sdk.exceptions import AirflowException

    from capillaries_provider.sensors.capillaries import CapillariesNodeSensor

    sensor = CapillariesNodeSensor(task_id="w", keyspace="ks", run_id="4", node="b", deferrable=False)
    fake_cassandra["store"] = FakeStore(_events(2, 1), RunStatus.START)
    assert sensor.poke({}) is False  # type: ignore[arg-type]
    fake_cassandra["store"] = FakeStore(_events(2, 2), RunStatus.START)
    assert sensor.poke({}) is True  # type: ignore[arg-type]
    fake_cassandra["store"] = FakeStore(_events(2, 3), RunStatus.START)
    with pytest.raises(AirflowException, match="node b of run ks/4 failed: batch 1: bad row"):
        sensor.poke({})  # type: ignore[arg-type]
    fake_cassandra["store"] = FakeStore(_events(2, 1), RunStatus.STOP)
    with pytest.raises(AirflowException, match="the run was stopped"):
        sensor.poke({})  # type: ignore[arg-type]


def test_deferrable_node_sensor_defers_only_while_not_done(fake_cassandra: dict[str, FakeStore]) -> None:
    from airflow.sdk.exceptions import TaskDeferred

    from capillaries_provider.sensors.capillaries import CapillariesNodeSensor
    from capillaries_provider.triggers.capillaries import CapillariesNodeTrigger

    sensor = CapillariesNodeSensor(task_id="w", keyspace="ks", run_id="4", node="b", poke_interval=7)
    assert sensor.deferrable is True
    fake_cassandra["store"] = FakeStore(_events(2, 2), RunStatus.START)
    assert sensor.execute({}) is None  # type: ignore[arg-type]
    fake_cassandra["store"] = FakeStore(_events(1), RunStatus.START)
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})  # type: ignore[arg-type]
    trigger = deferred.value.trigger
    assert isinstance(trigger, CapillariesNodeTrigger)
    assert (trigger.keyspace, trigger.run_id, trigger.node, trigger.poll_interval) == ("ks", 4, "b", 7.0)
    assert trigger.stop_run_on_kill is False
    assert deferred.value.method_name == "execute_complete"


def test_run_sensor_waits_for_completion_and_fails_a_run_with_failed_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.sdk.exceptions import AirflowException

    from capillaries_provider.sensors import capillaries as sensors
    from capillaries_provider.status import NodeBatchStatus
    from capillaries_provider.triggers.progress import run_progress

    progress = {"value": run_progress(RunStatus.START, ["a"], {})}

    class FakeHook:
        def __init__(self, **kwargs: Any) -> None:
            pass

        @contextlib.contextmanager
        def session(self) -> Iterator[object]:
            yield object()

    monkeypatch.setattr(sensors, "CapillariesHook", FakeHook)
    monkeypatch.setattr(sensors, "WorkflowStore", lambda session, ks: None)
    monkeypatch.setattr(sensors, "read_run_progress", lambda store, run_id: progress["value"])
    sensor = sensors.CapillariesRunSensor(task_id="r", keyspace="ks", run_id=5, deferrable=False)
    assert sensor.poke({}) is False  # type: ignore[arg-type]
    progress["value"] = run_progress(RunStatus.COMPLETE, ["a"], {"a": NodeBatchStatus.SUCCESS})
    assert sensor.poke({}) is True  # type: ignore[arg-type]
    progress["value"] = run_progress(RunStatus.COMPLETE, ["a", "b"], {"a": NodeBatchStatus.SUCCESS})
    with pytest.raises(AirflowException, match=r"^run ks/5 failed \(not succeeded: b=none\)$"):
        sensor.poke({})  # type: ignore[arg-type]
