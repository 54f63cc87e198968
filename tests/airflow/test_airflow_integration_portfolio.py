"""The portfolio conformance case through Airflow: `dag.test()` of a serialized `CapillariesDag` gives the golden files.

The same case runs through the CLI in tests/conformance; here the run is Airflow-driven (node tasks enqueue, the
trigger waits), so a difference would be an Airflow-path bug: params, start nodes, run ids. Variant `one` is one DAG
run; variant `multi` is four DAG runs of one DAG in one keyspace, each with the start nodes of a run in case.json,
each later run reading the tables of the earlier ones.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pendulum

from capillaries_provider.dag import FINISH_RUN_TASK_ID, START_RUN_TASK_ID, node_task_id
from tests.conformance.harness import Staging, Variant, compare_outputs, load_case, outputs_of, params_of
from tests.conftest import CONFORMANCE, needs_shared

CASE_DIR = CONFORMANCE / "portfolio_quicktest"
WORKER_PROCESSES = 2  # like the CLI conformance run; the case has py_calc and a 88k-row load

pytestmark = needs_shared(CASE_DIR)


def _staged_variant(name: str, tmp_path: Path) -> tuple[Variant, Staging, dict[str, Any]]:
    case = load_case(CASE_DIR)
    staging = Staging(tmp_path / "case")
    staging.stage(CASE_DIR, case)
    return Variant(case["case"], name, CASE_DIR, case["variants"][name]), staging, case


def _dag_id(variant: Variant) -> str:
    """One DAG id per variant: each DAG is serialized once per session (one serialized DAG row per DAG id)."""
    return f"capillaries_portfolio_conformance_{variant.name}"


def _dag_file(variant: Variant, staging: Staging, tmp_path: Path) -> Path:
    """A DAG file building the case's script as a `CapillariesDag` (keyspace and start nodes come from run conf)."""
    script, params = str(staging.resolve(variant.spec["script"])), params_of(variant, staging)
    dag_file = tmp_path / "dags" / "portfolio_conformance_dag.py"
    dag_file.parent.mkdir(parents=True)
    dag_file.write_text(
        "# Airflow DAG of the portfolio conformance case (DagBag's safe mode looks for 'airflow' and 'dag')\n"
        "import pendulum\n"
        "from capillaries_provider import CapillariesDag\n"
        f"dag = CapillariesDag(dag_id={_dag_id(variant)!r}, script_path={script!r}, params_path={params!r},\n"
        "    keyspace='unused_default', schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz='UTC'))\n"
    )
    return dag_file


def _states(dr: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}


def _expected_states(dag: Any, affected: list[str]) -> dict[str, str]:
    """Affected nodes succeed, every other node is skipped; start_run and finish_run succeed."""
    states = {node_task_id(n): "success" if n in affected else "skipped" for n in dag.script.nodes}
    return {**states, START_RUN_TASK_ID: "success", FINISH_RUN_TASK_ID: "success"}


def _run_dag(dag: Any, keyspace: str, run: dict[str, Any]) -> Any:
    """One DAG run per case run; distinct logical dates give distinct DAG run ids, so each is a new Capillaries run."""
    day = pendulum.datetime(2026, 11, run["run_id"], tz="UTC")
    return dag.test(logical_date=day, run_after=day, run_conf={"keyspace": keyspace, "start_nodes": run["start_nodes"]})


def _assert_runs_in_cassandra(keyspace: str, runs: list[dict[str, Any]]) -> None:
    from capillaries_provider.config import cassandra_settings
    from capillaries_provider.status import RunStatus
    from capillaries_provider.store.session import close, connect
    from capillaries_provider.store.workflow import WorkflowStore

    session = connect(cassandra_settings())
    try:
        store = WorkflowStore(session, keyspace)
        props = store.read_all_run_properties()
        # Affected nodes are compared as sets: Cassandra keeps our topological order, case.json Go's order.
        assert [(p.run_id, list(p.start_nodes), set(p.affected_nodes)) for p in props] == [
            (r["run_id"], r["start_nodes"], set(r["affected_nodes"])) for r in runs
        ]
        assert [store.run_status(r["run_id"]) for r in runs] == [RunStatus.COMPLETE] * len(runs)
    finally:
        close(session)


def test_portfolio_one_run_gives_the_golden_files(
    serialize_dag: Callable[[Path, str], Any], worker: subprocess.Popen[bytes], keyspace: str, tmp_path: Path
) -> None:
    variant, staging, case = _staged_variant("one", tmp_path)
    outputs = outputs_of(variant, staging, case)
    assert len(outputs) == len(case["outputs"]) == 2
    dag = serialize_dag(_dag_file(variant, staging, tmp_path), _dag_id(variant))
    (run,) = variant.spec["runs"]

    dr = _run_dag(dag, keyspace, run)

    assert _states(dr) == _expected_states(dag, run["affected_nodes"])
    assert str(dr.state) == "success"
    assert compare_outputs({"outputs": outputs}, staging) == []
    _assert_runs_in_cassandra(keyspace, [run])
