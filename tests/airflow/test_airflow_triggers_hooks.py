"""Triggers, progress decisions, hook settings and provider registration, with fakes instead of Cassandra."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest

from capillaries_provider.status import NodeBatchStatus, RunStatus
from capillaries_provider.store.workflow import BatchHistoryEvent, BatchRef
from capillaries_provider.triggers.progress import node_progress, run_progress

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _ev(idx: int, status: NodeBatchStatus, sec: int, comment: str = "", total: int = 4) -> BatchHistoryEvent:
    return BatchHistoryEvent(
        ts=T0 + dt.timedelta(seconds=sec),
        batch=BatchRef(run_id=3, script_node="n", batch_idx=idx, batches_total=total, first_token=idx, last_token=idx),
        status=status,
        instance="w",
        thread=1,
        comment=comment,
    )


S, OK, FAIL, STOP = NodeBatchStatus.START, NodeBatchStatus.SUCCESS, NodeBatchStatus.FAIL, NodeBatchStatus.STOPRECEIVED


def test_progress_counts_each_batch_by_its_latest_row() -> None:
    events = [_ev(0, S, 1), _ev(0, OK, 2), _ev(1, S, 3), _ev(2, S, 1), _ev(2, FAIL, 2, "boom"), _ev(2, S, 5)]
    p = node_progress(events, 0)
    assert (p.total, p.succeeded, p.failed, p.started, p.finished) == (4, 1, 0, 2, 1)
    assert p.outcome is None
    assert p.describe() == "batches 1/4 done (2 running)"


def test_progress_is_done_only_when_every_batch_finished() -> None:
    done = [_ev(i, OK, i) for i in range(4)]
    assert node_progress(done[:3], 0).outcome is None
    assert node_progress(done, 0).outcome is NodeBatchStatus.SUCCESS
    assert node_progress(done, 0).describe() == "batches 4/4 done"


def test_progress_failure_names_the_first_failing_batch() -> None:
    events = [_ev(0, OK, 1), _ev(3, FAIL, 2, "row 7: bad decimal"), _ev(1, FAIL, 3, "x"), _ev(2, STOP, 4)]
    p = node_progress(events, 0)
    assert p.outcome is NodeBatchStatus.FAIL
    assert p.first_error == "batch 1: x"
    assert p.describe() == "batches 4/4 done (2 failed, 1 stopped)"
    stopped = node_progress([_ev(0, OK, 1), _ev(1, STOP, 2)], 0)
    assert stopped.outcome is None  # rows say 4 batches, two still missing
    assert node_progress([_ev(0, OK, 1, total=2), _ev(1, STOP, 2, total=2)], 0).outcome is NodeBatchStatus.STOPRECEIVED


def test_expected_total_counts_until_rows_exist() -> None:
    assert node_progress([], 5).describe() == "batches 0/5 done"
    assert not node_progress([], 0).done


def test_run_progress_lists_nodes_not_succeeded() -> None:
    p = run_progress(RunStatus.START, ["a", "b", "c"], {"a": OK, "b": FAIL})
    assert p.not_succeeded == {"b": FAIL, "c": NodeBatchStatus.NONE}
    assert p.describe() == "run start: nodes 2/3 finished"


class FakeStore:
    """Batch history that advances one step per poll, as workers finishing batches would."""

    def __init__(self, steps: list[list[BatchHistoryEvent]], run_status: RunStatus = RunStatus.START) -> None:
        self.steps = steps
        self.polls = 0
        self.status = run_status
        self.stops: list[tuple[int, RunStatus, str]] = []
        self.session = object()
        self.ks = "ks"

    def read_batch_history(self, run_id: int, node: str) -> list[BatchHistoryEvent]:
        assert (run_id, node) == (3, "n")
        step = self.steps[min(self.polls, len(self.steps) - 1)]
        self.polls += 1
        return step

    def run_status(self, run_id: int) -> RunStatus:
        return self.status

    def set_run_status(self, run_id: int, status: RunStatus, comment: str) -> bool:
        self.stops.append((run_id, status, comment))
        return True


def _trigger(store: FakeStore, **kwargs: Any):  # type: ignore[no-untyped-def]
    from capillaries_provider.triggers.capillaries import CapillariesNodeTrigger

    trig = CapillariesNodeTrigger(keyspace="ks", run_id=3, node="n", batches_total=2, poll_interval=0, **kwargs)

    async def fake_store() -> FakeStore:
        return store

    trig._store = fake_store  # type: ignore[method-assign]
    return trig


async def _events(trig: Any) -> list[Any]:
    return [e async for e in trig.run()]


def test_node_trigger_polls_until_all_batches_succeed() -> None:
    store = FakeStore(
        [[], [_ev(0, S, 1, total=2)], [_ev(0, OK, 2, total=2)], [_ev(0, OK, 2, total=2), _ev(1, OK, 3, total=2)]]
    )
    (event,) = asyncio.run(_events(_trigger(store)))
    assert event.payload["status"] == "success"
    assert event.payload["succeeded"] == 2 and event.payload["total"] == 2
    assert event.payload["message"] == "node n of run ks/3 succeeded: batches 2/2 done"
    assert store.polls == 4


def test_node_trigger_fails_with_the_batch_error_text() -> None:
    store = FakeStore([[_ev(0, OK, 1, total=2), _ev(1, FAIL, 2, "cannot parse 'x' as decimal2", total=2)]])
    (event,) = asyncio.run(_events(_trigger(store)))
    assert event.payload["status"] == "failed"
    assert event.payload["message"] == "node n of run ks/3 failed: batch 1: cannot parse 'x' as decimal2"


def test_node_trigger_ending_from_the_triggerer_ends_a_success_there_and_resumes_a_failure() -> None:
    from airflow.triggers.base import TaskSuccessEvent

    done = [[_ev(0, OK, 1, total=2), _ev(1, OK, 2, total=2)]]
    (event,) = asyncio.run(_events(_trigger(FakeStore(done), end_from_trigger=True)))
    assert isinstance(event, TaskSuccessEvent)
    assert event.xcoms is not None and event.xcoms["return_value"]["message"] == (
        "node n of run ks/3 succeeded: batches 2/2 done"
    )
    failed = [[_ev(0, OK, 1, total=2), _ev(1, FAIL, 2, "boom", total=2)]]
    (event,) = asyncio.run(_events(_trigger(FakeStore(failed), end_from_trigger=True)))
    assert not isinstance(event, TaskSuccessEvent)
    assert event.payload["status"] == "failed"
    stopped = FakeStore([[_ev(0, OK, 1, total=2)]], run_status=RunStatus.STOP)
    (event,) = asyncio.run(_events(_trigger(stopped, end_from_trigger=True)))
    assert not isinstance(event, TaskSuccessEvent)
    assert event.payload["status"] == "stopped"


def test_node_trigger_ends_when_the_run_is_stopped() -> None:
    store = FakeStore([[_ev(0, OK, 1, total=2)]], run_status=RunStatus.STOP)
    (event,) = asyncio.run(_events(_trigger(store)))
    assert event.payload["status"] == "stopped"


def test_on_kill_stops_the_run_only_when_asked() -> None:
    store = FakeStore([[]])
    asyncio.run(_trigger(store).on_kill())
    assert store.stops == []
    trig = _trigger(store, stop_run_on_kill=True)
    trig.task_id = "n"
    asyncio.run(trig.on_kill())
    assert store.stops == [(3, RunStatus.STOP, "stopped from Airflow: task n was killed, marked or cleared by a user")]


def test_triggers_serialize_to_their_own_constructor() -> None:
    from capillaries_provider.triggers.capillaries import CapillariesNodeTrigger, CapillariesRunTrigger

    node = CapillariesNodeTrigger(keyspace="ks", run_id="7", node="n", batches_total=3, stop_run_on_kill=True)
    path, kwargs = node.serialize()
    assert path == "capillaries_provider.triggers.capillaries.CapillariesNodeTrigger"
    assert kwargs == {
        "keyspace": "ks",
        "run_id": 7,
        "cassandra_conn_id": "cassandra_default",
        "poll_interval": 1.0,
        "stop_run_on_kill": True,
        "node": "n",
        "batches_total": 3,
        "end_from_trigger": False,
    }
    json.dumps(kwargs)
    assert CapillariesNodeTrigger(**kwargs).serialize() == (path, kwargs)
    run_path, run_kwargs = CapillariesRunTrigger(keyspace="ks", run_id=7).serialize()
    assert run_path.endswith("CapillariesRunTrigger") and "node" not in run_kwargs
    # Node triggers sit on the hand-off path between node tasks and poll every second; run triggers keep 5 s.
    assert run_kwargs["poll_interval"] == 5.0


def test_node_tasks_poll_every_second_by_default() -> None:
    """The node trigger's poll is most of the hand-off to the next node: the operator must not keep the old 5 s."""
    from capillaries_provider.operators.node import CapillariesNodeOperator

    assert CapillariesNodeOperator(task_id="a", node="a", start_run_task_id="start_run").poll_interval == 1.0
    slow = CapillariesNodeOperator(task_id="a", node="a", start_run_task_id="start_run", poll_interval=10)
    assert slow.poll_interval == 10


