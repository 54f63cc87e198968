"""Airflow hand-off overhead and the portfolio conformance case's wall time via Airflow and via the CLI.

Hand-off = how long after a node's parents finished its own batches are on the queue, when Airflow drives the run.
The portfolio conformance case (`../shared/conformance/portfolio_quicktest`, variant `one`) runs through a
serialized `CapillariesDag` with `dag.test()` in a child process (own AIRFLOW_HOME, connections as environment
variables, see `bench.airflow_e2e`), against a `capillaries worker` on a private queue. For every node with parents:

- parents done = latest `ts` of a success row of a parent's batch in `wf_batch_history` (the latest parent);
- enqueued = the earlier of the write time of `published = true` in `wf_node_enqueued` (the node operator writes
  it right after the broker confirmed every batch message of the node, `engine.run.enqueue_node`; microsecond
  write timestamp) and the node's first batch `start` row in `wf_batch_history` (a worker may start a batch
  before that write lands). Both are upper bounds of the moment the first batch was on the queue; `claimed_at`
  (written just before publishing) is a lower bound, and splits the hand-off into "Airflow noticed and started
  the task" and "publish with confirms".

`dag.test()` runs one task at a time and waits for each deferred task's trigger inline, so sibling nodes run one
after another, unlike under the scheduler and triggerer. A node can then wait behind an unrelated sibling that
runs between its parents' end and its own start. The "hand-off" below therefore also reports the serial-corrected
value: enqueued - the latest batch success of *any* node before the node's claim (the end of the task dag.test ran
before it), which is the pure Airflow overhead (trigger notices success, task resumes and ends, the loop schedules
the next task, the operator loads the script, connects, claims and publishes).

The wall time of the same case is measured via Airflow (`dag.test()` from the `start_run` task to `finish_run`)
and via `capillaries run start --wait` (`tests.conformance.harness.run_variant`, process start-up included) on the
same workers; every run's outputs are compared with the golden files (exact compare modes of case.json).

    .venv/bin/python -m bench.airflow_handoff [--repeats 3] [--workers 2] [--poll-interval S] [--skip-cli]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.airflow_e2e import _airflow_env, dag_test_once, dag_test_wall_s
from bench.pipeline import REPO, Workers, bench_env, drop, wait_for_cassandra

CASE_DIR = REPO.parent / "shared" / "conformance" / "portfolio_quicktest"
DAG_ID = "capillaries_bench_portfolio_conformance"
ENQUEUE_SOURCE = (
    "min(write time of wf_node_enqueued.published, set after the broker confirmed the node's batches;"
    " first batch start row in wf_batch_history)"
)


@dataclass(frozen=True)
class HandOff:
    """One node's hand-off in one DAG run (seconds)."""

    repeat: int
    node: str
    latest_parent: str
    handoff_s: float  # enqueued - latest parent's last batch success
    serial_corrected_s: float  # enqueued - latest batch success of any node before the node's claim
    claim_s: float  # claimed_at - the same reference as serial_corrected_s (Airflow noticed, task started)
    publish_s: float  # published write time - claimed_at (publish with confirms, then the write)
    first_batch_start_s: float  # first batch start row - published write time (negative: started before it)
    waited_behind: str  # the node whose run dag.test() put between the parents' end and this node ("" if none)


def _case() -> tuple[Any, dict[str, Any]]:
    """The variant `one` of the case and the whole case.json."""
    from tests.conformance.harness import Variant, load_case

    case = load_case(CASE_DIR)
    return Variant(case["case"], "one", CASE_DIR, case["variants"]["one"]), case


def _child(script: str, params: str, keyspace: str, start_nodes: list[str], poll_interval: float | None) -> None:
    """Runs inside the child: the case's script as a `CapillariesDag` with the given node poll, test-run once."""
    kwargs = {} if poll_interval is None else {"poll_interval": poll_interval}
    dag_test_once(
        DAG_ID,
        "bench_portfolio_conformance_dag.py",
        "# Airflow DAG of the portfolio conformance case (written by bench/airflow_handoff.py)\n"
        "import pendulum\n"
        "from capillaries_provider import CapillariesDag\n"
        f"dag = CapillariesDag(dag_id={DAG_ID!r}, script_path={script!r}, params_path={params!r},\n"
        f"    keyspace={keyspace!r}, start_nodes={start_nodes!r}, node_operator_kwargs={kwargs!r},\n"
        "    schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz='UTC'))\n",
        keyspace,
    )


