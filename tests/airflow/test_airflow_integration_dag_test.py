"""Real Airflow against the real Cassandra and RabbitMQ: `dag.test()` runs an example DAG end to end.

A `capillaries worker` subprocess consumes a queue of its own; the DAG reaches it through two Airflow connections
given as environment variables. Triggers run inline in `dag.test()`, exactly the code the triggerer would run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pendulum

from tests.conftest import SHOP_ORDERS, write_shop_orders_params

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
EXAMPLES = DAGS / "capillaries_examples"

LARGE_SALES = (
    "sale_id,region,amount,amount_with_tax\n"
    "1,north,250.00,300.00\n"
    "3,east,100.00,120.00\n"
    "5,north,310.40,372.48\n"
    "7,east,180.10,216.12\n"
    "8,west,100.01,120.01\n"
)


def _states(dr: Any) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in dr.get_task_instances()}


def _params_file(tmp_path: Path, out: Path) -> str:
    p = tmp_path / "params.json"
    p.write_text(json.dumps({"dir_in": str(EXAMPLES / "daily_sales" / "in"), "dir_out": str(out)}))
    return str(p)


def test_daily_sales_dag_runs_end_to_end_then_a_second_run_reads_the_first(
    serialize_dag: Callable[[Path, str], Any], worker: subprocess.Popen[bytes], keyspace: str, tmp_path: Path
) -> None:
    dag = serialize_dag(DAGS / "capillaries_daily_sales.py", "capillaries_daily_sales")
    out = tmp_path / "out"
    params_path = _params_file(tmp_path, out)

    first = dag.test(
        logical_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
        run_conf={"keyspace": keyspace, "params_path": params_path},
    )
    assert _states(first) == {
        "start_run": "success",
        "read_sales": "success",
        "large_sales": "success",
        "file_large_sales": "success",
        "finish_run": "success",
    }
    assert (out / "large_sales_00001.csv").read_text() == LARGE_SALES
    assert str(first.state) == "success"

    # A later DAG run in the same keyspace starting downstream: read_sales is skipped, large_sales reads run 1.
    second = dag.test(
        logical_date=pendulum.datetime(2026, 11, 2, tz="UTC"),
        run_conf={"keyspace": keyspace, "params_path": params_path, "start_nodes": ["large_sales"]},
    )
    assert _states(second) == {
        "start_run": "success",
        "read_sales": "skipped",
        "large_sales": "success",
        "file_large_sales": "success",
        "finish_run": "success",
    }
    assert (out / "large_sales_00002.csv").read_text() == LARGE_SALES

    from capillaries_provider.config import cassandra_settings
    from capillaries_provider.status import RunStatus
    from capillaries_provider.store.session import close, connect
    from capillaries_provider.store.workflow import WorkflowStore

    session = connect(cassandra_settings())
    try:
        store = WorkflowStore(session, keyspace)
        props = store.read_all_run_properties()
        assert [(p.run_id, p.start_nodes, p.affected_nodes) for p in props] == [
            (1, ("read_sales",), ("read_sales", "large_sales", "file_large_sales")),
            (2, ("large_sales",), ("large_sales", "file_large_sales")),
        ]
        assert props[0].run_description.endswith(f"[airflow capillaries_daily_sales/{first.run_id}/start_run]")
        assert store.run_status(1) is RunStatus.COMPLETE
        assert store.run_status(2) is RunStatus.COMPLETE
    finally:
        close(session)


def _store_session() -> Any:
    from capillaries_provider.config import cassandra_settings
    from capillaries_provider.store.session import connect

    return connect(cassandra_settings())


def test_rerunning_a_node_in_the_same_run_empties_its_tables_first(
    serialize_dag: Callable[[Path, str], Any], worker: subprocess.Popen[bytes], keyspace: str, tmp_path: Path
) -> None:
    from capillaries_provider.status import NodeBatchStatus, RunStatus
    from capillaries_provider.store.session import close
    from capillaries_provider.store.workflow import WorkflowStore

    dag = serialize_dag(DAGS / "capillaries_daily_sales.py", "capillaries_daily_sales")
    out = tmp_path / "out"
    conf = {"keyspace": keyspace, "params_path": _params_file(tmp_path, out)}
    day = pendulum.datetime(2026, 11, 5, tz="UTC")
    # dag.test() derives the DAG run id from run_after: the same value gives the same DAG run id both times.
    first = dag.test(logical_date=day, run_after=day, run_conf=conf)
    assert str(first.state) == "success"

    session = _store_session()
    try:
        # A stray row in the node's table: only a reset (truncate) before the re-run removes it from the output.
        session.execute(
            f"INSERT INTO {keyspace}.large_sales_00001 (rowid, batch_idx, sale_id, region, amount, amount_with_tax)"
            " VALUES (42, 0, 999, 'stray', 1000, 1200)"
        )
        read_sales_rows = len(WorkflowStore(session, keyspace).read_batch_history(1, "read_sales"))
    finally:
        close(session)

    # Same DAG run again (same run id) with read_sales kept as done: like clearing large_sales and downstream.
    again = dag.test(logical_date=day, run_after=day, run_conf=conf, mark_success_pattern="^read_sales$")
    assert again.run_id == first.run_id
    assert _states(again)["large_sales"] == "success"
    assert (out / "large_sales_00001.csv").read_text() == LARGE_SALES

    session = _store_session()
    try:
        store = WorkflowStore(session, keyspace)
        assert [p.run_id for p in store.read_all_run_properties()] == [1]
        assert len(store.read_batch_history(1, "read_sales")) == read_sales_rows
        statuses = {e.status for e in store.read_batch_history(1, "large_sales")}
        assert statuses == {NodeBatchStatus.START, NodeBatchStatus.SUCCESS}
        assert store.run_status(1) is RunStatus.COMPLETE
    finally:
        close(session)


def test_a_failing_batch_fails_its_task_with_the_error_and_stops_the_run(
    serialize_dag: Callable[[Path, str], Any], worker: subprocess.Popen[bytes], keyspace: str, tmp_path: Path
) -> None:
    from capillaries_provider.status import RunStatus
    from capillaries_provider.store.session import close
    from capillaries_provider.store.workflow import WorkflowStore

    dag = serialize_dag(DAGS / "capillaries_daily_sales.py", "capillaries_daily_sales")
    bad_in = tmp_path / "in"
    bad_in.mkdir()
    (bad_in / "sales.csv").write_text("sale_id,region,amount\n1,north,12.50\n2,south,not-a-number\n")
    params = tmp_path / "bad_params.json"
    params.write_text(json.dumps({"dir_in": str(bad_in), "dir_out": str(tmp_path / "out")}))

    dr = dag.test(
        logical_date=pendulum.datetime(2026, 11, 6, tz="UTC"),
        run_conf={"keyspace": keyspace, "params_path": str(params)},
    )
    assert str(dr.state) == "failed"
    assert _states(dr) == {
        "start_run": "success",
        "read_sales": "failed",
        "large_sales": "upstream_failed",
        "file_large_sales": "upstream_failed",
        "finish_run": "failed",
    }
    session = _store_session()
    try:
        store = WorkflowStore(session, keyspace)
        (failed,) = [e for e in store.read_batch_history(1, "read_sales") if e.status.name == "FAIL"]
        assert "not-a-number" in failed.comment
        assert store.run_status(1) is RunStatus.STOP
        (stop,) = [e for e in store.read_run_history(1) if e.status is RunStatus.STOP]
        assert stop.comment == (
            "stopped by Airflow: nodes not succeeded: read_sales=fail, large_sales=none, file_large_sales=none"
        )
    finally:
        close(session)


CUSTOMER_TIERS = (
    "customer_id,name,country,order_count,total_amount,max_amount,avg_order,tier\n"
    "C001,Ada Lovelace,UK,4,208.90,120.50,52.23,bronze\n"
    "C002,Alan Turing,UK,2,82.45,47.45,41.23,bronze\n"
    "C003,Grace Hopper,US,3,672.40,410.00,224.13,silver\n"
    "C004,Edsger Dijkstra,NL,2,41.00,22.01,20.50,bronze\n"
    "C005,Barbara Liskov,US,2,519.90,420.00,259.95,silver\n"
    "C006,Donald Knuth,US,3,2340.40,1200.00,780.13,gold\n"
    "C007,Niklaus Wirth,CH,1,5.00,5.00,5.00,bronze\n"
    "C008,Frances Allen,US,2,200.60,140.60,100.30,bronze\n"
    "C009,Tony Hoare,UK,1,75.00,75.00,75.00,bronze\n"
)
US_TOTALS = (
    "customer_id,country,order_count,total_amount\n"
    "C006,US,3,2340.40\n"
    "C003,US,3,672.40\n"
    "C005,US,2,519.90\n"
    "C008,US,2,200.60\n"
)


def test_shop_orders_lookup_aggregates_and_py_calc_end_to_end(
    serialize_dag: Callable[[Path, str], Any], worker: subprocess.Popen[bytes], keyspace: str, tmp_path: Path
) -> None:
    dag = serialize_dag(DAGS / "capillaries_shop_orders.py", "capillaries_shop_orders")
    out = tmp_path / "out"
    params = write_shop_orders_params(tmp_path / "shop_params.json", out)
    dr = dag.test(
        logical_date=pendulum.datetime(2026, 11, 7, tz="UTC"),
        run_conf={"keyspace": keyspace, "params_path": str(params), "description": "integration test"},
    )
    assert set(_states(dr).values()) == {"success"}
    # C010 has no orders: the inner lookup drops the customer.
    assert (out / "customer_tiers.csv").read_text() == CUSTOMER_TIERS
    assert (out / "us_customer_totals.csv").read_text() == US_TOTALS


def test_capillaries_dag_new_output_runs_shop_orders_to_success(
    serialize_dag: Callable[[Path, str], Any], worker: subprocess.Popen[bytes], keyspace: str, tmp_path: Path
) -> None:
    """The scaffold as documented (`capillaries dag new ... > dags/NAME.py`), run with its own params and keyspace."""
    out = tmp_path / "out"
    params = write_shop_orders_params(tmp_path / "shop_params.json", out)
    dag_file = tmp_path / "dags" / "shop_orders_scaffold.py"
    dag_file.parent.mkdir()
    with open(dag_file, "wb") as f:
        subprocess.run(
            [sys.executable, "-m", "capillaries_provider.cli.main", "dag", "new", str(SHOP_ORDERS / "script.json")]
            + ["--params", str(params), "--keyspace", keyspace, "--dag-id", "capillaries_shop_orders_scaffold"],
            stdout=f,
            check=True,
        )
    # serialize_dag parses with Airflow's default safe mode: the scaffold must be discovered without our callable.
    dag = serialize_dag(dag_file, "capillaries_shop_orders_scaffold")
    dr = dag.test()  # logical date now: the scaffold's start_date is today, so an earlier date would run no task
    assert str(dr.state) == "success"
    assert set(_states(dr).values()) == {"success"}
    assert (out / "customer_tiers.csv").read_text() == CUSTOMER_TIERS
    assert (out / "us_customer_totals.csv").read_text() == US_TOTALS


def test_reviewed_dag_second_run_reads_the_first_runs_tables(
    serialize_dag: Callable[[Path, str], Any], worker: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    """Two task groups = two runs in one keyspace; the example DAG's own params and keyspace are used as shipped."""
    import shutil
    import tempfile

    from capillaries_provider.status import RunStatus
    from capillaries_provider.store.session import close, drop_keyspace
    from capillaries_provider.store.workflow import WorkflowStore

    keyspace = "shop_orders_reviewed"
    out = Path(tempfile.gettempdir()) / "capillaries-out" / "shop_orders_reviewed"
    shutil.rmtree(out, ignore_errors=True)
    session = _store_session()
    try:
        drop_keyspace(session, keyspace)
    finally:
        close(session)

    dag = serialize_dag(DAGS / "capillaries_shop_orders_reviewed.py", "capillaries_shop_orders_reviewed")
    dr = dag.test(logical_date=pendulum.datetime(2026, 11, 8, tz="UTC"))
    states = _states(dr)
    assert str(dr.state) == "success"
    assert {t: s for t, s in states.items() if s != "success"} == {
        "load.customer_totals": "skipped",
        "load.customer_tiers": "skipped",
        "load.file_customer_tiers": "skipped",
        "load.file_country_totals": "skipped",
        "report.read_customers": "skipped",
        "report.read_orders": "skipped",
    }
    assert (out / "customer_tiers.csv").read_text() == CUSTOMER_TIERS
    assert (out / "us_customer_totals.csv").read_text() == US_TOTALS

    session = _store_session()
    try:
        store = WorkflowStore(session, keyspace)
        assert [(p.run_id, p.start_nodes, p.affected_nodes) for p in store.read_all_run_properties()] == [
            (1, ("read_customers", "read_orders"), ("read_customers", "read_orders")),
            (
                2,
                ("customer_totals",),
                ("customer_totals", "customer_tiers", "file_customer_tiers", "file_country_totals"),
            ),
        ]
        assert store.run_status(1) is RunStatus.COMPLETE and store.run_status(2) is RunStatus.COMPLETE
        drop_keyspace(session, keyspace)
    finally:
        close(session)