def test_run_payload_success_failure_and_stop() -> None:
    from capillaries_provider.triggers.capillaries import run_payload

    ok = run_payload("ks", 2, run_progress(RunStatus.COMPLETE, ["a"], {"a": OK}))
    assert ok == {"status": "success", "message": "run ks/2 success", "run_id": 2, "nodes": {"a": "success"}}
    bad = run_payload("ks", 2, run_progress(RunStatus.COMPLETE, ["a", "b"], {"a": OK, "b": FAIL}))
    assert bad["status"] == "failed" and bad["message"] == "run ks/2 failed (not succeeded: b=fail)"
    assert run_payload("ks", 2, run_progress(RunStatus.STOP, ["a"], {"a": OK}))["status"] == "stopped"


def _conn(**kwargs: Any) -> Any:
    from airflow.sdk import Connection

    return Connection(**kwargs)


def test_cassandra_settings_from_a_cassandra_connection() -> None:
    from capillaries_provider.hooks.capillaries import cassandra_settings_from_connection

    conn = _conn(
        conn_id="c",
        conn_type="cassandra",
        host="10.0.0.1, 10.0.0.2",
        port=9142,
        login="u",
        password="s3cr3t",
        extra=json.dumps({"replication": "{'class': 'NetworkTopologyStrategy', 'dc1': 3}"}),
    )
    s = cassandra_settings_from_connection(conn)
    assert s.hosts == ("10.0.0.1", "10.0.0.2") and s.port == 9142
    assert (s.username, s.password) == ("u", "s3cr3t")
    assert s.replication == "{'class': 'NetworkTopologyStrategy', 'dc1': 3}"
    assert "s3cr3t" not in repr(s)
    with pytest.raises(ValueError, match="no host"):
        cassandra_settings_from_connection(_conn(conn_id="c", conn_type="cassandra"))


