"""Airflow DAG "daily sales": every day a new Capillaries run in the `daily_sales` keyspace writes large sales.

Each daily DAG run is one run (run ids 1, 2, ...); the output file name carries the run id.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pendulum

from capillaries_provider import CapillariesDag
from capillaries_provider.dag import local_params_file

EXAMPLE = Path(__file__).resolve().parent / "capillaries_examples" / "daily_sales"

params_path = local_params_file(
    "daily_sales",
    {
        "dir_in": str(EXAMPLE / "in"),
        "dir_out": os.path.join(tempfile.gettempdir(), "capillaries-out", "daily_sales"),
    },
)

dag = CapillariesDag(
    dag_id="capillaries_daily_sales",
    script_path=str(EXAMPLE / "script.json"),
    params_path=params_path,
    keyspace="daily_sales",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    tags=["capillaries", "example"],
)
