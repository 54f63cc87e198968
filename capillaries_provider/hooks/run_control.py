"""Run control for Airflow-driven runs, on top of the engine's run API (`engine.run`).

A DAG run is one Capillaries run (per script task group), started with driver `airflow`: workers never enqueue its
nodes, the node tasks do (after their upstream tasks succeeded). The Airflow identity (DAG, DAG run, start_run task)
is kept at the end of the run description, so running start_run again for the same DAG run (retry, clear) finds
the run it already started instead of starting another one. No Airflow imports: operators and triggers call these
functions with a backend or a session.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from capillaries_provider.engine import run as engine_run
from capillaries_provider.engine.ports import Driver, RunControlPort
from capillaries_provider.script.model import Script
from capillaries_provider.status import RunStatus
from capillaries_provider.store.workflow import RunProperties, WorkflowStore


@dataclass(frozen=True)
class RunInfo:
    """What start_run hands to the node tasks (through XCom, as a dict)."""

    keyspace: str
    run_id: int
    start_nodes: tuple[str, ...]
    affected_nodes: tuple[str, ...]
    script_path: str
    params_path: str

    def to_xcom(self) -> dict[str, object]:
        data = asdict(self)
        data["start_nodes"] = list(self.start_nodes)
        data["affected_nodes"] = list(self.affected_nodes)
        return data

    @classmethod
    def from_xcom(cls, data: dict[str, object]) -> RunInfo:
        starts = data["start_nodes"]
        affected = data["affected_nodes"]
        assert isinstance(starts, list) and isinstance(affected, list)
        return cls(
            keyspace=str(data["keyspace"]),
            run_id=int(str(data["run_id"])),
            start_nodes=tuple(str(n) for n in starts),
            affected_nodes=tuple(str(n) for n in affected),
            script_path=str(data["script_path"]),
            params_path=str(data["params_path"]),
        )


def airflow_marker(dag_id: str, dag_run_id: str, task_id: str) -> str:
    """The tag that ties a Capillaries run to one start_run task of one DAG run (at the end of the description).

    The task id matters: a DAG with two script task groups starts two runs per DAG run.
    """
    return f"[airflow {dag_id}/{dag_run_id}/{task_id}]"


def run_description(description: str, marker: str) -> str:
    return f"{description} {marker}" if description else marker


def find_run(store: WorkflowStore, marker: str) -> RunProperties | None:
    """The run an earlier attempt of the same DAG run started, if any."""
    return next((p for p in store.read_all_run_properties() if p.run_description.endswith(marker)), None)


def start_airflow_run(
    backend: RunControlPort,
    store: WorkflowStore,
    *,
    script: Script,
    script_path: str,
    params_path: str,
    start_nodes: Sequence[str],
    description: str,
    marker: str,
) -> RunInfo:
    """Start (or find again) the Capillaries run of one DAG run; no batch is enqueued here."""
    backend.ensure_keyspace(store.ks)
    existing = find_run(store, marker)
    if existing is not None:
        return RunInfo(
            store.ks, existing.run_id, existing.start_nodes, existing.affected_nodes, script_path, params_path
        )
    run_id = engine_run.start_run(
        backend,
        script,
        ks=store.ks,
        script_url=script_path,
        script_params_url=params_path,
        start_nodes=start_nodes,
        description=run_description(description, marker),
        driver=Driver.AIRFLOW,
    )
    props = store.read_run_properties(run_id)
    affected = props.affected_nodes if props else ()
    return RunInfo(store.ks, run_id, tuple(start_nodes), affected, script_path, params_path)


def stop_run(store: WorkflowStore, run_id: int, comment: str) -> bool:
    """Record the run stop (spec 5.2, as `engine.run.stop_run`); workers then mark its batches stopreceived."""
    return store.set_run_status(run_id, RunStatus.STOP, comment)
