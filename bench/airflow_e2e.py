"""End-to-end wall time of the benchmark script through Airflow: `CapillariesDag` run with `dag.test()`.

Each measurement is a fresh child process with its own AIRFLOW_HOME (SQLite, migrated once), Airflow connections
given as environment variables that point at the local Cassandra and at the benchmark's queue, so the already
running benchmark workers do the data work. `dag.test()` runs the tasks and their triggers in that one process,
the same code the scheduler, workers and triggerer would run; the wall time is that of `dag.test()`, from the
`start_run` task to `finish_run`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.pipeline import REPO, SCRIPT, drop, wait_for_cassandra

DAG_ID = "capillaries_bench_portfolio"
BUNDLE = "capillaries_bench_bundle"


def _airflow_env(home: Path, queue: str) -> dict[str, str]:
    from capillaries_provider.services.airflow_local import connection_env

    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "CAPILLARIES_AMQP_QUEUE": queue,
        **connection_env(queue, override=True),
    }


def dag_test_once(dag_id: str, dag_file_name: str, dag_source: str, keyspace: str) -> None:
    """In a child process: write the DAG file, serialize it, `dag.test()` it once; print wall seconds and states."""
    import pendulum
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db
    from airflow.models.dagbundle import DagBundleModel
    from airflow.utils.session import create_session

    dags = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    dags.mkdir(parents=True, exist_ok=True)
    dag_file = dags / dag_file_name
    dag_file.write_text(dag_source)
    with create_session() as s:
        s.merge(DagBundleModel(name=BUNDLE))
        s.commit()
    bag = DagBag(dag_folder=str(dag_file))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    dag = bag.dags[dag_id]
    sync_bag_to_db(bag, bundle_name=BUNDLE, bundle_version="1")
    started = time.monotonic()
    dr = dag.test(logical_date=pendulum.now("UTC"), run_conf={"keyspace": keyspace})
    wall = time.monotonic() - started
    states = {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}
    print("BENCH_RESULT " + json.dumps({"wall_s": wall, "state": str(dr.state), "tasks": states}), flush=True)


def dag_test_wall_s(done: subprocess.CompletedProcess[str]) -> float:
    """The wall seconds a `dag_test_once` child printed; raises with its output if it failed or the run did."""
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"dag.test failed ({done.returncode}): {(done.stdout + done.stderr)[-3000:]}")
    result = json.loads(line.split(" ", 1)[1])
    if result["state"] != "success":
        raise RuntimeError(f"DAG run ended {result['state']}: {result['tasks']}")
    return float(result["wall_s"])


def _child(params: str, start_nodes: list[str], keyspace: str) -> None:
    """Runs inside the child: the benchmark script as a `CapillariesDag`, test-run once."""
    dag_test_once(
        DAG_ID,
        "bench_portfolio_dag.py",
        "# Airflow DAG of the benchmark script (written by bench/airflow_e2e.py)\n"
        "import pendulum\n"
        "from capillaries_provider import CapillariesDag\n"
        f"dag = CapillariesDag(dag_id={DAG_ID!r}, script_path={str(SCRIPT)!r}, params_path={params!r},\n"
        f"    keyspace={keyspace!r}, start_nodes={start_nodes!r}, schedule=None,\n"
        "    start_date=pendulum.datetime(2026, 1, 1, tz='UTC'), catchup=False)\n",
        keyspace,
    )


def measure(
    params: Path, start_nodes: Sequence[str], repeats: int, queue: str, timeout_s: float, log: Callable[[str], None]
) -> tuple[list[float], str]:
    """`repeats` DAG runs, each in a fresh keyspace; returns the wall times and a note on how they were taken."""
    home = params.parent / "airflow_home"
    env = _airflow_env(home, queue)
    if not (home / "airflow.db").exists():
        log("airflow db migrate (once)")
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True)
    walls: list[float] = []
    failures: list[str] = []
    for rep in range(repeats):
        for attempt in range(3):
            log(f"end to end via Airflow (CapillariesDag, dag.test), repeat {rep + 1}, attempt {attempt + 1}")
            try:
                walls.append(_one_run(params, start_nodes, env, timeout_s))
                log(f"  {walls[-1]:.1f} s")
                break
            except Exception as e:  # a shared machine's Cassandra may be restarted under us: wait and redo
                failures.append(f"repeat {rep + 1} attempt {attempt + 1}: {type(e).__name__}: {str(e)[:300]}")
                log(f"  failed: {failures[-1]}")
                wait_for_cassandra()
    note = "dag.test() of CapillariesDag in a child process (tasks and triggers in-process, SQLite metadata)"
    if failures:
        note += f"; {len(failures)} failed attempt(s) redone: " + " | ".join(failures)
    return walls, note


def _one_run(params: Path, start_nodes: Sequence[str], env: dict[str, str], timeout_s: float) -> float:
    """One DAG run in a fresh keyspace (dropped afterwards); returns the wall seconds of `dag.test()`."""
    ks = f"bench_af_{uuid.uuid4().hex[:8]}"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.airflow_e2e", "--child", str(params), ",".join(start_nodes), ks],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            cwd=REPO,
        )
    finally:
        with contextlib.suppress(Exception):  # a leftover keyspace does not invalidate the measurement
            drop(ks)
    return dag_test_wall_s(done)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--child", nargs=3, metavar=("PARAMS", "START_NODES", "KEYSPACE"), required=True)
    a = p.parse_args()
    params, nodes, ks = a.child
    _child(params, nodes.split(","), ks)


if __name__ == "__main__":
    main()