def test_amqp_settings_from_a_capillaries_amqp_connection() -> None:
    from capillaries_provider.hooks.capillaries import amqp_settings_from_connection

    conn = _conn(
        conn_id="a",
        conn_type="capillaries_amqp",
        host="mq",
        port=5671,
        login="bob",
        password="p@ss/word",
        schema="prod",
        extra=json.dumps({"extra__capillaries_amqp__queue": "batches", "retry_delay_ms": 500, "ssl": True}),
    )
    s = amqp_settings_from_connection(conn)
    assert s.url == "amqps://bob:p%40ss%2Fword@mq:5671/prod"
    assert (s.queue, s.retry_delay_ms) == ("batches", 500)
    assert "p%40ss" not in repr(s)
    default = amqp_settings_from_connection(_conn(conn_id="a", conn_type="capillaries_amqp", host="localhost"))
    assert default.url == "amqp://guest:guest@localhost:5672/%2F"
    assert (default.queue, default.retry_delay_ms) == ("capillaries", 2000)


def test_provider_info_declares_the_amqp_connection_and_importable_modules() -> None:
    import importlib

    from capillaries_provider.get_provider_info import get_provider_info

    info = get_provider_info()
    (conn_type,) = info["connection-types"]
    assert conn_type["connection-type"] == "capillaries_amqp"
    module, cls = conn_type["hook-class-name"].rsplit(".", 1)
    hook_cls = getattr(importlib.import_module(module), cls)
    assert hook_cls.conn_type == "capillaries_amqp"
    assert set(conn_type["conn-fields"]) == {"queue", "retry_delay_ms", "ssl"}
    for key in ("hooks", "operators", "sensors", "triggers"):
        for entry in info[key]:
            for mod in entry["python-modules"]:
                importlib.import_module(mod)


def test_airflow_providers_manager_registers_the_connection_type_and_its_fields() -> None:
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    pm = ProvidersManager()
    hook = ProvidersManagerTaskRuntime().hooks["capillaries_amqp"]
    assert hook is not None
    assert hook.hook_class_name == "capillaries_provider.hooks.capillaries.CapillariesHook"
    assert hook.package_name == "capillaries-provider"
    assert {k for k in pm.connection_form_widgets if k.startswith("extra__capillaries_amqp__")} == {
        "extra__capillaries_amqp__queue",
        "extra__capillaries_amqp__retry_delay_ms",
        "extra__capillaries_amqp__ssl",
    }


class SlowStore(FakeStore):
    """Each read blocks its thread for 0.3 s, as a slow Cassandra query would."""

    def read_batch_history(self, run_id: int, node: str) -> list[BatchHistoryEvent]:
        import time

        time.sleep(0.3)
        return super().read_batch_history(run_id, node)


def test_node_trigger_never_blocks_the_event_loop() -> None:
    store = SlowStore([[], [_ev(0, OK, 1, total=2), _ev(1, OK, 2, total=2)]])
    trig = _trigger(store)

    async def main() -> tuple[list[Any], int]:
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        events = await _events(trig)
        done.set()
        await task
        return events, ticks

    events, ticks = asyncio.run(main())
    assert events[0].payload["status"] == "success"
    # 0.6 s of blocking reads ran in threads: the loop kept ticking meanwhile (about 60 ticks of 10 ms).
    assert ticks >= 20
