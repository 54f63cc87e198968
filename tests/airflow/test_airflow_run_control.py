"""start_run is idempotent per (DAG run, start_run task): a retry finds its run, another task group starts another."""

from __future__ import annotations

from typing import Any

import pytest

from capillaries_provider.hooks import run_control
from capillaries_provider.store.workflow import RunProperties


class FakeStore:
    ks = "ks"

    def __init__(self) -> None:
        self.props: list[RunProperties] = []

    def read_all_run_properties(self) -> list[RunProperties]:
        return self.props

    def read_run_properties(self, run_id: int) -> RunProperties | None:
        return next((p for p in self.props if p.run_id == run_id), None)


class FakeBackend:
    def __init__(self) -> None:
        self.keyspaces: list[str] = []

    def ensure_keyspace(self, ks: str) -> None:
        self.keyspaces.append(ks)


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> tuple[FakeStore, list[dict[str, Any]]]:
    store = FakeStore()
    calls: list[dict[str, Any]] = []

    def fake_start_run(backend: Any, script: Any, **kw: Any) -> int:
        calls.append(kw)
        run_id = len(store.props) + 1
        affected = (*kw["start_nodes"], "child")
        store.props.append(
            RunProperties(run_id, tuple(kw["start_nodes"]), affected, kw["script_url"], "", kw["description"])
        )
        return run_id

    monkeypatch.setattr(run_control.engine_run, "start_run", fake_start_run)
    return store, calls


def _start(store: FakeStore, marker: str, starts: tuple[str, ...] = ("a",)) -> run_control.RunInfo:
    return run_control.start_airflow_run(
        FakeBackend(),  # type: ignore[arg-type]
        store,  # type: ignore[arg-type]
        script=None,  # type: ignore[arg-type]
        script_path="/s.json",
        params_path="/p.json",
        start_nodes=starts,
        description="nightly",
        marker=marker,
    )


def test_same_start_task_of_the_same_dag_run_reuses_its_run(started: tuple[FakeStore, list[dict[str, Any]]]) -> None:
    store, calls = started
    marker = run_control.airflow_marker("d", "manual__1", "start_run")
    first = _start(store, marker)
    again = _start(store, marker, starts=("ignored",))
    assert first == again
    assert first.run_id == 1 and first.affected_nodes == ("a", "child") and first.params_path == "/p.json"
    assert len(calls) == 1
    assert calls[0]["description"] == "nightly [airflow d/manual__1/start_run]"
    assert calls[0]["driver"].value == "airflow"


def test_two_task_groups_in_one_dag_run_start_two_runs(started: tuple[FakeStore, list[dict[str, Any]]]) -> None:
    store, _ = started
    load = _start(store, run_control.airflow_marker("d", "r", "load.start_run"))
    report = _start(store, run_control.airflow_marker("d", "r", "report.start_run"), starts=("b",))
    assert (load.run_id, report.run_id) == (1, 2)
    assert report.start_nodes == ("b",)


def test_run_info_survives_xcom() -> None:
    info = run_control.RunInfo("ks", 3, ("a",), ("a", "b"), "/s.json", "")
    data = info.to_xcom()
    assert data == {
        "keyspace": "ks",
        "run_id": 3,
        "start_nodes": ["a"],
        "affected_nodes": ["a", "b"],
        "script_path": "/s.json",
        "params_path": "",
    }
    assert run_control.RunInfo.from_xcom(data) == info
    assert run_control.run_description("", "[m]") == "[m]"
