"""End to end through the real scheduler and triggerer: the local stack (`capillaries airflow up`: api-server,
scheduler, dag-processor, triggerer on PostgreSQL with the LocalExecutor, two `capillaries worker` processes)
serving a DAG folder of this module's own. DAG runs are triggered and watched over the REST API only; outputs and
the `wf_*` tables are then read directly.

The stack is brought up once for the module on a test-owned home, database, port and queue (tests/airflow/
airflow_stack.py) and torn down afterwards.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.airflow.airflow_stack import Stack, airflow_stack
from tests.conftest import CONFORMANCE, SHOP_ORDERS, needs_shared

pytestmark = [pytest.mark.integration, pytest.mark.airflow]

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "dags" / "capillaries_examples"
CASE_DIR = CONFORMANCE / "portfolio_quicktest"

PORTFOLIO = "e2e_portfolio"
DAILY = "e2e_daily_sales"
SHOP = "e2e_shop_orders"
SLOW = "e2e_slow"
RUN_TIMEOUT_S = 240.0

LARGE_SALES = (
    "sale_id,region,amount,amount_with_tax\n"
    "1,north,250.00,300.00\n"
    "3,east,100.00,120.00\n"
    "5,north,310.40,372.48\n"
    "7,east,180.10,216.12\n"
    "8,west,100.01,120.01\n"
)


def _dag_source(dag_id: str, script: Path, params: Path | str | None) -> str:
    """No retries: a node task's success ends in the triggerer, never resuming a deferred task, the path where
    Airflow 3.3 may fail a task that succeeded (apache/airflow#72716, #71580), so none is needed."""
    return (
        "# Airflow DAG of the scheduler end-to-end tests (written by tests/airflow/test_airflow_scheduler_e2e.py)\n"
        "import pendulum\n"
        "from capillaries_provider import CapillariesDag\n"
        f"dag = CapillariesDag(dag_id={dag_id!r}, script_path={str(script)!r}, params_path={str(params)!r},\n"
        "    keyspace='e2e_unused_default', schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz='UTC'),\n"
        "    catchup=False)\n"
    )


# --- the slow script: a py_calc node sleeping per row, so its batches stay in flight for a while -----------------

SLOW_ROWS = 60
SLOW_BATCHES = 30
SLOW_ROW_S = 0.4


def _slow_script(root: Path) -> tuple[Path, Path]:
    data, py = root / "in", root / "py"
    data.mkdir(parents=True, exist_ok=True)
    py.mkdir(exist_ok=True)
    (data / "items.csv").write_text("item_id\n" + "".join(f"{i}\n" for i in range(1, SLOW_ROWS + 1)))
    (py / "slow.py").write_text(
        f"import time\n\n\ndef slow_double(x):\n    time.sleep({SLOW_ROW_S})\n    return x * 2\n"
    )
    script = {
        "nodes": {
            "read_items": {
                "type": "file_table",
                "r": {
                    "urls": ["{dir_in}/items.csv"],
                    "csv": {"hdr_line_idx": 0, "first_data_line_idx": 1},
                    "columns": {"col_item_id": {"csv": {"col_hdr": "item_id", "col_format": "%d"}, "col_type": "int"}},
                },
                "w": {"name": "items", "fields": {"item_id": {"expression": "r.col_item_id", "type": "int"}}},
            },
            "slow_items": {
                "type": "table_custom_tfm_table",
                "custom_proc_type": "py_calc",
                "r": {"table": "items", "expected_batches_total": SLOW_BATCHES},
                "p": {
                    "python_code_urls": ["{dir_py}/slow.py"],
                    "calculated_fields": {"doubled": {"expression": "slow_double(r.item_id)", "type": "int"}},
                },
                "w": {
                    "name": "slow_items",
                    "fields": {
                        "item_id": {"expression": "r.item_id", "type": "int"},
                        "doubled": {"expression": "p.doubled", "type": "int"},
                    },
                },
            },
        }
    }
    policies = json.loads((SHOP_ORDERS / "script.json").read_text())["dependency_policies"]
    (root / "script.json").write_text(json.dumps({**script, "dependency_policies": policies}, indent=1))
    params = root / "params.json"
    params.write_text(json.dumps({"dir_in": str(data), "dir_py": str(py)}))
    return root / "script.json", params


# --- the stack -----------------------------------------------------------------------------------------------


class Files:
    """Inputs, params and outputs of the module's DAGs (paths the DAG files and the tests share)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.daily_out = root / "out" / "daily"
        self.shop_out = root / "out" / "shop"
        self.portfolio: Any = None  # (variant, staging, case) when the conformance case exists

    def write_dags(self, dags: Path) -> None:
        daily_params = self.root / "daily_params.json"
        daily_params.write_text(
            json.dumps({"dir_in": str(EXAMPLES / "daily_sales" / "in"), "dir_out": str(self.daily_out)})
        )
        (dags / "e2e_daily_sales.py").write_text(
            _dag_source(DAILY, EXAMPLES / "daily_sales" / "script.json", daily_params)
        )
        from tests.conftest import write_shop_orders_params

        shop_params = write_shop_orders_params(self.root / "shop_params.json", self.shop_out)
        (dags / "e2e_shop_orders.py").write_text(_dag_source(SHOP, SHOP_ORDERS / "script.json", shop_params))
        slow_script, slow_params = _slow_script(self.root / "slow")
        (dags / "e2e_slow.py").write_text(_dag_source(SLOW, slow_script, slow_params))
        if CASE_DIR.is_dir():
            from tests.conformance.harness import Staging, Variant, load_case, params_of

            case = load_case(CASE_DIR)
            staging = Staging(self.root / "case")
            staging.stage(CASE_DIR, case)
            variant = Variant(case["case"], "multi", CASE_DIR, case["variants"]["multi"])
            script = staging.resolve(variant.spec["script"])
            (dags / "e2e_portfolio.py").write_text(_dag_source(PORTFOLIO, script, params_of(variant, staging)))
            self.portfolio = (variant, staging, case)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Files:
    kept = os.environ.get("CAPILLARIES_E2E_STACK_DIR")
    return Files(Path(kept) / "files" if kept else tmp_path_factory.mktemp("e2e_files"))


@pytest.fixture(scope="module")
def stack(live_services: None, files: Files, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    kept = os.environ.get("CAPILLARIES_E2E_STACK_DIR")
    root = Path(kept) if kept else tmp_path_factory.mktemp("e2e_stack")
    with airflow_stack(root, files.write_dags) as st:
        yield st


@pytest.fixture
def keyspaces(live_services: None) -> Iterator[list[str]]:
    """Call `new()`-style: append names; every keyspace listed is dropped after the test."""
    names: list[str] = []
    yield names
    from capillaries_provider.config import cassandra_settings
    from capillaries_provider.store.session import close, connect, drop_keyspace

    session = connect(cassandra_settings())
    try:
        for ks in names:
            drop_keyspace(session, ks)
    finally:
        close(session)


def _keyspace(keyspaces: list[str]) -> str:
    ks = f"e2e_{uuid.uuid4().hex[:10]}"
    keyspaces.append(ks)
    return ks


def _store(keyspace: str) -> Any:
    from capillaries_provider.config import cassandra_settings
    from capillaries_provider.store.session import connect
    from capillaries_provider.store.workflow import WorkflowStore

    return WorkflowStore(connect(cassandra_settings()), keyspace)


def _close(store: Any) -> None:
    from capillaries_provider.store.session import close

    close(store.session)


def _states(stack: Stack, dag_id: str, run_id: str) -> dict[str, str]:
    return {task: str(ti["state"]) for task, ti in stack.api.task_instances(dag_id, run_id).items()}


def _run(stack: Stack, dag_id: str, conf: dict[str, Any], timeout: float = RUN_TIMEOUT_S) -> tuple[str, str]:
    run_id = stack.api.trigger(dag_id, conf)
    return run_id, stack.api.wait(dag_id, run_id, timeout=timeout, poll_s=2.0)


# --- the tests ------------------------------------------------------------------------------------------------


@pytest.mark.timeout(900, func_only=True)
@needs_shared(CASE_DIR)
def test_portfolio_multi_four_dag_runs_in_one_keyspace_give_the_golden_files(
    stack: Stack, files: Files, keyspaces: list[str]
) -> None:
    from capillaries_provider.dag import FINISH_RUN_TASK_ID, START_RUN_TASK_ID, node_task_id
    from capillaries_provider.script.loader import load_script
    from capillaries_provider.status import RunStatus
    from tests.conformance.harness import compare_outputs, outputs_of, params_of

    variant, staging, case = files.portfolio
    outputs = outputs_of(variant, staging, case)
    produced = [staging.resolve(o["produced"]) for o in outputs]
    for p in produced:
        p.unlink(missing_ok=True)
    ks = _keyspace(keyspaces)
    runs = variant.spec["runs"]
    assert [r["run_id"] for r in runs] == [1, 2, 3, 4]
    nodes = list(load_script(str(staging.resolve(variant.spec["script"])), params_of(variant, staging)).nodes)
    for run in runs:
        run_id, state = _run(stack, PORTFOLIO, {"keyspace": ks, "start_nodes": run["start_nodes"]})
        states = _states(stack, PORTFOLIO, run_id)
        assert state == "success", f"run {run['run_id']}: {states}"
        expected = {node_task_id(n): "success" if n in run["affected_nodes"] else "skipped" for n in nodes}
        assert states == {**expected, START_RUN_TASK_ID: "success", FINISH_RUN_TASK_ID: "success"}
        assert [p.exists() for p in produced] == [run is runs[-1]] * len(produced)

    assert compare_outputs({"outputs": outputs}, staging) == []
    store = _store(ks)
    try:
        props = store.read_all_run_properties()
        assert [(p.run_id, list(p.start_nodes), set(p.affected_nodes)) for p in props] == [
            (r["run_id"], r["start_nodes"], set(r["affected_nodes"])) for r in runs
        ]
        assert [store.run_status(r["run_id"]) for r in runs] == [RunStatus.COMPLETE] * 4
    finally:
        _close(store)


@pytest.mark.timeout(300, func_only=True)
def test_a_bad_cell_fails_its_node_task_with_the_batch_error_and_finish_run_fails(
    stack: Stack, files: Files, keyspaces: list[str], tmp_path: Path
) -> None:
    from capillaries_provider.status import RunStatus

    bad_in = tmp_path / "in"
    bad_in.mkdir()
    (bad_in / "sales.csv").write_text("sale_id,region,amount\n1,north,12.50\n2,south,not-a-number\n")
    params = tmp_path / "bad_params.json"
    params.write_text(json.dumps({"dir_in": str(bad_in), "dir_out": str(tmp_path / "out")}))
    ks = _keyspace(keyspaces)

    run_id, state = _run(stack, DAILY, {"keyspace": ks, "params_path": str(params)})

    assert state == "failed"
    tis = stack.api.task_instances(DAILY, run_id)
    assert {t: str(ti["state"]) for t, ti in tis.items()} == {
        "start_run": "success",
        "read_sales": "failed",
        "large_sales": "upstream_failed",
        "file_large_sales": "upstream_failed",
        "finish_run": "failed",
    }
    log = stack.task_log(DAILY, run_id, "read_sales", int(tis["read_sales"]["try_number"]))
    assert "not-a-number" in log
    store = _store(ks)
    try:
        failed = [e for e in store.read_batch_history(1, "read_sales") if e.status.name == "FAIL"]
        assert failed and all("not-a-number" in e.comment for e in failed)
        assert store.run_status(1) is RunStatus.STOP
    finally:
        _close(store)


def _large_sales_rows(keyspace: str) -> list[tuple[Any, ...]]:
    store = _store(keyspace)
    try:
        rows = store.session.execute(
            f"SELECT sale_id, region, amount, amount_with_tax FROM {keyspace}.large_sales_00001"
        )
        return sorted(tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in rows)
    finally:
        _close(store)


@pytest.mark.timeout(420, func_only=True)
def test_clearing_a_node_task_reruns_it_in_the_same_run_and_rewrites_its_outputs_identically(
    stack: Stack, keyspaces: list[str], tmp_path: Path
) -> None:
    from capillaries_provider.status import NodeBatchStatus, RunStatus

    out = tmp_path / "out"
    params = tmp_path / "params.json"
    params.write_text(json.dumps({"dir_in": str(EXAMPLES / "daily_sales" / "in"), "dir_out": str(out)}))
    ks = _keyspace(keyspaces)
    run_id, state = _run(stack, DAILY, {"keyspace": ks, "params_path": str(params)})
    assert state == "success", _states(stack, DAILY, run_id)
    output = out / "large_sales_00001.csv"
    assert output.read_text() == LARGE_SALES
    first_mtime, first_rows = output.stat().st_mtime_ns, _large_sales_rows(ks)
    tries = {t: int(ti["try_number"]) for t, ti in stack.api.task_instances(DAILY, run_id).items()}
    assert len(first_rows) == LARGE_SALES.count("\n") - 1

    cleared = stack.api.call(
        "POST",
        f"/api/v2/dags/{DAILY}/clearTaskInstances",
        {
            "dry_run": False,
            "dag_run_id": run_id,
            "task_ids": ["large_sales"],
            "include_downstream": True,
            "only_failed": False,
            "reset_dag_runs": True,
        },
    )
    assert {ti["task_id"] for ti in cleared["task_instances"]} == {"large_sales", "file_large_sales", "finish_run"}
    assert stack.api.wait(DAILY, run_id, timeout=RUN_TIMEOUT_S, poll_s=2.0) == "success"

    tis = stack.api.task_instances(DAILY, run_id)
    assert {t: str(ti["state"]) for t, ti in tis.items()} == dict.fromkeys(tries, "success")
    again = {t: int(ti["try_number"]) for t, ti in tis.items()}
    assert {t for t in tries if again[t] > tries[t]} == {"large_sales", "file_large_sales", "finish_run"}
    assert output.read_text() == LARGE_SALES
    assert output.stat().st_mtime_ns > first_mtime
    assert _large_sales_rows(ks) == first_rows
    store = _store(ks)
    try:
        assert [p.run_id for p in store.read_all_run_properties()] == [1]
        assert store.run_status(1) is RunStatus.COMPLETE
        statuses = [e.status for e in store.read_batch_history(1, "large_sales")]
        # The re-run's history only: the clear deleted the first attempt's rows before enqueueing again.
        assert set(statuses) == {NodeBatchStatus.START, NodeBatchStatus.SUCCESS}
    finally:
        _close(store)


@pytest.mark.timeout(300, func_only=True)
def test_marking_the_dag_run_failed_stops_the_run_and_no_batch_starts_afterwards(
    stack: Stack, keyspaces: list[str]
) -> None:
    from capillaries_provider.status import NodeBatchStatus, RunStatus

    ks = _keyspace(keyspaces)
    run_id = stack.api.trigger(SLOW, {"keyspace": ks})
    deadline = time.monotonic() + RUN_TIMEOUT_S
    store = _store(ks)
    try:
        # Until slow_items waits in the triggerer and some of its batches are done, others not. "Deferred" is not
        # enough: the triggerer's runner loads new triggers once a second, and a DAG run failed before that kills
        # no trigger, so nothing stops the Capillaries run (docs/airflow.md). The trigger's own log file shows it
        # runs.
        trigger_logs = stack.root / "airflow" / "logs" / f"dag_id={SLOW}" / f"run_id={run_id}" / "task_id=slow_items"
        while True:
            assert time.monotonic() < deadline, _states(stack, SLOW, run_id)
            states = _states(stack, SLOW, run_id)
            assert states.get("slow_items") not in ("success", "failed"), states
            if states.get("slow_items") == "deferred" and list(trigger_logs.glob("attempt=*.log.trigger.*.log")):
                done = [e for e in store.read_batch_history(1, "slow_items") if e.status is NodeBatchStatus.SUCCESS]
                if done:
                    break
            time.sleep(0.5)
        assert len(done) < SLOW_BATCHES // 2

        stack.api.call("PATCH", f"/api/v2/dags/{SLOW}/dagRuns/{run_id}", {"state": "failed"})

        while store.run_status(1) is not RunStatus.STOP:
            assert time.monotonic() < deadline, "the run was not stopped"
            time.sleep(1.0)
        (stop,) = [e for e in store.read_run_history(1) if e.status is RunStatus.STOP]
        # Batches already being processed finish; wait long enough for any other to have started if it could.
        time.sleep(2 * SLOW_ROW_S * SLOW_ROWS / SLOW_BATCHES + 8.0)
        history = store.read_batch_history(1, "slow_items")
        started_after = [e for e in history if e.status is NodeBatchStatus.START and e.ts > stop.ts]
        assert started_after == []
        succeeded = {e.batch.batch_idx for e in history if e.status is NodeBatchStatus.SUCCESS}
        assert len(succeeded) < SLOW_BATCHES
        assert any(e.status is NodeBatchStatus.STOPRECEIVED for e in history)
    finally:
        _close(store)
    assert stack.api.dag_run(SLOW, run_id)["state"] == "failed"


@pytest.mark.timeout(420, func_only=True)
def test_two_dag_runs_of_two_dags_at_once(stack: Stack, keyspaces: list[str], tmp_path: Path) -> None:
    from tests.airflow.test_airflow_integration_dag_test import CUSTOMER_TIERS, US_TOTALS
    from tests.conftest import write_shop_orders_params

    daily_out, shop_out = tmp_path / "daily", tmp_path / "shop"
    daily_params = tmp_path / "daily_params.json"
    daily_params.write_text(json.dumps({"dir_in": str(EXAMPLES / "daily_sales" / "in"), "dir_out": str(daily_out)}))
    shop_params = write_shop_orders_params(tmp_path / "shop_params.json", shop_out)
    daily_ks, shop_ks = _keyspace(keyspaces), _keyspace(keyspaces)

    daily_run = stack.api.trigger(DAILY, {"keyspace": daily_ks, "params_path": str(daily_params)})
    shop_run = stack.api.trigger(SHOP, {"keyspace": shop_ks, "params_path": str(shop_params)})
    assert stack.api.wait(DAILY, daily_run, timeout=RUN_TIMEOUT_S, poll_s=2.0) == "success"
    assert stack.api.wait(SHOP, shop_run, timeout=RUN_TIMEOUT_S, poll_s=2.0) == "success"

    runs = [stack.api.dag_run(DAILY, daily_run), stack.api.dag_run(SHOP, shop_run)]
    assert max(r["start_date"] for r in runs) < min(r["end_date"] for r in runs), runs  # they overlapped
    assert set(_states(stack, DAILY, daily_run).values()) == {"success"}
    assert set(_states(stack, SHOP, shop_run).values()) == {"success"}
    assert (daily_out / "large_sales_00001.csv").read_text() == LARGE_SALES
    assert (shop_out / "customer_tiers.csv").read_text() == CUSTOMER_TIERS
    assert (shop_out / "us_customer_totals.csv").read_text() == US_TOTALS
