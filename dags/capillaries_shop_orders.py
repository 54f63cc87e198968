"""Airflow DAG "shop orders": customers and orders from CSV, a grouped lookup with aggregates, a py_calc tier.

One DAG run = one Capillaries run in the `shop_orders` keyspace. Trigger it with other `start_nodes` (e.g.
`customer_totals`) to recompute downstream nodes from the tables of earlier runs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pendulum

from capillaries_provider import CapillariesDag
from capillaries_provider.dag import local_params_file

EXAMPLE = Path(__file__).resolve().parent / "capillaries_examples" / "shop_orders"

params_path = local_params_file(
    "shop_orders",
    {
        "dir_in": str(EXAMPLE / "in"),
        "dir_py": str(EXAMPLE / "py"),
        "dir_out": os.path.join(tempfile.gettempdir(), "capillaries-out", "shop_orders"),
        "totals_start_policy": "auto",
    },
)

dag = CapillariesDag(
    dag_id="capillaries_shop_orders",
    script_path=str(EXAMPLE / "script.json"),
    params_path=params_path,
    keyspace="shop_orders",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["capillaries", "example"],
)