def _airflow_run(
    staging: Any, spec: dict[str, Any], env: dict[str, str], poll_interval: float | None, keyspace: str
) -> float:
    """One DAG run of the case in `keyspace` in a child process; returns the wall seconds of `dag.test()`."""
    (run,) = spec["runs"]
    args = [str(staging.resolve(spec["script"])), str(staging.resolve(spec["params"])), keyspace]
    args += [",".join(run["start_nodes"]), "" if poll_interval is None else str(poll_interval)]
    done = subprocess.run(
        [sys.executable, "-m", "bench.airflow_handoff", "--child", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        cwd=REPO,
    )
    return dag_test_wall_s(done)


def _utc(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def hand_offs(keyspace: str, script: Any, repeat: int, run_id: int = 1) -> list[HandOff]:
    """Hand-off of every node with parents in run `run_id`, from wf_batch_history and wf_node_enqueued."""
    from capillaries_provider.config import cassandra_settings
    from capillaries_provider.script.graph import parents
    from capillaries_provider.status import NodeBatchStatus
    from capillaries_provider.store.session import close, connect
    from capillaries_provider.store.workflow import WorkflowStore

    session = connect(cassandra_settings())
    try:
        history = WorkflowStore(session, keyspace).read_batch_history(run_id)
        rows = session.execute(
            f"SELECT script_node, claimed_at, writetime(published) AS published_us FROM {keyspace}.wf_node_enqueued"
            " WHERE run_id = %s",
            (run_id,),
        )
        enqueued = {r["script_node"]: (_utc(r["claimed_at"]).timestamp(), r["published_us"] / 1e6) for r in rows}
    finally:
        close(session)
    done: dict[str, float] = {}
    first_start: dict[str, float] = {}
    for e in history:
        node, t = e.batch.script_node, e.ts.timestamp()
        if e.status is NodeBatchStatus.SUCCESS:
            done[node] = max(done.get(node, t), t)
        elif e.status is NodeBatchStatus.START:
            first_start[node] = min(first_start.get(node, t), t)
    out = []
    for node in script.nodes:
        ups = [p for p in parents(script, node) if p in done]
        if not ups or node not in enqueued:
            continue
        claimed, published = enqueued[node]
        on_queue = min(published, first_start[node])
        latest_parent = max(ups, key=lambda p: done[p])
        before = {n: t for n, t in done.items() if n != node and t <= claimed} or {latest_parent: done[latest_parent]}
        previous = max(before, key=lambda n: before[n])
        reference = before[previous]
        out.append(
            HandOff(
                repeat=repeat,
                node=node,
                latest_parent=latest_parent,
                handoff_s=on_queue - done[latest_parent],
                serial_corrected_s=on_queue - reference,
                claim_s=claimed - reference,
                publish_s=published - claimed,
                first_batch_start_s=first_start[node] - published,
                waited_behind="" if previous in ups else previous,
            )
        )
    return out


def _stats(values: Sequence[float]) -> str:
    return (
        f"median {statistics.median(values):.2f} s, min {min(values):.2f} s, max {max(values):.2f} s (n={len(values)})"
    )


def _clean_outputs(case: dict[str, Any], staging: Any) -> None:
    for output in case["outputs"]:
        for produced in output["produced"].split(" + "):
            staging.resolve(produced.strip()).unlink(missing_ok=True)


def _check_outputs(case: dict[str, Any], staging: Any, what: str) -> None:
    from tests.conformance.harness import compare_outputs

    problems = compare_outputs(case, staging)
    if problems:
        raise RuntimeError(f"{what}: outputs differ from the golden files: {problems}")


@dataclass
class Measured:
    """What the repeats gathered: wall seconds of each path and every hand-off."""

    airflow_walls: list[float]
    cli_walls: list[float]
    handoffs: list[HandOff]


def _cli_repeat(variant: Any, case: dict[str, Any], staging: Any, rep: int, measured: Measured) -> None:
    """`capillaries run start --wait` of the case on the same workers (process start-up included)."""
    from tests.conformance.harness import run_variant

    _clean_outputs(case, staging)
    started = time.monotonic()
    ks = run_variant(variant, staging)
    measured.cli_walls.append(time.monotonic() - started)
    with contextlib.suppress(Exception):
        drop(ks)
    _check_outputs(case, staging, f"cli repeat {rep}")
    print(f"cli repeat {rep}: capillaries run start --wait {measured.cli_walls[-1]:.1f} s", flush=True)


def _dag_test_mode(a: argparse.Namespace, variant: Any, case: dict[str, Any], staging: Any, script: Any) -> Measured:
    """Each repeat: one `dag.test()` in a child process, then one CLI run, on `--workers` private workers."""
    queue = f"capillaries_handoff_{uuid.uuid4().hex[:6]}"
    env = _airflow_env(a.out / "airflow_home", queue)
    os.environ.update(bench_env(queue))  # `capillaries run start` (run_variant) publishes to the private queue
    print(f"airflow db migrate; workers: {a.workers} processes on queue {queue}", flush=True)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True)
    measured = Measured([], [], [])
    with Workers(a.workers, queue, a.out / "workers.log"):
        for rep in range(1, a.repeats + 1):
            wait_for_cassandra()
            ks = f"bench_handoff_{uuid.uuid4().hex[:8]}"
            _clean_outputs(case, staging)
            try:
                measured.airflow_walls.append(_airflow_run(staging, variant.spec, env, a.poll_interval, ks))
                _check_outputs(case, staging, f"airflow repeat {rep}")
                measured.handoffs += hand_offs(ks, script, rep)
            finally:
                with contextlib.suppress(Exception):
                    drop(ks)
            print(f"airflow repeat {rep}: dag.test() {measured.airflow_walls[-1]:.1f} s", flush=True)
            if not a.skip_cli:
                _cli_repeat(variant, case, staging, rep, measured)
    return measured


def _scheduler_mode(a: argparse.Namespace, variant: Any, case: dict[str, Any], staging: Any, script: Any) -> Measured:
    """Each repeat: one DAG run triggered over the REST API of the local stack, then one CLI run on its workers."""
    from tests.airflow.airflow_stack import airflow_stack

    spec = variant.spec
    kwargs = {} if a.poll_interval is None else {"poll_interval": a.poll_interval}
    source = (
        "# Airflow DAG of the portfolio conformance case (written by bench/airflow_handoff.py --scheduler)\n"
        "import datetime\n"
        "import pendulum\n"
        "from capillaries_provider import CapillariesDag\n"
        f"dag = CapillariesDag(dag_id={DAG_ID!r}, script_path={str(staging.resolve(spec['script']))!r},\n"
        f"    params_path={str(staging.resolve(spec['params']))!r}, keyspace='bench_unused_default',\n"
        f"    start_nodes={spec['runs'][0]['start_nodes']!r}, node_operator_kwargs={kwargs!r},\n"
        "    default_args={'retries': 2, 'retry_delay': datetime.timedelta(seconds=2)},\n"
        "    schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz='UTC'), catchup=False)\n"
    )
    measured = Measured([], [], [])
    print("local Airflow stack up (PostgreSQL, LocalExecutor, scheduler, triggerer, 2 workers)", flush=True)
    with airflow_stack(a.out / "stack", lambda dags: (dags / "bench_portfolio.py").write_text(source)) as stack:
        os.environ.update(bench_env(stack.queue))  # the CLI runs publish to the stack's workers
        for rep in range(1, a.repeats + 1):
            wait_for_cassandra()
            ks = f"bench_handoff_{uuid.uuid4().hex[:8]}"
            _clean_outputs(case, staging)
            try:
                started = time.monotonic()
                run_id = stack.api.trigger(DAG_ID, {"keyspace": ks})
                state = stack.api.wait(DAG_ID, run_id, timeout=1800, poll_s=0.5)
                measured.airflow_walls.append(time.monotonic() - started)
                tries = {t: ti["try_number"] for t, ti in stack.api.task_instances(DAG_ID, run_id).items()}
                if state != "success":
                    raise RuntimeError(f"airflow repeat {rep}: DAG run {run_id} ended {state}")
                _check_outputs(case, staging, f"airflow repeat {rep}")
                measured.handoffs += hand_offs(ks, script, rep)
            finally:
                with contextlib.suppress(Exception):
                    drop(ks)
            retried = {t: n for t, n in tries.items() if int(n) > 1}
            print(
                f"airflow repeat {rep}: trigger to success {measured.airflow_walls[-1]:.1f} s"
                f" (tasks retried: {retried or 'none'})",
                flush=True,
            )
            if not a.skip_cli:
                _cli_repeat(variant, case, staging, rep, measured)
    return measured


def _report(a: argparse.Namespace, poll: float, measured: Measured) -> None:
    all_handoffs = measured.handoffs
    print(f"\nnode poll interval: {poll} s; enqueue time = {ENQUEUE_SOURCE}")
    print(
        f"{'rep':>3} {'node':34} {'latest parent':34} {'hand-off':>8} {'serial':>7} {'claim':>6} {'publish':>7}"
        f" {'1st start':>9}  waited behind"
    )
    for h in all_handoffs:
        print(
            f"{h.repeat:>3} {h.node:34} {h.latest_parent:34} {h.handoff_s:8.2f} {h.serial_corrected_s:7.2f}"
            f" {h.claim_s:6.2f} {h.publish_s:7.2f} {h.first_batch_start_s:9.2f}  {h.waited_behind}"
        )
    direct = [h.handoff_s for h in all_handoffs if not h.waited_behind]
    airflow_path = "wall_airflow_scheduler" if a.scheduler else "wall_airflow_dag_test"
    summary = {
        "mode": "scheduler" if a.scheduler else "dag.test",
        "poll_interval_s": poll,
        "enqueue_source": ENQUEUE_SOURCE,
        "handoff_all": _stats([h.handoff_s for h in all_handoffs]),
        "handoff_direct": _stats(direct) if direct else "none",
        "handoff_serial_corrected": _stats([h.serial_corrected_s for h in all_handoffs]),
        "claim": _stats([h.claim_s for h in all_handoffs]),
        "publish": _stats([h.publish_s for h in all_handoffs]),
        "first_batch_start_after_enqueue": _stats([h.first_batch_start_s for h in all_handoffs]),
        airflow_path: _stats(measured.airflow_walls),
        "wall_cli_run_start_wait": _stats(measured.cli_walls) if measured.cli_walls else "skipped",
    }
    if measured.cli_walls:
        ratio = statistics.median(measured.airflow_walls) / statistics.median(measured.cli_walls)
        summary["airflow_over_cli_median"] = f"{ratio:.2f}"
    print()
    for k, v in summary.items():
        print(f"{k}: {v}")
    results = {"summary": summary, "airflow_walls_s": measured.airflow_walls, "cli_walls_s": measured.cli_walls}
    results["handoffs"] = [asdict(h) for h in all_handoffs]
    (a.out / "results.json").write_text(json.dumps(results, indent=1))
    print(f"\nraw results: {a.out / 'results.json'}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2; the stack's own: 2)")
    p.add_argument("--poll-interval", type=float, default=None, help="node trigger poll (default: the operator's)")
    p.add_argument("--skip-cli", action="store_true", help="do not measure `capillaries run start --wait`")
    p.add_argument("--scheduler", action="store_true", help="run under the real scheduler and triggerer")
    p.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "capillaries-bench" / "handoff")
    p.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        script, params, ks, nodes, poll = a.child
        _child(script, params, ks, nodes.split(","), float(poll) if poll else None)
        return
    if not CASE_DIR.is_dir():
        raise SystemExit(f"conformance case absent: {CASE_DIR}")
    for noisy in ("pika", "cassandra"):  # connection chatter would bury the results
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from capillaries_provider.operators.node import CapillariesNodeOperator
    from capillaries_provider.script.loader import load_script
    from tests.conformance.harness import Staging

    poll = a.poll_interval
    if poll is None:
        poll = CapillariesNodeOperator(task_id="probe", node="n", start_run_task_id="s").poll_interval
    variant, case = _case()
    shutil.rmtree(a.out, ignore_errors=True)
    staging = Staging(a.out / "case")
    staging.stage(CASE_DIR, case)
    script = load_script(str(staging.resolve(variant.spec["script"])), str(staging.resolve(variant.spec["params"])))
    mode = _scheduler_mode if a.scheduler else _dag_test_mode
    _report(a, poll, mode(a, variant, case, staging, script))


if __name__ == "__main__":
    main()
