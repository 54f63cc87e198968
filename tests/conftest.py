"""Test-wide settings: an isolated AIRFLOW_HOME so tests never touch a user's Airflow; shop-orders example params."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="capillaries-airflow-test-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO_ROOT / "dags"))

SHOP_ORDERS = REPO_ROOT / "dags" / "capillaries_examples" / "shop_orders"


def write_shop_orders_params(path: Path, dir_out: Path) -> Path:
    """Params of the shop-orders example with its own inputs and `dir_out` as output folder; returns `path`."""
    values = {
        "dir_in": str(SHOP_ORDERS / "in"),
        "dir_py": str(SHOP_ORDERS / "py"),
        "dir_out": str(dir_out),
        "totals_start_policy": "auto",
    }
    path.write_text(json.dumps(values))
    return path
