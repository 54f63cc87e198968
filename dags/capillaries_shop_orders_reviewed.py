"""Shop orders with a review step: two Capillaries runs in one keyspace, embedded as task groups.

`load` runs the file readers only (`customer_totals` is a manual node here); after `review` approves the loaded
tables, `report` starts a second run at `customer_totals`, which reads the first run's tables (multi-run use).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pendulum
from airflow.sdk import DAG, task

from capillaries_provider import CapillariesTaskGroup
from capillaries_provider.dag import local_params_file

EXAMPLE = Path(__file__).resolve().parent / "capillaries_examples" / "shop_orders"
SCRIPT = str(EXAMPLE / "script.json")

params_path = local_params_file(
    "shop_orders_reviewed",
    {
        "dir_in": str(EXAMPLE / "in"),
        "dir_py": str(EXAMPLE / "py"),
        "dir_out": os.path.join(tempfile.gettempdir(), "capillaries-out", "shop_orders_reviewed"),
        "totals_start_policy": "manual",
    },
)

with DAG(
    dag_id="capillaries_shop_orders_reviewed",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["capillaries", "example"],
    doc_md=__doc__,
):
    load = CapillariesTaskGroup(
        group_id="load",
        script_path=SCRIPT,
        params_path=params_path,
        keyspace="shop_orders_reviewed",
        start_nodes=["read_customers", "read_orders"],
        description="load customers and orders",
    )

    @task
    def review() -> None:
        """Stand-in for an operator's review of the loaded tables (e.g. a data-quality check)."""

    report = CapillariesTaskGroup(
        group_id="report",
        script_path=SCRIPT,
        params_path=params_path,
        keyspace="shop_orders_reviewed",
        start_nodes=["customer_totals"],
        description="totals, tiers and files from the reviewed tables",
    )

    load >> review() >> report
